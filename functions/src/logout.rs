//! `DELETE /auth`: ends the token's session; the token is refused from then on.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use shared::api_doc::{Answer, Doc};
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "logout",
    &[Route::delete("/auth", |m| on(m, logout)).doc(DOC_DELETE_AUTH)],
)
.description("DELETE /auth: end the session")
.table(&[TableAction::GetItem, TableAction::DeleteItem])
.records_events();

/// DELETE /auth in openapi.json.
const DOC_DELETE_AUTH: Doc = Doc::new("logout", "End the token's session")
    .bearer()
    .answers(&[Answer::empty(204, "Logged out")])
    .errors(&[401, 503]);

pub async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    accounts::log_out(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}
