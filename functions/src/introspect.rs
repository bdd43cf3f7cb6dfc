//! `POST /auth/introspect` (RFC 7662): a service that must honour logouts and deletions (which a
//! signature alone cannot show) asks whether a token is live. Only a caller holding the
//! introspection key (`Authorization: Bearer <INTROSPECTION_KEY>`) may ask; anyone else is
//! `401 unauthorized`, before its body is read. The answer is `{"active": false}` for anything
//! not live, whatever the reason, and the token's claims otherwise, with the scopes and role the
//! user holds now (a demoted admin's token no longer says `admin`).

use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use serde_json::{Value, json};
use shared::auth::{authenticate_token, bearer_credential};
use shared::lambda::{Function, Route};
use shared::{ApiError, AppState, JsonOrForm};
use subtle::ConstantTimeEq;

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "introspect",
    &[Route::post("/auth/introspect", |m| on(m, introspect))],
);

/// Whether the request carries the introspection key (compared in constant time).
fn is_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    match (&state.introspection_key, bearer_credential(headers)) {
        (Some(key), Some(given)) => bool::from(key.as_bytes().ct_eq(given.as_bytes())),
        _ => false,
    }
}

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: Request,
) -> Response {
    if !is_allowed(&state, &headers) {
        tracing::debug!("introspection refused: no or a wrong introspection key");
        return ApiError::Unauthorized.into_response();
    }
    // Only a caller with the key gets its body read.
    let form = match JsonOrForm::from_request(req, &state).await {
        Ok(form) => form,
        Err(e) => return e.into_response(),
    };
    let token = match form.body.get("token") {
        Some(Value::String(t)) => t.clone(),
        Some(_) => return invalid("must be a string"),
        None => return invalid("is required"),
    };
    match authenticate_token(&token, &state).await {
        Ok(auth) => {
            let scope = auth.scopes_now().join(" ");
            let c = &auth.claims;
            axum::Json(json!({
                "active": true,
                "sub": c.sub,
                "username": auth.user.username,
                "scope": scope,
                "role": auth.user.role.as_str(),
                "exp": c.exp,
                "iat": c.iat,
                "iss": c.iss,
                "aud": c.aud,
                "token_type": "Bearer",
            }))
            .into_response()
        }
        // Nothing tells why: a bad signature, an ended session and a deleted user look alike.
        Err(ApiError::InvalidToken) => axum::Json(json!({"active": false})).into_response(),
        Err(e) => e.into_response(),
    }
}

fn invalid(why: &str) -> Response {
    ApiError::field("token", why).into_response()
}
