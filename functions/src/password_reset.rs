//! `GET /password/reset?token=T`: the link in the reset mail (a form for a browser, whether the
//! link works for a JSON client); `POST /password/reset`: sets the new password, from JSON or
//! from the form.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use shared::accounts::ResetBody;
use shared::answers::{ResetDone, ResetValid};
use shared::api_doc::{Answer, Body as Content, Doc, ErrorBody, PAGE_UNAVAILABLE};
use shared::http::{ok, prefers_html, token_query};
use shared::input::FormBody;
use shared::lambda::{Function, Route, TableAction};
use shared::pages::{error_page, forgot_page, message_page, reset_form};
use shared::{ApiError, AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "password-reset",
    &[
        Route::get("/password/reset", |m| on(m, reset_link)).doc(DOC_GET_PASSWORD_RESET),
        Route::post("/password/reset", |m| on(m, reset_password)).doc(DOC_POST_PASSWORD_RESET),
    ],
)
.sends_mail()
.description("GET and POST /password/reset: the reset link and the new password")
.table(&[
    TableAction::GetItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.records_events()
.hashes_passwords();

/// GET /password/reset in openapi.json.
const DOC_GET_PASSWORD_RESET: Doc = Doc::new(
    "checkResetLink",
    "The link in the reset mail: a form for a browser, whether it works for a JSON client",
)
.query::<shared::http::TokenQuery>()
.answers(&[
    Answer::json::<shared::answers::ResetValid>(200, "The link works (a form for text/html)")
        .or_page(),
    Answer::json::<ErrorBody>(400, "Unknown or used reset token").or_page(),
    Answer::json::<ErrorBody>(410, "Expired reset token").or_page(),
    PAGE_UNAVAILABLE,
]);

/// POST /password/reset in openapi.json.
const DOC_POST_PASSWORD_RESET: Doc = Doc::new(
    "resetPassword",
    "Set a new password with a reset token (JSON, or the form of the \
     reset page)",
)
.body(Content::json_or_form::<shared::accounts::ResetBody>())
.answers(&[
    Answer::json::<shared::answers::ResetDone>(
        200,
        "Password set; every session ended; a second factor never used to \
         sign in removed (a page for a form post)",
    )
    .or_page(),
    Answer::json::<ErrorBody>(400, "Invalid body, weak password, or unknown or used token")
        .or_page(),
    Answer::json::<ErrorBody>(410, "Expired reset token").or_page(),
    PAGE_UNAVAILABLE,
])
.errors(&[413, 415]);

/// The page for a link that cannot be used, with the way forward: the forgot-password form.
fn dead_link_page(e: &ApiError) -> Response {
    let (title, why) = match e {
        ApiError::ResetTokenExpired => (
            "This password reset link has expired",
            "A reset link works for 1 hour.",
        ),
        _ => (
            "This password reset link does not work",
            "It was used already, a newer link replaced it, or a mail program cut it short.",
        ),
    };
    forgot_page(e.status(), title, Some(why), "", None)
}

pub async fn reset_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = token_query(query.as_deref());
    let checked = accounts::check_reset_token(&state, token.as_deref()).await;
    match (checked, prefers_html(&headers)) {
        (Ok(()), true) => reset_form(StatusCode::OK, token.as_deref().unwrap_or(""), None),
        (Ok(()), false) => ok(ResetValid { valid: true }),
        (Err(e @ (ApiError::InvalidResetToken | ApiError::ResetTokenExpired)), true) => {
            dead_link_page(&e)
        }
        (Err(e), true) => error_page(e),
        (Err(e), false) => e.into_response(),
    }
}

pub async fn reset_password(
    State(state): State<AppState>,
    FormBody(form): FormBody<ResetBody>,
) -> Response {
    let token = form.body.token.given().cloned().unwrap_or_default();
    let result = accounts::reset_password(&state, form.body).await;
    match (result, form.from_form) {
        (Ok(()), true) => message_page(
            StatusCode::OK,
            "Password changed",
            "Your new password is set, and every session was ended: log in with it now.",
        ),
        (Ok(()), false) => ok(ResetDone { reset: true }),
        // A person at the form sees why, next to the field, and can try again.
        (Err(e @ (ApiError::WeakPassword(_) | ApiError::Validation(_))), true) => {
            let why = match &e {
                ApiError::Validation(fields) => fields
                    .get("password")
                    .map(|m| format!("The password {m}."))
                    .unwrap_or_else(|| e.message()),
                _ => e.message(),
            };
            reset_form(e.status(), &token, Some(&why))
        }
        (Err(e @ (ApiError::InvalidResetToken | ApiError::ResetTokenExpired)), true) => {
            dead_link_page(&e)
        }
        (Err(e), true) => error_page(e),
        (Err(e), false) => e.into_response(),
    }
}
