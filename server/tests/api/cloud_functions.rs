//! The function binaries themselves (their `main.rs`: configuration, state and parts built at
//! init, then lambda_http), each started as Lambda starts it: a fresh process, told where the
//! Runtime API is, given one API Gateway event by a stand-in of that API on loopback. DynamoDB
//! and SES are the moto server's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::common::{
    Needs, PASSWORD, can_run, dynamodb_vars, email, free_port, fresh_table, function_binary,
    link_in, link_to, ses_sent_to, verified_sender,
};

const BASE: &str = "https://functions.example.com";

/// A function's binary, built beside this test (`cargo build -p functions --bins`).
fn binary(name: &str) -> PathBuf {
    let path = function_binary(name);
    assert!(path.exists(), "{} is not built", path.display());
    path
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Clone)]
struct Runtime {
    event: Arc<Mutex<Option<String>>>,
    answers: mpsc::UnboundedSender<(String, Value)>,
}

async fn next(State(rt): State<Runtime>) -> axum::response::Response {
    let event = rt.event.lock().unwrap().take();
    let Some(event) = event else {
        // One invocation per process: the next one never comes (the process is stopped).
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:test"
            .parse()
            .unwrap(),
    );
    headers.insert("content-type", "application/json".parse().unwrap());
    (headers, event).into_response()
}

async fn answer(
    State(rt): State<Runtime>,
    Path((_id, kind)): Path<(String, String)>,
    body: String,
) -> axum::http::StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = rt.answers.send((kind, value));
    axum::http::StatusCode::ACCEPTED
}

use axum::response::IntoResponse;

