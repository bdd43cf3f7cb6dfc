//! `GET /user`: the account of the token's owner.

use axum::response::Response;
use axum::routing::on;
use shared::Auth;
use shared::api_doc::{Answer, Doc};
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "me",
    &[Route::get("/user", |m| on(m, me)).doc(DOC_GET_USER)],
)
.description("GET /user: the caller's account")
.table(&[TableAction::GetItem]);

/// GET /user in openapi.json.
const DOC_GET_USER: Doc = Doc::new("me", "The caller's account")
    .bearer()
    .answers(&[Answer::json::<shared::user::UserView>(200, "OK")])
    .errors(&[401, 503]);

pub async fn me(auth: Auth) -> Response {
    ok(auth.user.view())
}
