//! `PUT /user/{username}/password`: the owner changes the password; every other session ends.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::put;
use shared::http::UsernamePath;
use shared::{ApiResult, AppState, Auth, JsonObject, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("PUT", "/user/{username}/password")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/user/{username}/password", put(change_password))
}

pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    JsonObject(body): JsonObject,
) -> ApiResult<StatusCode> {
    accounts::change_password(&state, &auth, &username, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
