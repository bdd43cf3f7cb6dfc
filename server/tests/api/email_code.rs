//! Sign-in with a mailed code, as a person and an attacker meet it: the walk (request, the code
//! read from the logged mail, verify, `GET /user`), each way a code stops working (used,
//! wrong five times, expired, another address's, replaced), requests racing, an unknown
//! address answered as a known one, the second step of an account with a factor, the link's
//! page (a scanner's `GET` spends and shows nothing), accounts waiting for activation or
//! deactivated, and the setting that turns it off.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;

use crate::common::{Reply, Server, email, jwt_part};

/// The code and the link of the newest sign-in code mail to `username`.
pub(crate) fn mailed(s: &Server, username: &str) -> (String, String) {
    let mail = s
        .mails()
        .into_iter()
        .rev()
        .find(|m| m["to"] == email(username) && m["subject"] == "Your sign-in code")
        .unwrap_or_else(|| panic!("no sign-in code mail to {username}"));
    let text = mail["text"].as_str().unwrap();
    let code = text
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .expect("a code in the mail")
        .to_string();
    assert!(
        mail["html"].as_str().unwrap().contains(&code),
        "the HTML part shows it too"
    );
    assert!(!mail["subject"].as_str().unwrap().contains(&code));
    let start = format!("{}/auth/email-code/link?", s.base);
    let link = text
        .lines()
        .find(|l| l.starts_with(&start))
        .expect("a link in the mail")
        .to_string();
    (code, link)
}

/// How many sign-in code mails went to `username`.
fn code_mails(s: &Server, username: &str) -> usize {
    s.mails()
        .iter()
        .filter(|m| m["to"] == email(username) && m["subject"] == "Your sign-in code")
        .count()
}

async fn ask(s: &Server, address: &str) -> Reply {
    s.post("/auth/email-code", None, json!({ "email": address }))
        .await
}

async fn verify(s: &Server, address: &str, code: &str) -> Reply {
    s.post(
        "/auth/email-code/verify",
        None,
        json!({ "email": address, "code": code }),
    )
    .await
}

/// `name`, activated and logged in, a minute after its activation mail (the mail throttle
/// allows one a minute).
async fn person(s: &Server, name: &str) -> String {
    let token = s.user(name).await;
    s.clock.advance(61);
    token
}

/// The types of `name`'s events, newest first.
async fn event_types(s: &Server, name: &str, token: &str) -> Vec<String> {
    s.get(&format!("/user/{name}/events"), Some(token))
        .await
        .expect(200, None)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_mailed_code_signs_in_once_and_an_unknown_address_is_answered_alike() {
    let s = Server::start().await;
    person(&s, "ann").await;
    let started = Instant::now();
    let known = ask(&s, "Ann@Example.com").await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    let started = Instant::now();
    let unknown = ask(&s, "nobody@example.com").await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.expect(202, None), unknown.expect(202, None));
    let (code, _) = mailed(&s, "ann");

    let tokens = verify(&s, &email("ann"), &code).await.expect(200, None);
    let access = tokens["access_token"].as_str().unwrap();
    let claims = jwt_part(access, 1);
    assert_eq!(claims["amr"], json!(["email"]));
    assert_eq!(claims["acr"], "aal1");
    let me = s.get("/user/ann", Some(access)).await.expect(200, None);
    assert_eq!(me["username"], "ann");
    // It works once.
    verify(&s, &email("ann"), &code)
        .await
        .expect(401, Some("invalid_email_code"));
    // An unknown address is refused as a used code is (after as long).
    let started = Instant::now();
    verify(&s, "nobody@example.com", &code)
        .await
        .expect(401, Some("invalid_email_code"));
    assert!(started.elapsed() >= Duration::from_millis(250));
    let types = event_types(&s, "ann", access).await;
    for kind in [
        "email_code_sent",
        "email_code_used",
        "logged_in",
        "email_code_failed",
    ] {
        assert!(types.iter().any(|t| t == kind), "{kind}: {types:?}");
    }
    // The body is checked as every body is.
    verify(&s, "ann@example.com", &"9".repeat(33))
        .await
        .expect(400, Some("validation_failed"));
    s.post(
        "/auth/email-code/verify",
        None,
        json!({"email": "ann@example.com"}),
    )
    .await
    .expect(400, Some("validation_failed"));
}

