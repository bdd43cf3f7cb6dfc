//! Fuzzing the routes (bounded, in CI): arbitrary JSON bodies and raw bytes to every route that
//! takes a body (introspection with its key), arbitrary query strings and Authorization headers. Never a 5xx; every refusal
//! is a JSON error. Failing inputs are kept by proptest in proptest-regressions/.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::common::{INTROSPECTION_KEY, Reply, Server};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,10}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Objects that use the members the routes look at, with values of any type.
fn body() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("username".to_string()),
        Just("email".to_string()),
        Just("password".to_string()),
        Just("scope".to_string()),
        Just("role".to_string()),
        Just("activated".to_string()),
        Just("name".to_string()),
        Just("token".to_string()),
        Just("current_password".to_string()),
        Just("new_password".to_string()),
        Just("grant_type".to_string()),
        Just("refresh_token".to_string()),
        Just("mfa_token".to_string()),
        Just("code".to_string()),
        Just("recovery_code".to_string()),
        "[a-z_]{1,10}",
    ];
    let plausible = prop_oneof![
        json_value(),
        "[a-zA-Z0-9_.-]{0,40}".prop_map(Value::String),
        "[a-z]{1,10}@[a-z]{1,10}\\.com".prop_map(Value::String),
        Just(json!("correct horse battery staple")),
        Just(json!(["widgets", "admin"])),
        Just(json!("refresh_token")),
        "rt1\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,43}".prop_map(Value::String),
    ];
    prop_oneof![
        prop::collection::vec((key, plausible), 0..6)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        json_value(),
    ]
}

#[track_caller]
fn well_formed(r: &Reply, what: &str) {
    assert!(r.status.as_u16() < 500, "{what}: {} {}", r.status, r.text);
    if r.status.as_u16() >= 400 {
        let v: Value = serde_json::from_str(&r.text)
            .unwrap_or_else(|_| panic!("{what}: not JSON: {}", r.text));
        assert!(
            v["error"].is_string() && v["message"].is_string(),
            "{what}: {}",
            r.text
        );
    }
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn json_bodies_never_cause_a_server_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(Server::start());
    let token = rt.block_on(s.user("fuzzed"));
    let user = Some(token.as_str());
    // Every operation of openapi.json that takes a body (the drift test holds openapi.json to
    // the route table, so a new route with a body is fuzzed here at once), with the credential
    // its `security` names; `{username}` is the fuzzed user.
    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json")).unwrap(),
    )
    .unwrap();
    let mut routes = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if operation.get("requestBody").is_none() {
                continue;
            }
            let schemes: Vec<&str> = operation["security"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_object())
                .flat_map(|s| s.keys().map(String::as_str))
                .collect();
            let credential = if schemes.contains(&"introspectionKey") {
                Some(INTROSPECTION_KEY)
            } else if schemes.contains(&"bearerAuth") {
                user
            } else {
                None
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // A route that takes no JSON gets the members as a form; one that answers pages
            // only (the hosted sign-in page's) is held to pages.
            let form_only = operation["requestBody"]["content"]
                .get("application/json")
                .is_none();
            let pages_only = operation["responses"]
                .as_object()
                .unwrap()
                .values()
                .all(|r| r["content"].get("application/json").is_none());
            routes.push((
                method,
                path.replace("{username}", "fuzzed"),
                credential,
                (form_only, pages_only),
            ));
        }
    }
    assert!(routes.len() >= 17, "{routes:?}");
    for (method, path, credential, (form_only, pages_only)) in &routes {
        runner(48)
            .run(&body(), |b| {
                if *form_only {
                    let fields = as_form(&b);
                    let fields: Vec<(&str, &str)> = fields
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let r = rt.block_on(s.form_post(path, &fields));
                    let what = format!("{method} {path} {b}");
                    if *pages_only {
                        page_answer(&r, &what);
                    } else {
                        well_formed(&r, &what);
                    }
                    return Ok(());
                }
                let r = rt.block_on(s.call(method.clone(), path, *credential, Some(b.clone())));
                well_formed(&r, &format!("{method} {path} {b}"));
                Ok(())
            })
            .unwrap();
    }
}

