//! How the routes that mail a link to an address (resend-activation, password-forgot) answer,
//! to JSON clients and to the forms of the pages: the route decides, the pages render.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::ApiResult;
use shared::accounts::EmailBody;
use shared::api_doc::{Answer, ErrorBody, PAGE_UNAVAILABLE};
use shared::input::FormBody;
use shared::pages::{error_page, mail_sent_page};
use shared::user::{MAX_EMAIL_CHARS, valid_email};

/// The address of a form post to a route that mails, and, when a person should fix it first,
/// why. (JSON clients get `202` for any string, so that an answer tells nothing; a form is
/// typed by the person who owns the address, and a typo deserves a word.)
fn form_email(body: &EmailBody) -> (String, Option<&'static str>) {
    let email: String = match body.email.given() {
        Some(e) => e.chars().take(MAX_EMAIL_CHARS + 1).collect(),
        None => String::new(),
    };
    let problem = if email.is_empty() {
        Some("Enter your email address.")
    } else if !valid_email(&email) {
        Some("Enter a whole email address, like name@example.com.")
    } else {
        None
    };
    (email, problem)
}

/// What a route that mails a link answers, in openapi.json: `202` whether or not an account
/// matched, `400` for a body to fix, `503`; each a page for a form post.
pub(crate) const ANSWERS: &[Answer] = &[
    Answer::json::<shared::answers::Message>(
        202,
        "Accepted (whether or not the account exists) (a page for a form post)",
    )
    .or_page(),
    Answer::json::<ErrorBody>(
        400,
        "Invalid body (the form again, with why, for a form post)",
    )
    .or_page(),
    PAGE_UNAVAILABLE,
];

/// How a route that mails a link to an address (resend, forgot) answers.
pub(crate) struct MailRequest {
    /// The `202` JSON message.
    pub json_message: &'static str,
    /// The "Check your mail" page's sentence, given the address typed.
    pub page_message: fn(&str) -> String,
    /// The route's form again (status `400`), given the address typed and why it was refused.
    pub form_again: fn(&str, &'static str) -> Response,
}

/// Answers a route that mails a link: `202` whether or not an account matched, JSON to JSON,
/// pages to a form (its own form again when the address typed needs fixing first).
pub(crate) async fn answer_mail_request<F, Fut>(
    FormBody(form): FormBody<EmailBody>,
    send: F,
    how: MailRequest,
) -> Response
where
    F: FnOnce(EmailBody) -> Fut,
    Fut: Future<Output = ApiResult<()>>,
{
    let typed = if form.from_form {
        let (email, problem) = form_email(&form.body);
        if let Some(why) = problem {
            return (how.form_again)(&email, why);
        }
        Some(email)
    } else {
        None
    };
    match (send(form.body).await, typed) {
        (Ok(()), Some(email)) => mail_sent_page(StatusCode::ACCEPTED, &(how.page_message)(&email)),
        (Ok(()), None) => (
            StatusCode::ACCEPTED,
            axum::Json(shared::answers::Message {
                message: how.json_message,
            }),
        )
            .into_response(),
        (Err(e), Some(_)) => error_page(e),
        (Err(e), None) => e.into_response(),
    }
}