#[tokio::test]
async fn five_wrong_tries_spend_a_code_and_the_login_throttle_counts_them() {
    let s = Server::start().await;
    person(&s, "bea").await;
    ask(&s, &email("bea")).await.expect(202, None);
    let (code, _) = mailed(&s, "bea");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        verify(&s, &email("bea"), wrong)
            .await
            .expect(401, Some("invalid_email_code"));
    }
    // The login throttle counted them, on the account's key.
    let failures = s.stored_failures().await;
    assert_eq!(failures, vec![("u:bea".to_string(), 5)], "{failures:?}");
    // Past the throttle's back-off (5 failures: a second), the right code is spent too.
    s.clock.advance(2);
    verify(&s, &email("bea"), &code)
        .await
        .expect(401, Some("invalid_email_code"));
}

#[tokio::test]
async fn expired_replaced_and_another_addresss_codes_are_refused() {
    let s = Server::start().await;
    person(&s, "cyd").await;
    person(&s, "dee").await;
    ask(&s, &email("cyd")).await.expect(202, None);
    ask(&s, &email("dee")).await.expect(202, None);
    let (cy_code, _) = mailed(&s, "cyd");
    let (dee_code, _) = mailed(&s, "dee");
    // (Two codes alike, one chance in a million, would prove nothing here.)
    if cy_code != dee_code {
        verify(&s, &email("cyd"), &dee_code)
            .await
            .expect(401, Some("invalid_email_code"));
    }
    // Replaced: a minute on, a newer code, and the older is no longer one.
    s.clock.advance(61);
    ask(&s, &email("dee")).await.expect(202, None);
    let (newer, _) = mailed(&s, "dee");
    assert_eq!(code_mails(&s, "dee"), 2);
    ask(&s, &email("dee")).await.expect(202, None);
    assert_eq!(code_mails(&s, "dee"), 2, "the mail throttle: one a minute");
    if newer != dee_code {
        verify(&s, &email("dee"), &dee_code)
            .await
            .expect(401, Some("invalid_email_code"));
    }
    verify(&s, &email("dee"), &newer).await.expect(200, None);
    // Expired: ten minutes after it was mailed.
    s.clock.advance(600 - 61);
    verify(&s, &email("cyd"), &cy_code)
        .await
        .expect(401, Some("invalid_email_code"));
}

