//! `GET /activate?token=T`: the link in the activation mail. JSON by default, a small HTML page
//! for a browser (a person clicking the link).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use shared::accounts::{self, Activation};
use shared::answers;
use shared::api_doc::{Answer, Doc, ErrorBody, PAGE_UNAVAILABLE};
use shared::http::{ok, prefers_html, token_query};
use shared::lambda::{Function, Route, TableAction};
use shared::pages::{ServedAt, error_page, message_page, resend_page};
use shared::{ApiError, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "activate",
    &[Route::get("/activate", |m| on(m, activate)).doc(DOC_GET_ACTIVATE)],
)
.description("GET /activate: the link in the activation mail")
.table(&[TableAction::GetItem, TableAction::UpdateItem])
.records_events();

/// GET /activate in openapi.json.
const DOC_GET_ACTIVATE: Doc = Doc::new("activate", "The link in the activation mail")
    .query::<shared::http::TokenQuery>()
    .answers(&[
        Answer::json::<shared::answers::Activation>(200, "Activated, or already activated")
            .or_page(),
        Answer::json::<ErrorBody>(400, "Unknown activation token").or_page(),
        Answer::json::<ErrorBody>(410, "Expired activation token").or_page(),
        PAGE_UNAVAILABLE,
    ]);

pub async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = token_query(query.as_deref());
    let outcome = accounts::activate(&state, token.as_deref()).await;
    let html = prefers_html(&headers);
    match outcome {
        Ok(Activation::Activated(_)) if html => message_page(
            StatusCode::OK,
            "Account activated",
            "Your account is activated: you can log in now.",
        ),
        Ok(Activation::AlreadyActivated(_)) if html => message_page(
            StatusCode::OK,
            "Account already activated",
            "This account was activated before: you can log in.",
        ),
        Ok(Activation::Activated(u)) => ok(answers::Activation {
            activated: true,
            already_activated: false,
            username: &u.username,
            message: None,
        }),
        Ok(Activation::AlreadyActivated(u)) => ok(answers::Activation {
            activated: true,
            already_activated: true,
            username: &u.username,
            message: Some("This account is already activated."),
        }),
        Err(e @ ApiError::InvalidActivationToken) if html => resend_page(
            e.status(),
            "This activation link does not work",
            Some("It may have been cut short by a mail program, or a newer link replaced it."),
            ServedAt::ActivationLink,
            "",
            None,
        ),
        Err(e @ ApiError::ActivationTokenExpired) if html => resend_page(
            e.status(),
            "This activation link has expired",
            Some(
                "An activation link works for 24 hours, and an account not activated by then is \
                 removed (sign up again). If you asked for a newer link since, its account waits.",
            ),
            ServedAt::ActivationLink,
            "",
            None,
        ),
        Err(e) if html => error_page(e),
        Err(e) => e.into_response(),
    }
}
