//! The second factor through the routes, on both stores: enrolment and its proof, the login's
//! second step with codes made by an independent TOTP implementation (totp-lite), recovery
//! codes, the `mfa_token`'s limits, step-ups, the admin's reset, races, and the notices.

use serde_json::{Value, json};

use crate::common::{INTROSPECTION_KEY, PASSWORD, Reply, Server, base32, email, jwt_part};

/// The code an authenticator app shows at `time` (totp-lite, not the service's TOTP code).
pub(crate) fn code_at(secret: &[u8], time: i64) -> String {
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, secret, time as u64)
}

/// Reads the QR code of an SVG as the service draws it (a white square, then one path of
/// `M{x} {y}h{w}v{h}H{x}V{y}` rectangles), at 4 pixels a module, with rqrr (a QR decoder from
/// crates.io): the text it holds.
fn qr_text(svg: &str) -> String {
    let number = |key: &str| -> usize {
        let at = svg.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
        svg[at..].split('"').next().unwrap().parse().unwrap()
    };
    let (w, h) = (number("width"), number("height"));
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut dark = vec![false; w * h];
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let nums: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let (x, y, rw, rh) = (nums[0], nums[1], nums[2], nums[3]);
        for yy in y..y + rh {
            for xx in x..x + rw {
                dark[yy * w + xx] = true;
            }
        }
    }
    let scale = 4;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w * scale, h * scale, |x, y| {
        if dark[(y / scale) * w + x / scale] {
            0
        } else {
            255
        }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the SVG");
    grids[0].decode().unwrap().1
}

pub(crate) struct Enrolled {
    pub(crate) token: String,
    pub(crate) secret: Vec<u8>,
    pub(crate) recovery: Vec<String>,
}

/// Signs `name` up, enrols and turns the factor on; the login token (aal1) and what it got.
pub(crate) async fn enrolled(s: &Server, name: &str) -> Enrolled {
    let token = s.user(name).await;
    enrol(s, name, token).await
}

