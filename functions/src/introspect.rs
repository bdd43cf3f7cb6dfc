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
use shared::answers::{Introspection, LiveToken};
use shared::api_doc::{Answer, Body as Content, Doc, Security};
use shared::auth::{authenticate_token, bearer_credential};
use shared::input::{Field, FormBody, Validate, required_string};
use shared::lambda::{Function, Route, TableAction};
use shared::{ApiError, AppState};
use subtle::ConstantTimeEq;

/// This function's row of the route table.
pub const FUNCTION: Function = Function::new(
    "introspect",
    &[Route::post("/auth/introspect", |m| on(m, introspect)).doc(DOC_POST_AUTH_INTROSPECT)],
)
.description("POST /auth/introspect: whether a token is live (RFC 7662), for services")
.table(&[TableAction::GetItem])
.holds_introspection_key();

/// POST /auth/introspect in openapi.json.
const DOC_POST_AUTH_INTROSPECT: Doc = Doc::new(
    "introspect",
    "Whether a token is live (RFC 7662), for a service holding the \
     introspection key",
)
.description(
    "The caller authenticates with `Authorization: Bearer \
     <INTROSPECTION_KEY>` (not a user's token). A token that is not \
     live, for any reason (bad signature, logged out, user deleted, \
     expired), answers `{\"active\": false}` and nothing more.",
)
.security(Security::IntrospectionKey)
.body(Content::json_or_form::<TokenBody>())
.answers(&[Answer::json::<shared::answers::Introspection>(
    200,
    "Whether the token is live",
)])
.errors(&[400, 401, 413, 415, 503]);

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
    let token = match FormBody::<TokenBody>::from_request(req, &state).await {
        Ok(FormBody(form)) => match form.body.validate() {
            Ok(token) => token,
            Err(e) => return e.into_response(),
        },
        Err(e) => return e.into_response(),
    };
    match authenticate_token(&token, &state).await {
        Ok(auth) => {
            let scope = auth.scopes_now().join(" ");
            let c = &auth.claims;
            let token = LiveToken {
                sub: &c.sub,
                username: &auth.user.username,
                scope,
                role: auth.user.role.as_str(),
                exp: c.exp,
                iat: c.iat,
                iss: &c.iss,
                aud: &c.aud,
                amr: &c.amr,
                acr: &c.acr,
                token_type: "Bearer",
                // What the token hook added, under the same claim as in the token.
                ext: c.ext.as_ref(),
            };
            let answer = Introspection {
                active: true,
                token: Some(token),
            };
            axum::Json(answer).into_response()
        }
        // Nothing tells why: a bad signature, an ended session and a deleted user look alike.
        Err(ApiError::InvalidToken) => axum::Json(Introspection {
            active: false,
            token: None,
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /auth/introspect`: the `token` to look at (RFC 7662, JSON or a form).
#[derive(serde::Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = IntrospectRequest)]
pub struct TokenBody {
    #[serde(default)]
    #[garde(custom(required_string))]
    /// Any string: one that is not a live token of this service (a token is at most 4096
    /// bytes) answers `{"active": false}`.
    #[schema(value_type = String, required)]
    pub token: Field<String>,
}

impl Validate for TokenBody {
    type Command = String;
    fn command(self) -> String {
        self.token.into_string()
    }
}
