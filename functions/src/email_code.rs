//! Sign-in with a mailed code, its first half: `POST /auth/email-code` (mails a 6-digit code and
//! a link to an account's address; `202` whatever the address) and the link's page, `GET
//! /auth/email-code/link` (one button: a mail scanner that opens it spends and sees nothing)
//! and `POST /auth/email-code/link` (the button: the code, shown). It sends mail and signs
//! nothing; `email-code-verify` signs the person in.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use shared::accounts::{self, EmailBody, EmailCodeLink, LinkPage};
use shared::answers::Message;
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::input::{Body, Query};
use shared::lambda::{Function, Route, TableAction};
use shared::pages::{email_code_ask_page, email_code_shown_page, error_page, message_page};
use shared::{ApiResult, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "email-code",
    &[
        Route::post("/auth/email-code", |m| on(m, request)).doc(DOC_REQUEST),
        Route::get("/auth/email-code/link", |m| on(m, link_page)).doc(DOC_LINK),
        Route::post("/auth/email-code/link", |m| on(m, link_code)).doc(DOC_LINK_FORM),
    ],
)
.sends_mail()
// The codes' key is derived from LOGIN_NAME_KEY.
.counts_login_names()
.description(
    "POST /auth/email-code and /auth/email-code/link: a sign-in code mailed, and its link's \
     page",
)
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
])
.records_events();

/// The one answer of a request, whatever the address.
const SENT: &str = "If an account may sign in with this address, a sign-in code has been \
                    mailed to it. It works once, for 10 minutes.";

/// POST /auth/email-code in openapi.json.
const DOC_REQUEST: Doc = Doc::new(
    "requestEmailCode",
    "Mail a sign-in code to an account's address",
)
.description(
    "Always `202` with the same body, after at least 250 ms, whether or not the address has \
     an account (no enumeration). An activated account, or one waiting for its activation, \
     gets a mail with a 6-digit code and a link; a deactivated one gets nothing. The mail \
     throttle applies (one a minute, ten a day an address; a throttled request keeps \
     nothing), and a new code replaces the last. `503 email_code_unavailable` where \
     EMAIL_CODE_LOGIN is off.",
)
.body(Content::json::<EmailBody>())
.answers(&[Answer::json::<Message>(
    202,
    "Accepted, whether or not the address has an account",
)])
.errors(&[400, 413, 415, 503]);

/// GET /auth/email-code/link in openapi.json.
const DOC_LINK: Doc = Doc::new(
    "emailCodeLink",
    "The page of a sign-in code's link: one button, nothing spent",
)
.description(
    "A link that names its account's live code shows a button (posting to POST \
     /auth/email-code/link) and no code; opening it spends nothing, so a mail scanner that \
     follows links harms nothing. A link whose code is used, replaced, expired or unknown \
     is `410`.",
)
.query::<EmailCodeLink>()
.answers(&[
    Answer::page(200, "The button"),
    Answer::page(410, "The code is used, replaced, expired or unknown"),
    Answer::page(503, "Unavailable, or turned off"),
]);

/// POST /auth/email-code/link in openapi.json.
const DOC_LINK_FORM: Doc = Doc::new(
    "emailCodeLinkShow",
    "The link page's button: the code, shown (still unspent)",
)
.body(Content::form::<EmailCodeLink>())
.answers(&[
    Answer::page(200, "The code"),
    Answer::page(410, "The code is used, replaced, expired or unknown"),
    Answer::page(415, "Not a form"),
    Answer::page(503, "Unavailable, or turned off"),
]);

pub async fn request(
    State(state): State<AppState>,
    Body { body, .. }: Body<EmailBody>,
) -> ApiResult<(StatusCode, Json<Message<'static>>)> {
    accounts::request_email_code(&state, body).await?;
    Ok((StatusCode::ACCEPTED, Json(Message { message: SENT })))
}

fn page_of(answer: ApiResult<LinkPage>) -> Response {
    let mut response = match answer {
        Ok(LinkPage::Ask { user, token }) => email_code_ask_page(&user, &token),
        Ok(LinkPage::Code(code)) => email_code_shown_page(&code),
        Ok(LinkPage::Dead) => message_page(
            StatusCode::GONE,
            "This code no longer works",
            "It was used, replaced by a newer one, or is more than 10 minutes old. Ask for a \
             new code where you signed in.",
        ),
        Err(e) => error_page(e),
    };
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

pub async fn link_page(
    State(state): State<AppState>,
    Query(link): Query<EmailCodeLink>,
) -> Response {
    match link {
        Ok(link) => page_of(accounts::link_page(&state, link).await),
        Err(_) => page_of(Ok(LinkPage::Dead)),
    }
}

pub async fn link_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    match shared::http::form_body::<EmailCodeLink>(&headers, body.as_bytes()) {
        Ok(link) => page_of(accounts::link_code(&state, link).await),
        Err(e) => error_page(e).into_response(),
    }
}
