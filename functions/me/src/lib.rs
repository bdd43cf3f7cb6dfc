//! `GET /user`: the account of the token's owner.

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use shared::http::ok;
use shared::{AppState, Auth};

pub fn routes() -> Router<AppState> {
    Router::new().route("/user", get(me))
}

pub async fn me(auth: Auth) -> Response {
    ok(auth.user.view())
}
