//! `POST /auth/mfa`: a login's second step: its `mfa_token` and a code (or a recovery code)
//! for the tokens a login answers.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{LoginResponse, MfaLoginBody};
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-login",
    &[Route::post("/auth/mfa", |m| on(m, mfa_login))],
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

pub async fn mfa_login(
    State(state): State<AppState>,
    Body { body, .. }: Body<MfaLoginBody>,
) -> ApiResult<Json<LoginResponse>> {
    accounts::complete_login(&state, body).await.map(Json)
}
