//! `PUT /user/{username}/password`: the owner changes the password; every other session ends.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use shared::accounts::ChangePasswordBody;
use shared::http::UsernamePath;
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "change-password",
    &[Route::put("/user/{username}/password", |m| {
        on(m, change_password)
    })],
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

pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    Body { body, .. }: Body<ChangePasswordBody>,
) -> ApiResult<StatusCode> {
    accounts::change_password(&state, &auth, &username, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
