//! POST /auth and POST /login: credentials, scopes, throttling.

use serde_json::json;
use shared::token::Claims;

use crate::common::{PASSWORD, Server};

fn claims_of(token: &str) -> Claims {
    serde_json::from_value(crate::common::jwt_part(token, 1)).unwrap()
}

#[tokio::test]
async fn login_by_username_or_email_on_both_routes() {
    let s = Server::start().await;
    s.user("Mallory").await;
    for (path, body) in [
        (
            "/auth",
            json!({"username": "mallory", "password": PASSWORD}),
        ),
        (
            "/login",
            json!({"email": "MALLORY@example.com", "password": PASSWORD, "scope": "widgets"}),
        ),
    ] {
        let r = s.post(path, None, body).await.expect(200, None);
        assert_eq!(r["token_type"], "Bearer");
        assert_eq!(r["expires_in"], 86400);
        assert_eq!(
            r["scope"],
            json!("widgets"),
            "RFC 6749 section 3.3: space-delimited"
        );
        let token = r["token"].as_str().unwrap();
        assert_eq!(
            r["access_token"], token,
            "RFC 6749 section 5.1's name, and the first one"
        );
        let c = claims_of(token);
        assert_eq!(c.name, "Mallory");
        assert_eq!(c.email, "mallory@example.com");
        assert_eq!(c.role, "user");
        assert_eq!(
            (c.iss.as_str(), c.aud.as_str()),
            (s.base.as_str(), "accounts")
        );
        assert_eq!(c.exp - c.iat, 86400);
        assert!(c.sid.len() >= 22);
        s.get("/user", Some(token)).await.expect(200, None);
    }
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let s = Server::start().await;
    s.user("nina").await;
    let wrong = s
        .post(
            "/auth",
            None,
            json!({"username": "nina", "password": "not the password"}),
        )
        .await;
    let unknown = s
        .post(
            "/auth",
            None,
            json!({"username": "nobody", "password": "not the password"}),
        )
        .await;
    wrong.expect(401, Some("invalid_credentials"));
    unknown.expect(401, Some("invalid_credentials"));
    assert_eq!(wrong.text, unknown.text, "byte-identical bodies");
    let strip = |r: &crate::common::Reply| {
        let mut h = r.headers.clone();
        h.remove("date");
        h
    };
    assert_eq!(strip(&wrong), strip(&unknown));
    let unknown_email = s
        .post(
            "/auth",
            None,
            json!({"email": "x@example.com", "password": "nope nope"}),
        )
        .await;
    assert_eq!(unknown_email.text, unknown.text);
}

#[tokio::test]
async fn login_input_is_validated() {
    let s = Server::start().await;
    s.post("/auth", None, json!({"password": PASSWORD}))
        .await
        .expect(400, Some("validation_failed"));
    s.post("/auth", None, json!({"username": "x"}))
        .await
        .expect(400, Some("validation_failed"));
    s.post("/auth", None, json!({"username": 1, "password": PASSWORD}))
        .await
        .expect(400, Some("validation_failed"));
    s.post(
        "/auth",
        None,
        json!({"username": "x", "password": "p".repeat(300)}),
    )
    .await
    .expect(400, Some("validation_failed"));
    s.post(
        "/auth",
        None,
        json!({"username": "x", "password": PASSWORD, "scope": 7}),
    )
    .await
    .expect(400, Some("validation_failed"));
    s.raw(reqwest::Method::POST, "/login", "nope")
        .await
        .expect(400, Some("invalid_json"));
}

