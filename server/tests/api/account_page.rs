//! The signed-in page of an account's passkeys (`/account/passkeys`), as a browser meets it: the
//! hosted sign-in first (the built-in client `account`, back to the page with no code), then
//! the page's forms and its script's options route, each held to its CSRF token, the browser
//! session and the JSON routes' step-ups; what they change read back through the JSON routes.

use serde_json::Value;

use crate::authorize::{Browser, hidden_fields};
use crate::common::{PASSKEY_ORIGIN, PASSWORD, Reply, Server};
use crate::passkeys::Device;

/// The page's address, and the form route's.
const PAGE: &str = "/account/passkeys";
const OPTIONS: &str = "/account/passkeys/options";

/// Signs `name` in from the page: `303` to the hosted sign-in page, the password, `303` back to
/// the page (no code: the browser session is what the page reads). The page.
async fn signed_in_page(s: &Server, b: &mut Browser, name: &str) -> Reply {
    let r = b.get(PAGE).await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    let to = r.header("location").unwrap().to_string();
    let url = url::Url::parse(&to).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/oauth/authorize", "{to}");
    assert!(
        query.contains(&("client_id".into(), "account".into())),
        "{to}"
    );
    assert!(
        query.contains(&("redirect_uri".into(), format!("{}{PAGE}", s.base))),
        "{to}"
    );
    let sign_in = b.get(to.strip_prefix(&s.base).unwrap()).await;
    assert_eq!(sign_in.status.as_u16(), 200, "{}", sign_in.text);
    assert!(
        sign_in.text.contains("your account&#39;s passkeys")
            || sign_in.text.contains("your account's passkeys"),
        "{}",
        sign_in.text
    );
    let back = b
        .submit(&sign_in, 0, &[("login", name), ("password", PASSWORD)])
        .await;
    assert_eq!(back.status.as_u16(), 303, "{}", back.text);
    assert_eq!(
        back.header("location"),
        Some(format!("{}{PAGE}", s.base).as_str()),
        "straight back, with no code"
    );
    let page = b.get(PAGE).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    page
}

/// The value of hidden field `name` of the `index`th form of `page`.
fn hidden(page: &Reply, index: usize, name: &str) -> String {
    hidden_fields(&page.text, index)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {name} in form {index}: {}", page.text))
}

/// Posts the `index`th form of `page` to the page's route with `more` fields.
async fn post(b: &mut Browser, page: &Reply, index: usize, more: &[(&str, &str)]) -> Reply {
    let mut fields = hidden_fields(&page.text, index);
    for (k, v) in more {
        fields.retain(|(name, _)| name != k);
        fields.push((k.to_string(), v.to_string()));
    }
    b.post_form_to(PAGE, &fields).await
}

/// The options route as the page's script calls it.
async fn options(b: &mut Browser, fields: &[(&str, &str)]) -> Reply {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    b.post_form_to(OPTIONS, &fields).await
}

/// The account's passkeys, as the JSON route lists them.
async fn listed(s: &Server, token: &str, name: &str) -> Vec<Value> {
    s.get(&format!("/user/{name}/passkeys"), Some(token))
        .await
        .expect(200, None)["passkeys"]
        .as_array()
        .unwrap()
        .clone()
}

/// `303` back to the page, saying what was done.
fn done(r: &Reply, what: &str) {
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some(format!("passkeys?done={what}").as_str())
    );
}

