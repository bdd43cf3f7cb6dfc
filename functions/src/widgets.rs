//! `GET /widgets?type=&created_start=&created_end=`: the caller's widgets from the upstream,
//! for a token with the `widgets` scope.

use axum::Json;
use axum::extract::{Query, State};
use axum::routing::on;
use shared::lambda::{Function, Route};
use shared::widgets::{WidgetsAnswer, WidgetsQuery};
use shared::{ApiError, ApiResult, AppState, Auth, accounts};

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("widgets", &[Route::get("/widgets", |m| on(m, widgets))]).calls_widgets();

pub async fn widgets(
    State(state): State<AppState>,
    auth: Auth,
    query: Result<Query<WidgetsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<WidgetsAnswer>> {
    // The scope first: a token without it learns nothing more about the route.
    auth.require_scope("widgets")?;
    let Query(query) = query.map_err(|e| ApiError::InvalidQuery(e.body_text()))?;
    accounts::widgets(&state, &auth, query).await.map(Json)
}
