//! `GET /user/{username}/events?limit=&cursor=`: what happened to one account, newest first,
//! for its owner or an admin.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::http::{UsernamePath, ok};
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

use crate::events_query;
use shared::accounts::EventListing;
use shared::input::Query;

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "user-events",
    &[Route::get("/user/{username}/events", |m| {
        on(m, user_events)
    })],
)
.description("GET /user/{username}/events: an account's events, for its owner or an admin")
.table(&[TableAction::GetItem])
.reads_account_events();

pub async fn user_events(
    State(state): State<AppState>,
    auth: Auth,
    UsernamePath(username): UsernamePath,
    Query(query): Query<events_query::AccountEventsQuery>,
) -> ApiResult<Response> {
    let listing = query.map(EventListing::from);
    let found = accounts::user_events(&state, &auth, &username, listing).await?;
    Ok(ok(events_query::page(&found)))
}
