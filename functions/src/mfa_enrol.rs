//! `POST /user/{username}/mfa/totp`: the owner (with the password, or a sign-in at most 10
//! minutes old) gets a new TOTP secret, its `otpauth://` URI and QR code; pending for 10 minutes.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{Enrolment, ProofBody};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::http::UsernamePath;
use shared::input::OptionalBody;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-enrol",
    &[Route::post("/user/{username}/mfa/totp", |m| on(m, enrol))
        .doc(DOC_POST_USER_USERNAME_MFA_TOTP)],
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

/// POST /user/{username}/mfa/totp in openapi.json.
const DOC_POST_USER_USERNAME_MFA_TOTP: Doc = Doc::new(
    "mfaEnrol",
    "A new TOTP secret for the owner, pending until proven",
)
.description(
    "Needs the password (`{\"password\"}`), however recent the \
         sign-in: otherwise 403 step_up_required.",
)
.bearer()
.body(Content::json::<ProofBody>().optional())
.answers(&[Answer::json::<Enrolment>(200, "The pending factor")])
.errors(&[400, 401, 403, 409, 413, 415, 429, 503]);

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
