//! Account recovery and self-service changes (docs/API.md): the forgotten password, the reset
//! link and its form, changing the password and the address, sessions, and the mail throttle.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{PASSWORD, Server, email};

const NEW_PASSWORD: &str = "an entirely fresh passphrase 1984";

/// Mails to `to` whose subject is `subject`.
fn mails_to(s: &Server, to: &str, subject: &str) -> usize {
    s.mails()
        .iter()
        .filter(|m| m["to"] == to && m["subject"] == subject)
        .count()
}

async fn forgot(s: &Server, address: &str) -> Value {
    s.post("/password/forgot", None, json!({"email": address}))
        .await
        .expect(202, None)
}

async fn log_in_with(s: &Server, username: &str, password: &str) -> reqwest::StatusCode {
    s.post(
        "/auth",
        None,
        json!({"username": username, "password": password}),
    )
    .await
    .status
}

#[tokio::test]
async fn forgot_answers_alike_and_mails_only_an_activated_account() {
    let s = Server::start().await;
    s.user("ada").await;
    s.sign_up("waiting").await;
    s.clock.advance(60); // past the mail throttle's minute (the activation mails)
    let answers: Vec<Value> = [
        "nobody@example.com".to_string(),
        email("waiting"),
        email("ada"),
        "ADA@example.com".into(),
    ]
    .iter()
    .map(|a| json!({"email": a}))
    .collect();
    let mut bodies = Vec::new();
    for body in answers {
        bodies.push(
            s.post("/password/forgot", None, body)
                .await
                .expect(202, None),
        );
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(mails_to(&s, &email("ada"), "Reset your password"), 1);
    assert_eq!(mails_to(&s, &email("waiting"), "Reset your password"), 0);
    for bad in [
        json!({}),
        json!({"email": 5}),
        json!({"email": "a".repeat(300)}),
    ] {
        s.post("/password/forgot", None, bad)
            .await
            .expect(400, Some("validation_failed"));
    }
    s.raw(Method::POST, "/password/forgot", "[1]")
        .await
        .expect(400, Some("invalid_json"));
}

#[tokio::test]
async fn the_whole_recovery_path_as_a_person_meets_it() {
    let s = Server::start().await;
    let first = s.user("bea").await;
    let second = s.log_in("bea").await;
    s.clock.advance(60); // past the mail throttle's minute (the activation mail)
    forgot(&s, &email("bea")).await;
    let token = s.link_token(&email("bea"), "/password/reset");
    // The login throttle engaged on the account (every name that finds it counts there): ten
    // failures, a 32 s lock-out (five would lock for 1 s, which a loaded machine can outlast
    // between two requests). The service clock stands still from here, so only the reset can
    // clear it.
    lock_for_32_seconds(&s, "u:bea").await;
    assert_eq!(log_in_with(&s, "bea", PASSWORD).await.as_u16(), 429);
    let by_address = json!({"email": email("bea"), "password": PASSWORD});
    s.post("/login", None, by_address)
        .await
        .expect(429, Some("too_many_attempts"));

    // The link: JSON says it works; a browser gets the form, with no referrer leaving the page.
    let r = s.get(&format!("/password/reset?token={token}"), None).await;
    assert_eq!(r.expect(200, None), json!({"valid": true}));
    let page = s.html_get(&format!("/password/reset?token={token}")).await;
    assert_eq!(page.status.as_u16(), 200);
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.text.contains(&format!("value=\"{token}\"")),
        "{}",
        page.text
    );
    assert!(page.text.contains("autocomplete=\"new-password\""));

    // A weak password is refused and changes nothing; the link still works.
    let weak = json!({"token": token, "password": "password1"});
    s.post("/password/reset", None, weak)
        .await
        .expect(400, Some("weak_password"));
    s.get(&format!("/password/reset?token={token}"), None)
        .await
        .expect(200, None);

    let done = json!({"token": token, "password": NEW_PASSWORD});
    let r = s.post("/password/reset", None, done.clone()).await;
    assert_eq!(r.expect(200, None), json!({"reset": true}));
    assert_eq!(
        mails_to(&s, &email("bea"), "Your password was changed"),
        1,
        "the notice"
    );
    let notice = s.mails().into_iter().last().unwrap();
    assert!(
        !notice["text"].as_str().unwrap().contains("token="),
        "no link that changes anything"
    );
    for t in [&first, &second] {
        s.get("/user", Some(t))
            .await
            .expect(401, Some("invalid_token"));
    }
    assert_eq!(
        log_in_with(&s, "bea", PASSWORD).await.as_u16(),
        401,
        "the old password"
    );
    assert_eq!(
        log_in_with(&s, "bea", NEW_PASSWORD).await.as_u16(),
        200,
        "the new one, at once: the throttle was cleared"
    );
    let by_address = json!({"email": email("bea"), "password": NEW_PASSWORD});
    s.post("/login", None, by_address).await.expect(200, None);
    // The link worked once.
    s.post("/password/reset", None, done)
        .await
        .expect(400, Some("invalid_reset_token"));
    s.get(&format!("/password/reset?token={token}"), None)
        .await
        .expect(400, Some("invalid_reset_token"));
}

