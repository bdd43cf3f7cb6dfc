//! `POST /activate/resend`: always `202`; a fresh link goes only to an account awaiting
//! activation. From JSON (answered with JSON) or from the form of a dead activation link's
//! page (answered with a page).

use crate::mail_request::{MailRequest, answer_mail_request};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::on;
use shared::accounts::EmailBody;
use shared::api_doc::{Body as Content, Doc};
use shared::input::FormBody;
use shared::lambda::{Function, Route, TableAction};
use shared::pages::{ServedAt, resend_page};
use shared::{AppState, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "resend-activation",
    &[Route::post("/activate/resend", |m| on(m, resend_activation)).doc(DOC_POST_ACTIVATE_RESEND)],
)
.sends_mail()
.description("POST /activate/resend: mail a fresh activation link")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
]);

/// POST /activate/resend in openapi.json.
const DOC_POST_ACTIVATE_RESEND: Doc = Doc::new(
    "resendActivation",
    "Mail a fresh activation link to an account awaiting activation \
     (JSON, or the form of a dead link's page)",
)
.description(
    "JSON is answered with JSON. A form post \
     (`application/x-www-form-urlencoded`, as the form on the page of \
     a dead activation link sends) is answered with a page: `202` \
     \"Check your mail\", or `400` with the form again and why next \
     to the field (no address, or not a whole one; JSON answers `202` \
     for any string).",
)
.body(Content::json_or_form::<shared::accounts::EmailBody>())
.answers(crate::mail_request::ANSWERS)
.errors(&[413, 415]);

pub async fn resend_activation(
    State(state): State<AppState>,
    form: FormBody<EmailBody>,
) -> Response {
    let how = MailRequest {
        json_message: "If an account with this address awaits activation, a new link has been \
                       sent.",
        page_message: |email| {
            format!(
                "If an account with the address {email} is waiting to be activated, a new \
                 activation link is on its way to it; it works for 24 hours. If none comes, the \
                 account may have been removed: sign up again."
            )
        },
        form_again: |email, why| {
            resend_page(
                StatusCode::BAD_REQUEST,
                "Get a new activation link",
                None,
                ServedAt::ResendRoute,
                email,
                Some(why),
            )
        },
    };
    answer_mail_request(form, |body| accounts::resend_activation(&state, body), how).await
}
