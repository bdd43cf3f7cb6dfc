//! The pages a person meets from a link in a mail: one shell with strict headers, a way forward
//! from every dead end (the forms used to the end), and form posts answered with pages while
//! JSON stays JSON. (The same pages in a real browser, with axe-core: scripts/browser_test.py.)

use serde_json::json;

use crate::common::{PASSWORD, Reply, Server, email};

/// What every page is: the one shell, sent with the strict headers, nothing from elsewhere.
fn assert_page(what: &str, r: &Reply, status: u16, title: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
    let header = |name| {
        r.header(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8", "{what}");
    assert_eq!(
        header("content-security-policy"),
        shared::pages::CONTENT_SECURITY_POLICY,
        "{what}"
    );
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
    let html = &r.text;
    assert!(
        html.starts_with("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"),
        "{what}: {html}"
    );
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"),
        "{what}"
    );
    assert!(
        html.contains(&format!("<title>{title}</title>")),
        "{what}: {html}"
    );
    assert!(
        html.contains(&format!("<h1>{title}</h1>")),
        "{what}: {html}"
    );
    assert_eq!(html.matches("<style>").count(), 1, "{what}");
    for outside in [
        "<script", " src=", "<link", "http://", "https://", "<img", "@import",
    ] {
        assert!(!html.contains(outside), "{what} holds {outside}: {html}");
    }
    // Every visible input has a label tied to it.
    for id in html.split("<input id=\"").skip(1) {
        let id = &id[..id.find('"').unwrap()];
        assert!(
            html.contains(&format!("<label for=\"{id}\">")),
            "{what}: no label for {id}"
        );
    }
}

#[tokio::test]
async fn every_page_from_a_mail_is_the_one_shell_with_strict_headers() {
    let s = Server::start().await;
    // Activation: done, already done, not working, expired.
    s.sign_up("pia").await;
    let link = format!("/activate?token={}", s.activation_token(&email("pia")));
    assert_page(
        "activated",
        &s.html_get(&link).await,
        200,
        "Account activated",
    );
    let again = s.html_get(&link).await;
    assert_page("activated again", &again, 200, "Account already activated");
    let dead = s.html_get("/activate?token=nope").await;
    assert_page(
        "bad activation link",
        &dead,
        400,
        "This activation link does not work",
    );

    // Reset: the form, the form again with why, done, used, expired.
    s.user("rex").await;
    s.clock.advance(60);
    s.post("/password/forgot", None, json!({"email": email("rex")}))
        .await
        .expect(202, None);
    let reset = s.link_token(&email("rex"), "/password/reset");
    let form = s.html_get(&format!("/password/reset?token={reset}")).await;
    assert_page("reset form", &form, 200, "Choose a new password");
    assert!(
        form.text.contains("autocomplete=\"new-password\""),
        "{}",
        form.text
    );
    let weak = s
        .form_post(
            "/password/reset",
            &[("token", &reset), ("password", "password")],
        )
        .await;
    assert_page("reset form, weak", &weak, 400, "Choose a new password");
    assert!(
        weak.text
            .contains("aria-describedby=\"password-hint password-error\" aria-invalid=\"true\""),
        "the error is tied to the field: {}",
        weak.text
    );
    assert!(
        weak.text
            .contains("<p id=\"password-error\" class=\"error\" role=\"alert\">"),
        "and announced: {}",
        weak.text
    );
    let new_password = "velvet harbour lantern 42";
    let done = s
        .form_post(
            "/password/reset",
            &[("token", &reset), ("password", new_password)],
        )
        .await;
    assert_page("reset done", &done, 200, "Password changed");
    let used = s.html_get(&format!("/password/reset?token={reset}")).await;
    assert_page(
        "used reset link",
        &used,
        400,
        "This password reset link does not work",
    );
    // Address confirmation: done, already, not working, expired, taken meanwhile.
    let token = s.log_in_with_password("rex", new_password).await.unwrap();
    s.put(
        "/user/rex/email",
        Some(&token),
        json!({"email": "rex.new@example.com", "password": new_password}),
    )
    .await
    .expect(202, None);
    let confirm = format!(
        "/email/confirm?token={}",
        s.link_token("rex.new@example.com", "/email/confirm")
    );
    assert_page(
        "address changed",
        &s.html_get(&confirm).await,
        200,
        "Email address changed",
    );
    assert_page(
        "address again",
        &s.html_get(&confirm).await,
        200,
        "Already confirmed",
    );
    // A reset link to the new address (one to the old address died with the change), left
    // to expire below.
    s.clock.advance(60);
    s.post(
        "/password/forgot",
        None,
        json!({"email": "rex.new@example.com"}),
    )
    .await
    .expect(202, None);
    let late = s.link_token("rex.new@example.com", "/password/reset");
    let bad = s.html_get("/email/confirm?token=nope").await;
    assert_page(
        "bad confirmation",
        &bad,
        400,
        "This confirmation link does not work",
    );
    let pia = s.log_in("pia").await;
    s.put(
        "/user/pia/email",
        Some(&pia),
        json!({"email": "taken.later@example.com", "password": PASSWORD}),
    )
    .await
    .expect(202, None);
    let taken = s.link_token("taken.later@example.com", "/email/confirm");
    s.post(
        "/user",
        None,
        json!({"username": "quick", "email": "taken.later@example.com", "password": PASSWORD}),
    )
    .await
    .expect(201, None);
    let lost = s.html_get(&format!("/email/confirm?token={taken}")).await;
    assert_page("address taken meanwhile", &lost, 409, "Address not changed");

    s.clock.advance(24 * 3600 + 1);
    let expired = s.html_get(&format!("/password/reset?token={late}")).await;
    assert_page(
        "expired reset link",
        &expired,
        410,
        "This password reset link has expired",
    );
    s.put(
        "/user/pia/email",
        Some(&s.log_in("pia").await),
        json!({"email": "pia.late@example.com", "password": PASSWORD}),
    )
    .await
    .expect(202, None);
    let slow = s.link_token("pia.late@example.com", "/email/confirm");
    s.clock.advance(24 * 3600 + 1);
    let expired = s.html_get(&format!("/email/confirm?token={slow}")).await;
    assert_page(
        "expired confirmation",
        &expired,
        410,
        "This confirmation link has expired",
    );

    // The answers to the dead ends' forms.
    let sent = s
        .form_post("/activate/resend", &[("email", "who@example.com")])
        .await;
    assert_page("resend from a form", &sent, 202, "Check your mail");
    let sent = s
        .form_post("/password/forgot", &[("email", "who@example.com")])
        .await;
    assert_page("forgot from a form", &sent, 202, "Check your mail");
}

#[tokio::test]
async fn a_dead_activation_link_offers_a_new_one_and_the_new_one_works() {
    let s = Server::start().await;
    s.sign_up("max").await;
    let first = s.activation_token(&email("max"));
    // A link cut short by a mail program.
    let dead = s
        .html_get(&format!("/activate?token={}", &first[..10]))
        .await;
    assert_page("cut link", &dead, 400, "This activation link does not work");
    assert!(
        dead.text
            .contains("<form method=\"post\" action=\"activate/resend\">"),
        "{}",
        dead.text
    );
    assert!(
        dead.text
            .contains("<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\""),
        "{}",
        dead.text
    );
    s.clock.advance(60); // the mail throttle's minute
    let sent = s
        .form_post("/activate/resend", &[("email", &email("max"))])
        .await;
    assert_page("resent", &sent, 202, "Check your mail");
    assert!(sent.text.contains(&email("max")), "{}", sent.text);
    let second = s.activation_token(&email("max"));
    assert_ne!(first, second, "a new link was mailed");
    let done = s.html_get(&format!("/activate?token={second}")).await;
    assert_page("the new link", &done, 200, "Account activated");
    s.log_in("max").await;
}

#[tokio::test]
async fn an_expired_activation_link_of_a_waiting_account_leads_to_a_working_one() {
    let s = Server::start().await;
    s.sign_up("nia").await;
    let first = s.activation_token(&email("nia"));
    // A newer link a day later keeps the account waiting; the first one then expires.
    s.clock.advance(20 * 3600);
    s.post("/activate/resend", None, json!({"email": email("nia")}))
        .await
        .expect(202, None);
    s.clock.advance(5 * 3600);
    let expired = s.html_get(&format!("/activate?token={first}")).await;
    assert_page(
        "expired link",
        &expired,
        410,
        "This activation link has expired",
    );
    assert!(
        expired.text.contains("action=\"activate/resend\""),
        "{}",
        expired.text
    );
    let sent = s
        .form_post("/activate/resend", &[("email", &email("nia"))])
        .await;
    assert_page("resent", &sent, 202, "Check your mail");
    let newest = s.activation_token(&email("nia"));
    let done = s.html_get(&format!("/activate?token={newest}")).await;
    assert_page("the newest link", &done, 200, "Account activated");
}

#[tokio::test]
async fn a_reset_started_from_an_expired_link_completes() {
    let s = Server::start().await;
    s.user("ola").await;
    s.clock.advance(60);
    s.post("/password/forgot", None, json!({"email": email("ola")}))
        .await
        .expect(202, None);
    let old = s.link_token(&email("ola"), "/password/reset");
    s.clock.advance(3601);
    let expired = s.html_get(&format!("/password/reset?token={old}")).await;
    assert_page(
        "expired",
        &expired,
        410,
        "This password reset link has expired",
    );
    // The form posts to /password/forgot, relative to /password/reset.
    assert!(
        expired
            .text
            .contains("<form method=\"post\" action=\"forgot\">"),
        "{}",
        expired.text
    );
    let sent = s
        .form_post("/password/forgot", &[("email", &email("ola"))])
        .await;
    assert_page("forgot from the page", &sent, 202, "Check your mail");
    let fresh = s.link_token(&email("ola"), "/password/reset");
    assert_ne!(fresh, old);
    let form = s.html_get(&format!("/password/reset?token={fresh}")).await;
    assert_page("the new form", &form, 200, "Choose a new password");
    let new_password = "quiet meadow compass 9";
    let done = s
        .form_post(
            "/password/reset",
            &[("token", &fresh), ("password", new_password)],
        )
        .await;
    assert_page("done", &done, 200, "Password changed");
    assert!(s.log_in_with_password("ola", new_password).await.is_some());
    assert!(s.log_in_with_password("ola", PASSWORD).await.is_none());
}

#[tokio::test]
async fn a_form_with_a_mistyped_address_comes_back_with_why_and_json_is_unchanged() {
    let s = Server::start().await;
    for (path, action) in [
        ("/activate/resend", "resend"),
        ("/password/forgot", "forgot"),
    ] {
        for (typed, why) in [
            ("", "Enter your email address."),
            (
                "ola@localhost",
                "Enter a whole email address, like name@example.com.",
            ),
            (
                "<b>@x",
                "Enter a whole email address, like name@example.com.",
            ),
        ] {
            let r = s.form_post(path, &[("email", typed)]).await;
            assert_eq!(r.status.as_u16(), 400, "{path} {typed}: {}", r.text);
            assert!(
                r.text.contains(&format!("action=\"{action}\"")),
                "{}",
                r.text
            );
            assert!(
                r.text.contains(&format!(
                    "<p id=\"email-error\" class=\"error\" role=\"alert\">{why}</p>"
                )),
                "{path} {typed}: {}",
                r.text
            );
            assert!(
                r.text.contains("aria-describedby=\"email-error\""),
                "{}",
                r.text
            );
            let kept = typed.replace('<', "&lt;").replace('>', "&gt;");
            assert!(r.text.contains(&format!("value=\"{kept}\"")), "{}", r.text);
            assert!(!r.text.contains("<b>"), "escaped: {}", r.text);
        }
        // JSON answers 202 for any string, so that nothing tells whether an account exists.
        s.post(path, None, json!({"email": "ola@localhost"}))
            .await
            .expect(202, None);
        s.post(path, None, json!({}))
            .await
            .expect(400, Some("validation_failed"));
        assert!(s.mails().is_empty(), "nothing mailed");
    }
}

#[tokio::test]
async fn mails_come_from_the_senders_name_and_hold_their_link_twice_in_html() {
    let s = Server::start_with(&[("SENDER_NAME", "Acme Accounts")]).await;
    s.sign_up("uma").await;
    let mail = s.mails().pop().unwrap();
    assert_eq!(mail["from"], "\"Acme Accounts\" <no-reply@localhost>");
    assert_eq!(mail["subject"], "Activate your account");
    let link = format!(
        "{}/activate?token={}",
        s.base,
        s.activation_token(&email("uma"))
    );
    let text = mail["text"].as_str().unwrap();
    assert!(text.lines().any(|l| l == link), "{text}");
    let html = mail["html"].as_str().unwrap();
    assert_eq!(
        html.matches(&format!("href=\"{link}\"")).count(),
        2,
        "{html}"
    );
    assert!(html.contains(">Activate my account</a>"), "{html}");
}
