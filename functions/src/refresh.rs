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
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiError, AppState};

/// This function's row of the route table. Revocation reads refresh tokens, MAC'd with a key
/// derived from the signing keys: the token endpoint's function holds them, so it serves RFC 7009
/// too. Of the table: the session and its user; the rotation (a transaction: the user's condition
/// check and the session's conditional update); the end of a reused or revoked sign-in.
pub const FUNCTION: Function = Function::new(
    "refresh",
    &[
        Route::post("/auth/token", |m| on(m, refresh)),
        Route::post("/auth/revoke", |m| on(m, revoke)),
    ],
)
.signs_tokens()
.description("POST /auth/token and POST /auth/revoke: a refresh token for a new pair of tokens; the end of a sign-in (RFC 7009)")
.table(&[
    TableAction::GetItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
])
.records_events();

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
    oauth_answer(revoked.map(|()| shared::answers::Revoked {}))
}
