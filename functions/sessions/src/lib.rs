//! `GET /auth/sessions`: the caller's live sessions; `DELETE /auth/sessions`: every one of them
//! ends, the calling one included.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;
use shared::http::ok;
use shared::{ApiResult, AppState, Auth, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/auth/sessions"), ("DELETE", "/auth/sessions")];

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/auth/sessions",
        get(list_sessions).delete(end_all_sessions),
    )
}

pub async fn list_sessions(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let sessions = accounts::list_sessions(&state, &auth).await?;
    Ok(ok(json!({ "sessions": sessions })))
}

pub async fn end_all_sessions(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    accounts::end_all_sessions(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
