//! `POST /auth/passkey/options` and `POST /auth/passkey`: a sign-in with a passkey (nothing
//! typed, or for a username), answered as a login is; a passkey is two factors.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{
    LoginResponse, PasskeyOptionsBody, PasskeyRequestOptions, PasskeySignInBody,
};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::{Body, OptionalBody};
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "passkey-login",
    &[
        Route::post("/auth/passkey/options", |m| on(m, options)).doc(DOC_OPTIONS),
        Route::post("/auth/passkey", |m| on(m, sign_in)).doc(DOC_SIGN_IN),
    ],
)
.signs_tokens()
.description("POST /auth/passkey/options and POST /auth/passkey: a sign-in with a passkey")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
    // A second step's options name the account's passkeys.
    TableAction::Query,
])
.records_events();

/// POST /auth/passkey/options in openapi.json.
const DOC_OPTIONS: Doc = Doc::new(
    "passkeyRequestOptions",
    "The options of a sign-in with a passkey (navigator.credentials.get), and its passkey_token",
)
.description(
    "`{}` for a discoverable sign-in (the browser offers the passkeys it holds for this \
     service; with mediation \"conditional\", in the username field's autofill), or \
     `{\"username\"}` to accept that account's passkeys only: the answer is the same whether \
     or not the account exists. The token is single use and lasts 5 minutes. `{\"mfa_token\"}`: \
     the options of that login's second step, naming the account's passkeys (one of the \
     token's tries; 401 invalid_mfa_token, 404 passkey_not_found when it has none).",
)
.body(Content::json::<PasskeyOptionsBody>().optional())
.answers(&[Answer::json::<PasskeyRequestOptions>(
    200,
    "The request options",
)])
.errors(&[400, 401, 404, 413, 415, 503]);

/// POST /auth/passkey in openapi.json.
const DOC_SIGN_IN: Doc = Doc::new(
    "passkeySignIn",
    "Sign in with a passkey: the passkey_token and the browser's assertion",
)
.description(
    "Answers the tokens a login answers, with amr [\"hwk\", \"mfa\"] and acr aal2: a \
     user-verified passkey is two factors (no second step). An unknown, spent or expired \
     token, a passkey of no account (or of another than the username asked), a failed check \
     (origin, RP ID, user verification, signature, a signature counter that went back), or an \
     account not activated: 401 invalid_credentials, after the same minimum time as a wrong \
     password. The login throttle counts the failures.",
)
.body(Content::json::<PasskeySignInBody>())
.answers(&[Answer::json::<LoginResponse>(200, "Signed in")])
.errors(&[400, 401, 413, 415, 429, 503]);

pub async fn options(
    State(state): State<AppState>,
    OptionalBody(body): OptionalBody<PasskeyOptionsBody>,
) -> ApiResult<Json<PasskeyRequestOptions>> {
    accounts::passkey_request_options(&state, body)
        .await
        .map(Json)
}

pub async fn sign_in(
    State(state): State<AppState>,
    Body { body, .. }: Body<PasskeySignInBody>,
) -> ApiResult<Json<LoginResponse>> {
    accounts::passkey_sign_in(&state, body).await.map(Json)
}