#[tokio::test]
async fn scopes_are_granted_as_the_contract_says() {
    let s = Server::start().await;
    s.user("oscar").await;
    s.admin("root").await;
    let login = |user: &str, scope: serde_json::Value| {
        let mut body = json!({"username": user, "password": PASSWORD});
        if !scope.is_null() {
            body["scope"] = scope;
        }
        s.post("/auth", None, body)
    };
    assert_eq!(
        login("oscar", json!(null)).await.expect(200, None)["scope"],
        json!("widgets")
    );
    assert_eq!(
        login("oscar", json!([])).await.expect(200, None)["scope"],
        json!("")
    );
    assert_eq!(
        login("oscar", json!("")).await.expect(200, None)["scope"],
        json!("")
    );
    login("oscar", json!("admin"))
        .await
        .expect(403, Some("forbidden"));
    login("oscar", json!("widgets admin"))
        .await
        .expect(403, Some("forbidden"));
    login("oscar", json!(["widgets", "payroll"]))
        .await
        .expect(400, Some("invalid_scope"));
    assert_eq!(
        login("root", json!(null)).await.expect(200, None)["scope"],
        json!("widgets admin")
    );
    let r = login("root", json!("admin")).await.expect(200, None);
    assert_eq!(r["scope"], json!("admin"));
    assert_eq!(claims_of(r["token"].as_str().unwrap()).role, "admin");
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    let s = Server::start().await;
    // The first lock lasts 1 s from the fifth failure's answer, on a clock to the second: on a
    // loaded machine the next request can come a second later and find it over. Only then (the
    // clock ticked) is a 200 not a failure, and the round starts again with another name.
    let mut round = 0;
    let (wrong, right, r) = loop {
        round += 1;
        let name = format!("peggy{round}");
        s.user(&name).await;
        let wrong = json!({"username": name, "password": "wrong password!"});
        let right = json!({"username": name, "password": PASSWORD});
        let mut failed_at = 0;
        for _ in 0..5 {
            failed_at = s.clock.now(); // the fifth failure is timed no earlier than this
            s.post("/auth", None, wrong.clone())
                .await
                .expect(401, Some("invalid_credentials"));
        }
        let r = s.post("/auth", None, right.clone()).await;
        if r.status == 200 && s.clock.now() > failed_at && round < 5 {
            continue;
        }
        break (wrong, right, r);
    };
    r.expect(429, Some("too_many_attempts"));
    let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=1).contains(&wait), "{wait}");
    s.clock.advance(wait);
    // The service clock is real time plus the test's offset, to the second: a second may tick
    // between the failure and the refusal, and Retry-After is then one less.
    let started = s.clock.now();
    s.post("/auth", None, wrong.clone())
        .await
        .expect(401, Some("invalid_credentials"));
    let r = s.post("/auth", None, wrong.clone()).await;
    r.expect(429, Some("too_many_attempts"));
    let ticked = s.clock.now() - started;
    let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (2 - ticked..=2).contains(&wait),
        "the back-off doubles: {wait} s ({ticked} s ticked)"
    );
    s.clock.advance(2);
    s.post("/auth", None, right.clone()).await.expect(200, None);
    // A success resets the count.
    s.post("/auth", None, wrong.clone())
        .await
        .expect(401, Some("invalid_credentials"));
    s.post("/auth", None, right).await.expect(200, None);

    // An unknown name is throttled the same way, so 429 tells nothing about existence. (Its
    // first lock-out lasts a second: on a busy machine it may pass before the next attempt,
    // which is then a fresh try of another name, as above.)
    for round in 1..=5 {
        let ghost = json!({"username": format!("ghost{round}"), "password": "wrong password!"});
        let mut failed_at = 0;
        for _ in 0..5 {
            failed_at = s.clock.now();
            s.post("/auth", None, ghost.clone())
                .await
                .expect(401, Some("invalid_credentials"));
        }
        let r = s.post("/auth", None, ghost).await;
        if r.status == 401 && s.clock.now() > failed_at && round < 5 {
            continue;
        }
        r.expect(429, Some("too_many_attempts"));
        break;
    }
}

#[tokio::test]
async fn the_lockout_is_capped_at_15_minutes() {
    let s = Server::start().await;
    s.user("quinn").await;
    let wrong = json!({"username": "quinn", "password": "wrong password!"});
    let mut last_wait = 0;
    for _ in 0..16 {
        let r = s.post("/auth", None, wrong.clone()).await;
        if r.status == 429 {
            last_wait = r.header("retry-after").unwrap().parse::<i64>().unwrap();
            s.clock.advance(last_wait);
            s.post("/auth", None, wrong.clone())
                .await
                .expect(401, Some("invalid_credentials"));
        }
    }
    // The service clock is the real one plus the test's offset: a second may tick between the
    // failure that set the lock-out and the refusal that reports it (seen on DynamoDB).
    assert!(
        (899..=900).contains(&last_wait),
        "capped at 15 minutes: {last_wait}"
    );
}
