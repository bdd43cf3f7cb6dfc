//! `GET /`: "Hello World" to anyone; a personal greeting with the user to a valid token; a bad
//! token is 401.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use shared::http::ok;
use shared::{AppState, MaybeAuth};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

pub async fn home(State(_): State<AppState>, MaybeAuth(auth): MaybeAuth) -> Response {
    match auth {
        None => ok(json!({"message": "Hello World"})),
        Some(a) => ok(json!({
            "message": format!("Hello, {}", a.user.username),
            "user": a.user.view(),
        })),
    }
}
