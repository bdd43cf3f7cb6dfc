//! `POST /user/{username}/mfa/totp/verify`: the pending factor's first code turns it on and
//! answers the recovery codes, once; a notice is mailed.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{CodeBody, RecoveryCodes};
use shared::http::UsernamePath;
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-verify",
    &[Route::post("/user/{username}/mfa/totp/verify", |m| {
        on(m, verify)
    })],
)
.sends_mail()
.description("POST /user/{username}/mfa/totp/verify: the first code turns the factor on")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.holds_mfa_key();

pub async fn verify(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    Body { body, .. }: Body<CodeBody>,
) -> ApiResult<Json<RecoveryCodes>> {
    accounts::verify_totp(&state, &auth, &username, body)
        .await
        .map(Json)
}
