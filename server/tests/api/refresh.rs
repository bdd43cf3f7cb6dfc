//! `POST /auth/token`: refresh tokens rotate, the one just replaced works again only within the
//! grace, any other reuse ends the sign-in, racing refreshes agree on one pair, and everything
//! that ends sessions ends refresh tokens. Run on both stores (scripts/test reruns these on
//! DynamoDB).

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{INTROSPECTION_KEY, PASSWORD, Reply, Server, email};

/// A refresh as RFC 6749 sends it: a form.
async fn refresh(s: &Server, refresh_token: &str) -> Reply {
    Server::reply(
        s.client
            .post(format!("{}/auth/token", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", refresh_token)
                    .finish(),
            ),
    )
    .await
}

/// The new pair of a refresh that must work.
async fn refreshed(s: &Server, refresh_token: &str) -> (String, String) {
    let body = refresh(s, refresh_token).await.expect(200, None);
    pair(&body)
}

fn pair(body: &Value) -> (String, String) {
    (
        body["token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

/// `400 invalid_grant`, with the one message every bad refresh token gets.
async fn refused(s: &Server, refresh_token: &str) {
    let body = refresh(s, refresh_token)
        .await
        .expect(400, Some("invalid_grant"));
    assert_eq!(
        body["message"],
        "The refresh token is not valid: it is unknown, used, revoked or expired."
    );
}

async fn works(s: &Server, token: &str) -> bool {
    let r = s.get("/user", Some(token)).await;
    match r.status.as_u16() {
        200 => true,
        401 => false,
        other => panic!("GET /user: {other} {}", r.text),
    }
}

async fn introspected(s: &Server, token: &str) -> bool {
    let r = s
        .post(
            "/auth/introspect",
            Some(INTROSPECTION_KEY),
            json!({ "token": token }),
        )
        .await
        .expect(200, None);
    r["active"].as_bool().unwrap()
}

#[tokio::test]
async fn a_refresh_rotates_and_a_late_reuse_ends_the_sign_in() {
    let s = Server::start().await;
    s.user("rita").await;
    let login = s
        .post(
            "/auth",
            None,
            json!({"username": "rita", "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    assert_eq!(login["expires_in"], 86400);
    assert_eq!(login["refresh_expires_in"], 7 * 86400);
    let (access0, refresh0) = pair(&login);
    assert!(
        refresh0.starts_with("rt1.") && refresh0.len() <= 512,
        "{refresh0}"
    );

    s.clock.advance(60);
    let body = refresh(&s, &refresh0).await.expect(200, None);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], json!("widgets"));
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["refresh_expires_in"], 7 * 86400);
    let (access1, refresh1) = pair(&body);
    assert_ne!(access1, access0);
    assert_ne!(refresh1, refresh0);
    assert!(works(&s, &access1).await, "the new access token");
    assert!(works(&s, &access0).await, "the old one, until its own exp");

    // The token just replaced, within the grace: the same pair again (a racing tab).
    s.clock.advance(5);
    let again = refreshed(&s, &refresh0).await;
    assert_eq!(again, (access1.clone(), refresh1.clone()));

    // Past the grace: a reuse ends the sign-in, every token of it.
    s.clock.advance(6);
    refused(&s, &refresh0).await;
    for token in [&access0, &access1] {
        assert!(!works(&s, token).await, "after the reuse");
        assert!(!introspected(&s, token).await);
    }
    refused(&s, &refresh1).await;
    // The person logs in again: a new sign-in, unharmed.
    let fresh = s.log_in("rita").await;
    assert!(works(&s, &fresh).await);
}

#[tokio::test]
async fn an_old_access_token_still_expires_at_its_own_exp() {
    let s = Server::start_with(&[("ACCESS_TOKEN_TTL", "900")]).await;
    s.user("sam").await;
    let (access0, refresh0) = s.log_in_pair("sam").await;
    s.clock.advance(600);
    let body = refresh(&s, &refresh0).await.expect(200, None);
    assert_eq!(body["expires_in"], 900);
    let (access1, refresh1) = pair(&body);
    s.clock.advance(301);
    assert!(!works(&s, &access0).await, "900 s after its login");
    assert!(works(&s, &access1).await);
    s.clock.advance(600);
    assert!(!works(&s, &access1).await, "900 s after its refresh");
    // The sign-in lives on: the refresh token gets a working pair.
    let (access2, _) = refreshed(&s, &refresh1).await;
    assert!(works(&s, &access2).await);
}

#[tokio::test]
async fn refreshes_at_once_agree_on_one_pair_and_the_sign_in_survives() {
    let s = Server::start().await;
    s.user("tess").await;
    let (_, refresh0) = s.log_in_pair("tess").await;
    let answers = futures::future::join_all((0..8).map(|_| refresh(&s, &refresh0))).await;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for r in &answers {
        match r.status.as_u16() {
            200 => pairs.push(pair(&r.json())),
            400 => assert_eq!(r.json()["error"], "invalid_grant", "{}", r.text),
            other => panic!("{other}: {}", r.text),
        }
    }
    assert!(!pairs.is_empty(), "one of them wins");
    pairs.dedup();
    assert_eq!(pairs.len(), 1, "never two different live pairs: {pairs:?}");
    let (access, refresh1) = pairs.remove(0);
    assert!(works(&s, &access).await, "the sign-in survives");
    let (access2, _) = refreshed(&s, &refresh1).await;
    assert!(works(&s, &access2).await);
}

#[tokio::test]
async fn a_refresh_racing_a_logout_leaves_no_working_token() {
    let s = Server::start().await;
    s.user("uma").await;
    for _ in 0..3 {
        let (access, refresh0) = s.log_in_pair("uma").await;
        let (out, answer) = tokio::join!(s.delete("/auth", Some(&access)), refresh(&s, &refresh0));
        out.expect(204, None);
        let mut tokens = vec![access];
        match answer.status.as_u16() {
            200 => {
                let (a, r) = pair(&answer.json());
                tokens.push(a);
                refused(&s, &r).await;
            }
            400 => assert_eq!(answer.json()["error"], "invalid_grant"),
            other => panic!("{other}: {}", answer.text),
        }
        for t in &tokens {
            assert!(!works(&s, t).await, "after the logout");
        }
        refused(&s, &refresh0).await;
    }
}

#[tokio::test]
async fn a_sign_in_ends_when_idle_or_too_old() {
    let s = Server::start().await;
    s.user("vera").await;
    // Idle: not refreshed for 7 days.
    let (_, idle) = s.log_in_pair("vera").await;
    s.clock.advance(7 * 86400 - 10);
    let (_, idle) = refreshed(&s, &idle).await;
    s.clock.advance(7 * 86400);
    refused(&s, &idle).await;

    // Old: refreshed every 6 days, it still ends 30 days after the login.
    let (_, mut token) = s.log_in_pair("vera").await;
    let mut ends = Vec::new();
    for _ in 0..4 {
        s.clock.advance(6 * 86400);
        let body = refresh(&s, &token).await.expect(200, None);
        ends.push(body["refresh_expires_in"].as_i64().unwrap());
        token = pair(&body).1;
    }
    // Day 24: six days are left, not seven; the access token stops at the end too. (What is
    // left of the absolute end is counted from the login on the real clock as well: a slow
    // store may take a second or two of it.)
    s.clock.advance(5 * 86400);
    let body = refresh(&s, &token).await.expect(200, None);
    let about = |got: i64, want: i64| (want - 3..=want).contains(&got);
    assert_eq!(ends[..3], [7 * 86400, 7 * 86400, 7 * 86400]);
    assert!(about(ends[3], 6 * 86400), "{ends:?}");
    let left = |member: &str| body[member].as_i64().unwrap();
    assert!(about(left("refresh_expires_in"), 86400), "{body}");
    assert!(about(left("expires_in"), 86400), "{body}");
    let (access, token) = pair(&body);
    s.clock.advance(86400);
    refused(&s, &token).await;
    assert!(!works(&s, &access).await);
}

#[tokio::test]
async fn everything_that_ends_sessions_ends_refresh_tokens() {
    let s = Server::start().await;
    let admin = s.admin("root").await;
    s.user("will").await;

    // Logout, and "end all sessions".
    let (access, refresh0) = s.log_in_pair("will").await;
    s.delete("/auth", Some(&access)).await.expect(204, None);
    refused(&s, &refresh0).await;
    let (access, refresh0) = s.log_in_pair("will").await;
    let (_, other) = s.log_in_pair("will").await;
    s.delete("/auth/sessions", Some(&access))
        .await
        .expect(204, None);
    refused(&s, &refresh0).await;
    refused(&s, &other).await;

    // A change of password ends the other sign-ins.
    let (access, _) = s.log_in_pair("will").await;
    let (_, other) = s.log_in_pair("will").await;
    let new_password = "a wholly different passphrase 42";
    s.put(
        "/user/will/password",
        Some(&access),
        json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .await
    .expect(204, None);
    refused(&s, &other).await;

    // A reset by mail ends them all.
    let login = s
        .post(
            "/auth",
            None,
            json!({"username": "will", "password": new_password}),
        )
        .await
        .expect(200, None);
    let (_, before_reset) = pair(&login);
    s.clock.advance(120);
    s.post("/password/forgot", None, json!({"email": email("will")}))
        .await
        .expect(202, None);
    let reset = s.link_token(&email("will"), "/password/reset");
    s.post(
        "/password/reset",
        None,
        json!({"token": reset, "password": PASSWORD}),
    )
    .await
    .expect(200, None);
    refused(&s, &before_reset).await;

    // Deactivation by an admin, then deletion.
    let (_, r) = s.log_in_pair("will").await;
    s.put("/user/will", Some(&admin), json!({"activated": false}))
        .await
        .expect(200, None);
    refused(&s, &r).await;
    s.put("/user/will", Some(&admin), json!({"activated": true}))
        .await
        .expect(200, None);
    let (_, r) = s.log_in_pair("will").await;
    s.delete("/user/will", Some(&admin)).await.expect(204, None);
    refused(&s, &r).await;
}

#[tokio::test]
async fn a_demoted_admins_refresh_loses_the_admin_scope() {
    let s = Server::start().await;
    let root = s.admin("root").await;
    s.admin("xavi").await;
    let (_, r) = s.log_in_pair("xavi").await;
    s.put("/user/xavi", Some(&root), json!({"role": "user"}))
        .await
        .expect(200, None);
    let body = refresh(&s, &r).await.expect(200, None);
    assert_eq!(body["scope"], json!("widgets"));
    let access = body["token"].as_str().unwrap();
    s.get("/users", Some(access)).await.expect(403, None);
}

#[tokio::test]
async fn sessions_show_their_last_refresh() {
    let s = Server::start().await;
    s.user("yara").await;
    let (access, r) = s.log_in_pair("yara").await;
    let current = |listed: &Value| {
        listed["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .cloned()
            .unwrap()
    };
    let listed = s
        .get("/auth/sessions", Some(&access))
        .await
        .expect(200, None);
    let before = current(&listed);
    assert_eq!(before["refreshed_at"], Value::Null, "{listed}");
    s.clock.advance(3600);
    let (access, _) = refreshed(&s, &r).await;
    let listed = s
        .get("/auth/sessions", Some(&access))
        .await
        .expect(200, None);
    let after = current(&listed);
    assert_eq!(
        after["session_id"], before["session_id"],
        "the same sign-in"
    );
    assert!(after["refreshed_at"].is_string(), "{listed}");
    assert_ne!(
        after["expires_at"], before["expires_at"],
        "the idle end moved on"
    );
}

#[tokio::test]
async fn bad_requests_answer_in_oauths_shape() {
    let s = Server::start().await;
    let access = s.user("zena").await;
    let (_, good) = s.log_in_pair("zena").await;

    let r = s.post("/auth/token", None, json!({})).await;
    let body = r.expect(400, Some("invalid_request"));
    assert_eq!(body["fields"]["grant_type"], "is required");
    let r = s
        .post("/auth/token", None, json!({"grant_type": "refresh_token"}))
        .await;
    let body = r.expect(400, Some("invalid_request"));
    assert_eq!(body["fields"]["refresh_token"], "is required");
    let r = s
        .post(
            "/auth/token",
            None,
            json!({"grant_type": "refresh_token", "refresh_token": 7}),
        )
        .await;
    assert_eq!(
        r.expect(400, Some("invalid_request"))["fields"]["refresh_token"],
        "must be a string"
    );
    for grant in ["password", "client_credentials", ""] {
        s.post(
            "/auth/token",
            None,
            json!({"grant_type": grant, "refresh_token": good}),
        )
        .await
        .expect(400, Some("unsupported_grant_type"));
    }
    // A code without a client: the client is asked for first.
    s.post(
        "/auth/token",
        None,
        json!({"grant_type": "authorization_code", "refresh_token": good}),
    )
    .await
    .expect(401, Some("invalid_client"));
    // JSON works as the form does.
    let r = s
        .post(
            "/auth/token",
            None,
            json!({"grant_type": "refresh_token", "refresh_token": "nope"}),
        )
        .await;
    r.expect(400, Some("invalid_grant"));

    // One answer for every token that does not work: garbage, an access token, a forgery.
    let mut tampered = good.clone().into_bytes();
    let at = tampered.len() - 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        "",
        "rt1.",
        access.as_str(),
        tampered.as_str(),
        &"a".repeat(5000),
    ] {
        refused(&s, bad).await;
    }
    // None of that spent or ended the real one.
    let (a, _) = refreshed(&s, &good).await;
    assert!(works(&s, &a).await);
    // Another method on the route.
    s.call(Method::GET, "/auth/token", None, None)
        .await
        .expect(405, None);
}