/// Enrols the existing `name`, signed in with `token`, and turns the factor on.
pub(crate) async fn enrol(s: &Server, name: &str, token: String) -> Enrolled {
    let enrolment = s
        .post(
            &format!("/user/{name}/mfa/totp"),
            Some(&token),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200, None);
    let secret = base32(enrolment["secret"].as_str().unwrap());
    assert_eq!(secret.len(), 20, "160 bits");
    let code = code_at(&secret, s.clock.now());
    let on = s
        .post(
            &format!("/user/{name}/mfa/totp/verify"),
            Some(&token),
            json!({ "code": code }),
        )
        .await
        .expect(200, None);
    let recovery = on["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    // The step just used is spent: the next code is a step later.
    s.clock.advance(30);
    Enrolled {
        token,
        secret,
        recovery,
    }
}

/// A login's first step for a user with a second factor: its `mfa_token`.
pub(crate) async fn first_step(s: &Server, name: &str) -> String {
    let r = s
        .post(
            "/auth",
            None,
            json!({"username": name, "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    assert_eq!(r["mfa_required"], true, "{r}");
    assert_eq!(r["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(r["expires_in"], 300);
    assert!(
        r.get("token").is_none(),
        "no access token before the second step: {r}"
    );
    r["mfa_token"].as_str().unwrap().to_string()
}

/// A login's first step: its `mfa_token`, whatever methods it offers.
pub(crate) async fn first_step_token(s: &Server, name: &str) -> String {
    s.post(
        "/auth",
        None,
        json!({"username": name, "password": PASSWORD}),
    )
    .await
    .expect(200, None)["mfa_token"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) async fn second_step(s: &Server, mfa_token: &str, proof: Value) -> Reply {
    let mut body = proof;
    body["mfa_token"] = json!(mfa_token);
    s.post("/auth/mfa", None, body).await
}

#[tokio::test]
async fn enrol_verify_and_sign_in_with_a_code_then_a_recovery_code() {
    let s = Server::start().await;
    let token = s.user("mona").await;
    // Enrolment: the secret, its URI and QR code.
    let enrolment = s
        .post(
            "/user/mona/mfa/totp",
            Some(&token),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200, None);
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Accounts:mona?"), "{uri}");
    assert!(uri.contains(&format!("secret={}", enrolment["secret"].as_str().unwrap())));
    assert_eq!(
        qr_text(enrolment["qr_svg"].as_str().unwrap()),
        uri,
        "the QR code is the URI"
    );
    assert_eq!(enrolment["expires_in"], 600);
    let secret = base32(enrolment["secret"].as_str().unwrap());
    // Still off: a login asks for nothing more.
    let r = s
        .post(
            "/auth",
            None,
            json!({"username": "mona", "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    assert!(r["token"].is_string());
    // A wrong code does not turn it on; the right one does, with ten recovery codes, once.
    let now = s.clock.now();
    s.post(
        "/user/mona/mfa/totp/verify",
        Some(&token),
        json!({"code": "000000"}),
    )
    .await
    .expect(400, Some("invalid_mfa_code"));
    let on = s
        .post(
            "/user/mona/mfa/totp/verify",
            Some(&token),
            json!({"code": code_at(&secret, now)}),
        )
        .await
        .expect(200, None);
    let recovery: Vec<String> = on["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);
    s.post(
        "/user/mona/mfa/totp/verify",
        Some(&token),
        json!({"code": code_at(&secret, now)}),
    )
    .await
    .expect(409, Some("mfa_already_enabled"));
    let notice = s.mails().into_iter().last().unwrap();
    assert_eq!(notice["to"], email("mona"));
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .contains("Two-factor sign-in is on")
    );

    // The login's second step, with the next step's code.
    s.clock.advance(30);
    let mfa_token = first_step(&s, "mona").await;
    s.get("/user", Some(&mfa_token))
        .await
        .expect(401, Some("invalid_token"));
    let code = code_at(&secret, s.clock.now());
    let signed = second_step(&s, &mfa_token, json!({ "code": code }))
        .await
        .expect(200, None);
    let access = signed["token"].as_str().unwrap();
    assert!(signed["refresh_token"].is_string());
    let claims = jwt_part(access, 1);
    assert_eq!(
        (&claims["amr"], &claims["acr"]),
        (&json!(["pwd", "otp"]), &json!("aal2"))
    );
    s.get("/user", Some(access)).await.expect(200, None);
    let seen = s
        .post(
            "/auth/introspect",
            Some(INTROSPECTION_KEY),
            json!({ "token": access }),
        )
        .await
        .expect(200, None);
    assert_eq!(
        (&seen["acr"], &seen["amr"]),
        (&json!("aal2"), &json!(["pwd", "otp"]))
    );
    // The mfa_token is spent; the same code is refused in another login.
    second_step(&s, &mfa_token, json!({ "code": code }))
        .await
        .expect(401, Some("invalid_mfa_token"));
    let again = first_step(&s, "mona").await;
    second_step(&s, &again, json!({ "code": code }))
        .await
        .expect(400, Some("invalid_mfa_code"));

    // A recovery code, in any case and without its dash, works once.
    let used = recovery[0].to_uppercase().replace('-', "");
    second_step(&s, &again, json!({ "recovery_code": used }))
        .await
        .expect(200, None);
    let third = first_step(&s, "mona").await;
    second_step(&s, &third, json!({ "recovery_code": recovery[0] }))
        .await
        .expect(400, Some("invalid_mfa_code"));
    second_step(&s, &third, json!({ "recovery_code": recovery[1] }))
        .await
        .expect(200, None);
}

#[tokio::test]
async fn codes_from_two_steps_away_are_refused_one_step_is_allowed() {
    let s = Server::start().await;
    let e = enrolled(&s, "nina").await;
    for (offset, ok) in [(-60, false), (60, false), (-30, true), (30, true)] {
        // Each case a minute on (past the throttle's lock, and the steps used before).
        s.clock.advance(60);
        let now = s.clock.now();
        let t = first_step(&s, "nina").await;
        let r = second_step(&s, &t, json!({"code": code_at(&e.secret, now + offset)})).await;
        if ok {
            r.expect(200, None);
        } else {
            r.expect(400, Some("invalid_mfa_code"));
        }
    }
}

#[tokio::test]
async fn the_mfa_token_expires_and_runs_out_of_tries() {
    let s = Server::start().await;
    let e = enrolled(&s, "olaf").await;
    let t = first_step(&s, "olaf").await;
    s.clock.advance(301);
    let code = code_at(&e.secret, s.clock.now());
    second_step(&s, &t, json!({ "code": code }))
        .await
        .expect(401, Some("invalid_mfa_token"));
    // Five wrong codes spend it, the right one included after them (spaced past the login
    // throttle's locks, the service's clock moved).
    let t = first_step(&s, "olaf").await;
    let mut wrong_code_took = Vec::new();
    for _ in 0..5 {
        s.clock.advance(40);
        let started = std::time::Instant::now();
        second_step(&s, &t, json!({"code": "000000"}))
            .await
            .expect(400, Some("invalid_mfa_code"));
        wrong_code_took.push(started.elapsed());
    }
    second_step(&s, &t, json!({ "code": code }))
        .await
        .expect(401, Some("invalid_mfa_token"));
    // Unknown tokens and malformed bodies; a wrong code and an unknown token take as long.
    let started = std::time::Instant::now();
    second_step(&s, "nope", json!({ "code": code }))
        .await
        .expect(401, Some("invalid_mfa_token"));
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    assert!(
        wrong_code_took
            .iter()
            .all(|t| *t >= std::time::Duration::from_millis(250)),
        "{wrong_code_took:?}"
    );
    s.post("/auth/mfa", None, json!({"code": code}))
        .await
        .expect(400, Some("validation_failed"));
    s.clock.advance(60);
    let t = first_step(&s, "olaf").await;
    second_step(
        &s,
        &t,
        json!({"code": code, "recovery_code": e.recovery[0]}),
    )
    .await
    .expect(400, Some("validation_failed"));
    let _ = e.token;
}

#[tokio::test]
async fn step_ups_guard_the_changes_that_matter() {
    let s = Server::start().await;
    let e = enrolled(&s, "pia").await;
    // A fresh second-factor sign-in is its own step-up.
    let t = first_step(&s, "pia").await;
    let signed = second_step(&s, &t, json!({"code": code_at(&e.secret, s.clock.now())}))
        .await
        .expect(200, None);
    let aal2 = signed["token"].as_str().unwrap().to_string();
    // New recovery codes take a code (or the password) whatever the sign-in: a fresh token
    // alone must not swap the owner's codes.
    s.post("/user/pia/mfa/recovery-codes", Some(&aal2), json!({}))
        .await
        .expect(403, Some("step_up_required"));
    s.clock.advance(30);
    let code = code_at(&e.secret, s.clock.now());
    s.post(
        "/user/pia/mfa/recovery-codes",
        Some(&aal2),
        json!({ "code": code }),
    )
    .await
    .expect(200, None);
    // The password-only token of before the factor is not, nor is the aal2 one 10 minutes on.
    s.post("/user/pia/mfa/recovery-codes", Some(&e.token), json!({}))
        .await
        .expect(403, Some("step_up_required"));
    s.clock.advance(601);
    for token in [&e.token, &aal2] {
        s.put(
            "/user/pia/password",
            Some(token),
            json!({"current_password": PASSWORD, "new_password": "another fine passphrase 77"}),
        )
        .await
        .expect(403, Some("step_up_required"));
        s.put(
            "/user/pia/email",
            Some(token),
            json!({"email": "pia.new@example.com", "password": PASSWORD}),
        )
        .await
        .expect(403, Some("step_up_required"));
        s.delete("/user/pia/mfa", Some(token))
            .await
            .expect(403, Some("step_up_required"));
    }
    // With a code in the request, each passes; a wrong code is refused.
    s.call(
        reqwest::Method::DELETE,
        "/user/pia/mfa",
        Some(&aal2),
        Some(json!({"code": "123456"})),
    )
    .await
    .expect(400, Some("invalid_mfa_code"));
    let code = code_at(&e.secret, s.clock.now());
    s.put(
        "/user/pia/email",
        Some(&aal2),
        json!({"email": "pia.new@example.com", "password": PASSWORD, "code": code}),
    )
    .await
    .expect(202, None);
    s.clock.advance(30);
    let code = code_at(&e.secret, s.clock.now());
    s.call(
        reqwest::Method::DELETE,
        "/user/pia/mfa",
        Some(&aal2),
        Some(json!({ "code": code })),
    )
    .await
    .expect(204, None);
    let notice = s.mails().into_iter().last().unwrap();
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .contains("Two-factor sign-in is off")
    );
    // Off: the password alone signs in again.
    let r = s
        .post(
            "/auth",
            None,
            json!({"username": "pia", "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    assert!(r["token"].is_string());
    s.delete("/user/pia/mfa", Some(r["token"].as_str().unwrap()))
        .await
        .expect(404, Some("mfa_not_enabled"));
}

#[tokio::test]
async fn an_admin_resets_a_factor_and_nobody_else_touches_it() {
    let s = Server::start().await;
    let admin = s.admin("root").await;
    let e = enrolled(&s, "quin").await;
    let other = s.user("rory").await;
    s.post(
        "/user/quin/mfa/totp",
        Some(&other),
        json!({"password": PASSWORD}),
    )
    .await
    .expect(403, Some("forbidden"));
    s.delete("/user/quin/mfa", Some(&other))
        .await
        .expect(403, Some("forbidden"));
    s.post(
        "/user/quin/mfa/totp",
        Some(&e.token),
        json!({"password": PASSWORD}),
    )
    .await
    .expect(409, Some("mfa_already_enabled"));
    s.delete("/user/quin/mfa", Some(&admin))
        .await
        .expect(204, None);
    let notice = s.mails().into_iter().last().unwrap();
    assert_eq!(notice["to"], email("quin"));
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .contains("by an administrator")
    );
    let r = s
        .post(
            "/auth",
            None,
            json!({"username": "quin", "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    assert!(r["token"].is_string(), "the password alone again");
    s.delete("/user/nobody/mfa", Some(&admin))
        .await
        .expect(404, Some("user_not_found"));
}

#[tokio::test]
async fn enrolment_needs_the_password() {
    let s = Server::start().await;
    let token = s.user("sven").await;
    s.clock.advance(601);
    s.post("/user/sven/mfa/totp", Some(&token), json!({}))
        .await
        .expect(403, Some("step_up_required"));
    s.post(
        "/user/sven/mfa/totp",
        Some(&token),
        json!({"password": "wrong one"}),
    )
    .await
    .expect(401, Some("invalid_credentials"));
    // A sign-in of a moment ago is not enough: a stolen fresh token must not put its thief's
    // authenticator on the account.
    let fresh = s.log_in("sven").await;
    s.post("/user/sven/mfa/totp", Some(&fresh), json!({}))
        .await
        .expect(403, Some("step_up_required"));
    s.post(
        "/user/sven/mfa/totp",
        Some(&fresh),
        json!({ "password": PASSWORD }),
    )
    .await
    .expect(200, None);
}

#[tokio::test]
async fn racing_second_steps_and_verifications_give_one_each() {
    let s = Server::start().await;
    let e = enrolled(&s, "tara").await;
    let t = first_step(&s, "tara").await;
    let code = code_at(&e.secret, s.clock.now());
    let answers =
        futures::future::join_all((0..2).map(|_| second_step(&s, &t, json!({ "code": code }))))
            .await;
    let ok = answers.iter().filter(|r| r.status.as_u16() == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );

    let token = s.user("ugo").await;
    let enrolment = s
        .post(
            "/user/ugo/mfa/totp",
            Some(&token),
            json!({"password": PASSWORD}),
        )
        .await
        .expect(200, None);
    let secret = base32(enrolment["secret"].as_str().unwrap());
    let code = code_at(&secret, s.clock.now());
    let answers = futures::future::join_all((0..2).map(|_| {
        s.post(
            "/user/ugo/mfa/totp/verify",
            Some(&token),
            json!({ "code": code }),
        )
    }))
    .await;
    let ok = answers.iter().filter(|r| r.status.as_u16() == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn without_a_key_the_second_factor_is_unavailable() {
    let s = Server::start_with(&[("MFA_ENCRYPTION_KEY", "")]).await;
    let token = s.user("vic").await;
    s.post(
        "/user/vic/mfa/totp",
        Some(&token),
        json!({"password": PASSWORD}),
    )
    .await
    .expect(503, Some("mfa_unavailable"));
}

#[tokio::test]
async fn a_right_password_does_not_wipe_the_count_of_wrong_codes() {
    let s = Server::start().await;
    let e = enrolled(&s, "wim").await;
    // The password step counts as an attempt until a code proves right, and each wrong code
    // as a failure: five in all (spaced past any lock, the service's clock moved).
    let t = first_step(&s, "wim").await;
    for _ in 0..4 {
        s.clock.advance(20);
        second_step(&s, &t, json!({"code": "000000"}))
            .await
            .expect(400, Some("invalid_mfa_code"));
    }
    // A right password now goes on counting (a cleared count would let the next code through
    // at once): two more wrong codes after one, then the password again locks the name for
    // 8 s, and even the right code waits.
    s.clock.advance(20);
    let t = first_step(&s, "wim").await;
    for _ in 0..2 {
        s.clock.advance(20);
        second_step(&s, &t, json!({"code": "000000"}))
            .await
            .expect(400, Some("invalid_mfa_code"));
    }
    s.clock.advance(20);
    let t = first_step(&s, "wim").await;
    let code = code_at(&e.secret, s.clock.now());
    second_step(&s, &t, json!({ "code": code }))
        .await
        .expect(429, Some("too_many_attempts"));
    s.clock.advance(60);
    second_step(&s, &t, json!({ "code": code_at(&e.secret, s.clock.now()) }))
        .await
        .expect(200, None);
    // Signed in: the count is cleared, and a login goes straight to its second step.
    first_step(&s, "wim").await;
}

#[tokio::test]
async fn a_reset_or_the_end_of_every_session_ends_a_login_waiting_for_its_code() {
    let s = Server::start().await;
    let e = enrolled(&s, "xena").await;
    // One sign-in with the factor first: a reset removes a factor never used to sign in.
    let t = first_step(&s, "xena").await;
    s.clock.advance(30);
    second_step(&s, &t, json!({"code": code_at(&e.secret, s.clock.now())}))
        .await
        .expect(200, None);
    s.clock.advance(30);
    let waiting = first_step(&s, "xena").await;
    s.clock.advance(60); // past the mail throttle's minute
    s.post("/password/forgot", None, json!({"email": email("xena")}))
        .await
        .expect(202, None);
    let reset = s.link_token(&email("xena"), "/password/reset");
    s.post(
        "/password/reset",
        None,
        json!({"token": reset, "password": "a brand new passphrase 31"}),
    )
    .await
    .expect(200, None);
    let code = code_at(&e.secret, s.clock.now());
    second_step(&s, &waiting, json!({ "code": code }))
        .await
        .expect(401, Some("invalid_mfa_token"));
    // A login after the reset completes; "end all sessions" ends the next one waiting.
    let login = json!({"username": "xena", "password": "a brand new passphrase 31"});
    let first = s.post("/auth", None, login.clone()).await.expect(200, None);
    s.clock.advance(30);
    let signed = second_step(
        &s,
        first["mfa_token"].as_str().unwrap(),
        json!({"code": code_at(&e.secret, s.clock.now())}),
    )
    .await
    .expect(200, None);
    let waiting = s.post("/auth", None, login).await.expect(200, None);
    s.delete("/auth/sessions", Some(signed["token"].as_str().unwrap()))
        .await
        .expect(204, None);
    s.clock.advance(30);
    second_step(
        &s,
        waiting["mfa_token"].as_str().unwrap(),
        json!({"code": code_at(&e.secret, s.clock.now())}),
    )
    .await
    .expect(401, Some("invalid_mfa_token"));
}
