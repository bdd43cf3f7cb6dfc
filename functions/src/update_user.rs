//! `PUT /user/{username}`: the body replaces the profile data; `role` and `activated` are for
//! admins.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::accounts::UpdateBody;
use shared::api_doc::{Answer, Body as Content, Doc};
use shared::http::UsernamePath;
use shared::http::ok;
use shared::input::Body;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "update-user",
    &[Route::put("/user/{username}", |m| on(m, update_user)).doc(DOC_PUT_USER_USERNAME)],
)
.description("PUT /user/{username}: replace profile data")
.table(&[
    TableAction::GetItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::Query,
])
.records_events();

/// PUT /user/{username} in openapi.json.
const DOC_PUT_USER_USERNAME: Doc = Doc::new(
    "updateUser",
    "Replace the profile data (role and activated: admins only)",
)
.description(
    "Self or admin; `role` and `activated` from an admin only. With a \
     second factor on the caller's own account: an admin's change of \
     another account needs a sign-in made with it (aal2), and of \
     `role` or `activated` one at most 10 minutes old (403 \
     step_up_required).",
)
.bearer()
.body(Content::json::<shared::accounts::UpdateBody>())
.answers(&[Answer::json::<shared::user::UserView>(200, "OK")])
.errors(&[400, 401, 403, 404, 413, 415, 503]);

pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    Body { body, .. }: Body<UpdateBody>,
) -> ApiResult<Response> {
    let user = accounts::update_user(&state, &auth, &username, body).await?;
    Ok(ok(user.view()))
}
