//! The standard OAuth pieces: token answers as RFC 6749 section 5 writes them, the issuer,
//! discovery (RFC 8414, OpenID Connect Discovery), revocation (RFC 7009), and RS256 with a
//! switch from EdDSA and back that signs nobody out; on the embedded store, and on DynamoDB
//! with TEST_STORE=dynamodb.

use serde_json::{Value, json};

use crate::common::{PASSWORD, Reply, Server, jwt_part};

/// `POST path` with a form body, as OAuth clients send it.
async fn form(s: &Server, path: &str, fields: &[(&str, &str)]) -> Reply {
    s.form_post(path, fields).await
}

async fn refresh(s: &Server, refresh_token: &str) -> Reply {
    form(
        s,
        "/auth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn revoke(s: &Server, fields: &[(&str, &str)]) -> Reply {
    let r = form(s, "/auth/revoke", fields).await;
    assert_eq!(r.header("cache-control"), Some("no-store"), "{}", r.text);
    assert_eq!(r.header("pragma"), Some("no-cache"));
    r
}

fn no_cache(r: &Reply) {
    assert_eq!(r.header("cache-control"), Some("no-store"), "{}", r.text);
    assert_eq!(r.header("pragma"), Some("no-cache"), "{}", r.text);
}

/// An error as RFC 6749 section 5.2 writes it, with the service's `message` beside.
fn oauth_error(r: &Reply, status: u16, code: &str) {
    let body = r.expect(status, Some(code));
    assert_eq!(body["error_description"], body["message"], "{body}");
    assert!(body["error_description"].as_str().unwrap().len() > 10);
    no_cache(r);
}

#[tokio::test]
async fn token_answers_are_rfc_6749_token_responses_and_errors() {
    let s = Server::start().await;
    s.user("tess").await;
    let login = s
        .post(
            "/auth",
            None,
            json!({"username": "tess", "password": PASSWORD}),
        )
        .await
        .expect(200, None);
    assert_eq!(login["access_token"], login["token"]);
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["scope"], "widgets");
    let r = refresh(&s, login["refresh_token"].as_str().unwrap()).await;
    let pair = r.expect(200, None);
    no_cache(&r);
    for member in [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
        "scope",
        "token",
    ] {
        assert!(pair.get(member).is_some(), "{member}: {pair}");
    }
    assert_eq!(pair["access_token"], pair["token"]);
    assert!(pair["scope"].is_string(), "space-delimited: {pair}");
    s.get("/user", pair["access_token"].as_str())
        .await
        .expect(200, None);

    // Section 5.2: the codes of its list, error_description, no-store.
    oauth_error(&refresh(&s, "rt1.forged.token").await, 400, "invalid_grant");
    oauth_error(
        &form(&s, "/auth/token", &[("grant_type", "refresh_token")]).await,
        400,
        "invalid_request",
    );
    oauth_error(
        &form(&s, "/auth/token", &[("grant_type", "password")]).await,
        400,
        "unsupported_grant_type",
    );
    let r = form(
        &s,
        "/auth/token",
        &[("grant_type", "client_credentials"), ("refresh_token", "x")],
    )
    .await;
    oauth_error(&r, 400, "unsupported_grant_type");
    let r = s
        .raw(reqwest::Method::POST, "/auth/token", "{not json")
        .await;
    oauth_error(&r, 400, "invalid_request");
    let r = s
        .raw(reqwest::Method::POST, "/auth/token", "x".repeat(70 * 1024))
        .await;
    oauth_error(&r, 413, "invalid_request");
}

