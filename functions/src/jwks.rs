//! `GET /.well-known/jwks.json`: the public keys of the signing key set (RFC 7517), with which
//! anyone (an API Gateway JWT authorizer, any JWT library) verifies this service's tokens
//! without holding anything secret. The one route whose answer may be cached, briefly: a key
//! added by a rotation signs nothing for as long as a cache may hold the old set (see the
//! README's rotation procedure).

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use serde_json::json;
use shared::AppState;
use shared::http::cacheable;
use shared::lambda::{Function, Route};

/// How long a client may keep the key set (seconds).
pub const MAX_AGE_SECS: u32 = 300;

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "jwks",
    &[Route::get("/.well-known/jwks.json", |m| on(m, jwks))],
)
.description("GET /.well-known/jwks.json: the public keys that verify this service's tokens");

/// The key set; empty with HS512, whose secret is never published.
pub async fn jwks(State(state): State<AppState>) -> Response {
    cacheable(
        state.keys.jwks().unwrap_or_else(|| json!({"keys": []})),
        MAX_AGE_SECS,
    )
}
