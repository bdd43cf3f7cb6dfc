//! `DELETE /user/{username}`: deletes an account and ends all its sessions.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::delete;
use shared::http::UsernamePath;
use shared::{ApiResult, AppState, Auth, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("DELETE", "/user/{username}")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/user/{username}", delete(delete_user))
}

pub async fn delete_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
) -> ApiResult<StatusCode> {
    accounts::delete_user(&state, &auth, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}
