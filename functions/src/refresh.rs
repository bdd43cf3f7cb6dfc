//! `POST /auth/token` (RFC 6749 section 6): a refresh token for a new access token and a new
//! refresh token, answered as section 5.1 writes a token response. Errors in OAuth's shape
//! (section 5.2): `invalid_request`, `unsupported_grant_type`, and one `invalid_grant` for every
//! refresh token that does not work, whatever the reason.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::accounts::{self, RefreshBody};
use shared::http::oauth_answer;
use shared::input::FormBody;
use shared::lambda::{Function, Route};
use shared::{ApiError, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("refresh", &[Route::post("/auth/token", |m| on(m, refresh))]).signs_tokens();

pub async fn refresh(
    State(state): State<AppState>,
    form: Result<FormBody<RefreshBody>, ApiError>,
) -> Response {
    let pair = match form {
        Ok(FormBody(form)) => accounts::refresh(&state, form.body).await,
        Err(e) => Err(e),
    };
    oauth_answer(pair)
}