#[tokio::test]
async fn a_person_adds_renames_and_removes_a_passkey_on_the_account_page() {
    let s = Server::start().await;
    let token = s.user("pia").await;
    let mut b = Browser::new(&s);
    let page = signed_in_page(&s, &mut b, "pia").await;
    assert!(
        page.text.contains("You have no passkey yet."),
        "{}",
        page.text
    );
    let policy = page.header("content-security-policy").unwrap();
    assert!(
        policy.contains("script-src 'self'; connect-src 'self'"),
        "{policy}"
    );
    assert!(policy.contains("form-action 'self';"), "{policy}");
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.text.contains(r#"src="../assets/passkey.js""#),
        "{}",
        page.text
    );
    // A password sign-in: adding asks for the password on the page.
    assert!(page.text.contains(r#"name="password""#), "{}", page.text);
    let csrf = hidden(&page, 0, "csrf");
    assert_eq!(hidden(&page, 0, "action"), "add");

    // The options: the form's token, then the password, each checked.
    let r = options(&mut b, &[("password", PASSWORD)]).await;
    r.expect(403, Some("forbidden"));
    let r = options(&mut b, &[("csrf", &csrf)]).await;
    r.expect(403, Some("step_up_required"));
    let r = options(&mut b, &[("csrf", &csrf), ("password", "not the password")]).await;
    r.expect(401, Some("invalid_credentials"));
    let mut stranger = Browser::new(&s);
    let r = options(&mut stranger, &[("csrf", &csrf), ("password", PASSWORD)]).await;
    r.expect(403, Some("forbidden"));
    let answer = options(&mut b, &[("csrf", &csrf), ("password", PASSWORD)])
        .await
        .expect(200, None);
    assert_eq!(answer["publicKey"]["user"]["name"], "pia");
    let mut laptop = Device::new(PASSKEY_ORIGIN, false);
    let credential = laptop.create(&answer).await.to_string();

    // The form without its token: the page again, nothing added.
    let mut fields = hidden_fields(&page.text, 0);
    fields.retain(|(k, _)| k != "csrf");
    fields.retain(|(k, _)| k != "credential");
    fields.push(("credential".into(), credential.clone()));
    fields.push(("name".into(), "Laptop".into()));
    let r = b.post_form_to(PAGE, &fields).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.text);
    assert!(r.text.contains("This page had expired"), "{}", r.text);
    assert!(listed(&s, &token, "pia").await.is_empty());
    // Another browser (no session) is sent to sign in.
    let r = post(
        &mut stranger,
        &page,
        0,
        &[("name", "Laptop"), ("credential", &credential)],
    )
    .await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    assert!(r.header("location").unwrap().contains("/oauth/authorize?"));
    assert!(listed(&s, &token, "pia").await.is_empty());

    let r = post(
        &mut b,
        &page,
        0,
        &[("name", "Laptop"), ("credential", &credential)],
    )
    .await;
    done(&r, "added");
    let keys = listed(&s, &token, "pia").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["name"], "Laptop");
    // The options are spent: the same credential again is refused, on the page.
    let r = post(
        &mut b,
        &page,
        0,
        &[("name", "Again"), ("credential", &credential)],
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert!(r.text.contains("cannot be added"), "{}", r.text);
    assert_eq!(listed(&s, &token, "pia").await.len(), 1);

    let page = b.get(&format!("{PAGE}?done=added")).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    assert!(
        page.text.contains("Your passkey was added."),
        "{}",
        page.text
    );
    assert!(page.text.contains("Laptop"), "{}", page.text);
    assert!(page.text.contains("never used."), "{}", page.text);
    // Forms: rename (0) and remove (1) of the one passkey, then add (2).
    assert_eq!(hidden(&page, 0, "action"), "rename");
    assert_eq!(hidden(&page, 0, "id"), keys[0]["id"].as_str().unwrap());
    assert_eq!(hidden(&page, 1, "action"), "remove");
    assert_eq!(hidden(&page, 2, "action"), "add");

    let long = "x".repeat(65);
    let r = post(&mut b, &page, 0, &[("name", &long)]).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert!(r.text.contains("1 to 64 characters"), "{}", r.text);
    let r = post(&mut b, &page, 0, &[("name", "Work <laptop>")]).await;
    done(&r, "renamed");
    assert_eq!(listed(&s, &token, "pia").await[0]["name"], "Work <laptop>");
    let page = b.get(PAGE).await;
    assert!(page.text.contains("Work &lt;laptop&gt;"), "{}", page.text);

    // Another account's passkey is no passkey of this page's.
    let other = s.user("rex").await;
    let mut phone = Device::new(PASSKEY_ORIGIN, false);
    let theirs = crate::passkeys::add(&s, &other, "rex", &mut phone, "Phone").await;
    let r = post(&mut b, &page, 1, &[("id", &theirs)]).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.text);
    assert_eq!(listed(&s, &other, "rex").await.len(), 1);

    let r = post(&mut b, &page, 1, &[]).await;
    done(&r, "removed");
    assert!(listed(&s, &token, "pia").await.is_empty());
    let page = b.get(&format!("{PAGE}?done=removed")).await;
    assert!(
        page.text.contains("The passkey was removed."),
        "{}",
        page.text
    );

    // What the page did is what the JSON routes do: events, and the notices.
    let events = s
        .get("/user/pia/events", Some(&token))
        .await
        .expect(200, None);
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for kind in ["passkey_added", "passkey_removed"] {
        assert!(types.contains(&kind), "{types:?}");
    }
    let notices = s
        .mails()
        .into_iter()
        .filter(|m| m["to"] == crate::common::email("pia"))
        .filter(|m| m["subject"].as_str().unwrap_or("").contains("passkey"))
        .count();
    assert_eq!(notices, 2);
}