/// The members of a JSON body as a form's fields (strings as they are, anything else as JSON).
fn as_form(body: &Value) -> Vec<(String, String)> {
    body.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| match v {
            Value::String(s) => (k.clone(), s.clone()),
            other => (k.clone(), other.to_string()),
        })
        .collect()
}

/// A page's answer: never a 5xx, a page or a redirect.
#[track_caller]
fn page_answer(r: &Reply, what: &str) {
    assert!(r.status.as_u16() < 500, "{what}: {} {}", r.status, r.text);
    let html = r
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html"));
    assert!(
        html || r.status.as_u16() == 303,
        "{what}: {} {}",
        r.status,
        r.text
    );
}

#[test]
fn authorization_requests_of_any_query_never_cause_a_server_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(Server::start());
    let admin = rt.block_on(s.admin("fuzzadmin"));
    let client = rt
        .block_on(s.post(
            "/oauth/clients",
            Some(&admin),
            json!({"name": "fuzz", "redirect_uris": ["https://app.example.com/cb"], "public": true}),
        ))
        .expect(201, None);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Half the queries name the client and its redirect URI first, so the rest is read too.
    let known = format!(
        "client_id={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&",
        client["client_id"].as_str().unwrap()
    );
    runner(128)
        .run(&(any::<bool>(), "[ -~]{0,160}"), |(named, q)| {
            let q = q.replace(' ', "%20").replace('#', "%23");
            let q = if named { format!("{known}{q}") } else { q };
            // Redirects are answers here, never followed (they lead to the app).
            let req = no_redirects
                .get(format!("{}/oauth/authorize?{q}", s.base))
                .header("accept", "text/html");
            let r = rt.block_on(Server::reply(req));
            page_answer(&r, &q);
            Ok(())
        })
        .unwrap();
}

#[test]
fn raw_bytes_queries_and_authorization_headers_never_cause_a_server_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(Server::start());
    let token = rt.block_on(s.user("raw"));
    let admin = rt.block_on(s.admin("rawadmin"));
    runner(64)
        .run(&prop::collection::vec(any::<u8>(), 0..300), |bytes| {
            for path in [
                "/user",
                "/auth",
                "/activate/resend",
                "/password/reset",
                "/auth/introspect",
                "/auth/token",
                "/auth/revoke",
                "/auth/mfa",
            ] {
                let r = rt.block_on(s.raw(Method::POST, path, bytes.clone()));
                well_formed(&r, &format!("POST {path} with {} raw bytes", bytes.len()));
            }
            Ok(())
        })
        .unwrap();
    runner(96)
        .run(&"[ -~]{0,120}", |q| {
            let q = q.replace(' ', "%20").replace('#', "%23");
            for path in [
                "/widgets",
                "/activate",
                "/password/reset",
                "/email/confirm",
                "/users",
                "/events",
                "/user/raw/events",
            ] {
                // The listings' queries are read only for an admin.
                let who = if ["/users", "/events", "/user/raw/events"].contains(&path) {
                    &admin
                } else {
                    &token
                };
                let r = rt.block_on(s.get(&format!("{path}?{q}"), Some(who)));
                // No upstream is configured here: a 503 is the answer for a good query.
                assert!(r.status != 500 && r.status != 502, "{path}?{q}: {}", r.text);
                assert!(
                    serde_json::from_str::<Value>(&r.text).is_ok(),
                    "{path}?{q}: {}",
                    r.text
                );
            }
            Ok(())
        })
        .unwrap();
    runner(128)
        .run(&"[ -~]{0,200}", |h| {
            let req = s
                .client
                .get(format!("{}/user", s.base))
                .header("authorization", h.clone());
            let r = rt.block_on(Server::reply(req));
            assert!(r.status == 401, "{h}: {} {}", r.status, r.text);
            well_formed(&r, &h);
            Ok(())
        })
        .unwrap();
}
