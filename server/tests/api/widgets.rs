//! GET /widgets, against a real HTTP server on loopback standing in for the upstream.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::common::{PASSWORD, Server};

const KEY: &str = "upstream-key-0123";

/// What the stand-in answers.
#[derive(Clone)]
enum Answer {
    Json(Value),
    Status(u16),
    Raw(&'static str),
    Slow(Duration, Value),
}

#[derive(Clone)]
struct Upstream {
    answer: Arc<Mutex<Answer>>,
    /// (query, Authorization header) of every request received.
    seen: Arc<Mutex<Vec<(String, String)>>>,
    base: String,
}

impl Upstream {
    async fn start(answer: Answer) -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = Upstream {
            answer: Arc::new(Mutex::new(answer)),
            seen: Arc::default(),
            base: format!("http://{}", listener.local_addr().unwrap()),
        };
        let app = Router::new()
            .route("/widgets", get(serve))
            .with_state(up.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        up
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(State(up): State<Upstream>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    up.seen.lock().unwrap().push((q.unwrap_or_default(), auth));
    let answer = up.answer.lock().unwrap().clone();
    match answer {
        Answer::Json(v) => axum::Json(v).into_response(),
        Answer::Status(s) => (
            StatusCode::from_u16(s).unwrap(),
            "upstream secret stack trace",
        )
            .into_response(),
        Answer::Raw(body) => ([("content-type", "application/json")], body).into_response(),
        Answer::Slow(d, v) => {
            tokio::time::sleep(d).await;
            axum::Json(v).into_response()
        }
    }
}

fn data() -> Value {
    json!([
        {"id": 1, "type": "floogle", "created": "2019-01-04T16:41:24+0200"},
        {"id": 2, "type": "floogle", "created": "2019-01-05T10:00:00+02:00"},
        {"id": 3, "type": "foo-bar", "created": "2019-01-06T08:00:00Z"},
        {"id": 4, "type": "whizz-bang-pop", "created": "2019-01-07T00:00:00-0500"},
        {"id": 5, "type": "", "created": "2019-01-08T00:00:00Z"},
        {"id": 6, "type": "mIxEd-case", "created": "2019-01-09T00:00:00Z"}
    ])
}

struct Setup {
    s: Server,
    up: Upstream,
    token: String,
}

async fn setup(answer: Answer) -> Setup {
    let up = Upstream::start(answer).await;
    let s = Server::start_with(&[
        ("WIDGETS_API_URL", &up.base),
        ("WIDGETS_API_KEY", KEY),
        ("WIDGETS_TIMEOUT_MS", "300"),
    ])
    .await;
    let token = s.user("wanda").await;
    Setup { s, up, token }
}

fn ids(body: &Value) -> Vec<i64> {
    body["matching_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_i64().unwrap())
        .collect()
}

impl Setup {
    async fn widgets(&self, query: &str) -> crate::common::Reply {
        self.s
            .get(&format!("/widgets{query}"), Some(&self.token))
            .await
    }
}

#[tokio::test]
async fn the_upstream_gets_the_key_and_the_user_id_and_the_client_gets_the_original_shape() {
    let t = setup(Answer::Json(data())).await;
    let body = t
        .widgets("?type=floogle&user_id=someone-else&extra=1")
        .await
        .expect(200, None);
    assert_eq!(body["total_widgets_own_by_user"], 6);
    assert_eq!(
        body["matching_items"],
        json!([
            {"id": 1, "type": "floogle", "type_label": "Floogle", "created": "2019-01-04T16:41:24+0200"},
            {"id": 2, "type": "floogle", "type_label": "Floogle", "created": "2019-01-05T10:00:00+02:00"}
        ])
    );
    let me = t.s.get("/user", Some(&t.token)).await.json();
    let user_id = me["user_id"].as_str().unwrap();
    // Exactly one call, with the caller's id (not the client's), the key, and nothing else.
    assert_eq!(
        t.up.seen(),
        vec![(format!("user_id={user_id}"), format!("apiKey {KEY}"))]
    );
    assert!(!t.s.get("/widgets", Some(&t.token)).await.text.contains(KEY));
}

#[tokio::test]
async fn each_filter_alone_and_combined_with_inclusive_bounds_across_offsets() {
    let t = setup(Answer::Json(data())).await;
    assert_eq!(
        ids(&t.widgets("").await.expect(200, None)),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        ids(&t.widgets("?type=foo-bar").await.expect(200, None)),
        vec![3]
    );
    assert_eq!(
        ids(&t.widgets("?type=nothing").await.expect(200, None)),
        Vec::<i64>::new()
    );
    // Widget 1 is 14:41:24Z: the same instant in three notations, inclusive on both ends.
    for start in [
        "2019-01-04T16:41:24%2B0200",
        "2019-01-04T16:41:24%2B02:00",
        "2019-01-04T14:41:24Z",
    ] {
        let b = t
            .widgets(&format!("?created_start={start}"))
            .await
            .expect(200, None);
        assert_eq!(ids(&b), vec![1, 2, 3, 4, 5, 6], "{start}");
        let b = t
            .widgets(&format!("?created_end={start}"))
            .await
            .expect(200, None);
        assert_eq!(ids(&b), vec![1], "{start}");
    }
    // An unencoded `+` (which arrives as a space) is read as the offset's sign.
    let b = t
        .widgets("?created_end=2019-01-04T16:41:24+0200")
        .await
        .expect(200, None);
    assert_eq!(ids(&b), vec![1]);
    let b = t
        .widgets("?created_start=2019-01-04T14:41:25Z")
        .await
        .expect(200, None);
    assert_eq!(
        ids(&b),
        vec![2, 3, 4, 5, 6],
        "one second later excludes widget 1"
    );
    // Widget 4 is 2019-01-07T05:00:00Z, written -0500.
    let b = t
        .widgets("?created_start=2019-01-07T05:00:00Z&created_end=2019-01-07T05:00:00Z")
        .await
        .expect(200, None);
    assert_eq!(ids(&b), vec![4]);
    let b = t
        .widgets("?type=floogle&created_start=2019-01-05T00:00:00Z&created_end=2019-01-31T00:00:00%2B01:00")
        .await
        .expect(200, None);
    assert_eq!(ids(&b), vec![2]);
    assert_eq!(b["total_widgets_own_by_user"], 6);
}

#[tokio::test]
async fn type_labels_for_every_shape_of_type() {
    let t = setup(Answer::Json(data())).await;
    let b = t.widgets("").await.expect(200, None);
    let labels: Vec<&str> = b["matching_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["type_label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        vec![
            "Floogle",
            "Floogle",
            "Foo Bar",
            "Whizz Bang Pop",
            "",
            "MIxEd Case"
        ]
    );
}

#[tokio::test]
async fn bad_query_dates_are_400_invalid_query() {
    let t = setup(Answer::Json(data())).await;
    for q in [
        "?created_start=yesterday",
        "?created_end=2019-01-04",
        "?created_start=2019-01-04T16:41:24",
        "?type=a&type=b",
    ] {
        t.widgets(q).await.expect(400, Some("invalid_query"));
    }
    // A member given twice is named, as the other listings name it.
    let twice = t.widgets("?type=a&type=b").await.expect(400, None);
    assert_eq!(
        twice["message"],
        "Invalid query: type is given more than once."
    );
    assert!(
        t.up.seen().is_empty(),
        "the upstream is not called for a bad query"
    );
}

#[tokio::test]
async fn upstream_failures_are_502_or_504_and_never_leak() {
    let t = setup(Answer::Status(500)).await;
    let cases = [
        Answer::Status(500),
        Answer::Status(503),
        Answer::Status(404),
        Answer::Status(401),
        Answer::Raw("not json"),
        Answer::Raw("{\"widgets\": []}"),
        Answer::Raw("[{\"id\": 1, \"type\": \"x\"}]"),
        Answer::Raw("[{\"id\": 1, \"type\": 5, \"created\": \"2019-01-04T16:41:24Z\"}]"),
        Answer::Raw("[{\"id\": 1, \"type\": \"x\", \"created\": \"not a date\"}]"),
    ];
    for answer in cases {
        t.up.set(answer);
        let r = t.widgets("").await;
        r.expect(502, Some("upstream_error"));
        assert!(
            !r.text.contains("stack trace") && !r.text.contains("not json"),
            "{}",
            r.text
        );
    }
    t.up.set(Answer::Slow(Duration::from_millis(1500), data()));
    let started = std::time::Instant::now();
    t.widgets("").await.expect(504, Some("upstream_timeout"));
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "the configured time-out applies"
    );
    t.up.set(Answer::Json(json!([])));
    let b = t.widgets("").await.expect(200, None);
    assert_eq!(
        b,
        json!({"total_widgets_own_by_user": 0, "matching_items": []})
    );
}

#[tokio::test]
async fn an_unreachable_upstream_is_502() {
    let port = crate::common::free_port();
    let s = Server::start_with(&[
        ("WIDGETS_API_URL", &format!("http://127.0.0.1:{port}")),
        ("WIDGETS_API_KEY", KEY),
    ])
    .await;
    let token = s.user("vera").await;
    s.get("/widgets", Some(&token))
        .await
        .expect(502, Some("upstream_error"));
}

#[tokio::test]
async fn the_scope_and_a_token_are_required() {
    let t = setup(Answer::Json(data())).await;
    t.s.get("/widgets", None)
        .await
        .expect(401, Some("unauthorized"));
    t.s.get("/widgets", Some("nope"))
        .await
        .expect(401, Some("invalid_token"));
    let scoped =
        t.s.post(
            "/auth",
            None,
            json!({"username": "wanda", "password": PASSWORD, "scope": []}),
        )
        .await
        .expect(200, None);
    let r =
        t.s.get(
            "/widgets?created_start=bad",
            Some(scoped["token"].as_str().unwrap()),
        )
        .await;
    r.expect(403, Some("insufficient_scope"));
    let challenge = r.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"widgets\"")
    );
    assert!(t.up.seen().is_empty());
}

#[tokio::test]
async fn without_an_upstream_the_route_is_503() {
    let s = Server::start().await;
    let token = s.user("xavier").await;
    s.get("/widgets", Some(&token))
        .await
        .expect(503, Some("widgets_unavailable"));
}

#[tokio::test]
async fn the_sample_upstream_serves_its_data_to_the_right_key_only() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = accounts::sample_upstream::app("k1".into());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = Server::start_with(&[("WIDGETS_API_URL", &base), ("WIDGETS_API_KEY", "k1")]).await;
    let token = s.user("yara").await;
    let b = s
        .get("/widgets?type=foo-bar", Some(&token))
        .await
        .expect(200, None);
    assert_eq!(b["total_widgets_own_by_user"], 5);
    assert_eq!(ids(&b), vec![3, 5]);
    let wrong = Server::start_with(&[("WIDGETS_API_URL", &base), ("WIDGETS_API_KEY", "k2")]).await;
    let token = wrong.user("yara").await;
    wrong
        .get("/widgets", Some(&token))
        .await
        .expect(502, Some("upstream_error"));
}
