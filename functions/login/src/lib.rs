//! `POST /auth` and `POST /login`: log in, get a session token.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use shared::accounts::{self, LoginResponse};
use shared::{ApiResult, AppState, JsonObject};

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
