//! Browsers on other origins (CORS, `ALLOWED_ORIGINS`): preflights and actual requests from an
//! allowed origin, an unknown one and none, with the headers exactly as docs/API.md says; pages
//! never opened up; nothing at all without the setting.

use reqwest::Method;
use serde_json::json;

use crate::common::{BROWSER_ACCEPT, PASSWORD, Reply, Server, email};

const APP: &str = "http://app.test:5173";
const OTHER: &str = "http://evil.test:5173";

/// The server with one allowed origin, listed as a person might write it (upper case, spaces).
async fn server() -> Server {
    Server::start_with(&[("ALLOWED_ORIGINS", " HTTP://App.test:5173 ,")]).await
}

/// A request of `method` to `path`, from `origin` when given, with extra headers.
async fn send(
    s: &Server,
    method: Method,
    path: &str,
    origin: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = s.client.request(method, format!("{}{path}", s.base));
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    Server::reply(req).await
}

/// A browser's preflight for a JSON call with a token.
async fn preflight(s: &Server, path: &str, method: &str, origin: &str) -> Reply {
    send(
        s,
        Method::OPTIONS,
        path,
        Some(origin),
        &[
            ("access-control-request-method", method),
            (
                "access-control-request-headers",
                "authorization,content-type",
            ),
        ],
    )
    .await
}

/// The `access-control-*` headers of a reply, names and values, sorted.
fn cors_headers(r: &Reply) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-"))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn varies_by_origin(r: &Reply) {
    let vary: Vec<String> = r
        .headers
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    assert!(vary.contains(&"origin".to_string()), "vary: {vary:?}");
}

#[tokio::test]
async fn an_allowed_origins_preflight_is_answered_with_exactly_what_the_api_uses() {
    let s = server().await;
    for (path, method) in [
        ("/user", "POST"),
        ("/user", "GET"),
        ("/user/alice", "PUT"),
        ("/user/alice", "DELETE"),
        ("/auth", "POST"),
    ] {
        let r = preflight(&s, path, method, APP).await;
        assert!(r.status.is_success(), "{path} {method}: {}", r.status);
        assert_eq!(
            cors_headers(&r),
            pairs(&[
                ("access-control-allow-headers", "authorization,content-type"),
                ("access-control-allow-methods", "GET,POST,PUT,DELETE"),
                ("access-control-allow-origin", APP),
                ("access-control-max-age", "600"),
            ]),
            "{path} {method}"
        );
        varies_by_origin(&r);
    }
}

#[tokio::test]
async fn an_unknown_origins_preflight_grants_nothing_and_changes_nothing() {
    let s = server().await;
    // A preflight for a sign-up, carrying the sign-up's body as a confused client might.
    let body = json!({"username": "mallory", "email": email("mallory"), "password": PASSWORD});
    let r = Server::reply(
        s.client
            .request(Method::OPTIONS, format!("{}/user", s.base))
            .header("origin", OTHER)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await;
    let granted: Vec<_> = cors_headers(&r)
        .into_iter()
        .filter(|(n, _)| {
            n == "access-control-allow-origin" || n == "access-control-allow-credentials"
        })
        .collect();
    assert!(granted.is_empty(), "{granted:?}");
    assert!(r.text.is_empty(), "{}", r.text);
    let now = s.clock.now();
    let stored = s
        .state
        .store
        .find_user_by_username("mallory", now)
        .await
        .unwrap();
    assert!(stored.is_none(), "a preflight created a user");
    assert!(s.mails().is_empty(), "a preflight sent mail");
}

#[tokio::test]
async fn actual_requests_carry_the_grant_for_an_allowed_origin_only() {
    let s = server().await;
    s.sign_up("alice").await;
    s.activate("alice").await;
    let token = s.log_in("alice").await;
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];

    let r = send(&s, Method::GET, "/user", Some(APP), &auth).await;
    r.expect(200, None);
    assert_eq!(
        cors_headers(&r),
        pairs(&[
            ("access-control-allow-origin", APP),
            (
                "access-control-expose-headers",
                "retry-after,www-authenticate"
            ),
        ])
    );
    varies_by_origin(&r);

    // An error keeps the grant, so a script can read why (WWW-Authenticate is exposed).
    let r = send(&s, Method::GET, "/user", Some(APP), &[]).await;
    r.expect(401, Some("unauthorized"));
    assert!(r.header("www-authenticate").is_some());
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));

    for origin in [Some(OTHER), Some("null"), Some("http://app.test"), None] {
        let r = send(&s, Method::GET, "/user", origin, &auth).await;
        r.expect(200, None);
        assert_eq!(r.header("access-control-allow-origin"), None, "{origin:?}");
        assert_eq!(
            r.header("access-control-allow-credentials"),
            None,
            "{origin:?}"
        );
    }
    // Never credentials, even for the allowed origin.
    let r = preflight(&s, "/user", "GET", APP).await;
    assert_eq!(r.header("access-control-allow-credentials"), None);
}

#[tokio::test]
async fn pages_are_not_opened_to_other_origins_and_keep_their_own_headers() {
    let s = server().await;
    let page = send(
        &s,
        Method::GET,
        "/activate?token=not-a-token",
        Some(APP),
        &[("accept", BROWSER_ACCEPT)],
    )
    .await;
    assert_eq!(page.status.as_u16(), 400);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.header("content-type")
    );
    assert_eq!(page.header("access-control-allow-origin"), None);
    assert!(
        page.header("content-security-policy")
            .is_some_and(|c| c.contains("frame-ancestors 'none'"))
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    // The same link asked for JSON is the API, and carries the grant.
    let api = send(
        &s,
        Method::GET,
        "/activate?token=not-a-token",
        Some(APP),
        &[("accept", "application/json")],
    )
    .await;
    api.expect(400, Some("invalid_activation_token"));
    assert_eq!(api.header("access-control-allow-origin"), Some(APP));
}

#[tokio::test]
async fn without_the_setting_no_cors_header_is_sent_and_options_stays_a_405() {
    let s = Server::start().await;
    let r = preflight(&s, "/user", "POST", APP).await;
    r.expect(405, Some("method_not_allowed"));
    assert!(cors_headers(&r).is_empty(), "{:?}", cors_headers(&r));
    let r = send(&s, Method::GET, "/", Some(APP), &[]).await;
    r.expect(200, None);
    assert!(cors_headers(&r).is_empty(), "{:?}", cors_headers(&r));
}
