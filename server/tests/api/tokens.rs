//! The token lifecycle: logout, deletion, expiry, forgery. GET / with and without a token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::{SECRET, Server, jwt_part, test_signing_keys};

fn payload(token: &str) -> Value {
    jwt_part(token, 1)
}

fn sign(alg: Algorithm, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[track_caller]
fn assert_invalid_token(r: &crate::common::Reply) {
    r.expect(401, Some("invalid_token"));
    let challenge = r.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn home_greets_anyone_and_names_a_token_holder() {
    let s = Server::start().await;
    assert_eq!(
        s.get("/", None).await.expect(200, None),
        json!({"message": "Hello World"})
    );
    let token = s.user("Rupert").await;
    let r = s.get("/", Some(&token)).await.expect(200, None);
    assert_eq!(r["message"], "Hello, Rupert");
    assert_eq!(r["user"]["username"], "Rupert");
    assert!(r["user"].get("password").is_none());
    assert_invalid_token(&s.get("/", Some("garbage")).await);
}

#[tokio::test]
async fn missing_tokens_are_401_unauthorized_with_a_challenge() {
    let s = Server::start().await;
    for (method, path) in [
        ("GET", "/user"),
        ("GET", "/user/x"),
        ("PUT", "/user/x"),
        ("DELETE", "/user/x"),
        ("DELETE", "/auth"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method == reqwest::Method::PUT).then(|| json!({}));
        let r = s.call(method, path, None, body).await;
        r.expect(401, Some("unauthorized"));
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"accounts\"")
        );
    }
    let r = Server::reply(
        s.client
            .get(format!("{}/user", s.base))
            .header("authorization", "Basic dXNlcjpwdw=="),
    )
    .await;
    r.expect(401, Some("unauthorized"));
    let r = Server::reply(
        s.client
            .get(format!("{}/user", s.base))
            .header("authorization", "Bearer "),
    )
    .await;
    assert_invalid_token(&r);
}

#[tokio::test]
async fn logout_ends_that_session_only() {
    let s = Server::start().await;
    let first = s.user("sybil").await;
    let second = s.log_in("sybil").await;
    s.delete("/auth", Some(&first)).await.expect(204, None);
    assert_invalid_token(&s.get("/user", Some(&first)).await);
    assert_invalid_token(&s.delete("/auth", Some(&first)).await);
    s.get("/user", Some(&second)).await.expect(200, None);
}

