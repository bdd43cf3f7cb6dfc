//! The hooks before a sign-up and before a token: a hook service of the test's own on loopback
//! that checks each request's signature (its own HMAC code, with the secret it was given),
//! keeps what it was sent, and answers as each test tells it: allow, refuse, add claims, fail,
//! time out, or answer nonsense. Whatever goes wrong, the service refuses (fail closed).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::{PASSWORD, Server, email, jwt_part};

const HOOK_SECRET: &str = "hook-secret-hook-secret-0123456789abcdef";

/// How the hook answers a request (given its body).
type Decide = fn(&Value) -> Response;

#[derive(Clone)]
struct Hook {
    secret: Arc<str>,
    decide: Arc<Mutex<Decide>>,
    /// How long the hook takes before it answers.
    delay: Arc<Mutex<Duration>>,
    /// Every request whose signature held.
    seen: Arc<Mutex<Vec<Value>>>,
    /// Requests refused for their signature.
    forged: Arc<Mutex<usize>>,
}

impl Hook {
    fn answer(&self, decide: Decide) {
        *self.decide.lock().unwrap() = decide;
    }
    fn delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }
    fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}

/// The hook's own check of `X-Accounts-Signature: t=<t>,v1=<hex>`: HMAC-SHA256 of "<t>.<body>"
/// under its secret, and `t` within 5 minutes of now.
fn signed(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(header) = headers
        .get("x-accounts-signature")
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - t).abs() > 300 {
        return false;
    }
    let Ok(expected) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn hook_route(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> Response {
    if !signed(&hook.secret, &headers, &body) {
        *hook.forged.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let value: Value = serde_json::from_slice(&body).unwrap();
    hook.seen.lock().unwrap().push(value.clone());
    let decide = *hook.decide.lock().unwrap();
    let delay = *hook.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    decide(&value)
}

/// A hook on loopback checking signatures with `secret`: (the hook, its URL).
async fn start_hook(secret: &str) -> (Hook, String) {
    let hook = Hook {
        secret: secret.into(),
        decide: Arc::new(Mutex::new(|_| {
            axum::Json(json!({"allow": true})).into_response()
        })),
        delay: Arc::default(),
        seen: Arc::default(),
        forged: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook_route))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (hook, url)
}

fn allow_unless_blocked(body: &Value) -> Response {
    let name = body["user"]["username"].as_str().unwrap_or("");
    if name.starts_with("blocked") {
        axum::Json(json!({"allow": false, "reason": "Sign-ups of\nthis kind are closed."}))
            .into_response()
    } else {
        axum::Json(json!({"allow": true})).into_response()
    }
}

async fn user_exists(s: &Server, username: &str) -> bool {
    s.stored_user(username).await.is_some()
}

async fn sign_up(s: &Server, username: &str) -> crate::common::Reply {
    s.post(
        "/user",
        None,
        json!({"username": username, "email": email(username), "password": PASSWORD,
               "plan": "gold"}),
    )
    .await
}

#[tokio::test]
async fn the_sign_up_hook_allows_and_refuses_with_its_reason_and_never_sees_the_password() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    hook.answer(allow_unless_blocked);
    let s = Server::start_with(&[("SIGNUP_HOOK_URL", &url), ("HOOK_SECRET", HOOK_SECRET)]).await;

    let body = sign_up(&s, "blockedbob")
        .await
        .expect(403, Some("signup_refused"));
    assert_eq!(
        body["message"],
        "Sign-up was refused: Sign-ups of this kind are closed."
    );
    assert!(!user_exists(&s, "blockedbob").await, "nothing kept");
    assert!(s.mails().is_empty(), "no mail");

    sign_up(&s, "alice").await.expect(201, None);
    assert!(user_exists(&s, "alice").await);
    assert_eq!(s.mails().len(), 1);

    let seen = hook.seen();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    for request in &seen {
        assert_eq!(request["type"], "before_signup");
        assert!(request["id"].as_str().is_some_and(|id| id.len() >= 32));
        let text = request.to_string();
        assert!(
            !text.contains(PASSWORD) && !text.contains("password"),
            "{text}"
        );
    }
    assert_eq!(seen[1]["user"]["username"], "alice");
    assert_eq!(seen[1]["user"]["email"], email("alice"));
    assert_eq!(seen[1]["user"]["data"], json!({"plan": "gold"}));
    assert_eq!(seen[1]["source_ip"], "127.0.0.1");
    assert_eq!(seen[1]["user_agent"], crate::common::USER_AGENT);
    assert_eq!(*hook.forged.lock().unwrap(), 0);

    // The refusal is an event (of no account, no name kept), as a failed sign-up.
    let admin = s.admin("root").await;
    let events = s
        .get("/events?type=signed_up", Some(&admin))
        .await
        .expect(200, None);
    let refused: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "failure")
        .collect();
    assert_eq!(refused.len(), 1, "{events}");
    assert_eq!(refused[0]["detail"]["reason"], "refused_by_hook");
    assert!(!refused[0].to_string().contains("blockedbob"));
}

