//! The authorization endpoint's function: `GET /oauth/authorize` (an app's request: back to the
//! app with a code, or the hosted sign-in page) and `POST /oauth/authorize` (the hosted pages'
//! forms: the password, the second step, the consent). It checks passwords and second factors
//! as the login functions do (the same throttle, the same events), opens browser sessions and
//! issues codes; it signs nothing (the token endpoint's function does, when a code is
//! redeemed).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use shared::AppState;
use shared::accounts::authorize::{self, AuthorizeForm, AuthorizeParams, LogoutParams};
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::Query;
use shared::lambda::{Function, Route, TableAction};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "authorize",
    &[
        Route::get("/oauth/authorize", |m| on(m, authorize)).doc(DOC_GET),
        Route::post("/oauth/authorize", |m| on(m, authorize_form)).doc(DOC_POST),
        Route::get("/oauth/logout", |m| on(m, logout)).doc(DOC_LOGOUT),
        Route::post("/oauth/logout", |m| on(m, logout_form)).doc(DOC_LOGOUT_FORM),
        Route::get("/assets/passkey.js", |m| on(m, passkey_script)).doc(DOC_SCRIPT),
    ],
)
.counts_login_names()
// A name of no account here may be a person of the old system (the migration hook).
.asks_migration_hook()
.holds_mfa_key()
// A recovery code spent on the second step's page mails its notice, as POST /auth/mfa does.
.sends_mail()
.hashes_passwords()
.description(
    "GET and POST /oauth/authorize and /oauth/logout: the authorization endpoint, the hosted \
     sign-in pages, and RP-initiated logout",
)
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

/// GET /oauth/authorize in openapi.json.
const DOC_GET: Doc = Doc::new(
    "authorize",
    "The authorization endpoint (OpenID Connect Core 1.0 section 3.1.2, \
     authorization code flow)",
)
.description(
    "A person signed in on this browser (and who allowed a client not \
     marked first-party what it asks) is sent back to the redirect URI \
     with `code`, `state` and `iss`; else the hosted sign-in page is \
     shown. An error of the request goes back to the redirect URI \
     (`error`, `error_description`, `state`, `iss`) once the client and \
     the redirect URI are known to hold; an unknown client or an \
     unregistered redirect URI is a page, never a redirect.",
)
.query::<AuthorizeParams>()
.answers(&[
    Answer::page(200, "The hosted sign-in page, or the consent page"),
    Answer::empty(303, "Back to the app: a code, or an error"),
    Answer::page(
        400,
        "An unknown client, or a redirect URI it did not register",
    ),
    UNAVAILABLE,
]);

/// GET /assets/passkey.js in openapi.json.
const DOC_SCRIPT: Doc = Doc::new(
    "passkeyScript",
    "The hosted sign-in pages' script: passkeys offered beside the password and the code",
)
.description(
    "Served where passkeys are on, named by the pages that offer them (their policy allows      script from this service only, and none inline).",
)
.answers(&[Answer::script(200, "The script").headers(shared::api_doc::CACHED)]);

/// The pages' script.
pub async fn passkey_script() -> Response {
    shared::pages::passkey_script()
}

/// Both routes answer pages only, their failures too.
const UNAVAILABLE: Answer = Answer::page(503, "A dependency is unavailable");

/// POST /oauth/authorize in openapi.json.
const DOC_POST: Doc = Doc::new(
    "authorizeForm",
    "The hosted sign-in pages' forms: the password, a code by mail, the second step, the \
     consent",
)
.description(
    "Each form carries the request it continues (checked again), its \
     step and its CSRF token (the MAC of the browser's CSRF cookie). \
     A right step goes on (the next page, or back to the app with a \
     code, and the browser session's cookie); a wrong one shows its \
     page again with why. The login throttle counts as for POST /auth.",
)
.body(Content::form::<AuthorizeForm>())
.answers(&[
    Answer::page(200, "The next page: the second step, or the consent"),
    Answer::empty(303, "Back to the app: a code, or an error"),
    Answer::page(400, "A form that does not hold"),
    Answer::page(401, "A wrong password or code: the page again, with why"),
    Answer::page(
        403,
        "An expired page (its CSRF token), or an account not activated",
    ),
    Answer::page(415, "Not a form"),
    Answer::page(
        429,
        "Too many failed attempts: the page again, with when to retry",
    ),
    UNAVAILABLE,
]);

/// GET /oauth/logout in openapi.json.
const DOC_LOGOUT: Doc = Doc::new(
    "endSession",
    "RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the browser session",
)
.description(
    "With an `id_token_hint` of the person signed in on this browser, \
     the browser session ends at once; otherwise a page asks the person \
     (one button, posting to POST /oauth/logout). Then `303` to the \
     app's registered `post_logout_redirect_uri` with `state`, or a \
     page that says so. A hint this service did not sign, or an address \
     the app did not register, is a page, never a redirect.",
)
.query::<LogoutParams>()
.answers(&[
    Answer::page(200, "Signed out, or the question"),
    Answer::empty(303, "Back to the app"),
    Answer::page(400, "A request that does not hold"),
    UNAVAILABLE,
]);

/// POST /oauth/logout in openapi.json.
const DOC_LOGOUT_FORM: Doc = Doc::new(
    "endSessionForm",
    "The sign-out question's form: the request again, and its CSRF token",
)
.body(Content::form::<LogoutParams>())
.answers(&[
    Answer::page(
        200,
        "Signed out, or the question again (a form without its token)",
    ),
    Answer::empty(303, "Back to the app"),
    Answer::page(400, "A request that does not hold"),
    Answer::page(415, "Not a form"),
    UNAVAILABLE,
]);

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<LogoutParams>,
) -> Response {
    authorize::logout(&state, &headers, params)
        .await
        .into_response()
}

pub async fn logout_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize::logout_form(&state, &headers, &body)
        .await
        .into_response()
}

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    authorize::authorize(&state, &headers, params)
        .await
        .into_response()
}

pub async fn authorize_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize::authorize_form(&state, &headers, &body)
        .await
        .into_response()
}
