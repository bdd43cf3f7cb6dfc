//! `GET /events?limit=&cursor=&type=&since=`: every account's events, newest first, for
//! admins.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::api_doc::{Answer, Doc};
use shared::http::ok;
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiResult, AppState, Auth, accounts};

use crate::events_query;
use shared::accounts::EventListing;
use shared::input::Query;

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "list-events",
    &[Route::get("/events", |m| on(m, list_events)).doc(DOC_GET_EVENTS)],
)
.description("GET /events: every account's events, for admins")
.table(&[TableAction::GetItem])
.queries_users_index();

/// GET /events in openapi.json.
const DOC_GET_EVENTS: Doc = Doc::new(
    "listEvents",
    "Every account's events, newest first: admins (a type, a time \
     since)",
)
.description(
    "With a second factor on the admin's account, a sign-in made with \
     it (aal2; 403 step_up_required).",
)
.bearer()
.query::<events_query::EventsQuery>()
.answers(&[Answer::json::<shared::answers::EventPage>(
    200,
    "A page, newest first",
)])
.errors(&[400, 401, 403, 503]);

pub async fn list_events(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<events_query::EventsQuery>,
) -> ApiResult<Response> {
    let listing = query.map(EventListing::from);
    let found = accounts::all_events(&state, &auth, listing).await?;
    Ok(ok(events_query::page(&found)))
}
