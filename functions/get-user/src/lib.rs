//! `GET /user/{username}`: one account, for its owner or an admin.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use shared::http::UsernamePath;
use shared::http::ok;
use shared::{ApiResult, AppState, Auth, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/user/{username}")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/user/{username}", get(get_user))
}

pub async fn get_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
) -> ApiResult<Response> {
    let user = accounts::target_user(&state, &auth, &username).await?;
    Ok(ok(user.view()))
}
