//! `POST /activate/resend`: always `202`; a fresh link goes only to an account awaiting
//! activation.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use shared::{ApiResult, AppState, JsonObject, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/activate/resend")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/activate/resend", post(resend_activation))
}

pub async fn resend_activation(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    accounts::resend_activation(&state, body).await?;
    let message = "If an account with this address awaits activation, a new link has been sent.";
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "message": message })),
    )
        .into_response())
}