/// A hook that fails, answers nonsense, is too slow or cannot be reached refuses the sign-up:
/// `503 hook_unavailable`, a generic sentence, and nothing kept.
#[tokio::test]
async fn a_sign_up_hook_that_fails_refuses() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    let s = Server::start_with(&[("SIGNUP_HOOK_URL", &url), ("HOOK_SECRET", HOOK_SECRET)]).await;
    let failures: [(&str, Decide); 5] = [
        ("status", |_| {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }),
        ("text", |_| "yes".into_response()),
        ("noallow", |_| {
            axum::Json(json!({"ok": true})).into_response()
        }),
        ("allowstr", |_| {
            axum::Json(json!({"allow": "true"})).into_response()
        }),
        ("redirect", |_| {
            (StatusCode::FOUND, [("location", "http://127.0.0.1:9/")]).into_response()
        }),
    ];
    for (name, decide) in failures {
        hook.answer(decide);
        let username = format!("fail{name}");
        let body = sign_up(&s, &username)
            .await
            .expect(503, Some("hook_unavailable"));
        assert_eq!(
            body["message"], "The service cannot complete this now; please try again later.",
            "{name}: generic"
        );
        assert!(!user_exists(&s, &username).await, "{name}");
    }
    assert!(s.mails().is_empty());

    // Slower than 2 s: refused when the 2 s are up, not when the hook answers.
    hook.answer(|_| axum::Json(json!({"allow": true})).into_response());
    hook.delay(Duration::from_secs(6));
    let started = Instant::now();
    sign_up(&s, "slowsam")
        .await
        .expect(503, Some("hook_unavailable"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!user_exists(&s, "slowsam").await);

    // Nobody listening.
    let port = crate::common::free_port();
    let closed = format!("http://127.0.0.1:{port}/hook");
    let s = Server::start_with(&[("SIGNUP_HOOK_URL", &closed), ("HOOK_SECRET", HOOK_SECRET)]).await;
    sign_up(&s, "nobody")
        .await
        .expect(503, Some("hook_unavailable"));
    assert!(!user_exists(&s, "nobody").await);
}

/// The hook checks the signature: a service holding another secret is refused by the hook, and
/// so refuses the sign-up.
#[tokio::test]
async fn a_request_signed_with_another_secret_is_refused_by_the_hook() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    let other = "another-secret-another-secret-0123456789";
    let s = Server::start_with(&[("SIGNUP_HOOK_URL", &url), ("HOOK_SECRET", other)]).await;
    sign_up(&s, "mallory")
        .await
        .expect(503, Some("hook_unavailable"));
    assert_eq!(*hook.forged.lock().unwrap(), 1);
    assert!(hook.seen().is_empty());
    assert!(!user_exists(&s, "mallory").await);

    // And the check is a real one: the same body signed for another time, or with the body
    // changed, fails it.
    let body = br#"{"type":"before_signup"}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let good = shared::hooks::signature(HOOK_SECRET.as_bytes(), now, body);
    let headers = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert("x-accounts-signature", v.parse().unwrap());
        h
    };
    assert!(signed(HOOK_SECRET, &headers(&good), body));
    assert!(!signed(
        HOOK_SECRET,
        &headers(&good),
        br#"{"type":"before_token"}"#
    ));
    let stale = shared::hooks::signature(HOOK_SECRET.as_bytes(), now - 3600, body);
    assert!(!signed(HOOK_SECRET, &headers(&stale), body));
}

fn gold_claims(body: &Value) -> Response {
    axum::Json(json!({"claims": {
        "tier": "gold",
        "sub": "not-the-user",
        "seen_amr": body["amr"],
    }}))
    .into_response()
}

