//! `POST /auth/email-code/verify`: sign in with a mailed code; the tokens, as a login answers
//! them, or the second step of an account with a second factor.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{self, EmailCodeBody, LoginOutcome};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "email-code-verify",
    &[Route::post("/auth/email-code/verify", |m| on(m, verify)).doc(DOC)],
)
.signs_tokens()
.counts_login_names()
.description("POST /auth/email-code/verify: sign in with a mailed code")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
    // Whether a second step may offer a passkey (the account's passkeys).
    TableAction::Query,
])
.records_events();

/// POST /auth/email-code/verify in openapi.json.
const DOC: Doc = Doc::new("verifyEmailCode", "Sign in with a mailed code")
    .description(
        "The tokens, as a login answers them, with `amr` `[\"email\"]` and `acr` `aal1`; an \
         account with a second factor on answers `mfa_required` with an `mfa_token`, as a \
         password login does (then `amr` `[\"email\", \"otp\"]` or `[\"email\", \"hwk\"]`). \
         An account waiting for its activation is activated by a right code. A code works \
         once, for 10 minutes, and takes at most 5 tries, right or wrong; every refusal (a \
         wrong, used, replaced or expired code, an address with no account, a deactivated \
         account) is `401 invalid_email_code`, after at least 250 ms, and counts toward the \
         login throttle (`429`).",
    )
    .body(Content::json::<EmailCodeBody>())
    .answers(&[Answer::json::<LoginOutcome>(
        200,
        "Signed in, or the second step",
    )])
    .errors(&[400, 401, 413, 415, 429, 503]);

pub async fn verify(
    State(state): State<AppState>,
    Body { body, .. }: Body<EmailCodeBody>,
) -> ApiResult<Json<LoginOutcome>> {
    accounts::verify_email_code(&state, body).await.map(Json)
}
