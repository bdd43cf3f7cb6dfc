//! `DELETE /auth`: ends the token's session; the token is refused from then on.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::delete;
use shared::{ApiResult, AppState, Auth, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("DELETE", "/auth")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/auth", delete(logout))
}

pub async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    accounts::log_out(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
