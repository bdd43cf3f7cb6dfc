//! A SAMPLE widgets upstream, for local runs without the real one: it answers
//! `GET /widgets?user_id=...` with one small, fixed data set (the same for every user), and only
//! to `Authorization: apiKey <key>`. Not part of the service; never deploy it.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// The key the sample expects when `WIDGETS_API_KEY` is not set.
pub const DEFAULT_SAMPLE_KEY: &str = "sample-key";

/// The sample data set: several types, and every offset notation the service accepts.
pub fn sample_widgets() -> Value {
    json!([
        {"id": 1, "type": "floogle", "created": "2019-01-04T16:41:24+0200"},
        {"id": 2, "type": "floogle", "created": "2019-02-10T08:00:00+02:00"},
        {"id": 3, "type": "foo-bar", "created": "2019-03-01T12:30:00Z"},
        {"id": 4, "type": "whizz-bang-pop", "created": "2019-03-15T23:59:59-0500"},
        {"id": 5, "type": "foo-bar", "created": "2020-07-21T10:15:00+0000"}
    ])
}

#[derive(serde::Deserialize)]
struct WidgetsParams {
    user_id: Option<String>,
}

async fn widgets(
    State(key): State<String>,
    headers: HeaderMap,
    Query(params): Query<WidgetsParams>,
) -> Response {
    let expected = format!("apiKey {key}");
    let authorized = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "bad apiKey"})),
        )
            .into_response();
    }
    if params.user_id.is_none_or(|u| u.is_empty()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "user_id is required"})),
        )
            .into_response();
    }
    Json(sample_widgets()).into_response()
}

pub fn app(api_key: String) -> Router {
    Router::new()
        .route("/widgets", get(widgets))
        .with_state(api_key)
}
