//! The token endpoint's function: `POST /auth/token` (RFC 6749 section 6), a refresh token for
//! a new access token and a new refresh token, answered as section 5.1 writes a token response;
//! and `POST /auth/revoke` (RFC 7009), which ends the sign-in of a refresh or access token.
//! Both read refresh tokens, whose MAC key is derived from the private signing keys: this
//! function holds them already (it signs), and no other verifier need.
//!
//! Errors in OAuth's shape (section 5.2): `invalid_request`, `unsupported_grant_type`, and one
//! `invalid_grant` for every refresh token that does not work, whatever the reason. Revocation
//! answers `200 {}` whatever the token was (unknown, expired, revoked, someone else's): nothing
//! about it is revealed. Both take a form, as OAuth clients send it, or JSON.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use shared::accounts::{self, RefreshBody, RevokeBody};
use shared::http::oauth_answer;
use shared::input::FormBody;
use shared::lambda::{Function, Route};
use shared::{ApiError, AppState};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "refresh",
    &[
        Route::post("/auth/token", |m| on(m, refresh)),
        Route::post("/auth/revoke", |m| on(m, revoke)),
    ],
)
.signs_tokens();

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
