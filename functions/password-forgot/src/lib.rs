//! `POST /password/forgot`: always `202`; a reset link goes only to an existing, activated
//! account.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use shared::{ApiResult, AppState, JsonObject, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/password/forgot")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/password/forgot", post(forgot_password))
}

pub async fn forgot_password(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    accounts::forgot_password(&state, body).await?;
    let message = "If an activated account has this address, a password reset link has been sent.";
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "message": message })),
    )
        .into_response())
}
