//! `GET /widgets?type=&created_start=&created_end=`: the caller's widgets from the upstream,
//! for a token with the `widgets` scope.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::input::Query;
use shared::lambda::{Function, Route, TableAction};
use shared::widgets::{WidgetsAnswer, WidgetsQuery};
use shared::{ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("widgets", &[Route::get("/widgets", |m| on(m, widgets))])
        .calls_widgets()
        .description("GET /widgets: the scoped passthrough to the widgets upstream")
        .table(&[TableAction::GetItem]);

pub async fn widgets(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<WidgetsQuery>,
) -> ApiResult<Json<WidgetsAnswer>> {
    accounts::widgets(&state, &auth, query).await.map(Json)
}
