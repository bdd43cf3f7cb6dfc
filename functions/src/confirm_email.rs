//! `GET /email/confirm?token=T`: the link in the confirmation mail completes a change of
//! address. JSON by default, a small page for a browser.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use shared::accounts::{self, EmailConfirmation};
use shared::answers::EmailChanged;
use shared::api_doc::{Answer, Doc, ErrorBody, PAGE_UNAVAILABLE};
use shared::http::{ok, prefers_html, token_query};
use shared::lambda::{Function, Route, TableAction};
use shared::pages::{error_page, message_page};
use shared::{ApiError, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "confirm-email",
    &[Route::get("/email/confirm", |m| on(m, confirm_email)).doc(DOC_GET_EMAIL_CONFIRM)],
)
.sends_mail()
.description("GET /email/confirm: the link that completes a change of address")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
]);

/// GET /email/confirm in openapi.json.
const DOC_GET_EMAIL_CONFIRM: Doc = Doc::new(
    "confirmEmail",
    "The link in the confirmation mail: completes the change of address",
)
.query::<shared::http::TokenQuery>()
.answers(&[
    Answer::json::<shared::answers::EmailChanged>(200, "Changed, or changed before").or_page(),
    Answer::json::<ErrorBody>(400, "Unknown confirmation token").or_page(),
    Answer::json::<ErrorBody>(409, "The new address was taken meanwhile; nothing changed")
        .or_page(),
    Answer::json::<ErrorBody>(410, "Expired confirmation token").or_page(),
    PAGE_UNAVAILABLE,
]);

pub async fn confirm_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = token_query(query.as_deref());
    let outcome = accounts::confirm_email(&state, token.as_deref()).await;
    let html = prefers_html(&headers);
    match outcome {
        Ok(EmailConfirmation::Changed(u)) if html => message_page(
            StatusCode::OK,
            "Email address changed",
            &format!("Your account's address is now {}.", u.email),
        ),
        Ok(EmailConfirmation::AlreadyConfirmed(u)) if html => message_page(
            StatusCode::OK,
            "Already confirmed",
            &format!(
                "This change was confirmed before: your account's address is {}.",
                u.email
            ),
        ),
        Ok(EmailConfirmation::Changed(u)) => ok(EmailChanged {
            email_changed: true,
            already_confirmed: false,
            email: &u.email,
        }),
        Ok(EmailConfirmation::AlreadyConfirmed(u)) => ok(EmailChanged {
            email_changed: true,
            already_confirmed: true,
            email: &u.email,
        }),
        Err(e @ ApiError::InvalidConfirmationToken) if html => message_page(
            e.status(),
            "This confirmation link does not work",
            "A newer link may have replaced it, or a mail program cut it short. Your account \
             keeps its address; to change it, ask for the change again where you asked before: \
             a new link goes to the new address.",
        ),
        Err(e @ ApiError::ConfirmationTokenExpired) if html => message_page(
            e.status(),
            "This confirmation link has expired",
            "A confirmation link works for 24 hours. Your account keeps its address; to change \
             it, ask for the change again where you asked before: a new link goes to the new \
             address.",
        ),
        Err(e @ ApiError::EmailTaken) if html => message_page(
            e.status(),
            "Address not changed",
            "Another account took this address first, so your account keeps its address. To \
             change it, ask again with another address.",
        ),
        Err(e) if html => error_page(e),
        Err(e) => e.into_response(),
    }
}