#[tokio::test]
async fn the_token_hook_adds_claims_under_ext_at_login_and_refresh() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    hook.answer(gold_claims);
    let s = Server::start_with(&[("TOKEN_HOOK_URL", &url), ("HOOK_SECRET", HOOK_SECRET)]).await;
    s.sign_up("alice").await;
    s.activate("alice").await;
    let (token, refresh) = s.log_in_pair("alice").await;
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["ext"]["tier"], "gold", "{claims}");
    assert_eq!(claims["ext"]["seen_amr"], json!(["pwd"]));
    // Under `ext` only: the token's own claims are the service's.
    assert_ne!(claims["sub"], "not-the-user");
    assert!(claims.get("tier").is_none());
    s.get("/user", Some(&token)).await.expect(200, None);

    let seen = hook.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["type"], "before_token");
    assert_eq!(seen[0]["user"]["username"], "alice");
    assert!(!seen[0].to_string().contains(PASSWORD));
    assert!(!seen[0].to_string().contains("argon2"));

    // Introspection shows them too.
    let looked = s
        .post(
            "/auth/introspect",
            Some(crate::common::INTROSPECTION_KEY),
            json!({ "token": token }),
        )
        .await
        .expect(200, None);
    assert_eq!(looked["ext"]["tier"], "gold", "{looked}");

    // A refresh asks again: the hook's answer now is what the new token holds.
    hook.answer(|_| axum::Json(json!({"claims": {"tier": "platinum"}})).into_response());
    s.clock.advance(2);
    let grant = json!({"grant_type": "refresh_token", "refresh_token": refresh});
    let pair = s.post("/auth/token", None, grant).await.expect(200, None);
    let claims = jwt_part(pair["token"].as_str().unwrap(), 1);
    assert_eq!(claims["ext"], json!({"tier": "platinum"}));
    assert_eq!(hook.seen().len(), 2);

    // A hook that adds nothing leaves no `ext`.
    hook.answer(|_| axum::Json(json!({})).into_response());
    let token = s.log_in("alice").await;
    assert!(jwt_part(&token, 1).get("ext").is_none());
}

/// A token hook that fails refuses the sign-in and leaves nothing behind it: no session on a
/// login, and on a refresh the presented refresh token still works afterwards.
#[tokio::test]
async fn a_token_hook_that_fails_refuses_and_leaves_no_sign_in() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    let s = Server::start_with(&[("TOKEN_HOOK_URL", &url), ("HOOK_SECRET", HOOK_SECRET)]).await;
    s.sign_up("bob").await;
    s.activate("bob").await;
    hook.answer(|_| axum::Json(json!({"claims": {}})).into_response());
    let (token, refresh) = s.log_in_pair("bob").await;

    let failures: [(&str, Decide); 4] = [
        ("too large", |_| {
            axum::Json(json!({"claims": {"blob": "x".repeat(5000)}})).into_response()
        }),
        // Within the hook's 4 KiB, but the signed token would be over the 4,096 bytes accepted.
        ("a token too long", |_| {
            axum::Json(json!({"claims": {"blob": "x".repeat(3000)}})).into_response()
        }),
        ("not an object", |_| {
            axum::Json(json!({"claims": ["a"]})).into_response()
        }),
        ("status", |_| StatusCode::BAD_GATEWAY.into_response()),
    ];
    let cases = failures
        .into_iter()
        .map(|(name, decide)| (name, decide, Duration::ZERO))
        .chain([(
            "slow",
            (|_| axum::Json(json!({})).into_response()) as Decide,
            Duration::from_secs(6),
        )]);
    for (name, decide, delay) in cases {
        hook.answer(decide);
        hook.delay(delay);
        s.post(
            "/auth",
            None,
            json!({"username": "bob", "password": PASSWORD}),
        )
        .await
        .expect(503, Some("hook_unavailable"));
        let grant = json!({"grant_type": "refresh_token", "refresh_token": refresh});
        s.post("/auth/token", None, grant)
            .await
            .expect(503, Some("hook_unavailable"));
        let sessions = s
            .get("/auth/sessions", Some(&token))
            .await
            .expect(200, None);
        assert_eq!(
            sessions["sessions"].as_array().map_or(0, Vec::len),
            1,
            "{name}: no sign-in made: {sessions}"
        );
    }
    // The refresh token was never spent: with the hook well again, it refreshes.
    hook.answer(|_| axum::Json(json!({})).into_response());
    hook.delay(Duration::ZERO);
    let grant = json!({"grant_type": "refresh_token", "refresh_token": refresh});
    s.post("/auth/token", None, grant).await.expect(200, None);
    // Claims of the budget docs/integrating.md gives make a token that is accepted.
    hook.answer(|_| axum::Json(json!({"claims": {"blob": "x".repeat(2400)}})).into_response());
    let token = s.log_in("bob").await;
    assert!(token.len() <= 4096, "{}", token.len());
    s.get("/user", Some(&token)).await.expect(200, None);
}