/// Starts `function` with `vars` (and what the runtime itself sets), hands it `event`, and
/// returns what it posted back: `("response", the API Gateway answer)` or `("error", ...)`.
pub(crate) async fn invoke(
    function: &str,
    vars: &[(String, String)],
    event: Value,
) -> (String, Value) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let rt = Runtime {
        event: Arc::new(Mutex::new(Some(event.to_string()))),
        answers: tx,
    };
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .with_state(rt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let child = Command::new(binary(function))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("RUST_LOG", "warn")
        // As template.yaml gives them: the private keys to the function that signs only.
        .envs(
            vars.iter()
                .filter(|(k, _)| k != "JWT_SIGNING_KEYS" || SIGNERS.contains(&function))
                .cloned(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = Killed(child);
    let got = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("{function} answered nothing within 30 s"))
        .unwrap();
    server.abort();
    got
}

/// The functions that sign tokens, and so are given the private keys (`.signs_tokens()`).
const SIGNERS: [&str; 3] = ["login", "refresh", "mfa-login"];

/// The test key set's public keys (`JWT_VERIFYING_KEYS`).
fn test_verifying_keys() -> String {
    shared::token::KeySet::from_pem(crate::common::test_signing_keys())
        .unwrap()
        .public_pem()
        .unwrap()
}

/// An API Gateway (HTTP API v2) event, as in events/.
fn event(method: &str, path: &str, query: &str, token: Option<&str>, body: Option<Value>) -> Value {
    let mut headers = json!({"host": "functions.example.com", "content-type": "application/json"});
    if let Some(t) = token {
        headers["authorization"] = json!(format!("Bearer {t}"));
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "functions.example.com",
            "domainPrefix": "functions", "requestId": "req-1", "routeKey": "$default",
            "stage": "$default", "time": "22/Nov/2026:00:00:00 +0000", "timeEpoch": 1795305600000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "test"}
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

/// A form post (`application/x-www-form-urlencoded`, as OAuth clients send it) to `function`.
async fn call_form(
    function: &str,
    vars: &[(String, String)],
    (method, path, query): (&str, &str, &str),
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut event = event(method, path, query, None, None);
    event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    event["body"] = json!(body);
    answered(function, vars, event).await
}

/// One request to `function` through the Runtime API: its status and JSON body (`Null` when
/// empty). A function that reports an error instead of answering fails the test.
pub(crate) async fn call(
    function: &str,
    vars: &[(String, String)],
    (method, path, query): (&str, &str, &str),
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    answered(function, vars, event(method, path, query, token, body)).await
}

/// `event` through `function`: its status and JSON body (`Null` when empty).
async fn answered(function: &str, vars: &[(String, String)], event: Value) -> (u16, Value) {
    let (kind, answer) = invoke(function, vars, event).await;
    assert_eq!(kind, "response", "{function} reported an error: {answer}");
    let status = answer["statusCode"].as_u64().unwrap() as u16;
    let body = answer["body"].as_str().unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_bootstrap_serves_its_route_on_dynamodb_and_ses() {
    if !can_run(Needs::Moto) || !can_run(Needs::FunctionBinaries) {
        return;
    }
    let (vars, _) = cloud_vars().await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let username = format!("fn{}", &id[..12]);
    let address = email(&username);

    let sign_up =
        json!({"username": username, "email": address, "password": PASSWORD, "plan": "gold"});
    let (status, body) = call("signup", &vars, ("POST", "/user", ""), None, Some(sign_up)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (&body["username"], &body["data"]["plan"]),
        (&json!(username), &json!("gold"))
    );

    // The mail went out through SES (moto), with a link the activate function accepts.
    let sent = ses_sent_to(&address).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let link = link_in(&sent[0], BASE);
    let query = link.split_once('?').unwrap().1;
    let (status, body) = call("activate", &vars, ("GET", "/activate", query), None, None).await;
    assert_eq!((status, &body["activated"]), (200, &json!(true)), "{body}");

    let login = json!({"username": username, "password": PASSWORD});
    let (status, body) = call(
        "login",
        &vars,
        ("POST", "/auth", ""),
        None,
        Some(login.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    // The jwks function publishes the key the login function signed with.
    let jwks = ("GET", "/.well-known/jwks.json", "");
    let (status, body) = call("jwks", &vars, jwks, None, None).await;
    let header = crate::common::jwt_part(&token, 0);
    assert_eq!(
        (status, &body["keys"][0]["kid"]),
        (200, &header["kid"]),
        "{body}"
    );
    // The introspect function, asked by a service with the key, finds the session live.
    let introspect = ("POST", "/auth/introspect", "");
    let (status, body) = call(
        "introspect",
        &vars,
        introspect,
        Some(crate::common::INTROSPECTION_KEY),
        Some(json!({ "token": token })),
    )
    .await;
    assert_eq!((status, &body["active"]), (200, &json!(true)), "{body}");
    let me = ("GET", "/user", "");
    let (status, body) = call("me", &vars, me, Some(&token), None).await;
    assert_eq!(
        (status, &body["username"]),
        (200, &json!(username)),
        "{body}"
    );

    // The widgets function builds its client when an upstream is configured: nothing listens
    // on that port, so the answer is the upstream's failure, not "not configured"; without
    // one, 503 widgets_unavailable.
    let widgets = ("GET", "/widgets", "");
    let mut with_upstream = vars.clone();
    with_upstream.extend([
        (
            "WIDGETS_API_URL".into(),
            format!("http://127.0.0.1:{}", free_port()),
        ),
        ("WIDGETS_API_KEY".into(), "k".into()),
    ]);
    let (status, body) = call("widgets", &with_upstream, widgets, Some(&token), None).await;
    assert_eq!(
        (status, &body["error"]),
        (502, &json!("upstream_error")),
        "{body}"
    );
    let (status, body) = call("widgets", &vars, widgets, Some(&token), None).await;
    assert_eq!(
        (status, &body["error"]),
        (503, &json!("widgets_unavailable")),
        "{body}"
    );

    // The refresh function spends the login's refresh token for a new pair, once.
    let login_again = login.clone();
    let (status, body) = call("login", &vars, ("POST", "/auth", ""), None, Some(login)).await;
    assert_eq!(status, 200, "{body}");
    let spent = body["refresh_token"].as_str().unwrap().to_string();
    let grant = json!({"grant_type": "refresh_token", "refresh_token": spent});
    let token_route = ("POST", "/auth/token", "");
    let (status, body) = call("refresh", &vars, token_route, None, Some(grant.clone())).await;
    assert_eq!(status, 200, "{body}");
    let refreshed = body["token"].as_str().unwrap().to_string();
    let (status, body) = call("me", &vars, me, Some(&refreshed), None).await;
    assert_eq!(status, 200, "{body}");

    // The same function revokes (RFC 7009): another sign-in's refresh token, as a form; its
    // refresh token and its access token are refused from then on.
    let (status, body) = call(
        "login",
        &vars,
        ("POST", "/auth", ""),
        None,
        Some(login_again),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (access, refresh) = (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    );
    let revoke = ("POST", "/auth/revoke", "");
    let (status, body) = call_form("refresh", &vars, revoke, &[("token", &refresh)]).await;
    assert_eq!((status, &body), (200, &json!({})));
    let again = json!({"grant_type": "refresh_token", "refresh_token": refresh});
    let (status, body) = call("refresh", &vars, token_route, None, Some(again)).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );
    let (status, body) = call("me", &vars, me, Some(&access), None).await;
    assert_eq!(status, 401, "{body}");
    // The discovery function names the issuer the tokens carry, and holds nothing secret.
    let discovery = ("GET", "/.well-known/openid-configuration", "");
    let (status, body) = call("discovery", &vars, discovery, None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issuer"], crate::common::jwt_part(&access, 1)["iss"]);
    assert_eq!(body["revocation_endpoint"], format!("{BASE}/auth/revoke"));

    let (status, _) = call("logout", &vars, ("DELETE", "/auth", ""), Some(&token), None).await;
    assert_eq!(status, 204);
    let (status, body) = call("me", &vars, me, Some(&token), None).await;
    assert_eq!(status, 401, "{body}");
    // The other sign-in's logout ends its refresh tokens too.
    let (status, _) = call(
        "logout",
        &vars,
        ("DELETE", "/auth", ""),
        Some(&refreshed),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = call("refresh", &vars, token_route, None, Some(grant)).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );

    // What each function recorded, read back by the user-events function (newest first), with
    // API Gateway's source address; then, as an admin, by the list-events function.
    let token = log_in(&vars, &username).await;
    let own = format!("/user/{username}/events");
    let (status, body) = call("user-events", &vars, ("GET", &own, ""), Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    let types: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "logged_in",
            "logged_out",
            "logged_out",
            "logged_out",
            "logged_in",
            "logged_in",
            "logged_in",
            "activated",
            "signed_up"
        ]
    );
    assert_eq!(body["events"][0]["source_ip"], "203.0.113.10");
    let (status, _) = call(
        "list-events",
        &vars,
        ("GET", "/events", ""),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let config = cloud_config(&vars);
    let sdk = shared::aws::sdk_config(&config).await;
    let table = config_table(&vars);
    let store = shared::store::dynamodb::DynamoStore::new(&sdk, table);
    use shared::store::Users;
    store
        .set_role(&username, shared::user::Role::Admin, 0)
        .await
        .unwrap()
        .unwrap();
    let admin = log_in(&vars, &username).await;
    let query = "type=signed_up&limit=5";
    let (status, body) = call(
        "list-events",
        &vars,
        ("GET", "/events", query),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"][0]["username"], json!(username), "{body}");
    assert_eq!(body["events"][0]["type"], "signed_up");

    // The oauth-clients function: the admin registers a client (its secret answered once, its
    // hash kept), lists it without the secret, removes it.
    let clients = ("POST", "/oauth/clients", "");
    let registration = json!({"name": "Shop", "redirect_uris": ["https://shop.example.com/cb"]});
    let (status, body) = call(
        "oauth-clients",
        &vars,
        clients,
        Some(&admin),
        Some(registration),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (id, secret) = (
        body["client_id"].as_str().unwrap().to_string(),
        body["client_secret"].as_str().unwrap().to_string(),
    );
    use shared::store::Clients;
    let kept = store.client(&id).await.unwrap().unwrap();
    assert_eq!(kept.secret_hash, Some(shared::secret::token_hash(&secret)));
    let list = ("GET", "/oauth/clients", "");
    let (status, body) = call("oauth-clients", &vars, list, Some(&admin), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["clients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == id.as_str())
    );
    assert!(!body.to_string().contains(&secret));
    let one = format!("/oauth/clients/{id}");
    let (status, _) = call(
        "oauth-clients",
        &vars,
        ("DELETE", &one, ""),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(store.client(&id).await.unwrap().is_none());
}

/// The access token of a login of `username` (with [`PASSWORD`]) through the login function.
async fn log_in(vars: &[(String, String)], username: &str) -> String {
    let login = json!({"username": username, "password": PASSWORD});
    let (status, body) = call("login", vars, ("POST", "/auth", ""), None, Some(login)).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// The configuration `vars` describe.
pub(crate) fn cloud_config(vars: &[(String, String)]) -> shared::config::Config {
    shared::config::Config::from_lookup(|k| {
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .unwrap()
}

pub(crate) fn config_table(vars: &[(String, String)]) -> String {
    vars.iter()
        .find(|(n, _)| n == "TABLE_NAME")
        .map(|(_, v)| v.clone())
        .unwrap()
}

/// The variables every function gets (as template.yaml gives them), on a fresh table.
pub(crate) async fn cloud_vars() -> (Vec<(String, String)>, shared::config::Config) {
    let table = fresh_table();
    let mut vars = dynamodb_vars(&table);
    let config = shared::config::Config::from_lookup(|k| {
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    crate::common::create_table(&config, &table).await;
    let sender = verified_sender("no-reply").await;
    vars.extend(
        [
            ("SENDER_EMAIL", sender.as_str()),
            ("PUBLIC_BASE_URL", BASE),
            ("JWT_SIGNING_KEYS", crate::common::test_signing_keys()),
            ("JWT_VERIFYING_KEYS", &test_verifying_keys()),
            ("INTROSPECTION_KEY", crate::common::INTROSPECTION_KEY),
            ("MFA_ENCRYPTION_KEY", crate::common::MFA_KEY),
            ("LOGIN_NAME_KEY", crate::common::LOGIN_NAME_KEY),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    (vars, config)
}

/// The second factor through its bootstraps: enrol, verify (a notice through SES), a login
/// that asks for the second step, and the second step, each by its own function.
#[tokio::test]
async fn the_second_factor_bootstraps_serve_their_routes_on_dynamodb_and_ses() {
    if !can_run(Needs::Moto) || !can_run(Needs::FunctionBinaries) {
        return;
    }
    let (vars, _) = cloud_vars().await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let username = format!("mf{}", &id[..12]);
    let address = email(&username);
    let sign_up = json!({"username": username, "email": address, "password": PASSWORD});
    let (status, _) = call("signup", &vars, ("POST", "/user", ""), None, Some(sign_up)).await;
    assert_eq!(status, 201);
    let link = link_in(&ses_sent_to(&address).await[0], BASE);
    let query = link.split_once('?').unwrap().1;
    call("activate", &vars, ("GET", "/activate", query), None, None).await;
    let token = log_in(&vars, &username).await;

    let path = format!("/user/{username}/mfa/totp");
    let (status, body) = call(
        "mfa-enrol",
        &vars,
        ("POST", &path, ""),
        Some(&token),
        Some(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let secret = crate::common::base32(body["secret"].as_str().unwrap());
    let now = shared::clock::Clock::system().now();
    let code = |t: i64| totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &secret, t as u64);
    let path = format!("/user/{username}/mfa/totp/verify");
    let (status, body) = call(
        "mfa-verify",
        &vars,
        ("POST", &path, ""),
        Some(&token),
        Some(json!({"code": code(now)})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(
        ses_sent_to(&address).await.len(),
        2,
        "the activation mail and the notice"
    );

    let login = json!({"username": username, "password": PASSWORD});
    let (status, body) = call("login", &vars, ("POST", "/auth", ""), None, Some(login)).await;
    assert_eq!(
        (status, &body["mfa_required"]),
        (200, &json!(true)),
        "{body}"
    );
    let recovery = json!({
        "mfa_token": body["mfa_token"],
        "recovery_code": body["mfa_token"].as_str().map(|_| "not-a-code"),
    });
    let (status, body) = call(
        "mfa-login",
        &vars,
        ("POST", "/auth/mfa", ""),
        None,
        Some(recovery.clone()),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_mfa_code")),
        "{body}"
    );
    // The next step's code (the verification used this one), from the same mfa_token.
    let second = json!({"mfa_token": recovery["mfa_token"], "code": code(now + 30)});
    let (status, body) = call(
        "mfa-login",
        &vars,
        ("POST", "/auth/mfa", ""),
        None,
        Some(second),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = body["token"].as_str().unwrap();
    assert_eq!(crate::common::jwt_part(access, 1)["acr"], "aal2");
    let (status, _) = call("me", &vars, ("GET", "/user", ""), Some(access), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_recovery_bootstraps_serve_their_routes_on_dynamodb_and_ses() {
    if !can_run(Needs::Moto) || !can_run(Needs::FunctionBinaries) {
        return;
    }
    let (vars, config) = cloud_vars().await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let username = format!("rc{}", &id[..12]);
    let address = email(&username);
    // An activated account made in the store (so the reset mail is the address's first).
    let sdk = shared::aws::sdk_config(&config).await;
    let shared::config::StoreKind::Dynamodb { table } = &config.store else {
        unreachable!()
    };
    let store = shared::store::dynamodb::DynamoStore::new(&sdk, table.clone());
    let now = shared::clock::Clock::system().now();
    let user = shared::user::UserRecord {
        user_id: id.clone(),
        username: username.clone(),
        email: address.clone(),
        password_hash: shared::password::hash_blocking(PASSWORD).unwrap(),
        role: shared::user::Role::User,
        activated: false,
        data: Default::default(),
        created_at: now,
        updated_at: now,
        pending_until: Some(now + 3600),
        auth_epoch: 0,
    };
    use shared::store::{Activations, Users};
    let activation = shared::store::ActivationRecord {
        token_hash: "made-in-the-test".into(),
        expires_at: now + 3600,
    };
    store.create_user(&user, &activation, now).await.unwrap();
    store.activate("made-in-the-test", now).await.unwrap();
    let new_password = "an entirely fresh passphrase 1984";

    let forgot = json!({"email": address});
    let (status, _) = call(
        "password-forgot",
        &vars,
        ("POST", "/password/forgot", ""),
        None,
        Some(forgot),
    )
    .await;
    assert_eq!(status, 202);
    let sent = ses_sent_to(&address).await;
    let link = link_to(sent.last().expect("a reset mail"), BASE, "/password/reset");
    let query = link.split_once('?').unwrap().1;
    let token = query.trim_start_matches("token=");
    let reset = ("GET", "/password/reset", query);
    let (status, body) = call("password-reset", &vars, reset, None, None).await;
    assert_eq!((status, &body), (200, &json!({"valid": true})));
    let set = json!({"token": token, "password": new_password});
    let (status, body) = call(
        "password-reset",
        &vars,
        ("POST", "/password/reset", ""),
        None,
        Some(set),
    )
    .await;
    assert_eq!((status, &body), (200, &json!({"reset": true})));

    let login = json!({"username": username, "password": new_password});
    let (status, body) = call("login", &vars, ("POST", "/auth", ""), None, Some(login)).await;
    assert_eq!(status, 200, "{body}");
    let session = body["token"].as_str().unwrap().to_string();
    let sessions = ("GET", "/auth/sessions", "");
    let (status, body) = call("sessions", &vars, sessions, Some(&session), None).await;
    assert_eq!(
        (status, body["sessions"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );

    let change = json!({"current_password": new_password, "new_password": PASSWORD});
    let path = format!("/user/{username}/password");
    let (status, body) = call(
        "change-password",
        &vars,
        ("PUT", &path, ""),
        Some(&session),
        Some(change),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    let new_address = format!("new-{address}");
    let change = json!({"email": new_address, "password": PASSWORD});
    let path = format!("/user/{username}/email");
    let (status, body) = call(
        "change-email",
        &vars,
        ("PUT", &path, ""),
        Some(&session),
        Some(change),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let sent = ses_sent_to(&new_address).await;
    let link = link_to(
        sent.last().expect("a confirmation mail"),
        BASE,
        "/email/confirm",
    );
    let query = link.split_once('?').unwrap().1;
    let (status, body) = call(
        "confirm-email",
        &vars,
        ("GET", "/email/confirm", query),
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, &body["email"]),
        (200, &json!(new_address)),
        "{body}"
    );
    let notices = ses_sent_to(&address).await;
    assert!(
        notices
            .iter()
            .any(|m| m.to_string().contains("Your email address was changed"))
    );

    let end = ("DELETE", "/auth/sessions", "");
    let (status, _) = call("sessions", &vars, end, Some(&session), None).await;
    assert_eq!(status, 204);
    let (status, body) = call("sessions", &vars, sessions, Some(&session), None).await;
    assert_eq!(status, 401, "{body}");
}

/// The function that signs refuses to start with the public keys alone (every login would be a
/// 500); a verifier given only the public keys starts (the walks above prove it serves).
#[test]
fn the_signers_refuse_to_start_without_the_private_keys() {
    if !can_run(Needs::FunctionBinaries) {
        return;
    }
    for function in SIGNERS {
        let stderr = refused_at_init(
            function,
            &[
                ("STORE", "dynamodb"),
                ("TABLE_NAME", "accounts"),
                ("AWS_REGION", "us-east-1"),
                ("SENDER_EMAIL", "no-reply@example.com"),
                ("JWT_VERIFYING_KEYS", &test_verifying_keys()),
            ],
        );
        assert!(stderr.contains("JWT_SIGNING_KEYS"), "{function}: {stderr}");
    }
}

/// The login function refuses to start without the key it MACs names of no account with (it
/// would otherwise keep them as typed, or answer every login 500).
#[test]
fn the_login_function_refuses_to_start_without_the_login_name_key() {
    if !can_run(Needs::FunctionBinaries) {
        return;
    }
    let stderr = refused_at_init(
        "login",
        &[
            ("STORE", "dynamodb"),
            ("TABLE_NAME", "accounts"),
            ("AWS_REGION", "us-east-1"),
            ("SENDER_EMAIL", "no-reply@example.com"),
            ("JWT_SIGNING_KEYS", crate::common::test_signing_keys()),
        ],
    );
    assert!(stderr.contains("LOGIN_NAME_KEY"), "{stderr}");
}

/// Starts `function` as Lambda would with `vars` (and `PUBLIC_BASE_URL`), expecting it to stop
/// at init within 10 s; what it wrote to stderr.
pub(crate) fn refused_at_init(function: &str, vars: &[(&str, &str)]) -> String {
    let out = Command::new(binary(function))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9") // never reached
        .env("PUBLIC_BASE_URL", BASE)
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let out = out.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_function_refuses_the_embedded_store_at_init() {
    if !can_run(Needs::FunctionBinaries) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused_at_init(
        "me",
        &[
            ("STORE", "sqlite"),
            ("MAIL", "log"),
            ("DATA_DIR", &dir.path().to_string_lossy()),
            ("JWT_SIGNING_KEYS", crate::common::test_signing_keys()),
        ],
    );
    assert!(stderr.contains("STORE=sqlite"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no database file was made"
    );
}
