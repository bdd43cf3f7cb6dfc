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
use shared::api_doc::{Answer, CACHED, Doc};
use shared::http::cacheable;
use shared::lambda::{Function, Route};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "discovery",
    &[
        Route::get("/.well-known/openid-configuration", |m| on(m, discovery)).doc(
            DOC.id("openidConfiguration")
                .summary("The provider's metadata (OpenID Connect Discovery 1.0)"),
        ),
        Route::get("/.well-known/oauth-authorization-server", |m| {
            on(m, discovery)
        })
        .doc(
            DOC.id("oauthAuthorizationServer")
                .summary("The authorization server's metadata (RFC 8414)"),
        ),
    ],
)
.description(
    "GET /.well-known/openid-configuration and /.well-known/oauth-authorization-server: where \
     the keys and endpoints are",
);

/// Both routes' operation in openapi.json.
const DOC: Doc = Doc::new("openidConfiguration", "The metadata")
    .description(
        "Where the key set and the endpoints are, the grants, scopes and \
         algorithms. May be cached for 5 minutes.",
    )
    .answers(&[Answer::json::<Metadata>(200, "The metadata").headers(CACHED)]);

/// The metadata, as RFC 8414 section 2 names its members (and OpenID Connect Discovery section
/// 3 the ones it adds), for what this service does today: the token endpoint takes refresh
/// tokens from public clients (no client authentication), revocation likewise, introspection
/// with the introspection key (a bearer key of its own, so its authentication methods are not
/// listed: RFC 8414 says they are then known by other means).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Discovery)]
pub struct Metadata {
    /// The `iss` of every token, exactly.
    #[schema(format = "uri")]
    pub issuer: String,
    #[schema(format = "uri")]
    pub jwks_uri: String,
    #[schema(format = "uri")]
    pub token_endpoint: String,
    #[schema(format = "uri")]
    pub introspection_endpoint: String,
    #[schema(format = "uri")]
    pub revocation_endpoint: String,
    #[schema(schema_with = refresh_token_grant)]
    pub grant_types_supported: [&'static str; 1],
    /// Required by both specifications; none yet: there is no authorization endpoint.
    #[schema(schema_with = no_response_types)]
    pub response_types_supported: [&'static str; 0],
    #[schema(schema_with = no_client_auth)]
    pub token_endpoint_auth_methods_supported: [&'static str; 1],
    #[schema(schema_with = no_client_auth)]
    pub revocation_endpoint_auth_methods_supported: [&'static str; 1],
    #[schema(schema_with = scopes)]
    pub scopes_supported: [&'static str; KNOWN_SCOPES.len()],
    #[schema(schema_with = public_subjects)]
    pub subject_types_supported: [&'static str; 1],
    /// The algorithms tokens are signed with (the current key's first): OpenID Connect's
    /// member for them, and RFC 9068's for access tokens.
    #[schema(schema_with = algorithms)]
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    #[schema(value_type = Vec<String>)]
    pub claims_supported: [&'static str; 14],
}

fn refresh_token_grant() -> Schema {
    list_of(&["refresh_token"])
}

fn no_response_types() -> Schema {
    list_of(&[])
}

fn no_client_auth() -> Schema {
    list_of(&["none"])
}

fn scopes() -> Schema {
    list_of(&KNOWN_SCOPES)
}

fn public_subjects() -> Schema {
    list_of(&["public"])
}

/// The signing algorithm first, then any other the key set still verifies.
fn algorithms() -> Schema {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["EdDSA", "RS256", "HS512"])),
        )
        .min_items(Some(1))
        .description(Some(
            "The signing algorithm first, then any other the key set still verifies.",
        ))
        .build()
        .into()
}

/// An array whose items are among `values` (none: always empty).
fn list_of(values: &[&str]) -> Schema {
    if values.is_empty() {
        return ArrayBuilder::new().max_items(Some(0)).build().into();
    }
    let items = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()));
    ArrayBuilder::new().items(items).build().into()
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
