//! `PUT /user/{username}/password`: the owner changes the password; every other session ends.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use shared::accounts::ChangePasswordBody;
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::http::UsernamePath;
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "change-password",
    &[
        Route::put("/user/{username}/password", |m| on(m, change_password))
            .doc(DOC_PUT_USER_USERNAME_PASSWORD),
    ],
)
.sends_mail()
.description("PUT /user/{username}/password: the owner changes the password")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.hashes_passwords()
.holds_mfa_key();

/// PUT /user/{username}/password in openapi.json.
const DOC_PUT_USER_USERNAME_PASSWORD: Doc = Doc::new(
    "changePassword",
    "The owner changes the password; every other session ends",
)
.bearer()
.body(Content::json::<shared::accounts::ChangePasswordBody>())
.answers(&[Answer::empty(204, "Changed")])
.errors(&[400, 401, 403, 413, 415, 429, 503]);

pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    Body { body, .. }: Body<ChangePasswordBody>,
) -> ApiResult<StatusCode> {
    accounts::change_password(&state, &auth, &username, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
