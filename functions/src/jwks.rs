//! `GET /.well-known/jwks.json`: the public keys of the signing key set (RFC 7517), with which
//! anyone (an API Gateway JWT authorizer, any JWT library) verifies this service's tokens
//! without holding anything secret. The one route whose answer may be cached, briefly: a key
//! added by a rotation signs nothing for as long as a cache may hold the old set (see the
//! docs/deploying.md's rotation procedure).

use axum::extract::State;
use axum::response::Response;
use axum::routing::on;
use serde_json::json;
use shared::AppState;
use shared::api_doc::{Answer, CACHED, Doc};
use shared::http::cacheable;
use shared::lambda::{Function, Route};

/// How long a client may keep the key set (seconds).
pub const MAX_AGE_SECS: u32 = 300;

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "jwks",
    &[Route::get("/.well-known/jwks.json", |m| on(m, jwks)).doc(DOC_GET_WELL_KNOWN_JWKS_JSON)],
)
.description("GET /.well-known/jwks.json: the public keys that verify this service's tokens");

/// GET /.well-known/jwks.json in openapi.json.
const DOC_GET_WELL_KNOWN_JWKS_JSON: Doc = Doc::new(
    "jwks",
    "The public keys that verify this service's tokens (JWKS)",
)
.description(
    "May be cached for 5 minutes (`Cache-Control: public, \
     max-age=300`); every other route answers `no-store`.",
)
.answers(&[Answer::json::<Jwks>(200, "The key set").headers(CACHED)]);

/// The answer's schema: a JWK Set (RFC 7517) as [`KeySet::jwks`](shared::token::KeySet::jwks)
/// writes it. Its members are the standards' (RFC 8037 for Ed25519, RFC 7518 for RSA).
pub struct Jwks;

impl utoipa::PartialSchema for Jwks {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let kid = json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{43}$" });
        let fixed = |v: &str| json!({ "type": "string", "enum": [v] });
        serde_json::from_value(json!({
            "type": "object",
            "description": "A JWK Set (RFC 7517): the public keys that verify this service's tokens, Ed25519 (RFC 8037) or RSA (RFC 7518), the current one first; empty when tokens are signed with HS512.",
            "required": ["keys"],
            "additionalProperties": false,
            "properties": { "keys": { "type": "array", "items": { "oneOf": [
                {
                    "type": "object",
                    "required": ["kty", "crv", "x", "kid", "use", "alg"],
                    "additionalProperties": false,
                    "properties": {
                        "kty": fixed("OKP"), "crv": fixed("Ed25519"),
                        "x": { "type": "string", "pattern": "^[A-Za-z0-9_-]{43}$" },
                        "kid": kid, "use": fixed("sig"), "alg": fixed("EdDSA")
                    }
                },
                {
                    "type": "object",
                    "required": ["kty", "n", "e", "kid", "use", "alg"],
                    "additionalProperties": false,
                    "properties": {
                        "kty": fixed("RSA"),
                        "n": { "type": "string", "pattern": "^[A-Za-z0-9_-]{342,}$", "description": "The modulus, base64url (2048 bits or more)." },
                        "e": { "type": "string", "pattern": "^[A-Za-z0-9_-]+$" },
                        "kid": kid, "use": fixed("sig"), "alg": fixed("RS256")
                    }
                }
            ] } } }
        }))
        .expect("a schema")
    }
}

impl utoipa::ToSchema for Jwks {}

/// The key set; empty with HS512, whose secret is never published.
pub async fn jwks(State(state): State<AppState>) -> Response {
    cacheable(
        state.keys.jwks().unwrap_or_else(|| json!({"keys": []})),
        MAX_AGE_SECS,
    )
}
