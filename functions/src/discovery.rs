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
use shared::accounts::clients::CLIENT_SCOPES;
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
/// 3 the ones it adds), for what this service does: the authorization code flow with PKCE
/// (S256) through the hosted sign-in page, the token endpoint for codes (clients authenticate
/// with a secret, Basic or in the body; public ones with PKCE) and refresh tokens (no client
/// authentication: a refresh token is its own proof), revocation likewise, introspection with
/// the introspection key (a bearer key of its own, so its authentication methods are not
/// listed: RFC 8414 says they are then known by other means).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Discovery)]
pub struct Metadata {
    /// The `iss` of every token, exactly.
    #[schema(format = "uri")]
    pub issuer: String,
    #[schema(format = "uri")]
    pub authorization_endpoint: String,
    #[schema(format = "uri")]
    pub userinfo_endpoint: String,
    /// RP-initiated logout.
    #[schema(format = "uri")]
    pub end_session_endpoint: String,
    #[schema(format = "uri")]
    pub jwks_uri: String,
    #[schema(format = "uri")]
    pub token_endpoint: String,
    #[schema(format = "uri")]
    pub introspection_endpoint: String,
    #[schema(format = "uri")]
    pub revocation_endpoint: String,
    #[schema(schema_with = grants)]
    pub grant_types_supported: [&'static str; 2],
    #[schema(schema_with = code_response)]
    pub response_types_supported: [&'static str; 1],
    #[schema(schema_with = query_mode)]
    pub response_modes_supported: [&'static str; 1],
    #[schema(schema_with = s256)]
    pub code_challenge_methods_supported: [&'static str; 1],
    #[schema(schema_with = client_auth)]
    pub token_endpoint_auth_methods_supported: [&'static str; 3],
    #[schema(schema_with = no_client_auth)]
    pub revocation_endpoint_auth_methods_supported: [&'static str; 1],
    #[schema(schema_with = scopes)]
    pub scopes_supported: [&'static str; 5],
    #[schema(schema_with = public_subjects)]
    pub subject_types_supported: [&'static str; 1],
    /// The algorithms tokens are signed with (the current key's first): OpenID Connect's
    /// member for them, and RFC 9068's for access tokens.
    #[schema(schema_with = algorithms)]
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    #[schema(schema_with = prompts)]
    pub prompt_values_supported: [&'static str; 3],
    #[schema(value_type = Vec<String>)]
    pub claims_supported: [&'static str; 21],
    /// The authorization endpoint's answers carry `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
    /// No request objects (`request`, `request_uri` are refused).
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    /// Redirect URIs are registered in advance, and matched exactly.
    pub require_request_uri_registration: bool,
}

fn grants() -> Schema {
    list_of(&["authorization_code", "refresh_token"])
}

fn code_response() -> Schema {
    list_of(&["code"])
}

fn query_mode() -> Schema {
    list_of(&["query"])
}

fn s256() -> Schema {
    list_of(&["S256"])
}

fn client_auth() -> Schema {
    list_of(&["client_secret_basic", "client_secret_post", "none"])
}

fn prompts() -> Schema {
    list_of(&["none", "login", "consent"])
}

fn no_client_auth() -> Schema {
    list_of(&["none"])
}

fn scopes() -> Schema {
    list_of(&CLIENT_SCOPES)
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
        authorization_endpoint: format!("{base}/oauth/authorize"),
        userinfo_endpoint: format!("{base}/oauth/userinfo"),
        end_session_endpoint: format!("{base}/oauth/logout"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        token_endpoint: format!("{base}/auth/token"),
        introspection_endpoint: format!("{base}/auth/introspect"),
        revocation_endpoint: format!("{base}/auth/revoke"),
        grant_types_supported: ["authorization_code", "refresh_token"],
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        revocation_endpoint_auth_methods_supported: ["none"],
        scopes_supported: CLIENT_SCOPES,
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: state.keys.algorithms(),
        prompt_values_supported: ["none", "login", "consent"],
        claims_supported: [
            "sub",
            "iss",
            "aud",
            "azp",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "name",
            "preferred_username",
            "updated_at",
            "email",
            "email_verified",
            "scope",
            "role",
            "sid",
            "amr",
            "acr",
            "nbf",
            "ext",
        ],
        authorization_response_iss_parameter_supported: true,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        require_request_uri_registration: true,
    };
    cacheable(
        serde_json::to_value(metadata).expect("metadata serializes"),
        crate::jwks::MAX_AGE_SECS,
    )
}
