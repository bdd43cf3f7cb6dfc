//! The second round of hardening (issue 33): a second factor guards every power of its account,
//! recovery codes change only with a proof and never silently, enrolment needs the password, a
//! token hook cannot make tokens the service would refuse, and a refresh within the reuse grace
//! is told. On the embedded store, and on DynamoDB with TEST_STORE=dynamodb.

use serde_json::json;

use crate::common::{PASSWORD, Server, email, jwt_part};
use crate::mfa::{code_at, enrol, enrolled, first_step, second_step};

/// A sign-in of `name` with the second factor (aal2), made now.
async fn aal2(s: &Server, name: &str, secret: &[u8]) -> String {
    let t = first_step(s, name).await;
    let signed = second_step(s, &t, json!({"code": code_at(secret, s.clock.now())}))
        .await
        .expect(200, None);
    s.clock.advance(30); // the step is spent
    let token = signed["access_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_part(&token, 1)["acr"], "aal2");
    token
}

/// An admin whose sign-in was made before the factor was turned on (aal1) holds no admin power
/// and cannot delete its own account; a sign-in with the factor at most 10 minutes old does.
#[tokio::test]
async fn an_aal1_sign_in_of_an_account_with_a_factor_holds_none_of_its_powers() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let e = enrol(&s, "boss", admin).await;
    assert_eq!(jwt_part(&e.token, 1)["acr"], "aal1");
    s.user("pawn").await;
    let aal1 = e.token.clone();
    let refused = [
        s.put("/user/pawn", Some(&aal1), json!({"role": "admin"}))
            .await,
        s.put("/user/pawn", Some(&aal1), json!({"activated": false}))
            .await,
        s.put("/user/pawn", Some(&aal1), json!({"nickname": "p"}))
            .await,
        s.get("/user/pawn", Some(&aal1)).await,
        s.get("/user/pawn/events", Some(&aal1)).await,
        s.get("/events", Some(&aal1)).await,
        s.get("/users", Some(&aal1)).await,
        s.delete("/user/pawn/mfa", Some(&aal1)).await,
        s.delete("/user/pawn", Some(&aal1)).await,
        s.delete("/user/boss", Some(&aal1)).await,
    ];
    for r in refused {
        r.expect(403, Some("step_up_required"));
    }
    // Nothing changed.
    let token = s.log_in("pawn").await;
    let me = s.get("/user", Some(&token)).await.expect(200, None);
    assert_eq!(
        (me["role"].as_str(), me["activated"].as_bool()),
        (Some("user"), Some(true))
    );

    // With the factor, now: every power.
    let strong = aal2(&s, "boss", &e.secret).await;
    s.get("/events", Some(&strong)).await.expect(200, None);
    s.get("/users", Some(&strong)).await.expect(200, None);
    s.get("/user/pawn", Some(&strong)).await.expect(200, None);
    s.put("/user/pawn", Some(&strong), json!({"role": "admin"}))
        .await
        .expect(200, None);
    // Ten minutes on, reads go on (the sign-in was made with the factor); changes need it anew.
    s.clock.advance(601);
    s.get("/events", Some(&strong)).await.expect(200, None);
    s.put("/user/pawn", Some(&strong), json!({"role": "user"}))
        .await
        .expect(403, Some("step_up_required"));
    s.delete("/user/pawn", Some(&strong))
        .await
        .expect(403, Some("step_up_required"));
    let strong = aal2(&s, "boss", &e.secret).await;
    s.delete("/user/pawn", Some(&strong))
        .await
        .expect(204, None);

    // A plain user with a factor: deleting the account needs it too.
    let u = enrolled(&s, "ulla").await;
    s.delete("/user/ulla", Some(&u.token))
        .await
        .expect(403, Some("step_up_required"));
    let strong = aal2(&s, "ulla", &u.secret).await;
    s.delete("/user/ulla", Some(&strong))
        .await
        .expect(204, None);
    // Without a factor, nothing more is asked than before.
    let plain = s.user("plain").await;
    s.delete("/user/plain", Some(&plain))
        .await
        .expect(204, None);
}

