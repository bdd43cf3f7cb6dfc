//! `POST /auth/mfa`: a login's second step: its `mfa_token` and a code (or a recovery code)
//! for the tokens a login answers.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{LoginResponse, MfaLoginBody};
use shared::input::Body;
use shared::lambda::{Function, Route};
use shared::{ApiResult, AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-login",
    &[Route::post("/auth/mfa", |m| on(m, mfa_login))],
)
.signs_tokens()
.sends_mail();

pub async fn mfa_login(
    State(state): State<AppState>,
    Body { body, .. }: Body<MfaLoginBody>,
) -> ApiResult<Json<LoginResponse>> {
    accounts::complete_login(&state, body).await.map(Json)
}
