//! `POST /auth/token` (RFC 6749 section 6): a refresh token for a new access token and a new
//! refresh token. Errors in OAuth's shape: `invalid_request`, `unsupported_grant_type`, and one
//! `invalid_grant` for every refresh token that does not work, whatever the reason.

use axum::Json;
use axum::extract::State;
use axum::routing::on;
use shared::accounts::{self, LoginResponse, RefreshBody};
use shared::input::FormBody;
use shared::lambda::{Function, Route};
use shared::{ApiResult, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("refresh", &[Route::post("/auth/token", |m| on(m, refresh))]).signs_tokens();

pub async fn refresh(
    State(state): State<AppState>,
    FormBody(form): FormBody<RefreshBody>,
) -> ApiResult<Json<LoginResponse>> {
    accounts::refresh(&state, form.body).await.map(Json)
}
