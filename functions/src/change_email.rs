//! `PUT /user/{username}/email`: the owner asks to change the address; a confirmation link goes
//! to the new one, and nothing changes until it is followed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use shared::accounts::ChangeEmailBody;
use shared::answers::Message;
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::http::UsernamePath;
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "change-email",
    &[
        Route::put("/user/{username}/email", |m| on(m, change_email))
            .doc(DOC_PUT_USER_USERNAME_EMAIL),
    ],
)
.sends_mail()
.description("PUT /user/{username}/email: the owner asks to change the address")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
])
.hashes_passwords()
.holds_mfa_key();

/// PUT /user/{username}/email in openapi.json.
const DOC_PUT_USER_USERNAME_EMAIL: Doc = Doc::new(
    "changeEmail",
    "The owner asks to change the address; a confirmation link goes to the new one",
)
.bearer()
.body(Content::json::<shared::accounts::ChangeEmailBody>())
.answers(&[Answer::json::<shared::answers::Message>(
    202,
    "Confirmation link sent",
)])
.errors(&[400, 401, 403, 409, 413, 415, 429, 503]);

pub async fn change_email(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    Body { body, .. }: Body<ChangeEmailBody>,
) -> ApiResult<Response> {
    accounts::change_email(&state, &auth, &username, body).await?;
    let message = "A confirmation link has been sent to the new address; the address changes \
                   when it is followed.";
    Ok((StatusCode::ACCEPTED, axum::Json(Message { message })).into_response())
}
