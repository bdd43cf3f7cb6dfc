//! The signed-in page of an account's passkeys, `/account/passkeys`: the person who signed in on
//! the hosted sign-in page (its browser session) lists, adds, renames and removes their
//! passkeys, with the same rules as the JSON routes (which these call): adding asks for the
//! password unless the sign-in is two-factor and at most 10 minutes old; removing asks for a
//! code of an account with TOTP on, unless the same holds.
//!
//! A browser with no live session is sent to the hosted sign-in page as the built-in client
//! [`ACCOUNT_CLIENT_ID`], whose one redirect URI is this page: once the person is signed in,
//! the authorization endpoint sends the browser back here (no code is issued: the browser
//! session is what the page reads). The forms carry the browser's CSRF token (see
//! [`crate::browser`]); the script that runs the browser's WebAuthn asks for the creation
//! options at `POST /account/passkeys/options` with that token.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    AddPasskeyBody, PasskeyCreationOptions, PasskeyView, ProofBody, RenamePasskeyBody, add_passkey,
    passkey_creation_options, remove_passkey, rename_passkey,
};
use crate::auth::Auth;
use crate::credentials;
use crate::error::{ApiError, ApiResult};
use crate::input::Field;
use crate::pages::{self, PasskeyRow, PasskeysView};
use crate::state::AppState;
use crate::store::{MAX_PASSKEYS, OAuthClient};
use crate::token::Claims;

/// The client id of the account page at the authorization endpoint: not a registered client
/// (their ids are 128 random bits, never this word), and unknown to the token endpoint.
pub const ACCOUNT_CLIENT_ID: &str = "account";

/// The page's path under the service's base URL.
pub const ACCOUNT_PAGE_PATH: &str = "/account/passkeys";

/// The built-in client of the account page: first-party (no consent), confidential (no PKCE:
/// it redeems no code), its one redirect URI the page.
pub(crate) fn account_client(state: &AppState) -> OAuthClient {
    OAuthClient {
        client_id: ACCOUNT_CLIENT_ID.to_string(),
        name: "your account's passkeys".to_string(),
        redirect_uris: vec![page_url(state)],
        post_logout_redirect_uris: Vec::new(),
        scopes: vec!["openid".to_string()],
        public: false,
        first_party: true,
        secret_hash: None,
        created_at: 0,
    }
}

fn page_url(state: &AppState) -> String {
    format!("{}{ACCOUNT_PAGE_PATH}", state.public_base_url)
}

/// Where a browser with no live session is sent: the hosted sign-in page, back here after.
fn sign_in_url(state: &AppState) -> String {
    let mut url = format!("{}/oauth/authorize?", state.public_base_url);
    url.push_str(
        &serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", ACCOUNT_CLIENT_ID),
            ("redirect_uri", page_url(state).as_str()),
            ("scope", "openid"),
        ])
        .unwrap_or_default(),
    );
    url
}

/// `GET /account/passkeys`'s query: what was just done (the forms' redirect says it).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountPageParams {
    /// `added`, `renamed` or `removed`: the page says so.
    pub done: Option<String>,
}

/// A form of the page, posted to `POST /account/passkeys`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = AccountPasskeysForm)]
pub struct PasskeysForm {
    /// `add`, `rename` or `remove`.
    pub action: Option<String>,
    /// The form's CSRF token.
    pub csrf: Option<String>,
    /// The passkey renamed or removed.
    pub id: Option<String>,
    /// The name of a passkey added, or its new name.
    pub name: Option<String>,
    /// The credential the browser made (`add`), its JSON form.
    pub credential: Option<String>,
    /// A code of the authenticator app: the step-up of a removal, where one is asked.
    pub code: Option<String>,
}

/// `POST /account/passkeys/options`: the form's CSRF token, and the password where the page
/// asks for it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = AccountPasskeyOptionsForm)]
pub struct OptionsForm {
    pub csrf: Option<String>,
    pub password: Option<String>,
}

