//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414): one metadata document that tells a
//! client or a gateway (API Gateway's JWT authorizer reads `jwks_uri` from it) where the keys
//! and the endpoints are, which grants, scopes and algorithms there are. Nothing secret, no table
//! read; cached as the key set is.

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use serde::Serialize;
use shared::AppState;
use shared::accounts::KNOWN_SCOPES;
use shared::http::cacheable;
use shared::lambda::{Function, Route};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "discovery",
    &[
        Route::get("/.well-known/openid-configuration", |m| on(m, discovery)),
        Route::get("/.well-known/oauth-authorization-server", |m| {
            on(m, discovery)
        }),
    ],
)
.description("GET /.well-known/openid-configuration and /.well-known/oauth-authorization-server: where the keys and endpoints are");

/// The metadata, as RFC 8414 section 2 names its members (and OpenID Connect Discovery section
/// 3 the ones it adds), for what this service does today: the token endpoint takes refresh
/// tokens from public clients (no client authentication), revocation likewise, introspection
/// with the introspection key (a bearer key of its own, so its authentication methods are not
/// listed: RFC 8414 says they are then known by other means).
#[derive(Serialize)]
pub struct Metadata {
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub introspection_endpoint: String,
    pub revocation_endpoint: String,
    pub grant_types_supported: [&'static str; 1],
    /// Required by both specifications; none yet: there is no authorization endpoint.
    pub response_types_supported: [&'static str; 0],
    pub token_endpoint_auth_methods_supported: [&'static str; 1],
    pub revocation_endpoint_auth_methods_supported: [&'static str; 1],
    pub scopes_supported: [&'static str; KNOWN_SCOPES.len()],
    pub subject_types_supported: [&'static str; 1],
    /// The algorithms tokens are signed with (the current key's first): OpenID Connect's
    /// member for them, and RFC 9068's for access tokens.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub claims_supported: [&'static str; 14],
}

/// The metadata document.
pub async fn discovery(State(state): State<AppState>) -> Response {
    let base = &*state.public_base_url;
    let metadata = Metadata {
        issuer: state.keys.issuer.clone(),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        token_endpoint: format!("{base}/auth/token"),
        introspection_endpoint: format!("{base}/auth/introspect"),
        revocation_endpoint: format!("{base}/auth/revoke"),
        grant_types_supported: ["refresh_token"],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: ["none"],
        revocation_endpoint_auth_methods_supported: ["none"],
        scopes_supported: KNOWN_SCOPES,
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: state.keys.algorithms(),
        claims_supported: [
            "sub", "iss", "aud", "exp", "iat", "name", "email", "scope", "role", "sid", "amr",
            "acr", "nbf", "ext",
        ],
    };
    cacheable(
        serde_json::to_value(metadata).expect("metadata serializes"),
        crate::jwks::MAX_AGE_SECS,
    )
}