/// Through a second account it promotes, an aal1 admin could reset its own factor: promoting
/// needs the step-up, and so does resetting anyone's factor.
#[tokio::test]
async fn an_aal1_admin_cannot_reset_a_factor_through_an_account_it_promotes() {
    let s = Server::start().await;
    let admin = s.admin("eve").await;
    let e = enrol(&s, "eve", admin).await;
    let mallet = s.user("mallet").await;
    s.put("/user/mallet", Some(&e.token), json!({"role": "admin"}))
        .await
        .expect(403, Some("step_up_required"));
    let _ = mallet;
    s.delete("/user/eve/mfa", Some(&e.token))
        .await
        .expect(403, Some("step_up_required"));
    // An admin with a fresh second-factor sign-in resets another's.
    let root = s.admin("root").await;
    let r = enrol(&s, "root", root).await;
    let strong = aal2(&s, "root", &r.secret).await;
    s.delete("/user/eve/mfa", Some(&strong))
        .await
        .expect(204, None);
}

/// Turning the factor on ends the account's other sign-ins, their refresh tokens too, as a
/// password change does; the sign-in that turned it on goes on.
#[tokio::test]
async fn turning_the_factor_on_ends_the_other_sign_ins() {
    let s = Server::start().await;
    let first = s.user("nell").await;
    let (other, other_refresh) = s.log_in_pair("nell").await;
    let e = enrol(&s, "nell", first).await;
    s.get("/user", Some(&other))
        .await
        .expect(401, Some("invalid_token"));
    s.form_post(
        "/auth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &other_refresh),
        ],
    )
    .await
    .expect(400, Some("invalid_grant"));
    s.get("/user", Some(&e.token)).await.expect(200, None);
}

/// New recovery codes need a current code or the password, and are mailed about; so is the use
/// of one.
#[tokio::test]
async fn recovery_codes_change_only_with_a_proof_and_never_silently() {
    let s = Server::start().await;
    let e = enrolled(&s, "rhea").await;
    let strong = aal2(&s, "rhea", &e.secret).await;
    // A sign-in with the factor a moment ago is not a proof for this.
    s.post("/user/rhea/mfa/recovery-codes", Some(&strong), json!({}))
        .await
        .expect(403, Some("step_up_required"));
    s.post(
        "/user/rhea/mfa/recovery-codes",
        Some(&strong),
        json!({"password": "not the password"}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
    let mails = s.mails().len();
    let codes = s
        .post(
            "/user/rhea/mfa/recovery-codes",
            Some(&strong),
            json!({ "password": PASSWORD }),
        )
        .await
        .expect(200, None);
    let notice = s.mails().into_iter().nth(mails).expect("a notice");
    assert_eq!(notice["to"], email("rhea"));
    assert_eq!(notice["subject"], "New recovery codes");
    let code = code_at(&e.secret, s.clock.now());
    s.post(
        "/user/rhea/mfa/recovery-codes",
        Some(&strong),
        json!({ "code": code }),
    )
    .await
    .expect(200, None);
    assert_eq!(s.mails().len(), mails + 2, "a notice each time");
    s.clock.advance(30);
    // The codes of the first replacement no longer work; a code of the last does, mailed about.
    let old = codes["recovery_codes"][0].as_str().unwrap();
    let t = first_step(&s, "rhea").await;
    second_step(&s, &t, json!({ "recovery_code": old }))
        .await
        .expect(400, Some("invalid_mfa_code"));
    let last = s
        .post(
            "/user/rhea/mfa/recovery-codes",
            Some(&aal2(&s, "rhea", &e.secret).await),
            json!({ "code": code_at(&e.secret, s.clock.now()) }),
        )
        .await
        .expect(200, None);
    let before = s.mails().len();
    let t = first_step(&s, "rhea").await;
    second_step(
        &s,
        &t,
        json!({ "recovery_code": last["recovery_codes"][3] }),
    )
    .await
    .expect(200, None);
    let mails = s.mails();
    assert_eq!(mails.len(), before + 1, "a notice of the code used");
    let notice = mails.last().unwrap();
    assert_eq!(notice["subject"], "A recovery code was used");
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .contains("9 unused ones are left"),
        "{notice}"
    );
}

/// A refresh within the reuse grace is an account event, with the caller's address and user
/// agent: an owner or a SIEM sees a thief converging on the same pair.
#[tokio::test]
async fn a_refresh_within_the_grace_is_recorded() {
    let s = Server::start().await;
    s.user("gina").await;
    let (_, refresh) = s.log_in_pair("gina").await;
    let grant = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    s.form_post("/auth/token", &grant).await.expect(200, None);
    s.form_post("/auth/token", &grant).await.expect(200, None);
    let token = s.log_in("gina").await;
    let events = s
        .get("/user/gina/events", Some(&token))
        .await
        .expect(200, None);
    let grace: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "refresh_grace_used")
        .collect();
    assert_eq!(grace.len(), 1, "{events}");
    assert_eq!(grace[0]["source_ip"], "127.0.0.1");
    assert!(grace[0]["user_agent"].is_string());
    assert_eq!(grace[0]["detail"]["presented_generation"], 0);
}

