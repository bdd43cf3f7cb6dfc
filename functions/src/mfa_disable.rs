//! `DELETE /user/{username}/mfa`: the owner turns the second factor off (with a code, or a
//! sign-in with it at most 10 minutes old); an admin resets another user's. A notice is mailed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use shared::accounts::ProofBody;
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::http::UsernamePath;
use shared::input::OptionalBody;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-disable",
    &[Route::delete("/user/{username}/mfa", |m| on(m, disable)).doc(DOC_DELETE_USER_USERNAME_MFA)],
)
.sends_mail()
.description(
    "DELETE /user/{username}/mfa: the owner turns the second factor off, or an admin resets it",
)
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
])
.holds_mfa_key();

/// DELETE /user/{username}/mfa in openapi.json.
const DOC_DELETE_USER_USERNAME_MFA: Doc = Doc::new(
    "mfaDisable",
    "The owner (with a step-up) turns the second factor off, or an admin resets it",
)
.bearer()
.body(Content::json::<ProofBody>().optional())
.answers(&[Answer::empty(204, "Off")])
.errors(&[400, 401, 403, 404, 413, 415, 429, 503]);

pub async fn disable(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    OptionalBody(body): OptionalBody<ProofBody>,
) -> ApiResult<StatusCode> {
    accounts::disable_mfa(&state, &auth, &username, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
