//! `GET /widgets?type=&created_start=&created_end=`: the caller's widgets from the upstream,
//! for a token with the `widgets` scope.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::api_doc::{Answer, Doc};
use shared::input::Query;
use shared::lambda::{Function, Route, TableAction};
use shared::widgets::{WidgetsAnswer, WidgetsQuery};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "widgets",
    &[Route::get("/widgets", |m| on(m, widgets)).doc(DOC_GET_WIDGETS)],
)
.calls_widgets()
.description("GET /widgets: the scoped passthrough to the widgets upstream")
.table(&[TableAction::GetItem]);

/// GET /widgets in openapi.json.
const DOC_GET_WIDGETS: Doc = Doc::new(
    "widgets",
    "The caller's widgets from the upstream, filtered",
)
.bearer()
.query::<shared::widgets::WidgetsQuery>()
.answers(&[Answer::json::<shared::widgets::WidgetsAnswer>(200, "OK")])
.errors(&[400, 401, 403, 502, 503, 504]);

pub async fn widgets(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<WidgetsQuery>,
) -> ApiResult<Json<WidgetsAnswer>> {
    accounts::widgets(&state, &auth, query).await.map(Json)
}
