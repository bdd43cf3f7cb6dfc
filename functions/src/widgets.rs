//! `GET /widgets?type=&created_start=&created_end=`: the caller's widgets from the upstream,
//! for a token with the `widgets` scope.

use axum::Json;
use axum::extract::{Query, State};
use axum::routing::on;
use shared::lambda::{Function, Route, TableAction};
use shared::widgets::{WidgetsAnswer, WidgetsQuery};
use shared::{ApiError, ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("widgets", &[Route::get("/widgets", |m| on(m, widgets))])
        .calls_widgets()
        .description("GET /widgets: the scoped passthrough to the widgets upstream")
        .table(&[TableAction::GetItem]);

pub async fn widgets(
    State(state): State<AppState>,
    auth: Auth,
    query: Result<Query<WidgetsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<WidgetsAnswer>> {
    let query = query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::InvalidQuery(e.body_text()));
    accounts::widgets(&state, &auth, query).await.map(Json)
}
