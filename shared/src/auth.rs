//! The one way to authenticate a request: the `Authorization` header becomes the authenticated
//! user and session, or the one 401 of API.md (the reason is logged at debug level only).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Session;
use crate::token::Claims;
use crate::user::{Role, UserRecord, username_key};

#[derive(Debug, Clone)]
pub struct Auth {
    pub claims: Claims,
    pub session: Session,
    /// The user as stored now (not as the token says).
    pub user: UserRecord,
}

impl Auth {
    /// Admin powers need both: the `admin` scope in the token (granted at login to admins
    /// only) and the admin role now, so a demotion applies at once.
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin && self.claims.has_scope("admin")
    }

    pub fn require_scope(&self, scope: &'static str) -> Result<(), ApiError> {
        if self.claims.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope))
        }
    }

    /// The token's scopes that the user may still hold now: `admin` only while the user is an
    /// admin (a demotion takes it away from tokens issued before).
    pub fn scopes_now(&self) -> Vec<&str> {
        self.claims
            .scopes()
            .filter(|s| *s != "admin" || self.user.role == Role::Admin)
            .collect()
    }

    pub fn is_self(&self, username: &str) -> bool {
        username_key(username) == username_key(&self.user.username)
    }
}

/// The bearer token of a request: `None` without an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        tracing::debug!("authorization header without the Bearer scheme");
        return Ok(None);
    }
    let token = rest.trim();
    if token.is_empty() {
        tracing::debug!("token refused: empty");
        return Err(ApiError::InvalidToken);
    }
    Ok(Some(token))
}

/// `Ok(None)` when the request carries no bearer token; `Err(invalid_token)` when it carries a
/// bad one; the authenticated user otherwise.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Auth>, ApiError> {
    let Some(token) = bearer(&parts.headers)? else {
        return Ok(None);
    };
    authenticate_token(token, state).await.map(Some)
}

/// The user and session of a token, if the service accepts it now (signature, algorithm, key,
/// claims, expiry, and a live session of an existing user); `invalid_token` otherwise.
pub async fn authenticate_token(token: &str, state: &AppState) -> Result<Auth, ApiError> {
    let now = state.clock.now();
    let claims = state.keys.verify(token, now)?;
    let Some((session, user)) = state
        .store
        .authenticate(&claims.sub, &claims.sid, now)
        .await?
    else {
        tracing::debug!("token refused: session ended, expired or another user's, or user gone");
        return Err(ApiError::InvalidToken);
    };
    // This service's tokens expire with their session; one that claims to outlive it was not
    // made here.
    if claims.exp > session.expires_at {
        tracing::debug!("token refused: its expiry is past its session's");
        return Err(ApiError::InvalidToken);
    }
    Ok(Auth {
        claims,
        session,
        user,
    })
}

/// The bearer credential of a request, whatever it is (the introspection route's caller sends
/// its key so); `None` without an `Authorization: Bearer` header.
pub fn bearer_credential(headers: &HeaderMap) -> Option<&str> {
    bearer(headers).ok().flatten()
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state)
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

/// For routes open to anyone that say more to an authenticated caller.
pub struct MaybeAuth(pub Option<Auth>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(MaybeAuth)
    }
}
