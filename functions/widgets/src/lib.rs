//! `GET /widgets?type=&created_start=&created_end=`: the caller's widgets from the upstream,
//! for a token with the `widgets` scope.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use shared::widgets::{WidgetsAnswer, WidgetsQuery};
use shared::{ApiError, ApiResult, AppState, Auth, accounts};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/widgets")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/widgets", get(widgets))
}

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
