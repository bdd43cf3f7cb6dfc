//! `GET /user/{username}`: one account, for its owner or an admin.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::api_doc::{Answer, Doc};
use shared::http::UsernamePath;
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "get-user",
    &[Route::get("/user/{username}", |m| on(m, get_user)).doc(DOC_GET_USER_USERNAME)],
)
.description("GET /user/{username}: one account, self or admin")
.table(&[TableAction::GetItem]);

/// GET /user/{username} in openapi.json.
const DOC_GET_USER_USERNAME: Doc = Doc::new("getUser", "One account: self or admin")
    .description(
        "Self or admin. With a second factor on the caller's own account: \
         an admin's read of another account needs a sign-in made with it \
         (aal2; 403 step_up_required).",
    )
    .bearer()
    .answers(&[Answer::json::<shared::user::UserView>(200, "OK")])
    .errors(&[400, 401, 403, 404, 503]);

pub async fn get_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
) -> ApiResult<Response> {
    let user = accounts::target_user(&state, &auth, &username).await?;
    Ok(ok(user.view()))
}
