//! `PUT /user/{username}/email`: the owner asks to change the address; a confirmation link goes
//! to the new one, and nothing changes until it is followed.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use serde_json::json;
use shared::http::UsernamePath;
use shared::{ApiResult, AppState, Auth, JsonObject, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("PUT", "/user/{username}/email")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/user/{username}/email", put(change_email))
}

pub async fn change_email(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    accounts::change_email(&state, &auth, &username, body).await?;
    let message = "A confirmation link has been sent to the new address; the address changes \
                   when it is followed.";
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "message": message })),
    )
        .into_response())
}
