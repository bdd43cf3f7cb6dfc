//! Every file in events/ (API Gateway HTTP API, payload 2.0) through its own function's router,
//! the way Lambda runs it: lambda_http's adapter turns the event into a request and the answer
//! into the response API Gateway receives.

use std::path::PathBuf;

use axum::Router;
use lambda_http::request::LambdaRequest;
use lambda_http::tower::ServiceExt;
use lambda_http::{Adapter, Context, LambdaEvent};
use serde_json::{Value, json};
use shared::AppState;

use crate::common::{PASSWORD, Server, email};

/// The routes of one function, as its binary hands them to lambda_http.
fn routes_of(function: &str) -> axum::Router<AppState> {
    functions::function(function)
        .unwrap_or_else(|| panic!("events/ names an unknown function: {function}"))
        .router()
}

/// Expected status for each event (events/expected.tsv, which `scripts/sam_local_events.py`
/// reads too): on an empty store as the file stands (placeholders left in), and with `alice`
/// active and logged in (with a reset link, and a change of address to confirm), `pending`
/// awaiting activation, placeholders filled.
fn expected() -> Vec<(String, u16, u16)> {
    let text = std::fs::read_to_string(events_dir().join("expected.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "events/expected.tsv: {l:?}");
            let status = |c: &str| c.parse::<u16>().unwrap_or_else(|_| panic!("{l:?}"));
            (cols[0].to_string(), status(cols[1]), status(cols[2]))
        })
        .collect()
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// Runs one event through `app` as Lambda would; returns API Gateway's view of the answer.
async fn invoke(app: Router, event: &str) -> Value {
    let request: LambdaRequest = serde_json::from_str(event).expect("a valid API Gateway event");
    let adapter = Adapter::from(app);
    let response = adapter
        .oneshot(LambdaEvent::new(request, Context::default()))
        .await
        .expect("handlers never fail the invocation");
    serde_json::to_value(&response).unwrap()
}

async fn sample_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = accounts::sample_upstream::app("events-key".into());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn every_event_file_runs_through_its_function() {
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let expected = expected();
    let listed: Vec<&str> = expected.iter().map(|(f, _, _)| f.as_str()).collect();
    assert_eq!(
        files.len(),
        expected.len(),
        "every events file has an expectation: {files:?}"
    );
    for function in accounts::FUNCTIONS {
        let name = function.name;
        assert!(
            files.contains(&format!("{name}.json")),
            "no events/{name}.json"
        );
    }
    let upstream = sample_upstream().await;
    let vars = [
        ("WIDGETS_API_URL", upstream.as_str()),
        ("WIDGETS_API_KEY", "events-key"),
    ];

    for (file, fresh, prepared) in &expected {
        assert!(
            files.iter().any(|f| f == file),
            "{file} is listed but missing"
        );
        let function = file.split('.').next().unwrap();
        let raw = std::fs::read_to_string(events_dir().join(file)).unwrap();

        let s = Server::start_with(&vars).await;
        let r = invoke(
            shared::http::app(routes_of(function), s.state.clone()),
            &raw,
        )
        .await;
        assert_eq!(r["statusCode"], *fresh, "{file} on an empty store: {r}");
        check_shape(file, &r);

        let s = Server::start_with(&vars).await;
        let token = s.user("alice").await;
        s.sign_up("pending").await;
        let activation = s.activation_token(&email("pending"));
        s.clock.advance(60); // past the mail throttle's minute since alice's activation mail
        s.post("/password/forgot", None, json!({"email": email("alice")}))
            .await
            .expect(202, None);
        let reset = s.link_token(&email("alice"), "/password/reset");
        let change = json!({"email": "alice.elsewhere@example.com", "password": PASSWORD});
        s.put("/user/alice/email", Some(&token), change)
            .await
            .expect(202, None);
        let confirmation = s.link_token("alice.elsewhere@example.com", "/email/confirm");
        let (_, refresh) = s.log_in_pair("alice").await;
        let filled = raw
            .replace("REPLACE_WITH_TOKEN", &token)
            .replace("REPLACE_WITH_REFRESH_TOKEN", &refresh)
            .replace("REPLACE_WITH_ACTIVATION_TOKEN", &activation)
            .replace("REPLACE_WITH_RESET_TOKEN", &reset)
            .replace("REPLACE_WITH_CONFIRMATION_TOKEN", &confirmation)
            .replace(
                "REPLACE_WITH_INTROSPECTION_KEY",
                crate::common::INTROSPECTION_KEY,
            );
        let r = invoke(
            shared::http::app(routes_of(function), s.state.clone()),
            &filled,
        )
        .await;
        assert_eq!(r["statusCode"], *prepared, "{file} with users: {r}");
        check_shape(file, &r);
    }
    assert_eq!(listed.len(), files.len());
}

/// Whether every answer of the function's routes is a page (the hosted sign-in page's), as
/// openapi.json says it.
fn answers_pages_only(function: &str) -> bool {
    accounts::FUNCTIONS
        .iter()
        .find(|f| f.name == function)
        .is_some_and(|f| {
            f.routes.iter().all(|r| {
                r.doc.is_some_and(|d| {
                    d.errors.is_empty() && d.answers.iter().all(|a| a.json.is_none())
                })
            })
        })
}

/// JSON errors carry a code; HTML goes to browsers; nothing leaks a secret.
fn check_shape(file: &str, r: &Value) {
    let status = r["statusCode"].as_u64().unwrap();
    let headers = &r["headers"];
    let content_type = headers["content-type"].as_str().unwrap_or("");
    let body = r["body"].as_str().unwrap_or("");
    assert!(
        !body.contains("argon2") && !body.contains("password_hash"),
        "{file}: {body}"
    );
    if file.contains("browser") || answers_pages_only(file.split('.').next().unwrap()) {
        assert!(
            content_type.starts_with("text/html"),
            "{file}: {content_type}"
        );
        // A form (base64-encoded by API Gateway, as it passes form bodies) is answered with a page.
        if file.contains("form") {
            assert!(
                body.contains("<title>Check your mail</title>"),
                "{file}: {body}"
            );
        }
    } else if status >= 400 {
        let v: Value = serde_json::from_str(body).unwrap();
        assert!(
            v["error"].is_string() && v["message"].is_string(),
            "{file}: {body}"
        );
    } else if status != 204 {
        assert_eq!(content_type, "application/json", "{file}");
    }
}

#[tokio::test]
async fn a_function_serves_its_own_routes_and_no_other() {
    let s = Server::start().await;
    for function in accounts::FUNCTIONS {
        for other in accounts::FUNCTIONS {
            for route in other.routes {
                let own = function
                    .routes
                    .iter()
                    .any(|r| (r.method, r.path) == (route.method, route.path));
                let path = route.path.replace("{username}", "alice");
                let request = axum::http::Request::builder()
                    .method(route.method)
                    .uri(&path)
                    .body(axum::body::Body::empty())
                    .unwrap();
                let app = shared::http::app(routes_of(function.name), s.state.clone());
                let status = app.oneshot(request).await.unwrap().status().as_u16();
                let (name, method) = (function.name, route.method);
                if own {
                    assert!(
                        status != 404 && status != 405,
                        "{name} did not answer its own {method} {path}: {status}"
                    );
                } else {
                    assert!(
                        status == 404 || status == 405,
                        "{name} answered {method} {path}: {status}"
                    );
                }
            }
        }
    }
}

/// In Lambda, an account event's caller is API Gateway's: the source address and user agent
/// of its request context (not a header a client could set), as the login event file says.
#[tokio::test]
async fn a_lambda_invocation_records_the_gateways_source_address_and_user_agent() {
    let s = Server::start().await;
    s.user("alice").await;
    let raw = std::fs::read_to_string(events_dir().join("login.json")).unwrap();
    let event: Value = serde_json::from_str(&raw).unwrap();
    let context = &event["requestContext"]["http"];
    let r = invoke(shared::http::app(routes_of("login"), s.state.clone()), &raw).await;
    assert_eq!(r["statusCode"], 200, "{r}");
    let user = s
        .state
        .store
        .find_user_by_username("alice", s.clock.now())
        .await
        .unwrap()
        .unwrap();
    let page = s
        .state
        .store
        .user_events(&user.user_id, None, 1, s.clock.now())
        .await
        .unwrap();
    let login = &page.events[0];
    assert_eq!(login.kind, shared::events::EventType::LoggedIn);
    assert_eq!(login.source_ip.as_deref(), context["sourceIp"].as_str());
    assert_eq!(login.user_agent.as_deref(), context["userAgent"].as_str());
    assert_eq!(login.source_ip.as_deref(), Some("203.0.113.10"));
}