/// Whether the configuration of these variables alone starts (its error if not).
fn config(pairs: &[(&str, &str)]) -> Result<(), String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    shared::config::Config::from_lookup(move |k| {
        pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[test]
fn a_hook_needs_a_secret_and_https_off_this_machine() {
    let err = config(&[("SIGNUP_HOOK_URL", "https://hooks.example.com/signup")]).unwrap_err();
    assert!(err.contains("HOOK_SECRET"), "{err}");
    let err = config(&[
        ("TOKEN_HOOK_URL", "https://h.example.com/t"),
        ("HOOK_SECRET", "short"),
    ])
    .unwrap_err();
    assert!(err.contains("HOOK_SECRET"), "{err}");
    let err = config(&[
        ("TOKEN_HOOK_URL", "http://hooks.example.com/token"),
        ("HOOK_SECRET", HOOK_SECRET),
    ])
    .unwrap_err();
    assert!(err.contains("TOKEN_HOOK_URL"), "{err}");
    for ok in [
        "https://hooks.example.com/token",
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
    ] {
        config(&[("TOKEN_HOOK_URL", ok), ("HOOK_SECRET", HOOK_SECRET)])
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    config(&[]).unwrap();
}

const SIGNUP_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:accounts-signup-hook";
const TOKEN_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:accounts-token-hook:live";
const MIGRATION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:old-system:live";

/// A stand-in for the Lambda API's synchronous invocation (`POST
/// /2015-03-31/functions/{name}/invocations`: the event in, the function's result out, or
/// `X-Amz-Function-Error` when it failed), answering as the two hook functions would.
#[derive(Clone, Default)]
struct LambdaApi {
    invoked: Arc<Mutex<Vec<(String, Value)>>>,
    failing: Arc<Mutex<bool>>,
}

async fn invocation(
    State(api): State<LambdaApi>,
    axum::extract::Path(function): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    assert_eq!(
        headers
            .get("x-amz-invocation-type")
            .and_then(|v| v.to_str().ok()),
        Some("RequestResponse")
    );
    let event: Value = serde_json::from_slice(&body).unwrap();
    api.invoked.lock().unwrap().push((function, event.clone()));
    if *api.failing.lock().unwrap() {
        return (
            [("x-amz-function-error", "Unhandled")],
            axum::Json(json!({"errorMessage": "boom", "errorType": "Error"})),
        )
            .into_response();
    }
    let answer = match event["type"].as_str() {
        Some("before_signup") => return allow_unless_blocked(&event),
        Some("before_token") => json!({"claims": {"from": "lambda"}}),
        Some("migrate_user")
            if event["username"] == "lambdaold" && event["password"] == "old lambda password" =>
        {
            json!({"migrate": true, "user": {"username": "lambdaold", "email": "lambdaold@example.com"}})
        }
        Some("migrate_user") => json!({"migrate": false}),
        _ => json!({}),
    };
    axum::Json(answer).into_response()
}

/// Hooks that are Lambda functions get the same questions as events, under the service's AWS
/// credentials (the test command's), and answer the same way; a function that fails refuses.
#[tokio::test]
async fn hooks_that_are_lambda_functions_are_invoked_with_the_same_questions() {
    if !crate::common::can_run(crate::common::Needs::Moto) {
        return; // the AWS variables the test command exports sign the invocations
    }
    let api = LambdaApi::default();
    let app = axum::Router::new()
        .route(
            "/2015-03-31/functions/{function}/invocations",
            axum::routing::post(invocation),
        )
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = Server::start_with(&[
        ("SIGNUP_HOOK_ARN", SIGNUP_ARN),
        ("TOKEN_HOOK_ARN", TOKEN_ARN),
        ("MIGRATION_HOOK_ARN", MIGRATION_ARN),
        ("AWS_ENDPOINT_URL_LAMBDA", &endpoint),
        ("AWS_REGION", "us-east-1"),
    ])
    .await;

    let body = sign_up(&s, "blockedeve")
        .await
        .expect(403, Some("signup_refused"));
    assert_eq!(
        body["message"],
        "Sign-up was refused: Sign-ups of this kind are closed."
    );
    assert!(!user_exists(&s, "blockedeve").await);
    sign_up(&s, "carol").await.expect(201, None);
    s.activate("carol").await;
    let token = s.log_in("carol").await;
    assert_eq!(jwt_part(&token, 1)["ext"], json!({"from": "lambda"}));

    // The old system, a Lambda function: a wrong password, then the right one.
    let old = |password: &str| json!({"username": "lambdaold", "password": password});
    s.post("/auth", None, old("wrong lambda password"))
        .await
        .expect(401, Some("invalid_credentials"));
    s.post("/auth", None, old("old lambda password"))
        .await
        .expect(200, None);
    assert!(user_exists(&s, "lambdaold").await);

    let invoked = api.invoked.lock().unwrap().clone();
    let names: Vec<&str> = invoked.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        names,
        [
            SIGNUP_ARN,
            SIGNUP_ARN,
            TOKEN_ARN,
            MIGRATION_ARN,
            MIGRATION_ARN,
            TOKEN_ARN
        ]
    );
    assert_eq!(invoked[3].1["trigger"], "login");
    let invoked = &invoked[..3];
    assert_eq!(invoked[1].1["user"]["username"], "carol");
    assert_eq!(invoked[2].1["type"], "before_token");
    for (_, event) in invoked {
        assert!(!event.to_string().contains(PASSWORD), "{event}");
    }

    *api.failing.lock().unwrap() = true;
    sign_up(&s, "dave")
        .await
        .expect(503, Some("hook_unavailable"));
    assert!(!user_exists(&s, "dave").await);
    s.post(
        "/auth",
        None,
        json!({"username": "carol", "password": PASSWORD}),
    )
    .await
    .expect(503, Some("hook_unavailable"));
}

#[test]
fn a_hook_is_a_url_or_a_lambda_functions_arn_not_both() {
    // An ARN needs no HOOK_SECRET: the function's role is what the hook trusts.
    config(&[
        ("SIGNUP_HOOK_ARN", SIGNUP_ARN),
        ("TOKEN_HOOK_ARN", TOKEN_ARN),
    ])
    .unwrap();
    let err = config(&[
        ("SIGNUP_HOOK_ARN", SIGNUP_ARN),
        ("SIGNUP_HOOK_URL", "https://hooks.example.com/signup"),
        ("HOOK_SECRET", HOOK_SECRET),
    ])
    .unwrap_err();
    assert!(err.contains("not both"), "{err}");
    let err = config(&[
        ("MIGRATION_HOOK_ARN", MIGRATION_ARN),
        ("MIGRATION_HOOK_URL", "https://old.example.com/migrate"),
        ("HOOK_SECRET", HOOK_SECRET),
    ])
    .unwrap_err();
    assert!(err.contains("not both"), "{err}");
    let err = config(&[("MIGRATION_HOOK_URL", "https://old.example.com/migrate")]).unwrap_err();
    assert!(
        err.contains("HOOK_SECRET"),
        "a migration URL is signed too: {err}"
    );
    let err = config(&[("MIGRATION_HOOK_URL", "http://old.example.com/migrate")]).unwrap_err();
    assert!(err.contains("MIGRATION_HOOK_URL"), "{err}");
    for bad in [
        "accounts-signup-hook",
        "arn:aws:lambda:us-east-1:1234:function:f",
        "arn:aws:s3:::bucket",
        "arn:aws:lambda:us-east-1:123456789012:function:",
        "arn:aws:lambda:us-east-1:123456789012:function:f:v:x",
    ] {
        let err = config(&[("TOKEN_HOOK_ARN", bad)]).unwrap_err();
        assert!(err.contains("TOKEN_HOOK_ARN"), "{bad}: {err}");
    }
}

/// The second step asks the token hook before it spends anything: with the hook failing, the
/// recovery code and the `mfa_token` stay as they were, and the same step succeeds once the
/// hook is well, its claims in the token and `amr` telling the hook of the second factor.
#[tokio::test]
async fn a_failing_token_hook_spends_no_recovery_code_and_no_second_step() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    hook.answer(|_| axum::Json(json!({})).into_response());
    let s = Server::start_with(&[("TOKEN_HOOK_URL", &url), ("HOOK_SECRET", HOOK_SECRET)]).await;
    let enrolled = crate::mfa::enrolled(&s, "erin").await;
    let mfa_token = crate::mfa::first_step(&s, "erin").await;
    let proof = json!({ "recovery_code": enrolled.recovery[0] });

    hook.answer(|_| StatusCode::BAD_GATEWAY.into_response());
    crate::mfa::second_step(&s, &mfa_token, proof.clone())
        .await
        .expect(503, Some("hook_unavailable"));

    hook.answer(|_| axum::Json(json!({"claims": {"tier": "gold"}})).into_response());
    let body = crate::mfa::second_step(&s, &mfa_token, proof)
        .await
        .expect(200, None);
    let claims = jwt_part(body["token"].as_str().unwrap(), 1);
    assert_eq!(claims["ext"], json!({"tier": "gold"}));
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    let asked = hook.seen();
    assert_eq!(asked.last().unwrap()["amr"], json!(["pwd", "otp"]));
}

/// The old system of the migration tests: two people it knows, each with a password; one whose
/// address is held here by another account; one it answers wrongly (another person).
fn old_system(body: &Value) -> Response {
    let known = [
        ("oldie", "oldie@example.com", "old system password 1"),
        ("olga2", "olga2@example.com", "old system password 2"),
        ("clash", "held@example.com", "old system password 3"),
    ];
    let name = body["username"]
        .as_str()
        .or(body["email"].as_str())
        .unwrap_or_default();
    if name == "liar" {
        let user = json!({"username": "someone", "email": "someone@example.com"});
        return axum::Json(json!({"migrate": true, "user": user})).into_response();
    }
    let person = known
        .iter()
        .find(|(u, e, _)| *u == name || e.eq_ignore_ascii_case(name));
    match person {
        Some((u, e, p)) if body.get("password").is_none_or(|given| given == p) => {
            let user = json!({"username": u, "email": e, "data": {"plan": "legacy"}});
            axum::Json(json!({"migrate": true, "user": user})).into_response()
        }
        _ => axum::Json(json!({"migrate": false})).into_response(),
    }
}

#[tokio::test]
async fn the_migration_hook_moves_a_person_of_the_old_system_at_their_first_login() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    hook.answer(old_system);
    let s = Server::start_with(&[("MIGRATION_HOOK_URL", &url), ("HOOK_SECRET", HOOK_SECRET)]).await;
    s.user("held").await;
    let log_in = |name: &str, password: &str| {
        let body = if name.contains('@') {
            json!({"email": name, "password": password})
        } else {
            json!({"username": name, "password": password})
        };
        s.post("/auth", None, body)
    };
    // A wrong password: answered as any unknown name; nobody created.
    let wrong = log_in("oldie", "not the old password").await;
    let unknown = log_in("nobody-anywhere", "not the old password").await;
    wrong.expect(401, Some("invalid_credentials"));
    assert_eq!(wrong.text, unknown.text);
    assert!(s.stored_user("oldie").await.is_none());
    let seen = hook.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["type"], "migrate_user");
    assert_eq!(seen[0]["trigger"], "login");
    assert_eq!(seen[0]["username"], "oldie");
    assert_eq!(seen[0]["password"], "not the old password");
    assert!(seen[0].get("email").is_none());

    // The right one: created here, signed in, the password kept as argon2id.
    let r = log_in("oldie", "old system password 1")
        .await
        .expect(200, None);
    let token = r["token"].as_str().unwrap();
    let me = s.get("/user", Some(token)).await.expect(200, None);
    assert_eq!(
        (me["username"].as_str(), me["email"].as_str()),
        (Some("oldie"), Some("oldie@example.com"))
    );
    assert_eq!(me["data"]["plan"], "legacy");
    assert_eq!(me["role"], "user");
    let stored = s.stored_user("oldie").await.unwrap();
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert!(stored.activated);
    let events = s.events_of("oldie", token).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert!(
        types.contains(&"user_migrated") && types.contains(&"logged_in"),
        "{types:?}"
    );
    // From now on the service knows them: the hook is not asked again.
    let asked = hook.seen().len();
    log_in("oldie", "old system password 1")
        .await
        .expect(200, None);
    log_in("oldie", "not the old password")
        .await
        .expect(401, Some("invalid_credentials"));
    assert_eq!(hook.seen().len(), asked);

    // By address, as typed (any case).
    log_in("OLGA2@example.com", "old system password 2")
        .await
        .expect(200, None);
    assert_eq!(hook.seen().last().unwrap()["email"], "OLGA2@example.com");
    assert!(s.stored_user("olga2").await.is_some());

    // Its address is held here by someone else: not created, refused as unknown.
    log_in("clash", "old system password 3")
        .await
        .expect(401, Some("invalid_credentials"));
    assert!(s.stored_user("clash").await.is_none());
    let held = s.stored_user_by_email("held@example.com").await.unwrap();
    assert_eq!(held.username, "held");

    // An answer about another person than the one named: the hook is broken (fail closed).
    log_in("liar", "anything at all here")
        .await
        .expect(503, Some("hook_unavailable"));
    assert!(s.stored_user("someone").await.is_none());
}

