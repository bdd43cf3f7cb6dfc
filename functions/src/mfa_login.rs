//! `POST /auth/mfa`: a login's second step: its `mfa_token` and a code (or a recovery code)
//! for the tokens a login answers.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{LoginResponse, MfaLoginBody};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-login",
    &[Route::post("/auth/mfa", |m| on(m, mfa_login)).doc(DOC_POST_AUTH_MFA)],
)
.signs_tokens()
// The notice that a recovery code was used.
.sends_mail()
.description("POST /auth/mfa: a login's second step")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
])
.holds_mfa_key();

/// POST /auth/mfa in openapi.json.
const DOC_POST_AUTH_MFA: Doc = Doc::new(
    "mfaLogin",
    "A login's second step: the mfa_token and a code or a recovery code",
)
.body(Content::json::<MfaLoginBody>())
.answers(&[Answer::json::<LoginResponse>(200, "Signed in")])
.errors(&[400, 401, 413, 415, 429, 503]);

pub async fn mfa_login(
    State(state): State<AppState>,
    Body { body, .. }: Body<MfaLoginBody>,
) -> ApiResult<Json<LoginResponse>> {
    accounts::complete_login(&state, body).await.map(Json)
}
