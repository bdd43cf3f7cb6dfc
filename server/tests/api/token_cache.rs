//! The cache of verified tokens skips only the signature: a token that is cached (its signature
//! checked once) is refused at once when what makes it live ends: logout, "end all sessions",
//! deletion of the user, a password change elsewhere, a demotion, an admin's deactivation; and
//! it is never accepted past its `exp`. (Its bound, forgeries and key retirement: the token
//! module's own tests.)

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{PASSWORD, Server};

/// `token` read twice with `GET /user` (the second from the cache), and kept.
async fn cached(s: &Server, token: &str) {
    for _ in 0..2 {
        s.get("/user", Some(token)).await.expect(200, None);
    }
    assert!(
        s.state.keys.is_cached(token),
        "the token is kept once verified"
    );
}

async fn refused(s: &Server, token: &str, after: &str) {
    let r = s.get("/user", Some(token)).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "after {after}: {}",
        r.text
    );
}

#[tokio::test]
async fn a_cached_token_ends_with_its_session_at_once() {
    let s = Server::start().await;

    let token = s.user("alice").await;
    cached(&s, &token).await;
    s.delete("/auth", Some(&token)).await.expect(204, None);
    refused(&s, &token, "logout").await;

    let token = s.log_in("alice").await;
    let other = s.log_in("alice").await;
    cached(&s, &token).await;
    cached(&s, &other).await;
    s.delete("/auth/sessions", Some(&token))
        .await
        .expect(204, None);
    refused(&s, &token, "ending all sessions (this one)").await;
    refused(&s, &other, "ending all sessions (another)").await;

    let token = s.log_in("alice").await;
    let elsewhere = s.log_in("alice").await;
    cached(&s, &elsewhere).await;
    s.put(
        "/user/alice/password",
        Some(&token),
        json!({"current_password": PASSWORD, "new_password": "a brand new passphrase 42"}),
    )
    .await
    .expect(204, None);
    refused(&s, &elsewhere, "a password change in another session").await;
}

#[tokio::test]
async fn a_cached_token_ends_with_its_user_and_its_rights_at_once() {
    let s = Server::start().await;
    let admin = s.admin("root").await;

    let token = s.user("bob").await;
    cached(&s, &token).await;
    s.delete("/user/bob", Some(&token)).await.expect(204, None);
    refused(&s, &token, "deletion").await;

    // A demoted admin's cached token no longer opens the admins' listing.
    let boss = s.admin("boss").await;
    cached(&s, &boss).await;
    s.get("/users", Some(&boss)).await.expect(200, None);
    s.put("/user/boss", Some(&admin), json!({"role": "user"}))
        .await
        .expect(200, None);
    s.get("/users", Some(&boss))
        .await
        .expect(403, Some("forbidden"));

    // Deactivated by an admin.
    let token = s.user("carol").await;
    cached(&s, &token).await;
    s.put("/user/carol", Some(&admin), json!({"activated": false}))
        .await
        .expect(200, None);
    refused(&s, &token, "deactivation").await;
}

#[tokio::test]
async fn a_cached_token_is_refused_from_its_exp_on() {
    let s = Server::start().await;
    let token = s.user("dora").await;
    cached(&s, &token).await;
    let exp = crate::common::jwt_part(&token, 1)["exp"].as_i64().unwrap();
    s.clock.advance(exp - s.clock.now());
    refused(&s, &token, "its exp").await;
    assert!(!s.state.keys.is_cached(&token), "dropped once expired");
}
