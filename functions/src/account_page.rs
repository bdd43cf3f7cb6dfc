//! The signed-in page of an account's passkeys: `GET /account/passkeys` (the page, or the hosted
//! sign-in first), `POST /account/passkeys` (its forms: add, rename, remove) and `POST
//! /account/passkeys/options` (the creation options its script asks for). The browser session
//! of the hosted sign-in is the credential, with the forms' CSRF token; the rules are the JSON
//! routes' (`/user/{username}/passkeys`), which this function runs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::on;
use shared::accounts::PasskeyCreationOptions;
use shared::accounts::account_page::{self, AccountPageParams, OptionsForm, PasskeysForm};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::Query;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "account-page",
    &[
        Route::get("/account/passkeys", |m| on(m, page)).doc(DOC_PAGE),
        Route::post("/account/passkeys", |m| on(m, form)).doc(DOC_FORM),
        Route::post("/account/passkeys/options", |m| on(m, options)).doc(DOC_OPTIONS),
    ],
)
.description(
    "/account/passkeys: the signed-in page where a person adds, renames and removes their \
     passkeys (the hosted sign-in's browser session)",
)
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
    TableAction::Query,
])
// The browser session's cookie is keyed from LOGIN_NAME_KEY.
.counts_login_names()
// Adding asks for the password unless the sign-in is two-factor and recent.
.hashes_passwords()
// Removing asks an account with TOTP on for a code, unless the same holds.
.holds_mfa_key()
// The notices of a passkey added or removed.
.sends_mail()
.records_events();

/// Every route answers a page for a failure of the service.
const UNAVAILABLE: Answer = Answer::page(503, "A dependency is unavailable, or passkeys are off");

/// GET /account/passkeys in openapi.json.
const DOC_PAGE: Doc = Doc::new(
    "accountPasskeysPage",
    "The signed-in page of the account's passkeys",
)
.description(
    "With the browser session of the hosted sign-in: the account's passkeys (each with a \
     form to rename it and one to remove it) and the form that adds one (run by \
     /assets/passkey.js). Without one: `303` to the hosted sign-in page, which sends the \
     browser back here once the person is signed in.",
)
.query::<AccountPageParams>()
.answers(&[
    Answer::page(200, "The page"),
    Answer::empty(303, "To the hosted sign-in page"),
    UNAVAILABLE,
]);

/// POST /account/passkeys in openapi.json.
const DOC_FORM: Doc = Doc::new(
    "accountPasskeysForm",
    "The page's forms: add (the browser's credential), rename, remove",
)
.description(
    "Each form carries its CSRF token (the MAC of the browser's CSRF cookie). Done: `303` \
     back to the page, which says so. Refused: the page again with why, and the status of \
     the JSON route's error (a wrong code, a credential the options do not hold, a name too \
     long). Adding needs the options of this sign-in (POST /account/passkeys/options); \
     removing, on an account with TOTP on, a code unless the sign-in is two-factor and at \
     most 10 minutes old.",
)
.body(Content::form::<PasskeysForm>())
.answers(&[
    Answer::empty(303, "Done: back to the page; or to the hosted sign-in page"),
    Answer::page(
        400,
        "A form that does not hold, a credential refused, or a wrong code",
    ),
    Answer::page(403, "An expired page (its CSRF token), or a step-up needed"),
    Answer::page(404, "No such passkey"),
    Answer::page(409, "Ten passkeys already"),
    Answer::page(415, "Not a form"),
    Answer::page(429, "Too many wrong codes"),
    UNAVAILABLE,
]);

/// POST /account/passkeys/options in openapi.json.
const DOC_OPTIONS: Doc = Doc::new(
    "accountPasskeyCreationOptions",
    "The creation options of a new passkey, for the page's script",
)
.description(
    "As POST /user/{username}/passkeys/options, for the browser session: the form's CSRF \
     token, and the password unless the sign-in is two-factor and at most 10 minutes old \
     (else 403 step_up_required). 401 without a live browser session; 403 forbidden \
     without the token.",
)
.body(Content::form::<OptionsForm>())
.answers(&[Answer::json::<PasskeyCreationOptions>(
    200,
    "The creation options",
)])
.errors(&[400, 401, 403, 409, 413, 415, 429, 503]);

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<AccountPageParams>,
) -> Response {
    account_page::account_page(&state, &headers, params).await
}

pub async fn form(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    account_page::account_form(&state, &headers, &body).await
}

pub async fn options(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<PasskeyCreationOptions>> {
    account_page::account_options(&state, &headers, &body)
        .await
        .map(Json)
}
