//! `POST /auth` and `POST /login`: log in, get a session token.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shared::accounts::{self, LoginResponse};
use shared::{ApiResult, AppState, JsonObject};

/// The routes this function serves (method, path): template.yaml and API.md list the same.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/auth"), ("POST", "/login")];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth", post(login))
        .route("/login", post(login))
}

pub async fn login(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<LoginResponse>> {
    accounts::log_in(&state, body).await.map(Json)
}