#[tokio::test]
async fn a_migration_hook_that_fails_or_is_slow_refuses_unknown_names_only() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    let s = Server::start_with(&[("MIGRATION_HOOK_URL", &url), ("HOOK_SECRET", HOOK_SECRET)]).await;
    s.user("here").await;
    hook.answer(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    let body = json!({"username": "oldie", "password": "old system password 1"});
    let r = s.post("/auth", None, body.clone()).await;
    r.expect(503, Some("hook_unavailable"));
    assert!(
        !r.text.contains("500"),
        "the cause stays in the log: {}",
        r.text
    );
    // Known here: the hook is not asked.
    let asked = hook.seen().len();
    s.log_in("here").await;
    assert_eq!(hook.seen().len(), asked);
    // Nonsense, then too slow.
    hook.answer(|_| axum::Json(json!({"migrate": "yes"})).into_response());
    s.post("/auth", None, body.clone())
        .await
        .expect(503, Some("hook_unavailable"));
    hook.answer(old_system);
    hook.delay(Duration::from_secs(3));
    let started = Instant::now();
    s.post("/auth", None, body.clone())
        .await
        .expect(503, Some("hook_unavailable"));
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    assert!(s.stored_user("oldie").await.is_none());
    // Every refusal counted on the name's throttle.
    let failures: i64 = s
        .stored_failures()
        .await
        .iter()
        .filter(|(k, _)| !k.starts_with("u:here"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(failures, 3);
    // A reset request with the hook failing: 202 as always, nobody created, nothing mailed.
    hook.delay(Duration::ZERO);
    hook.answer(|_| StatusCode::BAD_GATEWAY.into_response());
    s.post(
        "/password/forgot",
        None,
        json!({"email": "oldie@example.com"}),
    )
    .await
    .expect(202, None);
    assert!(s.mails().iter().all(|m| m["to"] != "oldie@example.com"));
    assert!(s.stored_user_by_email("oldie@example.com").await.is_none());
}

#[tokio::test]
async fn a_reset_request_migrates_the_person_without_a_password_and_the_link_sets_one() {
    let (hook, url) = start_hook(HOOK_SECRET).await;
    hook.answer(old_system);
    let s = Server::start_with(&[("MIGRATION_HOOK_URL", &url), ("HOOK_SECRET", HOOK_SECRET)]).await;
    s.post(
        "/password/forgot",
        None,
        json!({"email": "nobody@example.com"}),
    )
    .await
    .expect(202, None);
    s.post(
        "/password/forgot",
        None,
        json!({"email": "oldie@example.com"}),
    )
    .await
    .expect(202, None);
    let asked = hook.seen();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[1]["trigger"], "forgot_password");
    assert_eq!(asked[1]["email"], "oldie@example.com");
    assert!(asked[1].get("password").is_none(), "no password at a reset");
    let new = "a new passphrase for here";
    s.reset_by_link("oldie@example.com", new).await;
    assert!(s.log_in_with_password("oldie", new).await.is_some());
    assert!(
        s.log_in_with_password("oldie", "old system password 1")
            .await
            .is_none()
    );
    assert_eq!(hook.seen().len(), 2, "known here now");
}
