//! `PUT /user/{username}`: the body replaces the profile data; `role` and `activated` are for
//! admins.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::put;
use shared::http::UsernamePath;
use shared::http::ok;
use shared::{ApiResult, AppState, Auth, JsonObject, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("PUT", "/user/{username}")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/user/{username}", put(update_user))
}

pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let user = accounts::update_user(&state, &auth, &username, body).await?;
    Ok(ok(user.view()))
}
