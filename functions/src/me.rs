//! `GET /user`: the account of the token's owner.

use axum::response::Response;
use axum::routing::on;
use shared::Auth;
use shared::http::ok;
use shared::lambda::{Function, Route};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new("me", &[Route::get("/user", |m| on(m, me))]);

pub async fn me(auth: Auth) -> Response {
    ok(auth.user.view())
}
