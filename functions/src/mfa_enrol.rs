//! `POST /user/{username}/mfa/totp`: the owner (with the password, or a sign-in at most 10
//! minutes old) gets a new TOTP secret, its `otpauth://` URI and QR code; pending for 10 minutes.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{Enrolment, ProofBody};
use shared::http::UsernamePath;
use shared::input::OptionalBody;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-enrol",
    &[Route::post("/user/{username}/mfa/totp", |m| on(m, enrol))],
)
.description("POST /user/{username}/mfa/totp: a new TOTP secret, pending until proven")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
])
.hashes_passwords()
.holds_mfa_key();

pub async fn enrol(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    OptionalBody(body): OptionalBody<ProofBody>,
) -> ApiResult<Json<Enrolment>> {
    accounts::enrol_totp(&state, &auth, &username, body)
        .await
        .map(Json)
}
