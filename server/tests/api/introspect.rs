//! `POST /auth/introspect`: a live token is active with its claims; after logout, deletion or
//! expiry, or changed by a byte, it is `{"active": false}` and nothing more; only a caller with
//! the introspection key may ask.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{INTROSPECTION_KEY, Reply, Server};

/// Asks with the introspection key, as JSON.
async fn ask(s: &Server, token: &str) -> Value {
    ask_as(s, Some(INTROSPECTION_KEY), json!({ "token": token }))
        .await
        .expect(200, None)
}

async fn ask_as(s: &Server, key: Option<&str>, body: Value) -> Reply {
    s.post("/auth/introspect", key, body).await
}

#[tokio::test]
async fn a_live_token_is_active_and_an_ended_one_inactive_without_why() {
    let s = Server::start().await;
    let token = s.user("ines").await;
    let active = ask(&s, &token).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["username"], "ines");
    assert_eq!(active["scope"], "widgets");
    assert_eq!(active["token_type"], "Bearer");
    assert!(active["exp"].as_i64().unwrap() > active["iat"].as_i64().unwrap());
    assert!(
        active.get("email").is_none() && active.get("sid").is_none(),
        "{active}"
    );
    // A form post (RFC 7662's way) works as JSON does.
    let form = Server::reply(
        s.client
            .post(format!("{}/auth/introspect", s.base))
            .bearer_auth(INTROSPECTION_KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}")),
    )
    .await;
    assert_eq!(form.expect(200, None)["active"], true);

    let inactive = json!({"active": false});
    let mut changed = token.clone().into_bytes();
    let at = changed.len() - 3;
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        ask(&s, &String::from_utf8(changed).unwrap()).await,
        inactive
    );
    assert_eq!(ask(&s, "not a token").await, inactive);
    assert_eq!(ask(&s, "").await, inactive);
    assert_eq!(ask(&s, &"a".repeat(5000)).await, inactive);

    // Logout.
    s.delete("/auth", Some(&token)).await.expect(204, None);
    assert_eq!(ask(&s, &token).await, inactive, "after logout");

    // Deletion.
    let other = s.log_in("ines").await;
    assert_eq!(ask(&s, &other).await["active"], true);
    s.delete("/user/ines", Some(&other)).await.expect(204, None);
    assert_eq!(ask(&s, &other).await, inactive, "after deletion");

    // Expiry.
    let late = s.user("jude").await;
    s.clock.advance(24 * 3600);
    assert_eq!(ask(&s, &late).await, inactive, "after expiry");
}

#[tokio::test]
async fn only_a_caller_with_the_introspection_key_may_ask() {
    let s = Server::start().await;
    let token = s.user("karl").await;
    let admin = s.admin("root").await;
    let body = json!({ "token": token });
    for (who, key) in [
        ("anonymous", None),
        (
            "a wrong key",
            Some("test-introspection-key-0123456789abcdeX"),
        ),
        ("the key's prefix", Some(&INTROSPECTION_KEY[..20])),
        ("a user's token", Some(token.as_str())),
        ("an admin's token", Some(admin.as_str())),
    ] {
        let r = ask_as(&s, key, body.clone()).await;
        r.expect(401, Some("unauthorized"));
        assert!(!r.text.contains("active"), "{who}: {}", r.text);
    }
    ask_as(&s, Some(INTROSPECTION_KEY), json!({}))
        .await
        .expect(400, Some("validation_failed"));
    ask_as(&s, Some(INTROSPECTION_KEY), json!({"token": 7}))
        .await
        .expect(400, Some("validation_failed"));

    // Without a key configured, nobody may ask.
    let closed = Server::start_with(&[("INTROSPECTION_KEY", "")]).await;
    let token = closed.user("lena").await;
    let r = ask_as(&closed, Some(INTROSPECTION_KEY), json!({ "token": token })).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A demoted admin's token is still live, but introspection answers the scopes and role held
/// now: `admin` is gone at once, as it is from `/users` (it said `widgets admin` for 24 h).
#[tokio::test]
async fn after_a_demotion_introspection_no_longer_says_admin() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let before = ask(&s, &admin).await;
    assert_eq!(
        (&before["scope"], &before["role"]),
        (&json!("widgets admin"), &json!("admin"))
    );
    let now = s.clock.now();
    s.state
        .store
        .set_role("boss", shared::user::Role::User, now)
        .await
        .unwrap()
        .unwrap();
    s.get("/users", Some(&admin)).await.expect(403, None);
    let after = ask(&s, &admin).await;
    assert_eq!(after["active"], true, "{after}");
    assert_eq!(
        (&after["scope"], &after["role"]),
        (&json!("widgets"), &json!("user")),
        "{after}"
    );
}

/// Without the key, the body is never read: a caller without it is `401` whatever it sends
/// (it was `400` or `413`, which told an outsider the body had been parsed).
#[tokio::test]
async fn a_caller_without_the_key_is_refused_before_its_body_is_read() {
    let s = Server::start().await;
    for body in [
        "[not json".to_string(),
        "{}".to_string(),
        "x".repeat(70 * 1024),
    ] {
        let req = s
            .client
            .post(format!("{}/auth/introspect", s.base))
            .header("content-type", "application/json");
        let r = Server::reply(req.body(body)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    // With the key, the same bodies get their own answers.
    let r = Server::reply(
        s.client
            .post(format!("{}/auth/introspect", s.base))
            .bearer_auth(INTROSPECTION_KEY)
            .header("content-type", "application/json")
            .body("x".repeat(70 * 1024)),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}