/// Signs `name`, whose factor is on, in from the page: the password, then a code.
async fn two_factor_page(s: &Server, b: &mut Browser, name: &str, secret: &[u8]) -> Reply {
    let r = b.get(PAGE).await;
    let to = r.header("location").unwrap().to_string();
    let sign_in = b.get(to.strip_prefix(&s.base).unwrap()).await;
    let second = b
        .submit(&sign_in, 0, &[("login", name), ("password", PASSWORD)])
        .await;
    assert_eq!(second.status.as_u16(), 200, "{}", second.text);
    let code = crate::mfa::code_at(secret, s.clock.now() + 30);
    let back = b.submit(&second, 0, &[("code", &code)]).await;
    assert_eq!(back.status.as_u16(), 303, "{}", back.text);
    let page = b.get(PAGE).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    page
}

#[tokio::test]
async fn a_two_factor_sign_in_adds_without_the_password_and_later_removes_with_a_code() {
    let s = Server::start().await;
    let enrolled = crate::mfa::enrolled(&s, "sol").await;
    let mut b = Browser::new(&s);
    let page = two_factor_page(&s, &mut b, "sol", &enrolled.secret).await;
    // Two factors, just now: neither the password nor a code is asked.
    assert!(!page.text.contains(r#"name="password""#), "{}", page.text);
    assert!(!page.text.contains(r#"name="code""#), "{}", page.text);
    let answer = options(&mut b, &[("csrf", &hidden(&page, 0, "csrf"))])
        .await
        .expect(200, None);
    let mut key = Device::new(PASSKEY_ORIGIN, false);
    let credential = key.create(&answer).await.to_string();
    let r = post(
        &mut b,
        &page,
        0,
        &[("name", "Key"), ("credential", &credential)],
    )
    .await;
    done(&r, "added");
    assert_eq!(listed(&s, &enrolled.token, "sol").await.len(), 1);

    // Eleven minutes on, the sign-in is no step-up: the password to add, a code to remove.
    s.clock.advance(11 * 60);
    let page = b.get(PAGE).await;
    assert!(page.text.contains(r#"name="password""#), "{}", page.text);
    assert!(page.text.contains(r#"name="code""#), "{}", page.text);
    let r = options(&mut b, &[("csrf", &hidden(&page, 0, "csrf"))]).await;
    r.expect(403, Some("step_up_required"));
    let r = post(&mut b, &page, 1, &[]).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.text);
    assert!(r.text.contains("your code"), "{}", r.text);
    let r = post(&mut b, &page, 1, &[("code", "000000")]).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert!(r.text.contains("That code is not right."), "{}", r.text);
    assert_eq!(listed(&s, &enrolled.token, "sol").await.len(), 1);
    let code = crate::mfa::code_at(&enrolled.secret, s.clock.now());
    let r = post(&mut b, &page, 1, &[("code", &code)]).await;
    done(&r, "removed");
    assert!(listed(&s, &enrolled.token, "sol").await.is_empty());
}

#[tokio::test]
async fn the_page_ends_with_its_session_and_its_client_is_no_app() {
    let s = Server::start().await;
    let token = s.user("tam").await;
    let mut b = Browser::new(&s);
    let page = signed_in_page(&s, &mut b, "tam").await;
    // "End all sessions" ends the browser's too: the page asks to sign in again.
    s.delete("/auth/sessions", Some(&token))
        .await
        .expect(204, None);
    let r = b.get(PAGE).await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    assert!(r.header("location").unwrap().contains("client_id=account"));
    let csrf = hidden(&page, 0, "csrf");
    let r = options(&mut b, &[("csrf", &csrf), ("password", PASSWORD)]).await;
    r.expect(401, Some("unauthorized"));

    // The built-in client is the page's only: no other redirect URI, and unknown to the
    // token endpoint.
    let elsewhere = "/oauth/authorize?response_type=code&client_id=account&scope=openid\
                     &redirect_uri=https%3A%2F%2Fevil.example%2Fcb";
    let r = b.get(elsewhere).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert!(r.header("location").is_none());
    let r = s
        .form_post(
            "/auth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "a-code-of-no-one"),
                ("client_id", "account"),
                ("redirect_uri", &format!("{}{PAGE}", s.base)),
            ],
        )
        .await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.text);
    assert_eq!(r.json()["error"], "invalid_client");
}

#[tokio::test]
async fn without_passkeys_the_page_says_so() {
    let s = Server::start_with(&[("WEBAUTHN_RP_ID", ""), ("WEBAUTHN_ORIGINS", "")]).await;
    let mut b = Browser::new(&s);
    let r = b.get(PAGE).await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.text);
    assert!(r.text.contains("Passkeys"), "{}", r.text);
    assert!(!r.text.contains("<script"), "{}", r.text);
}
