//! `POST /auth/revoke` (RFC 7009): a refresh token or an access token ends its sign-in. `200 {}`
//! whatever the token was (unknown, expired, revoked, someone else's): nothing about it is
//! revealed. A form, as OAuth clients send it, or JSON.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::accounts::{self, RevokeBody};
use shared::http::oauth_answer;
use shared::input::FormBody;
use shared::lambda::{Function, Route};
use shared::{ApiError, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function =
    Function::new("revoke", &[Route::post("/auth/revoke", |m| on(m, revoke))]);

pub async fn revoke(
    State(state): State<AppState>,
    form: Result<FormBody<RevokeBody>, ApiError>,
) -> Response {
    let revoked = match form {
        Ok(FormBody(form)) => accounts::revoke(&state, form.body).await,
        Err(e) => Err(e),
    };
    oauth_answer(revoked.map(|()| serde_json::json!({})))
}
