//! `DELETE /user/{username}`: deletes an account and ends all its sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::on;
use shared::api_doc::{Answer, Doc};
use shared::http::UsernamePath;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "delete-user",
    &[Route::delete("/user/{username}", |m| on(m, delete_user)).doc(DOC_DELETE_USER_USERNAME)],
)
.description("DELETE /user/{username}: delete an account")
.table(&[
    TableAction::GetItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.records_events();

/// DELETE /user/{username} in openapi.json.
const DOC_DELETE_USER_USERNAME: Doc =
    Doc::new("deleteUser", "Delete an account and end its sessions")
        .description(
            "Self or admin. With a second factor on the caller's own account: \
             a sign-in with it at most 10 minutes old (403 step_up_required \
             otherwise), for one's own account and for an admin's deletion of \
             anyone's.",
        )
        .bearer()
        .answers(&[Answer::empty(204, "Deleted")])
        .errors(&[400, 401, 403, 404, 503]);

pub async fn delete_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
) -> ApiResult<StatusCode> {
    accounts::delete_user(&state, &auth, &username).await?;
    Ok(StatusCode::NO_CONTENT)
}
