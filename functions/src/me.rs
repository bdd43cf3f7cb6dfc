//! `GET /user`: the account of the token's owner.

use axum::response::Response;
use axum::routing::on;
use shared::Auth;
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new("me", &[Route::get("/user", |m| on(m, me))])
    .description("GET /user: the caller's account")
    .table(&[TableAction::GetItem]);

pub async fn me(auth: Auth) -> Response {
    ok(auth.user.view())
}
