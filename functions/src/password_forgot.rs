//! `POST /password/forgot`: always `202`; a reset link goes only to an existing, activated
//! account. From JSON (answered with JSON) or from the form of a dead reset link's page
//! (answered with a page).

use crate::mail_request::{MailRequest, answer_mail_request};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::on;
use shared::accounts::EmailBody;
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::FormBody;
use shared::lambda::{Function, Route, TableAction};
use shared::pages::forgot_page;
use shared::{AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "password-forgot",
    &[
        Route::get("/password/forgot", |m| on(m, forgot_form)).doc(DOC_GET_PASSWORD_FORGOT),
        Route::post("/password/forgot", |m| on(m, forgot_password)).doc(DOC_POST_PASSWORD_FORGOT),
    ],
)
.sends_mail()
// A name of no account here may be a person of the old system (the migration hook).
.asks_migration_hook()
.description("GET and POST /password/forgot: the form, and the mail of a password reset link")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
]);

/// GET /password/forgot in openapi.json.
const DOC_GET_PASSWORD_FORGOT: Doc = Doc::new(
    "forgotPasswordForm",
    "The page that asks for a password reset link (linked from the hosted sign-in page)",
)
.answers(&[Answer::page(200, "The form")]);

/// POST /password/forgot in openapi.json.
const DOC_POST_PASSWORD_FORGOT: Doc = Doc::new(
    "forgotPassword",
    "Mail a password reset link to an activated account (JSON, or the \
     form of a dead link's page)",
)
.description(
    "JSON is answered with JSON. A form post \
     (`application/x-www-form-urlencoded`, as the form on the page of \
     a dead reset link sends) is answered with a page: `202` \"Check \
     your mail\", or `400` with the form again and why next to the \
     field (no address, or not a whole one; JSON answers `202` for \
     any string).",
)
.body(Content::json_or_form::<shared::accounts::EmailBody>())
.answers(crate::mail_request::ANSWERS)
.errors(&[413, 415]);

pub async fn forgot_password(State(state): State<AppState>, form: FormBody<EmailBody>) -> Response {
    let how = MailRequest {
        json_message: "If an activated account has this address, a password reset link has been \
                       sent.",
        page_message: |email| {
            format!(
                "If an activated account has the address {email}, a link to choose a new \
                 password is on its way to it. It works for 1 hour."
            )
        },
        form_again: |email, why| {
            forgot_page(
                StatusCode::BAD_REQUEST,
                "Get a password reset link",
                None,
                email,
                Some(why),
            )
        },
    };
    answer_mail_request(form, |body| accounts::forgot_password(&state, body), how).await
}

/// The form, for a person who forgot their password (the hosted sign-in page links here).
pub async fn forgot_form() -> Response {
    forgot_page(StatusCode::OK, "Get a password reset link", None, "", None)
}
