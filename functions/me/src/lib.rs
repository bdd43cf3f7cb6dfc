//! `GET /user`: the account of the token's owner.

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use shared::http::ok;
use shared::{AppState, Auth};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/user")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/user", get(me))
}

pub async fn me(auth: Auth) -> Response {
    ok(auth.user.view())
}
