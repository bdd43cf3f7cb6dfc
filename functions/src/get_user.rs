//! `GET /user/{username}`: one account, for its owner or an admin.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::http::UsernamePath;
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "get-user",
    &[Route::get("/user/{username}", |m| on(m, get_user))],
)
.description("GET /user/{username}: one account, self or admin")
.table(&[TableAction::GetItem]);

pub async fn get_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
) -> ApiResult<Response> {
    let user = accounts::target_user(&state, &auth, &username).await?;
    Ok(ok(user.view()))
}