/// One account, one throttle: failures by username and by address count on the same budget,
/// so an online guesser does not get twice the tries by alternating them.
#[tokio::test]
async fn failures_by_username_and_by_address_share_the_accounts_budget() {
    let s = Server::start().await;
    s.user("tom").await;
    let wrong = |by: &str| {
        let body = if by == "username" {
            json!({"username": "tom", "password": "not the password"})
        } else {
            json!({"email": email("tom"), "password": "not the password"})
        };
        s.post("/auth", None, body)
    };
    for by in ["username", "email", "username", "email", "username"] {
        wrong(by).await.expect(401, Some("invalid_credentials"));
    }
    // Five failures on the account, under one key whichever name was typed (three on one name
    // and two on the other would not lock): read from the store, as the lock's first second
    // may pass before a next request on a loaded machine.
    let stored = s.stored_failures().await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        (stored[0].0.as_str(), stored[0].1),
        ("u:tom", 5),
        "{stored:?}"
    );
    // A sixth, by address, locks for two seconds: both names are refused at once.
    s.clock.advance(60);
    wrong("email")
        .await
        .expect(401, Some("invalid_credentials"));
    for body in [
        json!({"username": "tom", "password": PASSWORD}),
        json!({"email": email("tom"), "password": PASSWORD}),
    ] {
        s.post("/auth", None, body)
            .await
            .expect(429, Some("too_many_attempts"));
    }
    s.clock.advance(60);
    let ok = s
        .post(
            "/auth",
            None,
            json!({"email": email("tom"), "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    assert!(ok["access_token"].is_string());
    // The right password cleared both: four wrong ones by username are free again.
    for _ in 0..4 {
        wrong("username")
            .await
            .expect(401, Some("invalid_credentials"));
    }
}

/// JSON routes read only JSON bodies (a `text/plain` or untyped body, which a browser sends
/// across origins without a preflight, is 415); form routes take forms too; a member or a
/// field given twice is refused.
#[tokio::test]
async fn bodies_are_read_only_as_their_type_says_and_never_with_a_member_twice() {
    let s = Server::start().await;
    let token = s.user("ida").await;
    let body = json!({"username": "mallory", "email": "m@example.com", "password": PASSWORD});
    for (content_type, expected) in [
        (Some("text/plain"), 415),
        (None, 415),
        (Some("application/x-www-form-urlencoded"), 415),
        (Some("multipart/form-data; boundary=x"), 415),
        (Some("application/json; charset=utf-8"), 201),
    ] {
        let mut req = s
            .client
            .post(format!("{}/user", s.base))
            .body(body.to_string());
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let r = Server::reply(req).await;
        if expected == 415 {
            r.expect(415, Some("unsupported_media_type"));
        } else {
            r.expect(expected, None);
        }
    }
    // Nothing was read from the refused ones: one sign-up, the last.
    assert_eq!(
        s.mails()
            .iter()
            .filter(|m| m["to"] == "m@example.com")
            .count(),
        1
    );
    // A login with text/plain is refused before its name reaches the throttle.
    let login = json!({"username": "ida", "password": "wrong"}).to_string();
    for _ in 0..8 {
        let r = Server::reply(
            s.client
                .post(format!("{}/auth", s.base))
                .header("content-type", "text/plain")
                .body(login.clone()),
        )
        .await;
        r.expect(415, Some("unsupported_media_type"));
    }
    s.post(
        "/auth",
        None,
        json!({"username": "ida", "password": PASSWORD}),
    )
    .await
    .expect(200, None);
    // +json types are JSON; a DELETE with no body needs no type; one with a body does.
    let r = Server::reply(
        s.client
            .put(format!("{}/user/ida", s.base))
            .bearer_auth(&token)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"nick": "i"}"#),
    )
    .await;
    r.expect(200, None);
    // A member twice: refused, whichever would win.
    let r = Server::reply(
        s.client
            .post(format!("{}/auth", s.base))
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"username": "nobody", "username": "ida", "password": "{PASSWORD}"}}"#
            )),
    )
    .await;
    r.expect(400, Some("invalid_json"));
    // A form field twice, on the token endpoint.
    let (_, refresh) = s.log_in_pair("ida").await;
    let form = format!("grant_type=refresh_token&refresh_token={refresh}&refresh_token=x");
    let r = Server::reply(
        s.client
            .post(format!("{}/auth/token", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
    )
    .await;
    let body = r.expect(400, Some("invalid_request"));
    assert_eq!(body["fields"]["refresh_token"], "is given twice");
    // Forms where forms are taken.
    let r = s
        .form_post("/password/forgot", &[("email", &email("ida"))])
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
}

/// A reset by the mailbox `name`'s address: the link of a new "forgot" mail, then `password`.
async fn reset_by_mail(s: &Server, name: &str, password: &str) {
    s.clock.advance(61); // past the mail throttle's minute
    s.post("/password/forgot", None, json!({"email": email(name)}))
        .await
        .expect(202, None);
    let token = s.link_token(&email(name), "/password/reset");
    s.post(
        "/password/reset",
        None,
        json!({"token": token, "password": password}),
    )
    .await
    .expect(200, None);
}

/// The newest notice of a changed password to `name`, its text.
fn password_notice(s: &Server, name: &str) -> String {
    s.mails()
        .into_iter()
        .rev()
        .find(|m| m["to"] == email(name) && m["subject"] == "Your password was changed")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .expect("a notice of the changed password")
}

/// Whoever learnt the password turns a factor on with their own authenticator: the owner's
/// password reset from the mailbox removes it (it never signed anyone in), says so in the
/// notice and records it; the owner then signs in with the new password alone. A factor that
/// has signed its owner in once stays through a reset, and the notice says nothing of it.
#[tokio::test]
async fn a_reset_removes_a_factor_never_used_to_sign_in_and_keeps_one_that_was() {
    const NEW_PASSWORD: &str = "an entirely new passphrase 8";
    let s = Server::start().await;
    // The intruder's factor, turned on with the owner's password and a token of theirs.
    enrolled(&s, "olga").await;
    reset_by_mail(&s, "olga", NEW_PASSWORD).await;
    let notice = password_notice(&s, "olga");
    assert!(
        notice.contains("never used to sign in, was turned off"),
        "{notice}"
    );
    let r = s
        .post(
            "/auth",
            None,
            json!({"username": "olga", "password": NEW_PASSWORD}),
        )
        .await
        .expect(200, None);
    assert!(r.get("mfa_required").is_none(), "no second step: {r}");
    let token = r["access_token"].as_str().unwrap().to_string();
    let events = s
        .get("/user/olga/events", Some(&token))
        .await
        .expect(200, None);
    let removed: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "mfa_disabled")
        .collect();
    assert_eq!(removed.len(), 1, "{events}");
    assert_eq!(removed[0]["detail"]["via"], "password_reset", "{events}");

    // The owner's factor, used to sign in once: a reset keeps it, and the notice is silent.
    let owner = enrolled(&s, "pia").await;
    aal2(&s, "pia", &owner.secret).await;
    reset_by_mail(&s, "pia", NEW_PASSWORD).await;
    let notice = password_notice(&s, "pia");
    assert!(!notice.contains("Two-factor"), "{notice}");
    let r = s
        .post(
            "/auth",
            None,
            json!({"username": "pia", "password": NEW_PASSWORD}),
        )
        .await
        .expect(200, None);
    assert_eq!(r["mfa_required"], true, "the factor stayed: {r}");

    // A factor used only for a step-up has not signed anyone in: removed.
    let stepped = enrolled(&s, "quin").await;
    let code = code_at(&stepped.secret, s.clock.now());
    s.post(
        "/user/quin/mfa/recovery-codes",
        Some(&stepped.token),
        json!({"code": code}),
    )
    .await
    .expect(200, None);
    reset_by_mail(&s, "quin", NEW_PASSWORD).await;
    assert!(password_notice(&s, "quin").contains("was turned off"));
}