/// The caller of the request's browser session, as a token's caller is seen by the routes
/// (self only: no scope, so no admin power), if the session is live.
async fn browser_auth(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Auth>> {
    let key = state.browser_key()?;
    let Some(cookie) = key.session(headers) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let Some((session, user)) = state
        .store
        .authenticate(&cookie.user_id, &cookie.session_id, now)
        .await?
    else {
        return Ok(None);
    };
    let claims = Claims {
        sub: user.user_id.clone(),
        name: user.username.clone(),
        email: user.email.clone(),
        scope: String::new(),
        role: user.role.as_str().to_string(),
        sid: session.session_id.clone(),
        iat: session.created_at,
        exp: session.expires_at,
        iss: state.keys.issuer.clone(),
        aud: String::new(),
        nbf: None,
        acr: credentials::acr(&cookie.amr).to_string(),
        amr: cookie.amr,
        ext: None,
    };
    Ok(Some(Auth {
        claims,
        session,
        user,
    }))
}

/// Whether the sign-in is two-factor and recent enough for the changes that ask a step-up.
fn fresh_two_factor(state: &AppState, auth: &Auth) -> bool {
    auth.claims.acr == credentials::AAL2
        && state.clock.now() - auth.session.created_at <= super::STEP_UP_SECS
}

/// The page itself, for `auth`, with what was done or what went wrong.
async fn page(
    state: &AppState,
    headers: &HeaderMap,
    auth: &Auth,
    status: StatusCode,
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let key = match state.browser_key() {
        Ok(k) => k,
        Err(e) => return pages::error_page(e),
    };
    let (csrf, set_csrf) = match key.csrf(headers) {
        Ok(c) => c,
        Err(e) => return pages::error_page(e),
    };
    let listed: Vec<PasskeyView> = match state.store.passkeys(&auth.user.user_id).await {
        Ok(held) => held.iter().map(PasskeyView::from).collect(),
        Err(e) => return pages::error_page(e.into()),
    };
    let has_factor = match state.store.factor(&auth.user.user_id).await {
        Ok(f) => f.is_some_and(|f| f.enabled),
        Err(e) => return pages::error_page(e.into()),
    };
    let fresh = fresh_two_factor(state, auth);
    let done = match done {
        Some("added") => Some("Your passkey was added."),
        Some("renamed") => Some("The passkey was renamed."),
        Some("removed") => Some("The passkey was removed."),
        _ => None,
    };
    let rows: Vec<PasskeyRow> = listed
        .iter()
        .map(|p| PasskeyRow {
            id: &p.id,
            name: &p.name,
            created_at: &p.created_at,
            last_used_at: p.last_used_at.as_deref(),
        })
        .collect();
    let view = PasskeysView {
        username: &auth.user.username,
        passkeys: &rows,
        csrf: &key.form_token(&csrf),
        ask_password: !fresh,
        ask_code: has_factor && !fresh,
        full: listed.len() >= MAX_PASSKEYS,
        done,
        error: error.as_deref(),
    };
    let mut response = pages::passkeys_page(status, &view);
    let headers = response.headers_mut();
    if let Some(set) = set_csrf {
        headers.append(header::SET_COOKIE, set);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A redirect (`303`) to `to`.
fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, location);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The caller, or the answer that stands for the page: the sign-in for a browser with no live
/// session, an error page when passkeys are off or the store fails.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Auth, Response> {
    if state.passkeys.is_none() {
        return Err(pages::error_page(ApiError::PasskeysUnavailable));
    }
    match browser_auth(state, headers).await {
        Ok(Some(auth)) => Ok(auth),
        Ok(None) => Err(see_other(&sign_in_url(state))),
        Err(e) => Err(pages::error_page(e)),
    }
}

/// `GET /account/passkeys`.
pub async fn account_page(
    state: &AppState,
    headers: &HeaderMap,
    params: ApiResult<AccountPageParams>,
) -> Response {
    let auth = match signed_in(state, headers).await {
        Ok(a) => a,
        Err(answer) => return answer,
    };
    let done = params.ok().and_then(|p| p.done);
    page(state, headers, &auth, StatusCode::OK, done.as_deref(), None).await
}

/// What a refused change says on the page.
fn why(e: &ApiError) -> String {
    match e {
        ApiError::StepUpRequired => {
            "To do that, enter your password (or, to remove a passkey, your code) again.".into()
        }
        ApiError::InvalidCredentials => "That password is not right.".into(),
        ApiError::InvalidMfaCode => "That code is not right.".into(),
        ApiError::Validation(fields) | ApiError::InvalidRequest(fields) => fields
            .iter()
            .map(|(name, why)| format!("The {name} {why}."))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.message(),
    }
}

fn given(v: Option<String>) -> Field<String> {
    match v {
        Some(s) if !s.is_empty() => Field::Given(s),
        _ => Field::Missing,
    }
}

/// `POST /account/passkeys`: one of the page's forms; `303` back to the page when it was done,
/// the page again with why when it was not.
pub async fn account_form(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let form = match crate::http::form_body::<PasskeysForm>(headers, body) {
        Ok(f) => f,
        Err(e) => return pages::error_page(e),
    };
    let auth = match signed_in(state, headers).await {
        Ok(a) => a,
        Err(answer) => return answer,
    };
    let holds = match state.browser_key() {
        Ok(key) => form
            .csrf
            .as_deref()
            .is_some_and(|t| key.form_token_holds(headers, t)),
        Err(e) => return pages::error_page(e),
    };
    if !holds {
        let error = Some("This page had expired. Please try again.".to_string());
        return page(state, headers, &auth, StatusCode::FORBIDDEN, None, error).await;
    }
    let username = auth.user.username.clone();
    let id = form.id.clone().unwrap_or_default();
    let done = match form.action.as_deref() {
        Some("add") => {
            let credential = match form.credential.as_deref().filter(|c| !c.is_empty()) {
                None => Field::Missing,
                Some(text) => serde_json::from_str(text).map_or(Field::Wrong, Field::Given),
            };
            let body = AddPasskeyBody {
                name: given(form.name),
                credential,
            };
            add_passkey(state, &auth, &username, body)
                .await
                .map(|_| "added")
        }
        Some("rename") => {
            let body = RenamePasskeyBody {
                name: given(form.name),
            };
            rename_passkey(state, &auth, &username, &id, body)
                .await
                .map(|_: PasskeyView| "renamed")
        }
        Some("remove") => {
            let body = ProofBody {
                password: Field::Missing,
                code: given(form.code),
            };
            remove_passkey(state, &auth, &username, &id, body)
                .await
                .map(|()| "removed")
        }
        _ => Err(ApiError::field("action", "must be add, rename or remove")),
    };
    match done {
        Ok(done) => see_other(&format!("passkeys?done={done}")),
        Err(e) if e.status().is_server_error() => pages::error_page(e),
        Err(e) => {
            e.log();
            let status = e.status();
            page(state, headers, &auth, status, None, Some(why(&e))).await
        }
    }
}

/// `POST /account/passkeys/options`: the creation options for the page's script, as `POST
/// /user/{username}/passkeys/options` answers them; JSON errors, `401` without a live browser
/// session, `403` without the form's CSRF token.
pub async fn account_options(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<PasskeyCreationOptions> {
    let form = crate::http::form_body::<OptionsForm>(headers, body)?;
    let key = state.browser_key()?;
    if !form
        .csrf
        .as_deref()
        .is_some_and(|t| key.form_token_holds(headers, t))
    {
        return Err(ApiError::Forbidden(
            "the page had expired: open it again and retry",
        ));
    }
    let auth = browser_auth(state, headers)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let body = ProofBody {
        password: given(form.password),
        code: Field::Missing,
    };
    passkey_creation_options(state, &auth, &auth.user.username.clone(), body).await
}
