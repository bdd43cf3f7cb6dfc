//! `POST /user/{username}/mfa/recovery-codes`: the owner, with a current code or the password,
//! gets ten new recovery codes; the old ones stop working, and a notice is mailed.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{ProofBody, RecoveryCodes};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::http::UsernamePath;
use shared::input::OptionalBody;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-recovery-codes",
    &[Route::post("/user/{username}/mfa/recovery-codes", |m| {
        on(m, recovery_codes)
    })
    .doc(DOC_POST_USER_USERNAME_MFA_RECOVERY_CODES)],
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

/// POST /user/{username}/mfa/recovery-codes in openapi.json.
const DOC_POST_USER_USERNAME_MFA_RECOVERY_CODES: Doc = Doc::new(
    "mfaRecoveryCodes",
    "New recovery codes for the owner, with a current code or the \
     password",
)
.description(
    "A recent sign-in is not enough: the body holds `code` (a current \
     TOTP code) or `password`; otherwise 403 step_up_required. The \
     old codes stop working; a notice is mailed.",
)
.bearer()
.body(Content::json::<ProofBody>().optional())
.answers(&[Answer::json::<RecoveryCodes>(
    200,
    "The new codes, shown once",
)])
.errors(&[400, 401, 403, 404, 413, 415, 429, 503]);

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
