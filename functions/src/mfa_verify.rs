//! `POST /user/{username}/mfa/totp/verify`: the pending factor's first code turns it on and
//! answers the recovery codes, once; a notice is mailed.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{CodeBody, RecoveryCodes};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::http::UsernamePath;
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "mfa-verify",
    &[
        Route::post("/user/{username}/mfa/totp/verify", |m| on(m, verify))
            .doc(DOC_POST_USER_USERNAME_MFA_TOTP_VERIFY),
    ],
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

/// POST /user/{username}/mfa/totp/verify in openapi.json.
const DOC_POST_USER_USERNAME_MFA_TOTP_VERIFY: Doc =
    Doc::new("mfaVerify", "The pending factor's first code turns it on")
        .bearer()
        .body(Content::json::<CodeBody>())
        .answers(&[Answer::json::<RecoveryCodes>(
            200,
            "On; the recovery codes, shown once",
        )])
        .errors(&[400, 401, 403, 404, 409, 413, 415, 429, 503]);

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