/// The login throttle never keeps what was typed as a name that finds no account (a password
/// typed into the name field): it keeps a MAC of it under LOGIN_NAME_KEY, by which the same
/// name still meets the same count. A name that finds an account counts on the account's
/// username, by username or by address.
#[tokio::test]
async fn failed_names_of_no_account_are_kept_as_keyed_macs_not_as_typed() {
    let s = Server::start().await;
    s.user("uma").await;
    let typed = "Sunny-Meadow-42!";
    let address = "nobody.here@example.com";
    let tries = [
        json!({"username": typed, "password": "whatever it was"}),
        json!({"email": address, "password": "whatever it was"}),
        json!({"email": email("uma"), "password": "not uma's password"}),
    ];
    for body in &tries {
        s.post("/auth", None, body.clone())
            .await
            .expect(401, Some("invalid_credentials"));
    }
    let stored = s.stored_failures().await;
    let keys: Vec<String> = stored.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.contains(&"u:uma".to_string()), "{keys:?}");
    let lowered = typed.to_lowercase();
    for key in keys.iter().filter(|k| *k != "u:uma") {
        assert!(key.starts_with("n:"), "{key}");
        for leak in [typed, lowered.as_str(), address, "nobody", "sunny"] {
            assert!(!key.to_lowercase().contains(&leak.to_lowercase()), "{key}");
        }
        assert_eq!(key.len(), 2 + 43, "a SHA-256 MAC, base64url: {key}");
    }
    // The same name (as the service compares names: without case) meets the same count.
    for _ in 0..2 {
        s.post(
            "/auth",
            None,
            json!({"username": typed.to_uppercase(), "password": "x"}),
        )
        .await
        .expect(401, Some("invalid_credentials"));
    }
    let after = s.stored_failures().await;
    assert_eq!(after.len(), 3, "no new key: {after:?}");
    let count = |list: &[(String, i64)], key: &str| list.iter().find(|(k, _)| k == key).unwrap().1;
    let typed_key = keys
        .iter()
        .find(|k| count(&stored, k) == 1 && count(&after, k) == 3);
    assert!(typed_key.is_some(), "{stored:?} {after:?}");
    // Another server with another key keeps another MAC: the key, not the name alone, makes it.
    let other =
        Server::start_with(&[("LOGIN_NAME_KEY", "another-login-name-key-0123456789abcdef")]).await;
    other
        .post("/auth", None, json!({"username": typed, "password": "x"}))
        .await
        .expect(401, Some("invalid_credentials"));
    let theirs = other.stored_failures().await;
    assert_eq!(theirs.len(), 1);
    assert!(!keys.contains(&theirs[0].0), "{theirs:?} {keys:?}");
}
