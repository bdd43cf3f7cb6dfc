//! GET /activate and POST /activate/resend.

use serde_json::json;

use crate::common::{PASSWORD, Server, email};

#[tokio::test]
async fn the_link_activates_once_and_a_re_click_says_already_activated() {
    let s = Server::start().await;
    s.sign_up("erin").await;
    let login = json!({"username": "erin", "password": PASSWORD});
    s.post("/auth", None, login.clone())
        .await
        .expect(403, Some("account_not_activated"));

    let token = s.activation_token(&email("erin"));
    let first = s
        .get(&format!("/activate?token={token}"), None)
        .await
        .expect(200, None);
    assert_eq!(first, json!({"activated": true, "username": "erin"}));
    let again = s
        .get(&format!("/activate?token={token}"), None)
        .await
        .expect(200, None);
    assert_eq!(again["activated"], true);
    assert_eq!(again["already_activated"], true);
    assert_eq!(again["username"], "erin");

    s.post("/auth", None, login).await.expect(200, None);
    let me = s
        .get("/user/erin", Some(&s.log_in("erin").await))
        .await
        .expect(200, None);
    assert_eq!(me["activated"], true);
}

#[tokio::test]
async fn browsers_get_readable_pages() {
    let s = Server::start().await;
    s.sign_up("frank").await;
    let token = s.activation_token(&email("frank"));
    let html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = |path: String| {
        Server::reply(
            s.client
                .get(format!("{}{path}", s.base))
                .header("accept", html),
        )
    };
    let r = page(format!("/activate?token={token}")).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text.contains("Account activated"));
    let r = page(format!("/activate?token={token}")).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("already activated"));
    s.sign_up("late").await;
    let late = s.activation_token(&email("late"));
    s.clock.advance(24 * 3600 + 1);
    let r = page(format!("/activate?token={late}")).await;
    assert_eq!(r.status, 410);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text.contains("expired"), "{}", r.text);
    let r = page("/activate?token=nope".into()).await;
    assert_eq!(r.status, 400);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text.contains("does not work"), "{}", r.text);
    assert!(
        r.text.contains("action=\"activate/resend\""),
        "the way forward: {}",
        r.text
    );
}

