//! `PUT /user/{username}`: the body replaces the profile data; `role` and `activated` are for
//! admins.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::accounts::UpdateBody;
use shared::http::UsernamePath;
use shared::http::ok;
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "update-user",
    &[Route::put("/user/{username}", |m| on(m, update_user))],
)
.description("PUT /user/{username}: replace profile data")
.table(&[
    TableAction::GetItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.records_events();

pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    Body { body, .. }: Body<UpdateBody>,
) -> ApiResult<Response> {
    let user = accounts::update_user(&state, &auth, &username, body).await?;
    Ok(ok(user.view()))
}