#[tokio::test]
async fn sessions_expire_after_24_hours() {
    let s = Server::start().await;
    let token = s.user("trent").await;
    s.clock.advance(24 * 3600 - 5);
    s.get("/user", Some(&token)).await.expect(200, None);
    s.clock.advance(5);
    assert_invalid_token(&s.get("/user", Some(&token)).await);
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused_with_hs512() {
    let s = Server::start_with(&[("JWT_ALGORITHM", "HS512")]).await;
    let token = s.user("uma").await;
    let claims = payload(&token);

    // A tampered signature, and a tampered payload with the old signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let sig = parts[2].clone();
    parts[2] = format!(
        "{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );
    assert_invalid_token(&s.get("/user", Some(&parts.join("."))).await);
    let mut elevated = claims.clone();
    elevated["scope"] = json!("widgets admin");
    elevated["role"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        token.split('.').next().unwrap(),
        URL_SAFE_NO_PAD.encode(elevated.to_string()),
        sig
    );
    assert_invalid_token(&s.get("/user", Some(&forged)).await);

    // alg: none.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        token.split('.').nth(1).unwrap()
    );
    assert_invalid_token(&s.get("/user", Some(&none)).await);

    // The right secret, but another algorithm, audience, issuer, or an expiry in the past.
    assert_invalid_token(
        &s.get(
            "/user",
            Some(&sign(Algorithm::HS256, &claims, SECRET.as_bytes())),
        )
        .await,
    );
    // And, defence in depth should a key leak, a token that outlives its session or is not
    // valid yet.
    let exp = claims["exp"].as_i64().unwrap();
    for (field, value) in [
        ("aud", json!("another-api")),
        ("iss", json!("someone-else")),
        ("exp", json!(1)),
        // Past the sign-in's end (an idle week after the login; the token's own exp is a day).
        ("exp", json!(exp - 86400 + 7 * 86400 + 1)),
        ("nbf", json!(exp - 60)),
    ] {
        let mut c = claims.clone();
        c[field] = value;
        assert_invalid_token(
            &s.get(
                "/user",
                Some(&sign(Algorithm::HS512, &c, SECRET.as_bytes())),
            )
            .await,
        );
    }
    // Signed with the right secret, a token with a critical header extension is refused.
    let mut header = jsonwebtoken::Header::new(Algorithm::HS512);
    header.crit = Some(vec!["exp".into()]);
    let crit = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_invalid_token(&s.get("/user", Some(&crit)).await);
    // Another secret.
    assert_invalid_token(
        &s.get("/user", Some(&sign(Algorithm::HS512, &claims, &[9u8; 64])))
            .await,
    );
    // A real session id under another user's `sub`.
    let mut c = claims.clone();
    c["sub"] = json!("00000000-0000-0000-0000-000000000000");
    assert_invalid_token(
        &s.get(
            "/user",
            Some(&sign(Algorithm::HS512, &c, SECRET.as_bytes())),
        )
        .await,
    );
    // The unaltered claims re-signed are accepted: the checks above refused for their reason.
    s.get(
        "/user",
        Some(&sign(Algorithm::HS512, &claims, SECRET.as_bytes())),
    )
    .await
    .expect(200, None);
    assert_invalid_token(&s.get("/user", Some(&"a".repeat(5000))).await);
}

/// A token with this header and these claims, signed by `sign` over `header.claims`.
fn with_header(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test]
async fn forged_eddsa_tokens_are_refused_and_the_jwks_verifies_the_real_ones() {
    use ed25519_dalek::Signer;
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let s = Server::start().await;
    let token = s.user("eda").await;
    let claims = payload(&token);
    let header = jwt_part(&token, 0);
    assert_eq!(header["alg"], "EdDSA");
    let kid = header["kid"].as_str().unwrap().to_string();
    let r = s.get("/.well-known/jwks.json", None).await;
    let jwks = r.expect(200, None);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_string();

    let ours = ed25519_dalek::SigningKey::from_pkcs8_pem(test_signing_keys()).unwrap();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let sign_with =
        |key: ed25519_dalek::SigningKey| move |m: &[u8]| key.sign(m).to_bytes().to_vec();
    let hmac_with = |secret: Vec<u8>| {
        move |m: &[u8]| {
            let key = EncodingKey::from_secret(&secret);
            let t = jsonwebtoken::crypto::sign(m, &key, Algorithm::HS512).unwrap();
            URL_SAFE_NO_PAD.decode(t).unwrap()
        }
    };
    let mut elevated = claims.clone();
    elevated["scope"] = json!("widgets admin");
    elevated["role"] = json!("admin");
    let public = URL_SAFE_NO_PAD.decode(&x).unwrap();
    let forgeries = [
        (
            "another key under our kid",
            with_header(&header, &claims, sign_with(stranger.clone())),
        ),
        (
            "HS512 keyed with the public key",
            with_header(
                &json!({"alg": "HS512", "kid": kid}),
                &claims,
                hmac_with(public),
            ),
        ),
        (
            "HS512 keyed with the public key's text",
            with_header(
                &json!({"alg": "HS512", "kid": kid}),
                &claims,
                hmac_with(x.clone().into_bytes()),
            ),
        ),
        (
            "alg none",
            with_header(&json!({"alg": "none", "kid": kid}), &claims, |_| vec![]),
        ),
        (
            "an unknown kid",
            with_header(
                &json!({"alg": "EdDSA", "kid": "not-a-key"}),
                &claims,
                sign_with(ours.clone()),
            ),
        ),
        (
            "a kid with path characters",
            with_header(
                &json!({"alg": "EdDSA", "kid": "../../../../etc/passwd"}),
                &claims,
                sign_with(ours.clone()),
            ),
        ),
        (
            "no kid",
            with_header(&json!({"alg": "EdDSA"}), &claims, sign_with(ours.clone())),
        ),
        (
            "a changed payload under the old signature",
            format!(
                "{}.{}.{}",
                token.split('.').next().unwrap(),
                URL_SAFE_NO_PAD.encode(elevated.to_string()),
                token.split('.').nth(2).unwrap()
            ),
        ),
    ];
    for (what, forged) in &forgeries {
        let r = s.get("/user", Some(forged)).await;
        assert_eq!(r.status.as_u16(), 401, "{what}: {}", r.text);
    }
    // Our own key under our kid is accepted: the forgeries failed for what they forged.
    let resigned = with_header(&header, &claims, sign_with(ours));
    s.get("/user", Some(&resigned)).await.expect(200, None);
}
