//! `DELETE /user/{username}`: deletes an account and ends all its sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use shared::http::UsernamePath;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "delete-user",
    &[Route::delete("/user/{username}", |m| on(m, delete_user))],
)
.description("DELETE /user/{username}: delete an account")
.table(&[
    TableAction::GetItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.records_events();

pub async fn delete_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
) -> ApiResult<StatusCode> {
    accounts::delete_user(&state, &auth, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}