#[tokio::test]
async fn unknown_missing_and_expired_tokens_are_refused() {
    let s = Server::start().await;
    s.get("/activate?token=never-issued", None)
        .await
        .expect(400, Some("invalid_activation_token"));
    s.get("/activate", None)
        .await
        .expect(400, Some("invalid_activation_token"));
    s.get("/activate?token=", None)
        .await
        .expect(400, Some("invalid_activation_token"));
    let long = "x".repeat(5000);
    s.get(&format!("/activate?token={long}"), None)
        .await
        .expect(400, Some("invalid_activation_token"));

    s.sign_up("grace").await;
    let token = s.activation_token(&email("grace"));
    s.clock.advance(24 * 3600 + 1);
    s.get(&format!("/activate?token={token}"), None)
        .await
        .expect(410, Some("activation_token_expired"));
    s.post(
        "/auth",
        None,
        json!({"username": "grace", "password": PASSWORD}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
}

#[tokio::test]
async fn a_token_activates_only_its_own_account() {
    let s = Server::start().await;
    s.sign_up("heidi").await;
    s.sign_up("ivan").await;
    let heidi = s.activation_token(&email("heidi"));
    s.get(&format!("/activate?token={heidi}"), None)
        .await
        .expect(200, None);
    let now = s.clock.now();
    let ivan = s
        .state
        .store
        .find_user_by_username("ivan", now)
        .await
        .unwrap()
        .unwrap();
    assert!(!ivan.activated);
}

#[tokio::test]
async fn resend_always_answers_202_and_mails_only_a_waiting_account() {
    let s = Server::start().await;
    s.sign_up("judy").await;
    s.user("ken").await;
    assert_eq!(s.mails().len(), 2);

    for address in ["nobody@example.com", "ken@example.com", "not an email"] {
        let r = s
            .post("/activate/resend", None, json!({"email": address}))
            .await;
        r.expect(202, None);
    }
    assert_eq!(
        s.mails().len(),
        2,
        "no mail to an unknown or an activated account"
    );

    let old = s.activation_token("judy@example.com");
    s.clock.advance(60); // past the mail throttle's minute
    let r = s
        .post(
            "/activate/resend",
            None,
            json!({"email": "JUDY@example.com"}),
        )
        .await;
    let unknown = s
        .post(
            "/activate/resend",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(
        r.text, unknown.text,
        "the answer does not tell whether the account exists"
    );
    assert_eq!(s.mails().len(), 3);
    let fresh = s.activation_token("judy@example.com");
    assert_ne!(old, fresh);
    s.get(&format!("/activate?token={fresh}"), None)
        .await
        .expect(200, None);

    s.post("/activate/resend", None, json!({}))
        .await
        .expect(400, Some("validation_failed"));
    s.post("/activate/resend", None, json!({"email": 5}))
        .await
        .expect(400, Some("validation_failed"));
}

#[tokio::test]
async fn a_resent_link_extends_the_account_beyond_the_first_link() {
    let s = Server::start().await;
    s.sign_up("leo").await;
    s.clock.advance(20 * 3600);
    s.post("/activate/resend", None, json!({"email": email("leo")}))
        .await
        .expect(202, None);
    s.clock.advance(5 * 3600);
    let fresh = s.activation_token(&email("leo"));
    s.get(&format!("/activate?token={fresh}"), None)
        .await
        .expect(200, None);
}

/// A resend the mail throttle holds back changes nothing: no token stored, and the account's
/// activation window is not pushed on (each resend used to store a token and extend it, so
/// anyone could hold any address forever at one request a day).
#[tokio::test]
async fn a_throttled_resend_stores_nothing_and_keeps_the_window() {
    let s = Server::start().await;
    s.sign_up("holder").await;
    assert_eq!(s.stored_tokens("activation").await, 1);
    // Within the minute of the sign-up's mail: throttled.
    s.post("/activate/resend", None, json!({"email": email("holder")}))
        .await
        .expect(202, None);
    assert_eq!(s.stored_tokens("activation").await, 1, "nothing stored");
    // Nine more mails in the day are allowed (each stores its token), then the tenth of the
    // day is reached and later resends send and store nothing.
    for _ in 0..9 {
        s.clock.advance(61);
        s.post("/activate/resend", None, json!({"email": email("holder")}))
            .await
            .expect(202, None);
    }
    assert_eq!(s.stored_tokens("activation").await, 10);
    s.clock.advance(3600);
    s.post("/activate/resend", None, json!({"email": email("holder")}))
        .await
        .expect(202, None);
    assert_eq!(s.stored_tokens("activation").await, 10, "nothing stored");
    // The window is the last sent link's, 24 h: past it the names are free again.
    s.clock.advance(24 * 3600 - 3600 + 1);
    s.sign_up("holder").await;
}

/// A re-click of the activation link of an account an admin deactivated since does not say
/// `"activated": true` (it did): the link is spent, and the answer is an invalid link's.
#[tokio::test]
async fn a_re_click_after_a_deactivation_does_not_say_activated() {
    let s = Server::start().await;
    s.sign_up("paused").await;
    let token = s.activation_token(&email("paused"));
    s.get(&format!("/activate?token={token}"), None)
        .await
        .expect(200, None);
    let admin = s.admin("root").await;
    s.put("/user/paused", Some(&admin), json!({"activated": false}))
        .await
        .expect(200, None);
    let r = s.get(&format!("/activate?token={token}"), None).await;
    let body = r.expect(400, Some("invalid_activation_token"));
    assert!(body.get("activated").is_none(), "{body}");
    let page = s.html_get(&format!("/activate?token={token}")).await;
    assert_eq!(page.status.as_u16(), 400);
    assert!(!page.text.contains("already activated"), "{}", page.text);
    // Still deactivated.
    s.post(
        "/auth",
        None,
        json!({"username": "paused", "password": PASSWORD}),
    )
    .await
    .expect(403, Some("account_not_activated"));
}
