//! The token endpoint's function: `POST /auth/token` (RFC 6749), a refresh token for a new
//! access token and a new refresh token (section 6), or an authorization code for a new
//! sign-in's tokens and its ID token (section 4.1.3, OpenID Connect Core section 3.1.3),
//! answered as section 5.1 writes a token response; and `POST /auth/revoke` (RFC 7009), which
//! ends the sign-in of a refresh or access token.
//! Both read refresh tokens, whose MAC key is derived from the private signing keys: this
//! function holds them already (it signs), and no other verifier need.
//!
//! Errors in OAuth's shape (section 5.2): `invalid_request`, `unsupported_grant_type`, and one
//! `invalid_grant` for every refresh token that does not work, whatever the reason. Revocation
//! answers `200 {}` whatever the token was (unknown, expired, revoked, someone else's): nothing
//! about it is revealed. Both take a form, as OAuth clients send it, or JSON.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::on;
use shared::accounts::{self, RefreshBody, RevokeBody};
use shared::api_doc::{Answer, Body as Content, Doc, NO_STORE};
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
        Route::post("/auth/token", |m| on(m, refresh))
.doc(DOC_POST_AUTH_TOKEN),
        Route::post("/auth/revoke", |m| on(m, revoke))
.doc(DOC_POST_AUTH_REVOKE),
    ],
)
.signs_tokens()
.description("POST /auth/token and POST /auth/revoke: a refresh token or an authorization code for tokens; the end of a sign-in (RFC 7009)")
.table(&[
    TableAction::GetItem,
    TableAction::PutItem,
    TableAction::UpdateItem,
    TableAction::DeleteItem,
    TableAction::ConditionCheckItem,
])
.records_events();

/// POST /auth/token in openapi.json.
const DOC_POST_AUTH_TOKEN: Doc = Doc::new(
    "refreshToken",
    "The token endpoint: a refresh token (RFC 6749 section 6) or an \
     authorization code (section 4.1.3) for tokens",
)
.description(
    "`refresh_token`: the presented refresh token is spent. Presented \
     again within REFRESH_REUSE_GRACE seconds (10) of its rotation it \
     answers the same new pair (tabs refreshing at once); any later use \
     of a spent refresh token ends the whole sign-in. \
     `authorization_code`: the client authenticates (`client_secret_basic` \
     or `client_secret_post`; a public client sends its `client_id` and \
     PKCE's `code_verifier`); the code works once, for 60 seconds, with \
     its client, redirect URI and verifier; the answer adds `id_token`. \
     A code redeemed again ends the sign-in of its first redemption. \
     Every refresh token or code that does not work answers 400 \
     invalid_grant; a client that does not authenticate 401 \
     invalid_client. Errors as RFC 6749 section 5.2 writes them \
     (`error`, `error_description`).",
)
.body(Content::form_or_json::<shared::accounts::RefreshBody>())
.answers(&[Answer::json::<shared::accounts::LoginResponse>(200, "The new pair").headers(NO_STORE)])
.oauth_errors()
.errors(&[400, 401, 413, 415, 503]);

/// POST /auth/revoke in openapi.json.
const DOC_POST_AUTH_REVOKE: Doc = Doc::new(
    "revokeToken",
    "End the sign-in of a refresh token or an access token (RFC 7009)",
)
.description(
    "200 {} whatever the token was (unknown, expired, revoked, \
     another's): nothing is revealed. A token of this service whose \
     sign-in is live ends that sign-in, every token of it.",
)
.body(Content::form_or_json::<shared::accounts::RevokeBody>())
.answers(&[
    Answer::json::<shared::answers::Revoked>(200, "Revoked, or nothing to revoke")
        .headers(NO_STORE),
])
.oauth_errors()
.errors(&[400, 413, 415, 503]);

pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<FormBody<RefreshBody>, ApiError>,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let pair = match form {
        Ok(FormBody(form)) => accounts::token(&state, authorization, form.body).await,
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