#[tokio::test]
async fn discovery_names_the_issuer_of_the_tokens_and_where_everything_is() {
    let s = Server::start().await;
    s.user("dora").await;
    let token = s.log_in("dora").await;
    let r = s.get("/.well-known/openid-configuration", None).await;
    let doc = r.expect(200, None);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    let other = s
        .get("/.well-known/oauth-authorization-server", None)
        .await
        .expect(200, None);
    assert_eq!(doc, other, "one document at both addresses");
    // The issuer is a URL, exactly the tokens' iss, and the document is found from it.
    assert_eq!(doc["issuer"], s.base);
    assert_eq!(jwt_part(&token, 1)["iss"], s.base);
    for (member, path) in [
        ("authorization_endpoint", "/oauth/authorize"),
        ("userinfo_endpoint", "/oauth/userinfo"),
        ("end_session_endpoint", "/oauth/logout"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("token_endpoint", "/auth/token"),
        ("introspection_endpoint", "/auth/introspect"),
        ("revocation_endpoint", "/auth/revoke"),
    ] {
        assert_eq!(doc[member], format!("{}{path}", s.base), "{member}");
    }
    let keys: Value = reqwest::get(doc["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jwt_part(&token, 0)["kid"].clone();
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kid),
        "the token's key is in the document's key set"
    );
    assert_eq!(
        doc["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["scopes_supported"],
        json!(["openid", "profile", "email", "widgets", "admin"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    // A configured issuer is the tokens' and the document's.
    let t = Server::start_with(&[("ISSUER", "https://id.example.com/")]).await;
    t.user("ivo").await;
    let token = t.log_in("ivo").await;
    assert_eq!(jwt_part(&token, 1)["iss"], "https://id.example.com");
    let doc = t
        .get("/.well-known/openid-configuration", None)
        .await
        .expect(200, None);
    assert_eq!(doc["issuer"], "https://id.example.com");
    assert_eq!(doc["token_endpoint"], format!("{}/auth/token", t.base));
    t.get("/user", Some(&token)).await.expect(200, None);
}

#[tokio::test]
async fn revocation_ends_the_sign_in_of_either_token_and_reveals_nothing() {
    let s = Server::start().await;
    s.user("rita").await;
    s.user("otto").await;
    let (others, _) = s.log_in_pair("otto").await;

    // A refresh token: its sign-in ends, the access token with it.
    let (access, refresh_token) = s.log_in_pair("rita").await;
    let r = revoke(
        &s,
        &[
            ("token", &refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(r.expect(200, None), json!({}));
    s.get("/user", Some(&access))
        .await
        .expect(401, Some("invalid_token"));
    oauth_error(&refresh(&s, &refresh_token).await, 400, "invalid_grant");
    // Again: nothing left to end, the same answer.
    assert_eq!(
        revoke(&s, &[("token", &refresh_token)])
            .await
            .expect(200, None),
        json!({})
    );

    // An access token, with the wrong hint (only a hint): the refresh token ends with it.
    let (access, refresh_token) = s.log_in_pair("rita").await;
    revoke(
        &s,
        &[("token", &access), ("token_type_hint", "refresh_token")],
    )
    .await
    .expect(200, None);
    oauth_error(&refresh(&s, &refresh_token).await, 400, "invalid_grant");
    s.get("/user", Some(&access))
        .await
        .expect(401, Some("invalid_token"));

    // JSON as well; an unknown hint is ignored.
    let (access, _) = s.log_in_pair("rita").await;
    s.post(
        "/auth/revoke",
        None,
        json!({"token": access, "token_type_hint": "id_token"}),
    )
    .await
    .expect(200, None);
    s.get("/user", Some(&access))
        .await
        .expect(401, Some("invalid_token"));

    // What is not a live token of this service: 200 {} alike, and nothing else changes.
    let (live, live_refresh) = s.log_in_pair("rita").await;
    // A byte of the signature's middle changed (its last character holds padding bits too).
    let mut tampered = live.clone().into_bytes();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_ne!(tampered, live);
    let foreign = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    for token in [
        "",
        "nonsense",
        tampered.as_str(),
        foreign,
        "rt1.e30.AAAA",
        &"x".repeat(5000),
    ] {
        let r = revoke(&s, &[("token", token)]).await;
        if token.is_empty() {
            oauth_error(&r, 400, "invalid_request");
        } else {
            assert_eq!(r.expect(200, None), json!({}), "{token:.20}");
        }
    }
    s.get("/user", Some(&live)).await.expect(200, None);
    s.get("/user", Some(&others)).await.expect(200, None);
    refresh(&s, &live_refresh).await.expect(200, None);

    // Bad requests, as the token endpoint answers them.
    oauth_error(
        &form(&s, "/auth/revoke", &[("token_type_hint", "access_token")]).await,
        400,
        "invalid_request",
    );
    let r = s.post("/auth/revoke", None, json!({"token": 42})).await;
    oauth_error(&r, 400, "invalid_request");
    let r = s.raw(reqwest::Method::POST, "/auth/revoke", "[1, 2]").await;
    oauth_error(&r, 400, "invalid_request");

    // The sign-in's end is an account event.
    let admin = s.admin("root").await;
    let events = s
        .get("/user/rita/events?limit=100", Some(&admin))
        .await
        .expect(200, None);
    let revoked = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "logged_out" && e["detail"]["via"] == "revocation")
        .count();
    assert_eq!(revoked, 3, "{events}");
}

/// Switching a running service from EdDSA to RS256 and back: every sign-in made before goes on
/// (its access token verifies, its refresh token refreshes), on both stores.
#[tokio::test]
async fn switching_to_rs256_and_back_signs_nobody_out() {
    let ed = crate::common::test_signing_keys().to_string();
    let rsa = shared::token::KeySet::generate_pem_of(shared::token::KeyKind::Rsa).unwrap();
    let s = Server::start().await;
    s.user("sam").await;
    let (ed_access, ed_refresh) = s.log_in_pair("sam").await;
    assert_eq!(jwt_part(&ed_access, 0)["alg"], "EdDSA");

    // The switch: an RSA key first, the Ed25519 key kept.
    let switched_keys = format!("{rsa}{ed}");
    let rs = s
        .restarted_with(&[
            ("JWT_ALGORITHM", "RS256"),
            ("JWT_SIGNING_KEYS", &switched_keys),
        ])
        .await;
    rs.get("/user", Some(&ed_access)).await.expect(200, None);
    let pair = refresh(&rs, &ed_refresh).await.expect(200, None);
    let rs_access = pair["access_token"].as_str().unwrap().to_string();
    let rs_refresh = pair["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_part(&rs_access, 0)["alg"], "RS256");
    rs.get("/user", Some(&rs_access)).await.expect(200, None);
    let (fresh, _) = rs.log_in_pair("sam").await;
    assert_eq!(jwt_part(&fresh, 0)["alg"], "RS256");
    let keys = rs
        .get("/.well-known/jwks.json", None)
        .await
        .expect(200, None);
    let kinds: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["RSA", "OKP"]);
    let doc = rs
        .get("/.well-known/openid-configuration", None)
        .await
        .expect(200, None);
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );

    // And back: the RSA key kept while its tokens live.
    let back_keys = format!("{ed}{rsa}");
    let back = s.restarted_with(&[("JWT_SIGNING_KEYS", &back_keys)]).await;
    back.get("/user", Some(&rs_access)).await.expect(200, None);
    back.get("/user", Some(&fresh)).await.expect(200, None);
    let pair = refresh(&back, &rs_refresh).await.expect(200, None);
    assert_eq!(
        jwt_part(pair["access_token"].as_str().unwrap(), 0)["alg"],
        "EdDSA"
    );

    // RS256 asked for with an Ed25519 key first is a configuration error, named.
    let config = shared::config::Config::from_lookup(|k| match k {
        "JWT_ALGORITHM" => Some("RS256".into()),
        "JWT_SIGNING_KEYS" => Some(back_keys.clone()),
        _ => None,
    })
    .unwrap();
    assert!(config.token_keys().is_err());
}

/// Tokens issued before the issuer was a URL (`iss: accounts`) keep working until they expire:
/// nobody is signed out by the upgrade.
#[tokio::test]
async fn tokens_of_the_issuer_before_urls_keep_working() {
    let s = Server::start().await;
    s.user("uma").await;
    let old = s.restarted_with(&[("JWT_ISSUER", "accounts")]).await;
    let (access, refresh_token) = old.log_in_pair("uma").await;
    assert_eq!(jwt_part(&access, 1)["iss"], "accounts");
    // The upgraded service (issuer: its URL) accepts it, and refreshes into its own issuer.
    s.get("/user", Some(&access)).await.expect(200, None);
    let pair = refresh(&s, &refresh_token).await.expect(200, None);
    assert_eq!(
        jwt_part(pair["access_token"].as_str().unwrap(), 1)["iss"],
        s.base
    );
    // Another issuer's is not accepted.
    let other = s
        .restarted_with(&[("ISSUER", "https://elsewhere.example.com")])
        .await;
    let (theirs, _) = other.log_in_pair("uma").await;
    s.get("/user", Some(&theirs))
        .await
        .expect(401, Some("invalid_token"));
}
