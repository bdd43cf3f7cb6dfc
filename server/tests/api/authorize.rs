//! The authorization code flow through the hosted sign-in page, as a browser and an app meet
//! it: the page and its forms (CSRF, the password, the second step, the consent), the browser
//! session's cookie, the redirects back to the app (a code, or an error as RFC 6749 section
//! 4.1.2.1 says, never to an unregistered address), the code at the token endpoint (client
//! authentication, PKCE, once only: a second redemption ends the first one's sign-in), and the
//! ID token's claims.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::Digest;

use crate::common::{BROWSER_ACCEPT, PASSKEY_ORIGIN, PASSWORD, Reply, Server, jwt_part};
use crate::mfa::{code_at, enrol};

const REDIRECT: &str = "https://shop.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A registered client: its id and secret (none for a public one).
struct App {
    id: String,
    secret: Option<String>,
}

async fn register(s: &Server, admin: &str, extra: Value) -> App {
    let mut body = json!({
        "name": "Ada's shop",
        "redirect_uris": [REDIRECT, "http://127.0.0.1:8080/cb"],
        "scopes": ["openid", "profile", "email", "widgets", "admin"],
        "first_party": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let added = s
        .post("/oauth/clients", Some(admin), body)
        .await
        .expect(201, None);
    App {
        id: added["client_id"].as_str().unwrap().into(),
        secret: added["client_secret"].as_str().map(str::to_string),
    }
}

/// A browser: no redirect followed, its cookies kept, its forms read off the pages.
pub(crate) struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` received, as sent.
    set_cookies: Vec<String>,
}

impl Browser {
    pub(crate) fn new(s: &Server) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.base.clone(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Reply {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = req.header("accept", BROWSER_ACCEPT);
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("cookie", cookie)
        };
        let reply = Server::reply(req).await;
        for set in reply.headers.get_all("set-cookie") {
            let set = set.to_str().unwrap().to_string();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removed = set.contains("Max-Age=0");
            if removed {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
            self.set_cookies.push(set);
        }
        reply
    }

    pub(crate) async fn get(&mut self, path_and_query: &str) -> Reply {
        let req = self.client.get(format!("{}{path_and_query}", self.base));
        self.send(req).await
    }

    /// Submits the `index`th form of `page` with its hidden fields and `fields`.
    pub(crate) async fn submit(
        &mut self,
        page: &Reply,
        index: usize,
        fields: &[(&str, &str)],
    ) -> Reply {
        let mut all = hidden_fields(&page.text, index);
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.post_form(&all).await
    }

    /// Submits the first form of `page`, as it is, to `path`.
    async fn submit_to(&mut self, page: &Reply, path: &str) -> Reply {
        let fields = hidden_fields(&page.text, 0);
        self.post_form_to(path, &fields).await
    }

    async fn post_form(&mut self, fields: &[(String, String)]) -> Reply {
        self.post_form_to("/oauth/authorize", fields).await
    }

    pub(crate) async fn post_form_to(&mut self, path: &str, fields: &[(String, String)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }
}

/// The hidden fields of the `index`th form of a page, unescaped.
pub(crate) fn hidden_fields(html: &str, index: usize) -> Vec<(String, String)> {
    let form = html
        .split("<form")
        .nth(index + 1)
        .unwrap_or_else(|| panic!("no form {index} in {html}"));
    let form = form.split("</form>").next().unwrap();
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let raw = tag[at..].split('"').next()?;
        Some(
            raw.replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        )
    };
    form.split("<input")
        .skip(1)
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default())))
        .collect()
}

/// The query of an authorization request.
fn request(app: &App, extra: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &app.id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile email widgets")
        .append_pair("state", "st-1&x")
        .append_pair("nonce", "n-0S6_WzA2Mj")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/oauth/authorize?{}", q.finish())
}

/// The query members of a redirect back to the app, which must go to `REDIRECT`.
fn back_at_app(r: &Reply) -> BTreeMap<String, String> {
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    let location = r.header("location").unwrap();
    let url = url::Url::parse(location).unwrap();
    assert_eq!(
        format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap(),
            url.path()
        ),
        REDIRECT
    );
    url.query_pairs().into_owned().collect()
}

/// Redeems `code` at the token endpoint, with the client's secret in a Basic header.
async fn redeem(s: &Server, app: &App, code: &str, verifier: &str) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{}/auth/token", s.base))
        .header("content-type", "application/x-www-form-urlencoded");
    let mut fields = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    match &app.secret {
        Some(secret) => {
            let basic = STANDARD.encode(format!("{}:{secret}", app.id));
            req = req.header("authorization", format!("Basic {basic}"));
        }
        None => fields.push(("client_id", &app.id)),
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fields)
        .finish();
    Server::reply(req.body(body)).await
}

/// Signs `name` in on the hosted page from the start: the answer of the password's form.
async fn sign_in(b: &mut Browser, app: &App, name: &str, extra: &[(&str, &str)]) -> Reply {
    let page = b.get(&request(app, extra)).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    b.submit(&page, 0, &[("login", name), ("password", PASSWORD)])
        .await
}

#[tokio::test]
async fn a_person_signs_in_on_the_hosted_page_and_the_app_gets_tokens_and_an_id_token() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({})).await;
    s.user("ada").await;
    let mut b = Browser::new(&s);

    // The page: a form of the password step, no script, strict headers, a CSRF cookie.
    let page = b
        .get(&request(&app, &[("login_hint", "ada@example.com")]))
        .await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    assert!(page.text.contains("Ada&#39;s shop") || page.text.contains("Ada's shop"));
    assert!(
        page.text.contains("value=\"ada@example.com\""),
        "the login hint"
    );
    assert!(page.text.contains("Forgot your password?"));
    // One script, the service's own file (passkeys are on: the harness's relying party), and
    // none inline.
    assert_eq!(page.text.matches("<script").count(), 1, "{}", page.text);
    assert!(
        page.text
            .contains(r#"<script src="../assets/passkey.js" defer></script>"#),
        "{}",
        page.text
    );
    assert!(page.text.contains(r#"autocomplete="username webauthn""#));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    // The form's answer redirects to the app: a browser follows it only if the policy's
    // form-action allows the app's origin (Chromium stops there otherwise).
    assert_eq!(
        page.header("content-security-policy"),
        Some(
            shared::pages::CONTENT_SECURITY_POLICY
                .replace(
                    "form-action 'self'",
                    "form-action 'self' https://shop.example.com"
                )
                .replace(
                    "style-src",
                    "script-src 'self'; connect-src 'self'; style-src"
                )
                .as_str()
        )
    );
    assert!(
        b.cookies.contains_key("accounts-csrf"),
        "{:?}",
        b.set_cookies
    );

    let back = b
        .submit(&page, 0, &[("login", "ada"), ("password", PASSWORD)])
        .await;
    let q = back_at_app(&back);
    assert_eq!(q["state"], "st-1&x");
    assert_eq!(q["iss"], s.base);
    let code = q["code"].clone();
    assert_eq!(code.len(), 43);
    let session_cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("accounts-session="))
        .expect("the browser session's cookie")
        .clone();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(session_cookie.contains(attr), "{session_cookie}");
    }
    assert!(!session_cookie.contains("Secure"), "plain http locally");

    // The token endpoint: the tokens and the ID token.
    let tokens = redeem(&s, &app, &code, VERIFIER).await.expect(200, None);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(tokens["scope"], "openid profile email widgets");
    assert!(tokens["refresh_token"].is_string());
    let id = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id["iss"], s.base);
    assert_eq!(id["aud"], app.id.as_str());
    assert_eq!(id["azp"], app.id.as_str());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["preferred_username"], "ada");
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["sub"], jwt_part(access, 1)["sub"]);
    let now = s.clock.now();
    let auth_time = id["auth_time"].as_i64().unwrap();
    assert!((now - 60..=now).contains(&auth_time), "{id}");
    let digest = sha2::Sha512::digest(access.as_bytes());
    assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..32]));
    assert_eq!(
        jwt_part(tokens["id_token"].as_str().unwrap(), 0)["alg"],
        "EdDSA"
    );
    s.get("/user", Some(access)).await.expect(200, None);

    // UserInfo: the claims of the token's scopes, by header or by form, never both.
    let info = s
        .get("/oauth/userinfo", Some(access))
        .await
        .expect(200, None);
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["preferred_username"], "ada");
    assert_eq!(info["email"], "ada@example.com");
    assert_eq!(info["email_verified"], true);
    let posted = s
        .form_post("/oauth/userinfo", &[("access_token", access)])
        .await
        .expect(200, None);
    assert_eq!(posted, info);
    let both = reqwest::Client::new()
        .post(format!("{}/oauth/userinfo", s.base))
        .bearer_auth(access)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={access}"));
    Server::reply(both)
        .await
        .expect(400, Some("validation_failed"));
    // The body is a form or nothing: JSON is 415, as for every form-only body.
    let json_body = reqwest::Client::new()
        .post(format!("{}/oauth/userinfo", s.base))
        .header("content-type", "application/json")
        .body(format!("{{\"access_token\": \"{access}\"}}"));
    Server::reply(json_body)
        .await
        .expect(415, Some("unsupported_media_type"));
    let login = s.log_in("ada").await;
    let r = s.get("/oauth/userinfo", Some(&login)).await;
    r.expect(403, Some("insufficient_scope"));
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("scope=\"openid\"")
    );
    s.get("/oauth/userinfo", None)
        .await
        .expect(401, Some("unauthorized"));

    // The browser session is one of the account's sessions, and the app's sign-in another
    // (beside the two logins of POST /auth).
    let sessions = s
        .get("/auth/sessions", Some(access))
        .await
        .expect(200, None);
    assert_eq!(
        sessions["sessions"].as_array().unwrap().len(),
        4,
        "{sessions}"
    );

    // Signed in on this browser: straight back to the app, with a new code.
    let again = back_at_app(&b.get(&request(&app, &[])).await);
    assert_ne!(again["code"], code);
    let quiet = back_at_app(&b.get(&request(&app, &[("prompt", "none")])).await);
    assert!(quiet.contains_key("code"), "{quiet:?}");
    // prompt=login and a max_age passed ask for the password again.
    let page = b.get(&request(&app, &[("prompt", "login")])).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("name=\"password\""));
    // Parameters the endpoint does not know are ignored.
    let q = back_at_app(
        &b.get(&request(&app, &[("ui_locales", "fr"), ("x-y", "z")]))
            .await,
    );
    assert!(q.contains_key("code"), "{q:?}");
    // max_age: a sign-in older than it asks for the password again; one within it passes.
    s.clock.advance(30);
    let q = back_at_app(&b.get(&request(&app, &[("max_age", "3600")])).await);
    assert!(q.contains_key("code"), "{q:?}");
    let page = b.get(&request(&app, &[("max_age", "10")])).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    assert!(page.text.contains("name=\"password\""));
    // Signed in again on the page: the new code's ID token says when (auth_time).
    let back = b
        .submit(&page, 0, &[("login", "ada"), ("password", PASSWORD)])
        .await;
    let fresh = redeem(&s, &app, &back_at_app(&back)["code"], VERIFIER)
        .await
        .expect(200, None);
    let fresh_id = jwt_part(fresh["id_token"].as_str().unwrap(), 1);
    assert!(
        fresh_id["auth_time"].as_i64().unwrap() >= auth_time + 30,
        "{fresh_id} after {auth_time}"
    );

    // The code again: refused, and the sign-in its first redemption made is ended.
    let r = redeem(&s, &app, &code, VERIFIER).await;
    assert_eq!(r.expect(400, None)["error"], "invalid_grant");
    s.get("/user", Some(access))
        .await
        .expect(401, Some("invalid_token"));

    // Ending every session ends the browser's too.
    let token = s.log_in("ada").await;
    s.delete("/auth/sessions", Some(&token))
        .await
        .expect(204, None);
    let page = b.get(&request(&app, &[("prompt", "none")])).await;
    assert_eq!(back_at_app(&page)["error"], "login_required");
}

#[tokio::test]
async fn errors_go_back_to_the_app_only_when_the_client_and_its_redirect_uri_hold() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({})).await;
    let spa = register(&s, &admin, json!({"public": true, "scopes": ["openid"]})).await;
    let mut b = Browser::new(&s);

    // Never a redirect: an unknown client, a redirect URI not registered (by one character, a
    // trailing slash, a case).
    let unknown = App {
        id: "nope".into(),
        secret: None,
    };
    let r = b.get(&request(&unknown, &[])).await;
    assert_eq!(r.status.as_u16(), 400);
    assert!(r.header("location").is_none());
    for uri in [
        "https://shop.example.com/callbacK",
        "https://shop.example.com/callback/",
        "https://SHOP.example.com/callback",
        "https://shop.example.com/callbacks",
    ] {
        let path = request(&app, &[]).replace(
            &form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
            &form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>(),
        );
        let r = b.get(&path).await;
        assert_eq!(r.status.as_u16(), 400, "{uri}");
        assert!(r.header("location").is_none(), "{uri}");
    }

    // Back to the app, with the state and the issuer.
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("request", "eyJ.x.y")], "request_not_supported"),
        (
            &[("request_uri", "https://x.example/r")],
            "request_uri_not_supported",
        ),
        (&[("prompt", "none")], "login_required"),
        (&[("prompt", "none login")], "invalid_request"),
        (&[("max_age", "-1")], "invalid_request"),
        (&[("response_mode", "fragment")], "invalid_request"),
    ];
    for (extra, error) in cases {
        let q = back_at_app(&b.get(&request(&app, extra)).await);
        assert_eq!(q["error"], error, "{extra:?}");
        assert_eq!(q["state"], "st-1&x");
        assert_eq!(q["iss"], s.base);
        assert!(!q.contains_key("code"));
    }
    let replaced = |from: &str, to: &str| request(&app, &[]).replace(from, to);
    let q = back_at_app(
        &b.get(&replaced("response_type=code", "response_type=token"))
            .await,
    );
    assert_eq!(q["error"], "unsupported_response_type");
    let q = back_at_app(&b.get(&replaced("openid+profile", "profile")).await);
    assert_eq!(q["error"], "invalid_scope");
    let q = back_at_app(&b.get(&replaced("widgets", "widgets+calendar")).await);
    assert_eq!(q["error"], "invalid_scope");
    let q = back_at_app(&b.get(&replaced("method=S256", "method=plain")).await);
    assert_eq!(q["error"], "invalid_request");
    // A public client must use PKCE.
    let without_pkce = request(&spa, &[])
        .split("&code_challenge")
        .next()
        .unwrap()
        .to_string()
        + "&scope=openid";
    let without_pkce = without_pkce.replace("scope=openid+profile+email+widgets&", "");
    let r = b.get(&without_pkce).await;
    let q = back_at_app(&r);
    assert_eq!(q["error"], "invalid_request", "{q:?}");
    // A parameter given twice is refused, as a page (which one counts is no guess).
    let r = b.get(&(request(&app, &[]) + "&client_id=other")).await;
    assert_eq!(r.status.as_u16(), 400);
    assert!(r.header("location").is_none());
}

#[tokio::test]
async fn the_forms_hold_only_with_their_csrf_token_and_a_wrong_password_shows_the_page_again() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({})).await;
    s.user("ada").await;
    let mut b = Browser::new(&s);
    let page = b.get(&request(&app, &[])).await;

    // Another site's form: the same fields, but not this browser's cookie.
    let mut other = Browser::new(&s);
    let r = other
        .submit(&page, 0, &[("login", "ada"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.text);
    assert!(r.text.contains("expired"));
    assert!(!other.cookies.contains_key("accounts-session"));
    // A forged token, with this browser's cookie.
    let mut fields = hidden_fields(&page.text, 0);
    for f in fields.iter_mut().filter(|f| f.0 == "csrf") {
        f.1 = "A".repeat(43);
    }
    fields.push(("login".into(), "ada".into()));
    fields.push(("password".into(), PASSWORD.into()));
    assert_eq!(b.post_form(&fields).await.status.as_u16(), 403);

    // A wrong password: the page again, why, what was typed (never the password), no session.
    let r = b
        .submit(&page, 0, &[("login", "ada"), ("password", "not it at all")])
        .await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.text);
    assert!(r.text.contains("do not match"), "{}", r.text);
    assert!(r.text.contains("value=\"ada\""));
    assert!(!r.text.contains("not it at all"));
    assert!(!b.cookies.contains_key("accounts-session"));
    // It counted on the login throttle, as POST /auth's failures do.
    assert!(
        s.stored_failures().await.iter().any(|(_, n)| *n >= 1),
        "{:?}",
        s.stored_failures().await
    );
    // The page of the refusal has a form that works.
    let back = b
        .submit(
            &r,
            0,
            &[("login", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert!(back_at_app(&back).contains_key("code"));
}

#[tokio::test]
async fn the_second_step_and_the_consent_on_the_hosted_pages() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({"first_party": false})).await;
    let token = s.user("mona").await;
    let enrolled = enrol(&s, "mona", token).await;
    let mut b = Browser::new(&s);

    let step = sign_in(&mut b, &app, "mona", &[]).await;
    assert_eq!(step.status.as_u16(), 200, "{}", step.text);
    assert!(step.text.contains("one-time-code"), "{}", step.text);
    assert!(
        !b.cookies.contains_key("accounts-session"),
        "not signed in yet"
    );
    let wrong = b.submit(&step, 0, &[("code", "000000")]).await;
    assert_eq!(wrong.status.as_u16(), 401, "{}", wrong.text);
    assert!(wrong.text.contains("did not work"));
    // The code of the next time step: the page's first try spent nothing that matters.
    let code = code_at(&enrolled.secret, s.clock.now() + 30);
    let consent = b.submit(&wrong, 0, &[("code", &code)]).await;
    assert_eq!(consent.status.as_u16(), 200, "{}", consent.text);
    assert!(consent.text.contains("Allow access?"), "{}", consent.text);
    assert!(consent.text.contains("see your email address"));
    assert!(b.cookies.contains_key("accounts-session"), "signed in now");

    let back = b.submit(&consent, 0, &[]).await;
    let q = back_at_app(&back);
    let tokens = redeem(&s, &app, &q["code"], VERIFIER)
        .await
        .expect(200, None);
    let id = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id["amr"], json!(["pwd", "otp"]));
    assert_eq!(id["acr"], "aal2");

    // A recovery code works on the page too (prompt=login asks for the sign-in again), and its
    // notice is mailed as POST /auth/mfa mails it.
    let step = sign_in(&mut b, &app, "mona", &[("prompt", "login")]).await;
    let back = b.submit(&step, 0, &[("code", &enrolled.recovery[0])]).await;
    assert!(back_at_app(&back).contains_key("code"), "{}", back.text);
    assert!(
        s.mails()
            .iter()
            .any(|m| m["to"] == "mona@example.com" && m["subject"] == "A recovery code was used"),
        "the notice of a recovery code used"
    );

    // Remembered: straight back, even with prompt=none; asked again with prompt=consent, and
    // a denial goes back as access_denied.
    let q = back_at_app(&b.get(&request(&app, &[("prompt", "none")])).await);
    assert!(q.contains_key("code"), "{q:?}");
    let page = b.get(&request(&app, &[("prompt", "consent")])).await;
    assert_eq!(page.status.as_u16(), 200);
    let denied = b.submit(&page, 1, &[]).await;
    assert_eq!(back_at_app(&denied)["error"], "access_denied");
    let sub = jwt_part(tokens["access_token"].as_str().unwrap(), 1)["sub"].clone();
    let stored = s
        .state
        .store
        .list_consents(sub.as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].scopes, ["email", "openid", "profile", "widgets"]);

    // The person sees and withdraws it; then the app asks again.
    let access = tokens["access_token"].as_str().unwrap();
    let listed = s
        .get("/user/mona/consents", Some(access))
        .await
        .expect(200, None);
    assert_eq!(listed["consents"][0]["client_id"], app.id.as_str());
    assert_eq!(listed["consents"][0]["client_name"], "Ada's shop");
    assert_eq!(
        listed["consents"][0]["scopes"],
        json!(["email", "openid", "profile", "widgets"])
    );
    let other = s.user("otto").await;
    s.get("/user/mona/consents", Some(&other))
        .await
        .expect(403, Some("forbidden"));
    let path = format!("/user/mona/consents/{}", app.id);
    s.delete(&path, Some(&other))
        .await
        .expect(403, Some("forbidden"));
    s.delete(&path, Some(access)).await.expect(204, None);
    s.delete(&path, Some(access))
        .await
        .expect(404, Some("consent_not_found"));
    let events = s
        .get("/user/mona/events", Some(access))
        .await
        .expect(200, None);
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"consent_given") && types.contains(&"consent_withdrawn"),
        "{types:?}"
    );
    let q = back_at_app(&b.get(&request(&app, &[("prompt", "none")])).await);
    assert_eq!(q["error"], "consent_required");
    // The hosted page's link for a forgotten password leads to a form.
    let forgot = b.get("/password/forgot").await;
    assert_eq!(forgot.status.as_u16(), 200);
    assert!(forgot.text.contains("action=\"forgot\""), "{}", forgot.text);
}

#[tokio::test]
async fn the_token_endpoint_holds_a_code_to_its_client_redirect_uri_and_verifier() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({})).await;
    let spa = register(&s, &admin, json!({"public": true})).await;
    s.user("ada").await;

    // A confidential client's wrong secret: 401 invalid_client, Basic asked for.
    let mut b = Browser::new(&s);
    let code = back_at_app(&sign_in(&mut b, &app, "ada", &[]).await)["code"].clone();
    let wrong = App {
        id: app.id.clone(),
        secret: Some("x".repeat(43)),
    };
    let r = redeem(&s, &wrong, &code, VERIFIER).await;
    assert_eq!(r.expect(401, None)["error"], "invalid_client");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"accounts\"")
    );
    // Another client's code.
    let r = redeem(&s, &spa, &code, VERIFIER).await;
    assert_eq!(r.expect(400, None)["error"], "invalid_grant");
    // It was spent by that try (a code presented wrongly is not trusted again).
    let r = redeem(&s, &app, &code, VERIFIER).await;
    assert_eq!(r.expect(400, None)["error"], "invalid_grant");

    // A public client: its verifier, not another.
    let code = back_at_app(&b.get(&request(&spa, &[])).await)["code"].clone();
    let r = redeem(&s, &spa, &code, &VERIFIER.replace('d', "e")).await;
    assert_eq!(r.expect(400, None)["error"], "invalid_grant");
    let code = back_at_app(&b.get(&request(&spa, &[])).await)["code"].clone();
    let tokens = redeem(&s, &spa, &code, VERIFIER).await.expect(200, None);
    assert!(tokens["id_token"].is_string());

    // Redeemed at once by many: one answer has tokens.
    let code = back_at_app(&b.get(&request(&app, &[])).await)["code"].clone();
    let replies =
        futures::future::join_all((0..6).map(|_| redeem(&s, &app, &code, VERIFIER))).await;
    let ok = replies.iter().filter(|r| r.status.as_u16() == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );

    // Refresh works as after a login, and keeps the OpenID scopes.
    let code = back_at_app(&b.get(&request(&app, &[])).await)["code"].clone();
    let tokens = redeem(&s, &app, &code, VERIFIER).await.expect(200, None);
    let refreshed = s
        .post(
            "/auth/token",
            None,
            json!({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
        )
        .await
        .expect(200, None);
    assert_eq!(refreshed["scope"], "openid profile email widgets");
    assert!(refreshed.get("id_token").is_none());
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_browser_session_and_goes_back_only_where_registered() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let bye = "https://shop.example.com/bye";
    let app = register(&s, &admin, json!({"post_logout_redirect_uris": [bye]})).await;
    s.user("ada").await;
    let mut b = Browser::new(&s);
    let code = back_at_app(&sign_in(&mut b, &app, "ada", &[]).await)["code"].clone();
    let tokens = redeem(&s, &app, &code, VERIFIER).await.expect(200, None);
    let id_token = tokens["id_token"].as_str().unwrap();
    let logout = |extra: &[(&str, &str)]| {
        let q = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(extra)
            .finish();
        format!("/oauth/logout?{q}")
    };

    // Never to an address the app did not register, nor on a hint this service did not sign.
    let r = b
        .get(&logout(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "https://shop.example.com/bye/"),
        ]))
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert!(r.header("location").is_none());
    let forged = format!("{}x", &id_token[..id_token.len() - 1]);
    let r = b.get(&logout(&[("id_token_hint", &forged)])).await;
    assert_eq!(r.status.as_u16(), 400);
    // Still signed in: those ended nothing.
    assert!(back_at_app(&b.get(&request(&app, &[("prompt", "none")])).await).contains_key("code"));

    // Without a hint, the person is asked; the question's form posted with the session's
    // cookie but not the browser's CSRF cookie (as no other site can send it) ends nothing.
    let question = b.get(&logout(&[("client_id", &app.id)])).await;
    assert_eq!(question.status.as_u16(), 200);
    assert!(question.text.contains("Sign out?"), "{}", question.text);
    let mut other = Browser::new(&s);
    let session = b.cookies["accounts-session"].clone();
    other.cookies.insert("accounts-session".into(), session);
    let r = other.submit_to(&question, "/oauth/logout").await;
    assert!(r.text.contains("Sign out?"), "asked again: {}", r.text);
    // A post with no session's cookie at all (another site's, under SameSite=Lax) removes no
    // cookie either.
    let r = Browser::new(&s).submit_to(&question, "/oauth/logout").await;
    assert!(r.text.contains("Signed out"));
    assert!(r.header("set-cookie").is_none(), "{:?}", r.headers);
    assert!(back_at_app(&b.get(&request(&app, &[("prompt", "none")])).await).contains_key("code"));

    // With the hint of the person signed in here: ended at once, back where registered.
    let r = b
        .get(&logout(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", bye),
            ("state", "s&1"),
        ]))
        .await;
    assert_eq!(r.status.as_u16(), 303, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some("https://shop.example.com/bye?state=s%261")
    );
    assert!(
        b.set_cookies
            .last()
            .is_some_and(|c| c.starts_with("accounts-session=;") && c.contains("Max-Age=0")),
        "{:?}",
        b.set_cookies
    );
    let q = back_at_app(&b.get(&request(&app, &[("prompt", "none")])).await);
    assert_eq!(q["error"], "login_required");
    // The app's own sign-in is the app's to end (it may revoke its tokens).
    let access = tokens["access_token"].as_str().unwrap();
    s.get("/user", Some(access)).await.expect(200, None);
    let events = s
        .get("/user/ada/events", Some(access))
        .await
        .expect(200, None);
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "logged_out" && e["detail"]["via"] == "rp_logout"),
        "{events}"
    );
    // Both sign-ins are events, each saying how it was made.
    let logged_in: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "logged_in")
        .map(|e| &e["detail"])
        .collect();
    assert!(
        logged_in.iter().any(|d| d["via"] == "hosted_page")
            && logged_in
                .iter()
                .any(|d| d["via"] == "authorization_code" && d["client_id"] == app.id.as_str()),
        "{logged_in:?}"
    );

    // Asked and confirmed: the question's own form ends the session of this browser.
    sign_in(&mut b, &app, "ada", &[]).await;
    let question = b.get(&logout(&[])).await;
    let done = b.submit_to(&question, "/oauth/logout").await;
    assert_eq!(done.status.as_u16(), 200, "{}", done.text);
    assert!(done.text.contains("Signed out"), "{}", done.text);
    let q = back_at_app(&b.get(&request(&app, &[("prompt", "none")])).await);
    assert_eq!(q["error"], "login_required");
}

/// openidconnect's HTTP client: reqwest, redirects not followed (the crate's own advice).
async fn oidc_http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let (parts, body) = request.into_parts();
    let mut req = client.request(parts.method, parts.uri.to_string());
    for (name, value) in &parts.headers {
        req = req.header(name, value);
    }
    let response = req.body(body).send().await?;
    let mut out = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    Ok(out
        .body(response.bytes().await?.to_vec())
        .expect("a response of what reqwest read"))
}

#[tokio::test]
async fn the_openidconnect_crate_signs_a_person_in_and_verifies_the_id_token() {
    use openidconnect::core::{
        CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
    };
    use openidconnect::{
        AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };

    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({})).await;
    s.user("ada").await;

    // Discovery from the issuer alone.
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(s.base.clone()).unwrap(), &oidc_http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(app.id.clone()),
        app.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The person, in a browser, on the hosted page.
    let mut b = Browser::new(&s);
    let path = &url.as_str()[s.base.len()..];
    let page = b.get(path).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    let back = b
        .submit(&page, 0, &[("login", "ada"), ("password", PASSWORD)])
        .await;
    let q = back_at_app(&back);
    assert_eq!(&q["state"], state.secret());

    // The code, the tokens, the ID token verified by the crate (signature with the JWKS, iss,
    // aud, exp, nonce), at_hash by its own computation.
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&oidc_http)
        .await
        .expect("the token response");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("a valid ID token");
    assert_eq!(claims.preferred_username().unwrap().as_str(), "ada");
    assert_eq!(claims.email().unwrap().as_str(), "ada@example.com");
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));

    // UserInfo, through the crate, for the ID token's subject.
    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .expect("a userinfo endpoint")
        .request_async(&oidc_http)
        .await
        .expect("the userinfo claims");
    assert_eq!(info.email().unwrap().as_str(), "ada@example.com");

    // A nonce of another request: the crate refuses the token.
    assert!(id_token.claims(&verifier, &Nonce::new_random()).is_err());
}

#[tokio::test]
async fn a_passkey_signs_in_on_the_hosted_page_and_stands_in_at_its_second_step() {
    use crate::passkeys::{Device, add};
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({})).await;
    let token = s.user("pia").await;
    let mut laptop = Device::new(PASSKEY_ORIGIN, false);
    add(&s, &token, "pia", &mut laptop, "Laptop").await;

    // The sign-in page's second form is the passkey's, its script's to fill and post.
    let mut b = Browser::new(&s);
    let page = b.get(&request(&app, &[])).await;
    let fill = |page: &Reply, index: usize, pairs: &[(&str, String)]| {
        let mut fields = hidden_fields(&page.text, index);
        for (name, value) in pairs {
            let at = fields
                .iter()
                .position(|(k, _)| k == name)
                .unwrap_or_else(|| panic!("no field {name}: {fields:?}"));
            fields[at].1 = value.clone();
        }
        fields
    };
    let options = s
        .post("/auth/passkey/options", None, json!({}))
        .await
        .expect(200, None);
    let assertion = laptop.get(&options).await;
    let fields = fill(
        &page,
        1,
        &[
            (
                "passkey_token",
                options["passkey_token"].as_str().unwrap().into(),
            ),
            ("credential", assertion.to_string()),
        ],
    );
    assert!(fields.contains(&("step".into(), "passkey".into())));
    // The same form, replayed (its ceremony spent) or without its CSRF token, is refused.
    let mut stranger = Browser::new(&s);
    let r = stranger.post_form(&fields).await;
    assert_eq!(r.status.as_u16(), 403, "no CSRF cookie: {}", r.text);
    let back = back_at_app(&b.post_form(&fields).await);
    let r = b.post_form(&fields).await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.text);
    assert!(
        r.text.contains("That passkey was not accepted"),
        "{}",
        r.text
    );
    let tokens = redeem(&s, &app, &back["code"], VERIFIER)
        .await
        .expect(200, None);
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["amr"], json!(["hwk", "mfa"]));
    assert_eq!(id_token["acr"], "aal2");

    // With a second factor on, the second step's page offers the passkey beside the code.
    let enrolled = crate::mfa::enrolled(&s, "sol").await;
    let mut phone = Device::new(PASSKEY_ORIGIN, true);
    add(&s, &enrolled.token, "sol", &mut phone, "Phone").await;
    let mut b = Browser::new(&s);
    let second = sign_in(&mut b, &app, "sol", &[]).await;
    assert_eq!(second.status.as_u16(), 200, "{}", second.text);
    assert!(
        second.text.contains("Use a passkey instead"),
        "{}",
        second.text
    );
    let step = hidden_fields(&second.text, 1);
    let mfa_token = step
        .iter()
        .find(|(k, _)| k == "mfa_token")
        .map(|(_, v)| v.clone())
        .unwrap();
    let options = s
        .post(
            "/auth/passkey/options",
            None,
            json!({"mfa_token": mfa_token}),
        )
        .await
        .expect(200, None);
    let assertion = phone.get(&options).await;
    let fields = fill(&second, 1, &[("credential", assertion.to_string())]);
    assert!(fields.contains(&("offer_passkey".into(), "yes".into())));
    let back = back_at_app(&b.post_form(&fields).await);
    let tokens = redeem(&s, &app, &back["code"], VERIFIER)
        .await
        .expect(200, None);
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["amr"], json!(["pwd", "hwk"]));
}

#[tokio::test]
async fn without_passkeys_the_hosted_pages_run_no_script() {
    let s = Server::start_with(&[("WEBAUTHN_RP_ID", ""), ("WEBAUTHN_ORIGINS", "")]).await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({})).await;
    let mut b = Browser::new(&s);
    let page = b.get(&request(&app, &[])).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    assert!(!page.text.contains("<script"), "{}", page.text);
    assert!(!page.text.contains("passkey"), "{}", page.text);
    assert!(
        !page
            .header("content-security-policy")
            .unwrap()
            .contains("script-src"),
    );
}

#[tokio::test]
async fn a_mailed_code_signs_in_on_the_hosted_page_and_its_second_step_follows() {
    let s = Server::start().await;
    let admin = s.admin("boss").await;
    let app = register(&s, &admin, json!({})).await;
    s.user("mia").await;
    s.clock.advance(61);
    let mut b = Browser::new(&s);
    let page = b.get(&request(&app, &[])).await;
    assert!(
        page.text.contains("Mail me a sign-in code"),
        "{}",
        page.text
    );
    // Its form is the page's third (after the password's and the passkey's).
    let fields = hidden_fields(&page.text, 2);
    assert!(fields.contains(&("step".into(), "email_code_request".into())));
    let r = b.submit(&page, 2, &[("login", "mia-at-example")]).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert!(r.text.contains("whole email address"), "{}", r.text);
    // An address of no account meets the same page as an account's.
    let unknown = b.submit(&page, 2, &[("login", "nobody@example.com")]).await;
    assert_eq!(unknown.status.as_u16(), 200, "{}", unknown.text);
    assert!(unknown.text.contains("Enter the code we mailed"));
    let asked = b.submit(&page, 2, &[("login", "mia@example.com")]).await;
    assert_eq!(asked.status.as_u16(), 200, "{}", asked.text);
    let (code, _) = crate::email_code::mailed(&s, "mia");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let r = b.submit(&asked, 0, &[("code", wrong)]).await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.text);
    assert!(r.text.contains("That code did not work"), "{}", r.text);
    let back = back_at_app(&b.submit(&asked, 0, &[("code", &code)]).await);
    let tokens = redeem(&s, &app, &back["code"], VERIFIER)
        .await
        .expect(200, None);
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["amr"], json!(["email"]));
    assert_eq!(id_token["acr"], "aal1");
    // Spent: the same code again is refused.
    let r = b.submit(&asked, 0, &[("code", &code)]).await;
    assert_eq!(r.status.as_u16(), 401, "{}", r.text);

    // With a second factor on, its step follows the code.
    let enrolled = crate::mfa::enrolled(&s, "ned").await;
    s.clock.advance(61);
    let mut b = Browser::new(&s);
    let page = b.get(&request(&app, &[])).await;
    let asked = b.submit(&page, 2, &[("login", "ned@example.com")]).await;
    let (code, _) = crate::email_code::mailed(&s, "ned");
    let second = b.submit(&asked, 0, &[("code", &code)]).await;
    assert_eq!(second.status.as_u16(), 200, "{}", second.text);
    assert!(second.text.contains("Enter your code"), "{}", second.text);
    let totp = code_at(&enrolled.secret, s.clock.now() + 30);
    let back = back_at_app(&b.submit(&second, 0, &[("code", &totp)]).await);
    let tokens = redeem(&s, &app, &back["code"], VERIFIER)
        .await
        .expect(200, None);
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["amr"], json!(["email", "otp"]));
}
