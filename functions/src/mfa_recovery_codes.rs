//! `POST /user/{username}/mfa/recovery-codes`: the owner, with a current code or the password,
//! gets ten new recovery codes; the old ones stop working, and a notice is mailed.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{ProofBody, RecoveryCodes};
use shared::http::UsernamePath;
use shared::input::OptionalBody;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-recovery-codes",
    &[Route::post("/user/{username}/mfa/recovery-codes", |m| {
        on(m, recovery_codes)
    })],
)
.sends_mail()
.description("POST /user/{username}/mfa/recovery-codes: new recovery codes")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
])
.hashes_passwords()
.holds_mfa_key();

pub async fn recovery_codes(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    OptionalBody(body): OptionalBody<ProofBody>,
) -> ApiResult<Json<RecoveryCodes>> {
    accounts::replace_recovery_codes(&state, &auth, &username, body)
        .await
        .map(Json)
}