#[tokio::test]
async fn ten_verifications_racing_with_the_right_code_sign_in_once() {
    let s = Server::start().await;
    person(&s, "eve").await;
    ask(&s, &email("eve")).await.expect(202, None);
    let (code, _) = mailed(&s, "eve");
    let address = email("eve");
    let answers = join_all((0..10).map(|_| verify(&s, &address, &code))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|&&c| c == 200).count(),
        1,
        "{statuses:?}"
    );
    // The others are refused: the code spent, or the login throttle's back-off (their
    // attempts at once count as failures until one succeeds).
    assert!(
        statuses.iter().all(|&c| [200, 401, 429].contains(&c)),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn an_account_with_a_second_factor_is_asked_for_it() {
    let s = Server::start().await;
    let enrolled = crate::mfa::enrolled(&s, "fay").await;
    s.clock.advance(61);
    ask(&s, &email("fay")).await.expect(202, None);
    let (code, _) = mailed(&s, "fay");
    let step = verify(&s, &email("fay"), &code).await.expect(200, None);
    assert_eq!(step["mfa_required"], true, "{step}");
    assert!(step.get("access_token").is_none(), "{step}");
    let totp = crate::mfa::code_at(&enrolled.secret, s.clock.now() + 30);
    let tokens = s
        .post(
            "/auth/mfa",
            None,
            json!({"mfa_token": step["mfa_token"], "code": totp}),
        )
        .await
        .expect(200, None);
    let claims = jwt_part(tokens["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["amr"], json!(["email", "otp"]));
    assert_eq!(claims["acr"], "aal2");
}

#[tokio::test]
async fn the_links_page_shows_a_button_then_the_code_and_spends_nothing() {
    let s = Server::start().await;
    person(&s, "gus").await;
    ask(&s, &email("gus")).await.expect(202, None);
    let (code, link) = mailed(&s, "gus");
    let path = link.strip_prefix(&s.base).unwrap();
    // A mail scanner opens the link, twice: a button, no code, nothing spent.
    for _ in 0..2 {
        let page = s.html_get(path).await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.text);
        assert!(page.text.contains("Show my code"), "{}", page.text);
        assert!(!page.text.contains(&code), "{}", page.text);
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
    let query: Vec<(String, String)> = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let fields: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let shown = s.form_post("/auth/email-code/link", &fields).await;
    assert_eq!(shown.status.as_u16(), 200, "{}", shown.text);
    assert!(shown.text.contains(&code), "{}", shown.text);
    // A link with its token changed shows nothing.
    let user = fields.iter().find(|(k, _)| *k == "user").unwrap().1;
    let other_token = "x".repeat(43);
    let forged = [("user", user), ("token", other_token.as_str())];
    let r = s.form_post("/auth/email-code/link", &forged).await;
    assert_eq!(r.status.as_u16(), 410, "{}", r.text);
    assert!(!r.text.contains(&code));
    // The code still signs in; then the link's page says it is spent.
    verify(&s, &email("gus"), &code).await.expect(200, None);
    let page = s.html_get(path).await;
    assert_eq!(page.status.as_u16(), 410, "{}", page.text);
}

#[tokio::test]
async fn a_waiting_account_is_activated_by_its_code_and_a_deactivated_one_gets_none() {
    let s = Server::start().await;
    s.sign_up("hal").await;
    s.clock.advance(61);
    ask(&s, &email("hal")).await.expect(202, None);
    let (code, _) = mailed(&s, "hal");
    let tokens = verify(&s, &email("hal"), &code).await.expect(200, None);
    let access = tokens["access_token"].as_str().unwrap();
    let me = s.get("/user/hal", Some(access)).await.expect(200, None);
    assert_eq!(me["activated"], true);
    // The activation link of the sign-up is no longer needed (the account is active).
    assert!(
        event_types(&s, "hal", access)
            .await
            .iter()
            .any(|t| t == "activated")
    );

    let admin = s.admin("root").await;
    person(&s, "ivy").await;
    s.put("/user/ivy", Some(&admin), json!({"activated": false}))
        .await
        .expect(200, None);
    ask(&s, &email("ivy")).await.expect(202, None);
    assert_eq!(
        code_mails(&s, "ivy"),
        0,
        "no code for a deactivated account"
    );
}

#[tokio::test]
async fn turned_off_the_routes_say_so() {
    let s = Server::start_with(&[("EMAIL_CODE_LOGIN", "off")]).await;
    person(&s, "joe").await;
    ask(&s, &email("joe"))
        .await
        .expect(503, Some("email_code_unavailable"));
    verify(&s, &email("joe"), "123456")
        .await
        .expect(503, Some("email_code_unavailable"));
    assert_eq!(code_mails(&s, "joe"), 0);
}

#[tokio::test]
async fn bad_bodies_are_refused_before_anything_is_sent_or_counted() {
    let s = Server::start().await;
    person(&s, "kit").await;
    s.post("/auth/email-code", None, json!({}))
        .await
        .expect(400, Some("validation_failed"));
    s.post("/auth/email-code", None, json!({ "email": 7 }))
        .await
        .expect(400, Some("validation_failed"));
    let long = format!("{}@example.com", "k".repeat(260));
    s.post("/auth/email-code", None, json!({ "email": long }))
        .await
        .expect(400, Some("validation_failed"));
    for path in ["/auth/email-code", "/auth/email-code/verify"] {
        let text = reqwest::Client::new()
            .post(format!("{}{path}", s.base))
            .header("content-type", "text/plain")
            .body(format!(
                "{{\"email\": \"{}\", \"code\": \"1\"}}",
                email("kit")
            ));
        Server::reply(text)
            .await
            .expect(415, Some("unsupported_media_type"));
        s.raw(reqwest::Method::POST, path, "{\"email\": ")
            .await
            .expect(400, Some("invalid_json"));
    }
    assert_eq!(code_mails(&s, "kit"), 0);
    assert!(s.stored_failures().await.is_empty(), "nothing counted");
    // The link's button takes a form only.
    let r = s
        .raw(reqwest::Method::POST, "/auth/email-code/link", "{}")
        .await;
    assert_eq!(r.status.as_u16(), 415, "{}", r.text);
}
