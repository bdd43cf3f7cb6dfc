//! `GET /user/{username}/events?limit=&cursor=`: what happened to one account, newest first,
//! for its owner or an admin.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::api_doc::{Answer, Doc};
use shared::http::{UsernamePath, ok};
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

use crate::events_query;
use shared::accounts::EventListing;
use shared::input::Query;

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "user-events",
    &[
        Route::get("/user/{username}/events", |m| on(m, user_events))
            .doc(DOC_GET_USER_USERNAME_EVENTS),
    ],
)
.description("GET /user/{username}/events: an account's events, for its owner or an admin")
.table(&[TableAction::GetItem])
.reads_account_events();

/// GET /user/{username}/events in openapi.json.
const DOC_GET_USER_USERNAME_EVENTS: Doc = Doc::new(
    "userEvents",
    "What happened to one account, newest first: self or admin",
)
.bearer()
.query::<events_query::AccountEventsQuery>()
.answers(&[Answer::json::<shared::answers::EventPage>(
    200,
    "A page, newest first",
)])
.errors(&[400, 401, 403, 404, 503]);

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