#[tokio::test]
async fn the_reset_form_posts_and_answers_with_pages() {
    let s = Server::start().await;
    s.user("cleo").await;
    s.clock.advance(60);
    forgot(&s, &email("cleo")).await;
    let token = s.link_token(&email("cleo"), "/password/reset");
    let weak = s
        .form_post(
            "/password/reset",
            &[("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(weak.status.as_u16(), 400);
    assert!(
        weak.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(weak.text.contains("role=\"alert\""), "{}", weak.text);
    assert!(
        weak.text.contains(&format!("value=\"{token}\"")),
        "the form again"
    );
    let done = s
        .form_post(
            "/password/reset",
            &[("token", &token), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(done.status.as_u16(), 200, "{}", done.text);
    assert!(done.text.contains("Password changed"), "{}", done.text);
    assert_eq!(done.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(log_in_with(&s, "cleo", NEW_PASSWORD).await.as_u16(), 200);
    let again = s
        .form_post(
            "/password/reset",
            &[("token", &token), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(again.status.as_u16(), 400);
    assert!(again.text.contains("does not work"), "{}", again.text);
    assert!(
        again.text.contains("action=\"forgot\""),
        "the way forward: {}",
        again.text
    );
}

#[tokio::test]
async fn reset_links_expire_after_an_hour_and_one_used_ends_the_others() {
    let s = Server::start().await;
    s.user("dina").await;
    s.clock.advance(60);
    forgot(&s, &email("dina")).await;
    let older = s.link_token(&email("dina"), "/password/reset");
    s.clock.advance(60);
    forgot(&s, &email("dina")).await;
    let newer = s.link_token(&email("dina"), "/password/reset");
    assert_ne!(older, newer);
    s.get(&format!("/password/reset?token={older}"), None)
        .await
        .expect(200, None);
    s.post(
        "/password/reset",
        None,
        json!({"token": newer, "password": NEW_PASSWORD}),
    )
    .await
    .expect(200, None);
    s.post(
        "/password/reset",
        None,
        json!({"token": older, "password": NEW_PASSWORD}),
    )
    .await
    .expect(400, Some("invalid_reset_token"));

    s.clock.advance(60);
    forgot(&s, &email("dina")).await;
    let late = s.link_token(&email("dina"), "/password/reset");
    s.clock.advance(3600);
    s.get(&format!("/password/reset?token={late}"), None)
        .await
        .expect(410, Some("reset_token_expired"));
    let page = s.html_get(&format!("/password/reset?token={late}")).await;
    assert_eq!(page.status.as_u16(), 410);
    assert!(page.text.contains("expired"), "{}", page.text);
    s.post(
        "/password/reset",
        None,
        json!({"token": late, "password": PASSWORD}),
    )
    .await
    .expect(410, Some("reset_token_expired"));
    for bad in ["", "nope", &"x".repeat(500)] {
        s.get(&format!("/password/reset?token={bad}"), None)
            .await
            .expect(400, Some("invalid_reset_token"));
    }
    s.get("/password/reset", None)
        .await
        .expect(400, Some("invalid_reset_token"));
    s.post("/password/reset", None, json!({"password": NEW_PASSWORD}))
        .await
        .expect(400, Some("validation_failed"));
}

#[tokio::test]
async fn changing_the_password_is_for_the_owner_and_ends_the_other_sessions() {
    let s = Server::start().await;
    let mine = s.user("eve").await;
    let other_session = s.log_in("eve").await;
    let stranger = s.user("finn").await;
    let admin = s.admin("gus").await;
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    s.put("/user/eve/password", None, body.clone())
        .await
        .expect(401, Some("unauthorized"));
    for (who, token) in [("another user", &stranger), ("an admin", &admin)] {
        let r = s.put("/user/eve/password", Some(token), body.clone()).await;
        assert_eq!(r.status.as_u16(), 403, "{who}: {}", r.text);
    }
    s.put("/user/nobody/password", Some(&admin), body.clone())
        .await
        .expect(403, Some("forbidden"));
    let wrong = json!({"current_password": "not it at all", "new_password": NEW_PASSWORD});
    s.put("/user/eve/password", Some(&mine), wrong)
        .await
        .expect(401, Some("invalid_credentials"));
    let weak = json!({"current_password": PASSWORD, "new_password": "eve12345"});
    s.put("/user/eve/password", Some(&mine), weak)
        .await
        .expect(400, Some("weak_password"));
    for bad in [
        json!({"new_password": NEW_PASSWORD}),
        json!({"current_password": PASSWORD, "new_password": "short"}),
        json!({"current_password": 1, "new_password": NEW_PASSWORD}),
    ] {
        s.put("/user/eve/password", Some(&mine), bad)
            .await
            .expect(400, Some("validation_failed"));
    }
    assert_eq!(
        log_in_with(&s, "eve", PASSWORD).await.as_u16(),
        200,
        "nothing changed yet"
    );

    s.put("/user/EVE/password", Some(&mine), body)
        .await
        .expect(204, None);
    s.get("/user", Some(&mine)).await.expect(200, None);
    s.get("/user", Some(&other_session))
        .await
        .expect(401, Some("invalid_token"));
    assert_eq!(mails_to(&s, &email("eve"), "Your password was changed"), 1);
    assert_eq!(log_in_with(&s, "eve", PASSWORD).await.as_u16(), 401);
    assert_eq!(log_in_with(&s, "eve", NEW_PASSWORD).await.as_u16(), 200);
    assert_eq!(
        log_in_with(&s, "finn", PASSWORD).await.as_u16(),
        200,
        "others untouched"
    );
}

#[tokio::test]
async fn a_wrong_current_password_counts_as_a_failed_login() {
    let s = Server::start().await;
    let token = s.user("hal").await;
    let wrong = json!({"current_password": "not it at all", "new_password": NEW_PASSWORD});
    for _ in 0..5 {
        s.put("/user/hal/password", Some(&token), wrong.clone())
            .await
            .expect(401, Some("invalid_credentials"));
    }
    // The sixth is locked out for a second, counted in whole seconds of the service clock: when
    // the fifth failure fell at the end of a second, the sixth may already be past it and is
    // checked (401), which doubles the lock to two seconds; the next attempt then meets it.
    let mut started = s.clock.now();
    let mut r = s
        .put("/user/hal/password", Some(&token), wrong.clone())
        .await;
    for _ in 0..2 {
        if r.status.as_u16() == 429 {
            break;
        }
        r.expect(401, Some("invalid_credentials"));
        started = s.clock.now();
        r = s
            .put("/user/hal/password", Some(&token), wrong.clone())
            .await;
    }
    r.expect(429, Some("too_many_attempts"));
    let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
    let login = log_in_with(&s, "hal", PASSWORD).await.as_u16();
    // The lock lasts at least until `started + wait` on the service clock (real time, to the
    // second): a login answered before then must meet the same lock. (On a loaded machine the
    // one-second lock may be over by the time the login is answered; it then says nothing.)
    if s.clock.now() < started + wait {
        assert_eq!(login, 429, "one throttle");
    }
}

#[tokio::test]
async fn changing_the_address_waits_for_the_link_then_moves_it_atomically() {
    let s = Server::start().await;
    let token = s.user("ivy").await;
    let stranger = s.user("jon").await;
    let admin = s.admin("kai").await;
    let body = json!({"email": "ivy.new@example.com", "password": PASSWORD});
    s.put("/user/ivy/email", None, body.clone())
        .await
        .expect(401, Some("unauthorized"));
    for t in [&stranger, &admin] {
        s.put("/user/ivy/email", Some(t), body.clone())
            .await
            .expect(403, Some("forbidden"));
    }
    for bad in [
        json!({"email": "not an address", "password": PASSWORD}),
        json!({"email": email("ivy"), "password": PASSWORD}),
        json!({"password": PASSWORD}),
    ] {
        s.put("/user/ivy/email", Some(&token), bad)
            .await
            .expect(400, Some("validation_failed"));
    }
    s.put(
        "/user/ivy/email",
        Some(&token),
        json!({"email": "ivy.new@example.com", "password": "wrong wrong"}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
    s.put(
        "/user/ivy/email",
        Some(&token),
        json!({"email": email("JON"), "password": PASSWORD}),
    )
    .await
    .expect(409, Some("email_taken"));

    s.put("/user/ivy/email", Some(&token), body)
        .await
        .expect(202, None);
    let link = s.link_token("ivy.new@example.com", "/email/confirm");
    let me = s.get("/user", Some(&token)).await.expect(200, None);
    assert_eq!(me["email"], email("ivy"), "nothing changes before the link");

    let r = s.get(&format!("/email/confirm?token={link}"), None).await;
    assert_eq!(
        r.expect(200, None),
        json!({"email_changed": true, "email": "ivy.new@example.com"})
    );
    let me = s.get("/user", Some(&token)).await.expect(200, None);
    assert_eq!(me["email"], "ivy.new@example.com", "sessions stay");
    assert_eq!(
        mails_to(&s, &email("ivy"), "Your email address was changed"),
        1
    );
    let r = s
        .post(
            "/login",
            None,
            json!({"email": "IVY.NEW@example.com", "password": PASSWORD}),
        )
        .await;
    r.expect(200, None);
    // A re-click says so; the old address is free.
    let again = s
        .get(&format!("/email/confirm?token={link}"), None)
        .await
        .expect(200, None);
    assert_eq!(again["already_confirmed"], true);
    s.post(
        "/user",
        None,
        json!({"username": "ivy2", "email": email("ivy"), "password": PASSWORD}),
    )
    .await
    .expect(201, None);
    let page = s.html_get(&format!("/email/confirm?token={link}")).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("ivy.new@example.com"), "{}", page.text);
}

#[tokio::test]
async fn a_confirmation_link_expires_and_loses_to_an_address_taken_meanwhile() {
    let s = Server::start().await;
    let token = s.user("lea").await;
    s.put(
        "/user/lea/email",
        Some(&token),
        json!({"email": "lea.a@example.com", "password": PASSWORD}),
    )
    .await
    .expect(202, None);
    let taken_later = s.link_token("lea.a@example.com", "/email/confirm");
    s.put(
        "/user/lea/email",
        Some(&token),
        json!({"email": "lea.b@example.com", "password": PASSWORD}),
    )
    .await
    .expect(202, None);
    let expiring = s.link_token("lea.b@example.com", "/email/confirm");
    // Someone signs up with the first address before the link is followed.
    s.post(
        "/user",
        None,
        json!({"username": "mia", "email": "lea.a@example.com", "password": PASSWORD}),
    )
    .await
    .expect(201, None);
    s.get(&format!("/email/confirm?token={taken_later}"), None)
        .await
        .expect(409, Some("email_taken"));
    let me = s.get("/user", Some(&token)).await.expect(200, None);
    assert_eq!(me["email"], email("lea"), "the old address stays");
    assert_eq!(
        mails_to(&s, &email("lea"), "Your email address was changed"),
        0
    );

    s.clock.advance(24 * 3600);
    let r = s
        .get(&format!("/email/confirm?token={expiring}"), None)
        .await;
    r.expect(410, Some("confirmation_token_expired"));
    for bad in ["", "nope"] {
        s.get(&format!("/email/confirm?token={bad}"), None)
            .await
            .expect(400, Some("invalid_confirmation_token"));
    }
}

#[tokio::test]
async fn sessions_are_listed_and_ended_together() {
    let s = Server::start().await;
    let first = s.user("nia").await;
    s.clock.advance(5); // times are to the second: the second login is the later one
    let second = s.log_in("nia").await;
    let other = s.user("oscar").await;
    s.get("/auth/sessions", None)
        .await
        .expect(401, Some("unauthorized"));
    let listed = s
        .get("/auth/sessions", Some(&second))
        .await
        .expect(200, None);
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{listed}");
    assert_eq!(sessions.iter().filter(|x| x["current"] == true).count(), 1);
    assert_eq!(
        sessions[1]["current"], true,
        "oldest first: the second login is current"
    );
    for x in sessions {
        let id = x["session_id"].as_str().unwrap();
        assert!(
            !first.contains(id) && !second.contains(id),
            "not part of a token"
        );
        s.get("/user", Some(id))
            .await
            .expect(401, Some("invalid_token"));
        assert!(x["created_at"].as_str().unwrap().ends_with('Z'));
    }
    s.delete("/auth/sessions", Some(&first))
        .await
        .expect(204, None);
    for t in [&first, &second] {
        s.get("/auth/sessions", Some(t))
            .await
            .expect(401, Some("invalid_token"));
    }
    s.get("/user", Some(&other)).await.expect(200, None);
    let fresh = s.log_in("nia").await;
    let listed = s
        .get("/auth/sessions", Some(&fresh))
        .await
        .expect(200, None);
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_mail_throttle_sends_one_a_minute_and_ten_a_day_and_answers_the_same() {
    let s = Server::start().await;
    s.user("pam").await; // its activation mail is the first of the day
    let subject = "Reset your password";
    forgot(&s, &email("pam")).await;
    assert_eq!(mails_to(&s, &email("pam"), subject), 0, "within the minute");
    for i in 1..=9 {
        s.clock.advance(60);
        forgot(&s, &email("pam")).await;
        assert_eq!(mails_to(&s, &email("pam"), subject), i);
    }
    s.clock.advance(60);
    let eleventh = forgot(&s, &email("pam")).await;
    assert_eq!(
        mails_to(&s, &email("pam"), subject),
        9,
        "the 11th of the day is not sent"
    );
    assert_eq!(
        eleventh,
        forgot(&s, "nobody@example.com").await,
        "the same answer"
    );
    s.clock.advance(24 * 3600);
    forgot(&s, &email("pam")).await;
    assert_eq!(mails_to(&s, &email("pam"), subject), 10, "a new day");

    // Resend too, and sign-up's mail counts as the first.
    s.sign_up("quinn").await;
    s.post("/activate/resend", None, json!({"email": email("quinn")}))
        .await
        .expect(202, None);
    assert_eq!(mails_to(&s, &email("quinn"), "Activate your account"), 1);
}

#[tokio::test]
async fn a_mail_that_cannot_be_sent_changes_nothing() {
    let s = Server::start().await;
    let token = s.user("rex").await;
    s.clock.advance(60);
    forgot(&s, &email("rex")).await;
    let reset = s.link_token(&email("rex"), "/password/reset");
    s.put(
        "/user/rex/email",
        Some(&token),
        json!({"email": "rex.new@example.com", "password": PASSWORD}),
    )
    .await
    .expect(202, None);
    let confirm = s.link_token("rex.new@example.com", "/email/confirm");

    // The mailer fails: its file cannot be written.
    let log = s.data_dir.join("mail.log");
    std::fs::rename(&log, s.data_dir.join("mail.kept")).unwrap();
    std::fs::create_dir(&log).unwrap();
    s.post(
        "/password/reset",
        None,
        json!({"token": reset, "password": NEW_PASSWORD}),
    )
    .await
    .expect(503, Some("mail_unavailable"));
    s.get(&format!("/email/confirm?token={confirm}"), None)
        .await
        .expect(503, Some("mail_unavailable"));
    s.put(
        "/user/rex/password",
        Some(&token),
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await
    .expect(503, Some("mail_unavailable"));
    s.put(
        "/user/rex/email",
        Some(&token),
        json!({"email": "rex.other@example.com", "password": PASSWORD}),
    )
    .await
    .expect(503, Some("mail_unavailable"));
    let me = s.get("/user", Some(&token)).await.expect(200, None);
    assert_eq!(me["email"], email("rex"));
    assert_eq!(
        log_in_with(&s, "rex", PASSWORD).await.as_u16(),
        200,
        "the password stays"
    );

    // Mail works again: the reset link still works, and the reset, which ends every session,
    // cancels the pending address change (its notice says so).
    std::fs::remove_dir(&log).unwrap();
    s.get(&format!("/password/reset?token={reset}"), None)
        .await
        .expect(200, None);
    s.post(
        "/password/reset",
        None,
        json!({"token": reset, "password": NEW_PASSWORD}),
    )
    .await
    .expect(200, None);
    s.get(&format!("/email/confirm?token={confirm}"), None)
        .await
        .expect(400, Some("invalid_confirmation_token"));
    let notice = s
        .mails()
        .into_iter()
        .rev()
        .find(|m| m["subject"] == "Your password was changed")
        .unwrap();
    assert!(
        notice["text"].as_str().unwrap().contains("was cancelled"),
        "{notice}"
    );
}

/// Ten failed attempts of `key`, taken as the throttle allows them (five at once, then each
/// after the last one's lock), the last one now: a 32 s lock-out from now.
async fn lock_for_32_seconds(s: &Server, key: &str) {
    let now = s.clock.now();
    let mut at = now - 31;
    for i in 0..10u32 {
        if i >= 5 {
            at += 1 << (i - 5);
        }
        let taken = s.state.store.take_login_attempt(key, at).await.unwrap();
        assert!(
            matches!(taken, shared::store::LoginAttempt::Taken(_)),
            "{taken:?}"
        );
    }
    assert_eq!(at, now);
}

/// A forgotten-password request the mail throttle holds back stores nothing (each used to
/// store a reset token: anonymous requests grew the table).
#[tokio::test]
async fn a_throttled_forgot_stores_nothing() {
    let s = Server::start().await;
    s.user("gus").await;
    // Within the minute of the activation mail: throttled, many times.
    for _ in 0..5 {
        forgot(&s, &email("gus")).await;
    }
    assert_eq!(s.stored_tokens("reset").await, 0);
    s.clock.advance(61);
    forgot(&s, &email("gus")).await;
    assert_eq!(
        s.stored_tokens("reset").await,
        1,
        "a mail sent stores its link"
    );
    forgot(&s, &email("gus")).await;
    assert_eq!(s.stored_tokens("reset").await, 1);
}
