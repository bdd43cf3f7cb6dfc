//! The authorization endpoint (RFC 6749 section 4.1, OpenID Connect Core 1.0 section 3.1.2):
//! `GET /oauth/authorize` checks an app's request and, for a person signed in on this browser
//! (and, for an app not marked first-party, who allowed it what it asks), sends the browser back
//! to the app with a code; else it shows the hosted sign-in page, whose forms post to `POST
//! /oauth/authorize` (the password, then the second step when the account has one, then the
//! consent) with the request they continue, checked again each time.
//!
//! Errors: an unknown client or a redirect URI not registered for it is shown as a page, never
//! followed (RFC 6749 section 4.1.2.1: no open redirector); any other error of the request goes
//! back to the app (`error`, `error_description`, `state`, and `iss` as RFC 9207 asks).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::account_page::{ACCOUNT_CLIENT_ID, account_client};
use super::clients::CLIENT_SCOPES;
use super::session::{LoginBody, PasswordChecked, check_password, open_session, still_allowed};
use super::{MfaLoginBody, prove_second_step};
use crate::browser::{BrowserKey, BrowserSession};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Event, EventType};
use crate::input::Field;
use crate::pages;
use crate::secret::{random_token, session_id, token_hash};
use crate::state::AppState;
use crate::store::{AuthorizationCode, CODE_TTL_SECS, OAuthClient};
use crate::user::UserRecord;

/// The longest value of any parameter (a redirect URI's limit; a state or nonce longer than this
/// is no app's).
pub const MAX_PARAM_CHARS: usize = 2000;

/// The parameters of an authorization request (RFC 6749 section 4.1.1, OpenID Connect Core
/// section 3.1.2.1, RFC 7636 section 4.3); others are ignored, and one given twice refused.
#[derive(Debug, Default, Clone, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// `code`: the authorization code flow (the only one).
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    /// One of the client's registered redirect URIs, exactly.
    pub redirect_uri: Option<String>,
    /// Space-delimited, with `openid`; among those the client may ask for (`openid`, `profile`,
    /// `email`, `widgets`, `admin`).
    pub scope: Option<String>,
    /// Given back to the app with the code or the error.
    pub state: Option<String>,
    /// Put in the ID token.
    pub nonce: Option<String>,
    /// `none` (never a page: `login_required`, `consent_required`), `login` (sign in again),
    /// `consent` (ask again); `select_account` is taken as nothing (one account a browser).
    pub prompt: Option<String>,
    /// Seconds: a sign-in older than this is done again.
    pub max_age: Option<String>,
    /// The username or address to show in the sign-in form.
    pub login_hint: Option<String>,
    /// PKCE (RFC 7636): required of public clients, honoured for all.
    pub code_challenge: Option<String>,
    /// `S256`; `plain` is refused.
    pub code_challenge_method: Option<String>,
    /// Refused: `request_not_supported`.
    pub request: Option<String>,
    /// Refused: `request_uri_not_supported`.
    pub request_uri: Option<String>,
    /// `query`, or none.
    pub response_mode: Option<String>,
}

/// The parameters given, by name, as a form carries them on.
fn given<const N: usize>(
    params: [(&'static str, &Option<String>); N],
) -> Vec<(&'static str, String)> {
    params
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
}

impl AuthorizeParams {
    /// Every parameter given, as the forms carry them on.
    fn carried(&self) -> Vec<(&'static str, String)> {
        let all = [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("prompt", &self.prompt),
            ("max_age", &self.max_age),
            ("login_hint", &self.login_hint),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("response_mode", &self.response_mode),
        ];
        given(all)
    }

    fn too_long(&self) -> bool {
        self.carried()
            .iter()
            .any(|(_, v)| v.chars().count() > MAX_PARAM_CHARS)
            || [&self.request, &self.request_uri]
                .iter()
                .any(|v| v.as_ref().is_some_and(|v| v.len() > 64 * 1024))
    }
}

/// A form of the hosted pages, posted to `POST /oauth/authorize`: the request it continues, its
/// step, its CSRF token, and what the step takes.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = AuthorizeForm)]
pub struct AuthorizeForm {
    #[serde(flatten)]
    pub request: AuthorizeParams,
    /// `password`, `code`, `consent`, `passkey`, `email_code_request` (a code mailed to
    /// `login`) or `email_code` (that code, in `code`).
    pub step: Option<String>,
    /// The form's CSRF token.
    pub csrf: Option<String>,
    /// The username or address (step `password`), the address (steps `email_code_request`
    /// and `email_code`).
    pub login: Option<String>,
    pub password: Option<String>,
    /// The second step's challenge (step `code`).
    pub mfa_token: Option<String>,
    /// A code of the authenticator app or a recovery code (step `code`), or the mailed code
    /// (step `email_code`).
    pub code: Option<String>,
    /// `allow` or `deny` (step `consent`).
    pub decision: Option<String>,
    /// The token of a passkey sign-in's options (step `passkey`).
    pub passkey_token: Option<String>,
    /// A passkey's assertion, its JSON form (step `passkey`, or `code` for a second step).
    pub credential: Option<String>,
    /// `yes` when the second step offers a passkey (step `code`, carried on).
    pub offer_passkey: Option<String>,
}

/// How the request asks to be prompted.
#[derive(Debug, Default, Clone, Copy)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

/// A request that holds: its client, where to go back, and what it asks.
#[derive(Debug, Clone)]
struct AuthRequest {
    client: OAuthClient,
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    nonce: Option<String>,
    prompt: Prompt,
    max_age: Option<i64>,
    code_challenge: Option<String>,
    carried: Vec<(&'static str, String)>,
    login_hint: String,
    /// Whether the pages offer passkeys (a relying party is configured).
    passkeys: bool,
    /// Whether the sign-in page offers a code by mail (`EMAIL_CODE_LOGIN`).
    email_code: bool,
}

/// What the endpoint answers: a page, or a redirect (`303`), with the cookies it sets.
#[derive(Debug)]
pub struct Answer {
    kind: Box<AnswerKind>,
    cookies: Vec<HeaderValue>,
}

#[derive(Debug)]
enum AnswerKind {
    Redirect(String),
    SignIn {
        status: StatusCode,
        app: AppView,
        carried: Vec<(&'static str, String)>,
        login: String,
        error: Option<String>,
        /// The fields of the passkey's form, where passkeys are offered.
        passkey: Option<Vec<(&'static str, String)>>,
        /// The fields of the form that asks for a code by mail, where it is offered.
        email_code: Option<Vec<(&'static str, String)>>,
    },
    /// The page that takes a mailed code, for `email`.
    EmailCode {
        status: StatusCode,
        app: AppView,
        carried: Vec<(&'static str, String)>,
        email: String,
        error: Option<String>,
    },
    SecondStep {
        status: StatusCode,
        app: AppView,
        carried: Vec<(&'static str, String)>,
        error: Option<String>,
        passkey: Option<Vec<(&'static str, String)>>,
    },
    Consent {
        app: AppView,
        username: String,
        asked: Vec<&'static str>,
        allow: Vec<(&'static str, String)>,
        deny: Vec<(&'static str, String)>,
    },
    SignOut {
        username: String,
        carried: Vec<(&'static str, String)>,
        /// The origin of the app's address to go back to, if any.
        back_to: Option<String>,
    },
    Error(ApiError),
    Message {
        status: StatusCode,
        title: &'static str,
        text: String,
    },
}

impl Answer {
    fn new(kind: AnswerKind) -> Self {
        Answer {
            kind: Box::new(kind),
            cookies: Vec::new(),
        }
    }

    /// A failure, as a page (see [`pages::error_page`]).
    fn error(e: impl Into<ApiError>) -> Self {
        Answer::new(AnswerKind::Error(e.into()))
    }

    fn with_cookie(mut self, cookie: Option<HeaderValue>) -> Self {
        self.cookies.extend(cookie);
        self
    }

    fn message(status: StatusCode, title: &'static str, text: impl Into<String>) -> Self {
        Answer::new(AnswerKind::Message {
            status,
            title,
            text: text.into(),
        })
    }

    /// Where a redirect goes, if this answer is one.
    pub fn location(&self) -> Option<&str> {
        match &*self.kind {
            AnswerKind::Redirect(to) => Some(to),
            _ => None,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = match *self.kind {
            AnswerKind::Redirect(to) => match HeaderValue::from_str(&to) {
                Ok(location) => {
                    let mut r = StatusCode::SEE_OTHER.into_response();
                    r.headers_mut().insert(header::LOCATION, location);
                    r.headers_mut().insert(
                        header::REFERRER_POLICY,
                        HeaderValue::from_static("no-referrer"),
                    );
                    r
                }
                Err(_) => {
                    pages::error_page(ApiError::Internal("a redirect that is no header".into()))
                }
            },
            AnswerKind::SignIn {
                status,
                app,
                carried,
                login,
                error,
                passkey,
                email_code,
            } => pages::sign_in_page(
                status,
                &app.page(),
                &carried,
                &login,
                error.as_deref(),
                passkey.as_deref(),
                email_code.as_deref(),
            ),
            AnswerKind::EmailCode {
                status,
                app,
                carried,
                email,
                error,
            } => pages::email_code_page(status, &app.page(), &carried, &email, error.as_deref()),
            AnswerKind::SecondStep {
                status,
                app,
                carried,
                error,
                passkey,
            } => pages::second_step_page(
                status,
                &app.page(),
                &carried,
                error.as_deref(),
                passkey.as_deref(),
            ),
            AnswerKind::Consent {
                app,
                username,
                asked,
                allow,
                deny,
            } => pages::consent_page(&app.page(), &username, &asked, &allow, &deny),
            AnswerKind::SignOut {
                username,
                carried,
                back_to,
            } => pages::sign_out_page(&username, &carried, back_to.as_deref()),
            AnswerKind::Error(e) => pages::error_page(e),
            AnswerKind::Message {
                status,
                title,
                text,
            } => pages::message_page(status, title, &text),
        };
        let headers = response.headers_mut();
        for cookie in self.cookies {
            headers.append(header::SET_COOKIE, cookie);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The app a page is for: its name, and the origin its redirect URI is on.
#[derive(Debug)]
struct AppView {
    name: String,
    origin: String,
}

impl AppView {
    fn page(&self) -> pages::App<'_> {
        pages::App {
            name: &self.name,
            origin: &self.origin,
        }
    }
}

/// The origin of `uri` (`scheme://host[:port]`), or nothing for one that is no URL.
fn origin_of(uri: &str) -> String {
    url::Url::parse(uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

fn app_of(request: &AuthRequest) -> AppView {
    AppView {
        name: request.client.name.clone(),
        origin: origin_of(&request.redirect_uri),
    }
}

/// What a scope lets an app do, as the consent page says it.
fn scope_meaning(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "know who you are (your account's id)",
        "profile" => "see your username and name",
        "email" => "see your email address",
        "widgets" => "use your widgets",
        "admin" => "act as an administrator of this service, with your rights",
        _ => return None,
    })
}

/// The redirect back to the app with an error (RFC 6749 section 4.1.2.1, RFC 9207).
fn error_redirect(
    state: &AppState,
    redirect_uri: &str,
    app_state: Option<&str>,
    error: &str,
    description: &str,
) -> Answer {
    let mut pairs = vec![("error", error), ("error_description", description)];
    pairs.extend(app_state.map(|s| ("state", s)));
    pairs.push(("iss", state.keys.issuer.as_str()));
    Answer::new(AnswerKind::Redirect(with_query(redirect_uri, &pairs)))
}

/// `uri` with `pairs` added to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        // Registered URIs parse (they were checked when registered).
        Err(_) => uri.to_string(),
    }
}

/// A PKCE challenge of S256: 43 characters of base64url (RFC 7636 section 4.2).
fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a request: `Err` is the answer (a page, or the error sent back to the app).
async fn check_request(state: &AppState, params: &AuthorizeParams) -> Result<AuthRequest, Answer> {
    let bad_link = |text: &str| {
        Answer::message(
            StatusCode::BAD_REQUEST,
            "This sign-in link does not work",
            format!("{text} Go back to the app and try again, or tell its makers."),
        )
    };
    if params.too_long() {
        return Err(bad_link("A part of the app's request is too long."));
    }
    let Some(client_id) = params.client_id.as_deref().filter(|c| c.len() <= 64) else {
        return Err(bad_link("The app's request does not say which app it is."));
    };
    let client = if client_id == ACCOUNT_CLIENT_ID {
        // The account page's own sign-in (see `account_page`).
        account_client(state)
    } else {
        match state.store.client(client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(bad_link("The app is not registered here.")),
            Err(e) => return Err(Answer::error(e)),
        }
    };
    let Some(redirect_uri) = params
        .redirect_uri
        .as_deref()
        .filter(|uri| client.redirect_uris.iter().any(|r| r == uri))
    else {
        return Err(bad_link(
            "The address the app asks to go back to is not one it registered.",
        ));
    };
    // From here on, the app hears of every error.
    let app_state = params.state.as_deref();
    let fail = |error: &str, description: &str| {
        Err(error_redirect(
            state,
            redirect_uri,
            app_state,
            error,
            description,
        ))
    };
    if params.request.is_some() {
        return fail("request_not_supported", "request objects are not supported");
    }
    if params.request_uri.is_some() {
        return fail("request_uri_not_supported", "request_uri is not supported");
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|m| m != "query")
    {
        return fail("invalid_request", "response_mode must be query");
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return fail("invalid_request", "response_type is required"),
        Some(_) => return fail("unsupported_response_type", "response_type must be code"),
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in params.scope.as_deref().unwrap_or("").split_whitespace() {
        if !CLIENT_SCOPES.contains(&s) || !client.scopes.iter().any(|c| c == s) {
            return fail("invalid_scope", "a scope is not one this app may ask for");
        }
        if !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_string());
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return fail("invalid_scope", "scope must include openid");
    }
    let mut prompt = Prompt::default();
    for p in params.prompt.as_deref().unwrap_or("").split_whitespace() {
        match p {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return fail("invalid_request", "prompt has an unknown value"),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return fail("invalid_request", "prompt=none goes with no other value");
    }
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return fail("invalid_request", "max_age must be a number of seconds"),
        },
    };
    let code_challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (None, None) => None,
        (Some(c), Some("S256")) if valid_challenge(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => {
            return fail(
                "invalid_request",
                "code_challenge must be 43 characters of base64url",
            );
        }
        (None, Some(_)) => {
            return fail(
                "invalid_request",
                "code_challenge_method without a code_challenge",
            );
        }
        (Some(_), _) => return fail("invalid_request", "code_challenge_method must be S256"),
    };
    if client.public && code_challenge.is_none() {
        return fail("invalid_request", "this app must use PKCE (S256)");
    }
    Ok(AuthRequest {
        redirect_uri: redirect_uri.to_string(),
        state: params.state.clone(),
        scopes,
        nonce: params.nonce.clone(),
        prompt,
        max_age,
        code_challenge,
        carried: params.carried(),
        login_hint: params.login_hint.clone().unwrap_or_default(),
        client,
        passkeys: state.passkeys.is_some(),
        email_code: state.email_code_login,
    })
}

/// The browser key: a function that runs the hosted pages holds `LOGIN_NAME_KEY`.
fn browser_key(state: &AppState) -> Result<&BrowserKey, Answer> {
    state.browser_key().map_err(Answer::error)
}

/// The live browser session of the request and its user, if any.
async fn live_session(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
) -> ApiResult<Option<(BrowserSession, i64, UserRecord)>> {
    let Some(cookie) = key.session(headers) else {
        return Ok(None);
    };
    let now = state.clock.now();
    Ok(state
        .store
        .authenticate(&cookie.user_id, &cookie.session_id, now)
        .await?
        .map(|(session, user)| (cookie, session.created_at, user)))
}

/// The fields of a form of `step` continuing `request`, with the browser's CSRF token.
fn form_fields(
    request: &AuthRequest,
    key: &BrowserKey,
    csrf: &str,
    step: &str,
    more: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut fields = request.carried.clone();
    fields.push(("step", step.to_string()));
    fields.push(("csrf", key.form_token(csrf)));
    fields.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    fields
}

/// A page whose forms carry the browser's CSRF token: `page` made from the browser's CSRF value,
/// with the cookie that gives the browser one when it has none yet.
fn with_csrf(
    key: &BrowserKey,
    headers: &HeaderMap,
    page: impl FnOnce(&str) -> AnswerKind,
) -> Answer {
    match key.csrf(headers) {
        Ok((csrf, set)) => Answer::new(page(&csrf)).with_cookie(set),
        Err(e) => Answer::error(e),
    }
}

/// The sign-in page for `request`, with a CSRF cookie when the browser has none.
fn sign_in(
    request: &AuthRequest,
    key: &BrowserKey,
    headers: &HeaderMap,
    status: StatusCode,
    login: &str,
    error: Option<String>,
) -> Answer {
    with_csrf(key, headers, |csrf| AnswerKind::SignIn {
        status,
        app: app_of(request),
        carried: form_fields(request, key, csrf, "password", &[]),
        login: login.to_string(),
        error,
        passkey: request
            .passkeys
            .then(|| form_fields(request, key, csrf, "passkey", &[])),
        email_code: request
            .email_code
            .then(|| form_fields(request, key, csrf, "email_code_request", &[])),
    })
}

/// `GET /oauth/authorize`.
pub async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    params: ApiResult<AuthorizeParams>,
) -> Answer {
    let params = match params {
        Ok(p) => p,
        Err(e) => {
            return Answer::message(
                StatusCode::BAD_REQUEST,
                "This sign-in link does not work",
                format!("{} Go back to the app and try again.", e.message()),
            );
        }
    };
    let request = match check_request(state, &params).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let key = match browser_key(state) {
        Ok(k) => k,
        Err(answer) => return answer,
    };
    let signed_in = match live_session(state, key, headers).await {
        Ok(s) => s,
        Err(e) => return Answer::error(e),
    };
    let now = state.clock.now();
    let fresh_enough = |auth_time: i64| request.max_age.is_none_or(|max| now - auth_time <= max);
    match signed_in {
        Some((cookie, auth_time, user)) if !request.prompt.login && fresh_enough(auth_time) => {
            continue_signed_in(
                state, key, headers, &request, &user, &cookie, auth_time, false,
            )
            .await
        }
        _ if request.prompt.none => error_redirect(
            state,
            &request.redirect_uri,
            request.state.as_deref(),
            "login_required",
            "the person is not signed in",
        ),
        _ => {
            let login = request.login_hint.clone();
            sign_in(&request, key, headers, StatusCode::OK, &login, None)
        }
    }
}

/// After the person is signed in (just now, or before on this browser): the consent page when
/// the app needs one, else the code. `consented`: the consent was just given.
#[allow(clippy::too_many_arguments)]
async fn continue_signed_in(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
    request: &AuthRequest,
    user: &UserRecord,
    session: &BrowserSession,
    auth_time: i64,
    consented: bool,
) -> Answer {
    // The account page reads the browser session itself: no code for it.
    if request.client.client_id == ACCOUNT_CLIENT_ID {
        return Answer::new(AnswerKind::Redirect(request.redirect_uri.clone()));
    }
    let scopes = still_allowed(user, &request.scopes.join(" "));
    if !request.client.first_party && !consented {
        let held = match state
            .store
            .consent(&user.user_id, &request.client.client_id)
            .await
        {
            Ok(c) => c.map(|c| c.scopes).unwrap_or_default(),
            Err(e) => return Answer::error(e),
        };
        let covered = scopes.iter().all(|s| held.contains(s));
        if request.prompt.consent || !covered {
            if request.prompt.none {
                return error_redirect(
                    state,
                    &request.redirect_uri,
                    request.state.as_deref(),
                    "consent_required",
                    "the person has not allowed this app what it asks",
                );
            }
            return with_csrf(key, headers, |csrf| AnswerKind::Consent {
                app: app_of(request),
                username: user.username.clone(),
                asked: scopes.iter().filter_map(|s| scope_meaning(s)).collect(),
                allow: form_fields(request, key, csrf, "consent", &[("decision", "allow")]),
                deny: form_fields(request, key, csrf, "consent", &[("decision", "deny")]),
            });
        }
    }
    match issue_code(state, request, user, session, auth_time, scopes).await {
        Ok(code) => {
            let mut pairs = vec![("code", code.as_str())];
            pairs.extend(request.state.as_deref().map(|s| ("state", s)));
            pairs.push(("iss", state.keys.issuer.as_str()));
            Answer::new(AnswerKind::Redirect(with_query(
                &request.redirect_uri,
                &pairs,
            )))
        }
        Err(e) => Answer::error(e),
    }
}

/// Keeps a new code for `request` and answers it.
async fn issue_code(
    state: &AppState,
    request: &AuthRequest,
    user: &UserRecord,
    session: &BrowserSession,
    auth_time: i64,
    scopes: Vec<String>,
) -> ApiResult<String> {
    let code = random_token(32)?;
    let now = state.clock.now();
    state
        .store
        .add_code(&AuthorizationCode {
            code_hash: token_hash(&code),
            client_id: request.client.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            user_id: user.user_id.clone(),
            epoch: user.auth_epoch,
            scope: scopes.join(" "),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time,
            amr: session.amr.clone(),
            expires_at: now + CODE_TTL_SECS,
        })
        .await?;
    tracing::info!(user_id = %user.user_id, client_id = %request.client.client_id, "authorization code issued");
    Ok(code)
}

/// `POST /oauth/authorize`: a form of the hosted pages.
pub async fn authorize_form(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Answer {
    let form = match crate::http::form_body::<AuthorizeForm>(headers, body) {
        Ok(f) => f,
        Err(e) => return Answer::error(e),
    };
    let request = match check_request(state, &form.request).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let key = match browser_key(state) {
        Ok(k) => k,
        Err(answer) => return answer,
    };
    let typed = form.login.clone().unwrap_or_default();
    // A form of another site, or one whose CSRF cookie is gone: the sign-in page again, with a
    // token of this browser.
    if !form
        .csrf
        .as_deref()
        .is_some_and(|t| key.form_token_holds(headers, t))
    {
        return sign_in(
            &request,
            key,
            headers,
            StatusCode::FORBIDDEN,
            &typed,
            Some("This page had expired. Please sign in again.".into()),
        );
    }
    match form.step.as_deref() {
        Some("password") => password_step(state, key, headers, &request, form).await,
        Some("code") => code_step(state, key, headers, &request, form).await,
        Some("consent") => consent_step(state, key, headers, &request, form).await,
        Some("passkey") => passkey_step(state, key, headers, &request, form).await,
        Some("email_code_request") => {
            email_code_request_step(state, key, headers, &request, form).await
        }
        Some("email_code") => email_code_step(state, key, headers, &request, form).await,
        _ => Answer::error(ApiError::field(
            "step",
            "must be password, code, consent, passkey, email_code_request or email_code",
        )),
    }
}

/// A form's field errors as a person reads them: each field by its label.
fn said(fields: &crate::error::FieldErrors) -> String {
    fields
        .iter()
        .map(|(name, why)| {
            let label = match name.as_str() {
                "username" | "email" => "Username or address",
                "password" => "Password",
                "code" | "recovery_code" => "Code",
                _ => return why.to_string(),
            };
            format!("{label} {why}.")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a refused step shows: the sign-in page with why, for what a person can mend.
fn refused(
    request: &AuthRequest,
    key: &BrowserKey,
    headers: &HeaderMap,
    login: &str,
    e: ApiError,
) -> Answer {
    let (status, why) = match &e {
        ApiError::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            "That username or address and password do not match an account.".to_string(),
        ),
        ApiError::AccountNotActivated => (
            StatusCode::FORBIDDEN,
            "This account is not activated yet: open the link in the mail it was sent.".to_string(),
        ),
        ApiError::Validation(fields) => (e.status(), said(fields)),
        ApiError::TooManyAttempts(_) | ApiError::InvalidMfaToken => (e.status(), e.message()),
        _ => return Answer::error(e),
    };
    sign_in(request, key, headers, status, login, Some(why))
}

async fn password_step(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
    request: &AuthRequest,
    form: AuthorizeForm,
) -> Answer {
    let login = form.login.unwrap_or_default();
    let by_email = login.contains('@');
    let field = |v: Option<String>| v.map_or(Field::Missing, Field::Given);
    let body = LoginBody {
        username: if by_email {
            Field::Missing
        } else {
            field(Some(login.clone()))
        },
        email: if by_email {
            field(Some(login.clone()))
        } else {
            Field::Missing
        },
        password: field(form.password),
        scope: Field::Missing,
    };
    match check_password(state, body).await {
        Ok(PasswordChecked::Proven { user, .. }) => {
            signed_in_now(
                state,
                key,
                headers,
                request,
                &user,
                crate::credentials::amr(None),
            )
            .await
        }
        Ok(PasswordChecked::SecondStep(asked)) => second_step(
            request,
            key,
            headers,
            &asked.mfa_token,
            asked.methods.contains(&crate::credentials::Method::Passkey),
            StatusCode::OK,
            None,
        ),
        Err(e) => refused(request, key, headers, &login, e),
    }
}

/// The second step's page; `offer_passkey`: the account has a passkey (and passkeys are on),
/// which the page offers beside the code (and its form carries on, for a second try).
fn second_step(
    request: &AuthRequest,
    key: &BrowserKey,
    headers: &HeaderMap,
    mfa_token: &str,
    offer_passkey: bool,
    status: StatusCode,
    error: Option<String>,
) -> Answer {
    let offer = offer_passkey && request.passkeys;
    let mut more = vec![("mfa_token", mfa_token)];
    if offer {
        more.push(("offer_passkey", "yes"));
    }
    with_csrf(key, headers, |csrf| AnswerKind::SecondStep {
        status,
        app: app_of(request),
        carried: form_fields(request, key, csrf, "code", &more),
        error,
        passkey: offer.then(|| form_fields(request, key, csrf, "code", &more)),
    })
}

async fn code_step(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
    request: &AuthRequest,
    form: AuthorizeForm,
) -> Answer {
    let mfa_token = form.mfa_token.clone().unwrap_or_default();
    let offer_passkey = form.offer_passkey.as_deref() == Some("yes");
    // A passkey's assertion, where the page offered one and the browser gave it.
    let assertion = form
        .credential
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| serde_json::from_str(c).unwrap_or(serde_json::Value::Null));
    let with_passkey = assertion.is_some();
    let code: String = form
        .code
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // Six digits are a code of the app; anything else is taken as a recovery code.
    let is_totp = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let (totp, recovery) = if is_totp {
        (Field::Given(code), Field::Missing)
    } else {
        (Field::Missing, Field::Given(code))
    };
    let body = match assertion {
        Some(assertion) => MfaLoginBody {
            mfa_token: Field::Given(mfa_token.clone()),
            code: Field::Missing,
            recovery_code: Field::Missing,
            credential: Field::Given(assertion),
        },
        None => MfaLoginBody {
            mfa_token: Field::Given(mfa_token.clone()),
            code: totp,
            recovery_code: recovery,
            credential: Field::Missing,
        },
    };
    let wrong = if with_passkey {
        "That passkey was not accepted. Try again, or use your code."
    } else {
        "That code did not work. Check it and try again."
    };
    match prove_second_step(state, body, false).await {
        Ok(proven) => signed_in_now(state, key, headers, request, &proven.user, proven.amr).await,
        Err(ApiError::InvalidMfaCode) => second_step(
            request,
            key,
            headers,
            &mfa_token,
            offer_passkey,
            StatusCode::UNAUTHORIZED,
            Some(wrong.into()),
        ),
        Err(ApiError::Validation(fields)) => second_step(
            request,
            key,
            headers,
            &mfa_token,
            offer_passkey,
            StatusCode::BAD_REQUEST,
            Some(said(&fields)),
        ),
        Err(ApiError::InvalidMfaToken) => refused(
            request,
            key,
            headers,
            "",
            ApiError::field(
                "login",
                "That took too long, or too many codes were tried: please sign in again.",
            ),
        ),
        Err(e) => refused(request, key, headers, "", e),
    }
}

/// The sign-in page's passkey (its button, or the username field's autofill): the assertion for
/// the options of `passkey_token`, a sign-in with both factors.
async fn passkey_step(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
    request: &AuthRequest,
    form: AuthorizeForm,
) -> Answer {
    let credential = form
        .credential
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .map_or(Field::Wrong, Field::Given);
    let body = super::PasskeySignInBody {
        passkey_token: form.passkey_token.map_or(Field::Missing, Field::Given),
        credential,
    };
    match super::at_least_min_duration(super::passkeys::prove_passkey_sign_in(state, body)).await {
        Ok(user) => {
            let amr = crate::credentials::passkey_amr();
            signed_in_now(state, key, headers, request, &user, amr).await
        }
        Err(ApiError::InvalidCredentials | ApiError::Validation(_)) => sign_in(
            request,
            key,
            headers,
            StatusCode::UNAUTHORIZED,
            "",
            Some("That passkey was not accepted. Try again, or sign in with your password.".into()),
        ),
        Err(e) => refused(request, key, headers, "", e),
    }
}

/// The page that takes the code mailed to `email`, its form continuing `request`.
fn email_code_page(
    request: &AuthRequest,
    key: &BrowserKey,
    headers: &HeaderMap,
    email: &str,
    status: StatusCode,
    error: Option<String>,
) -> Answer {
    with_csrf(key, headers, |csrf| AnswerKind::EmailCode {
        status,
        app: app_of(request),
        carried: form_fields(request, key, csrf, "email_code", &[("login", email)]),
        email: email.to_string(),
        error,
    })
}

/// The sign-in page's "mail me a code": the code mailed (as `POST /auth/email-code` does: the
/// same page whether or not the address has an account), then the page that takes it.
async fn email_code_request_step(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
    request: &AuthRequest,
    form: AuthorizeForm,
) -> Answer {
    let email: String = form
        .login
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_PARAM_CHARS)
        .collect();
    if !crate::user::valid_email(&email) {
        let why = "Enter a whole email address, like name@example.com, to get a code.";
        return sign_in(
            request,
            key,
            headers,
            StatusCode::BAD_REQUEST,
            &email,
            Some(why.into()),
        );
    }
    let body = super::EmailBody {
        email: Field::Given(email.clone()),
    };
    match super::request_email_code(state, body).await {
        Ok(()) => email_code_page(request, key, headers, &email, StatusCode::OK, None),
        Err(e) => refused(request, key, headers, &email, e),
    }
}

/// The mailed code typed on the hosted page: a sign-in with one factor, or its second step.
async fn email_code_step(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
    request: &AuthRequest,
    form: AuthorizeForm,
) -> Answer {
    let email: String = form
        .login
        .unwrap_or_default()
        .chars()
        .take(MAX_PARAM_CHARS)
        .collect();
    let code: String = form
        .code
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(32)
        .collect();
    if !state.email_code_login {
        return Answer::error(ApiError::EmailCodeUnavailable);
    }
    let checked =
        super::at_least_min_duration(super::email_code::check_email_code(state, &email, &code))
            .await;
    match checked {
        Ok(PasswordChecked::Proven { user, .. }) => {
            let amr = crate::credentials::amr_after(crate::credentials::EMAIL_CODE_AMR, None);
            signed_in_now(state, key, headers, request, &user, amr).await
        }
        Ok(PasswordChecked::SecondStep(asked)) => second_step(
            request,
            key,
            headers,
            &asked.mfa_token,
            asked.methods.contains(&crate::credentials::Method::Passkey),
            StatusCode::OK,
            None,
        ),
        Err(ApiError::InvalidEmailCode) => email_code_page(
            request,
            key,
            headers,
            &email,
            StatusCode::UNAUTHORIZED,
            Some("That code did not work: it is wrong, used, replaced or expired.".into()),
        ),
        Err(e @ ApiError::TooManyAttempts(_)) => {
            let why = e.message();
            email_code_page(request, key, headers, &email, e.status(), Some(why))
        }
        Err(e) => refused(request, key, headers, &email, e),
    }
}

/// A sign-in just proven on the hosted page: the browser session (a session of the account, and
/// its cookie), then on to the consent or the code.
async fn signed_in_now(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
    request: &AuthRequest,
    user: &UserRecord,
    amr: Vec<String>,
) -> Answer {
    let sid = match session_id() {
        Ok(s) => s,
        Err(e) => return Answer::error(e),
    };
    let via = [("via", "hosted_page")];
    let session = match open_session(state, user, &amr, sid, &via).await {
        Ok(s) => s,
        Err(e) => return refused(request, key, headers, "", e),
    };
    let cookie = BrowserSession {
        user_id: user.user_id.clone(),
        session_id: session.session_id.clone(),
        amr,
    };
    let max_age = session.expires_at - state.clock.now();
    let set = key.session_cookie(&cookie, max_age);
    tracing::info!(user_id = %user.user_id, "signed in on the hosted page");
    continue_signed_in(
        state,
        key,
        headers,
        request,
        user,
        &cookie,
        session.created_at,
        false,
    )
    .await
    .with_cookie(Some(set))
}

async fn consent_step(
    state: &AppState,
    key: &BrowserKey,
    headers: &HeaderMap,
    request: &AuthRequest,
    form: AuthorizeForm,
) -> Answer {
    let (cookie, auth_time, user) = match live_session(state, key, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return sign_in(
                request,
                key,
                headers,
                StatusCode::UNAUTHORIZED,
                "",
                Some("You were signed out meanwhile. Please sign in again.".into()),
            );
        }
        Err(e) => return Answer::error(e),
    };
    match form.decision.as_deref() {
        Some("allow") => {
            let scopes = still_allowed(&user, &request.scopes.join(" "));
            let now = state.clock.now();
            match state
                .store
                .give_consent(&user.user_id, &request.client.client_id, &scopes, now)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    return refused(request, key, headers, "", ApiError::InvalidCredentials);
                }
                Err(e) => return Answer::error(e),
            }
            let event = Event::new(EventType::ConsentGiven, &user)
                .session(&cookie.session_id)
                .detail("client_id", request.client.client_id.as_str())
                .detail("scopes", scopes.clone());
            events::record(state, event).await;
            continue_signed_in(
                state, key, headers, request, &user, &cookie, auth_time, true,
            )
            .await
        }
        Some("deny") => error_redirect(
            state,
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "the person did not allow it",
        ),
        _ => Answer::error(ApiError::field("decision", "must be allow or deny")),
    }
}

/// The parameters of a logout request (OpenID Connect RP-Initiated Logout 1.0 section 2), and
/// of its confirmation form (with the form's CSRF token).
#[derive(Debug, Default, Clone, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[schema(as = LogoutParams)]
pub struct LogoutParams {
    /// An ID token this service issued to the app (expired ones too): it names the person and
    /// the app.
    pub id_token_hint: Option<String>,
    /// Where to send the browser afterwards: one of the app's registered
    /// `post_logout_redirect_uris`, exactly.
    pub post_logout_redirect_uri: Option<String>,
    /// Given back with the redirect.
    pub state: Option<String>,
    /// The app, when there is no `id_token_hint`.
    pub client_id: Option<String>,
    /// The confirmation form's CSRF token (`POST` only).
    pub csrf: Option<String>,
}

impl LogoutParams {
    fn carried(&self) -> Vec<(&'static str, String)> {
        given([
            ("id_token_hint", &self.id_token_hint),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
            ("client_id", &self.client_id),
        ])
    }
}

/// `GET /oauth/logout`: with an `id_token_hint` of the person signed in on this browser, the
/// browser session ends at once; otherwise the person is asked (a page with one button, so
/// that no other site can sign anyone out). Then back to the app's registered address, or a
/// page that says so.
pub async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    params: ApiResult<LogoutParams>,
) -> Answer {
    end_browser_session(state, headers, params, false).await
}

/// `POST /oauth/logout`: the confirmation page's form.
pub async fn logout_form(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Answer {
    let params = crate::http::form_body(headers, body);
    end_browser_session(state, headers, params, true).await
}

async fn end_browser_session(
    state: &AppState,
    headers: &HeaderMap,
    params: ApiResult<LogoutParams>,
    confirmed: bool,
) -> Answer {
    let bad = |text: &str| {
        Answer::message(
            StatusCode::BAD_REQUEST,
            "This sign-out link does not work",
            format!("{text} You may close this page."),
        )
    };
    let params = match params {
        Ok(p) => p,
        Err(e) => return bad(&e.message()),
    };
    if params.carried().iter().any(|(_, v)| v.len() > 8 * 1024) {
        return bad("A part of the app's request is too long.");
    }
    let hint = match params.id_token_hint.as_deref() {
        None => None,
        Some(token) => match state.keys.read_id_token_hint(token) {
            Some(hint) => Some(hint),
            None => return bad("The app's request names a sign-in this service did not make."),
        },
    };
    let client_id = match (
        params.client_id.as_deref(),
        hint.as_ref().map(|h| h.aud.as_str()),
    ) {
        (Some(a), Some(b)) if a != b => {
            return bad("The app's request names two different apps.");
        }
        (Some(id), _) | (None, Some(id)) => Some(id.to_string()),
        (None, None) => None,
    };
    // Where to go afterwards: only an address the app registered for it.
    let redirect = match params.post_logout_redirect_uri.as_deref() {
        None => None,
        Some(uri) => {
            let client = match client_id.as_deref().filter(|id| id.len() <= 64) {
                Some(id) => match state.store.client(id).await {
                    Ok(c) => c,
                    Err(e) => return Answer::error(e),
                },
                None => None,
            };
            match client {
                Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => {
                    Some(uri.to_string())
                }
                _ => {
                    return bad("The address the app asks to go back to is not one it registered.");
                }
            }
        }
    };
    let key = match browser_key(state) {
        Ok(k) => k,
        Err(answer) => return answer,
    };
    let signed_in = match live_session(state, key, headers).await {
        Ok(s) => s,
        Err(e) => return Answer::error(e),
    };
    if let Some((cookie, _, user)) = signed_in {
        let named = hint.as_ref().is_some_and(|h| h.sub == user.user_id);
        let form_holds = confirmed
            && params
                .csrf
                .as_deref()
                .is_some_and(|t| key.form_token_holds(headers, t));
        if !named && !form_holds {
            return with_csrf(key, headers, |csrf| {
                let mut fields = params.carried();
                fields.push(("csrf", key.form_token(csrf)));
                AnswerKind::SignOut {
                    username: user.username.clone(),
                    carried: fields,
                    back_to: redirect.as_deref().map(origin_of),
                }
            });
        }
        if let Err(e) = state
            .store
            .end_session(&user.user_id, &cookie.session_id)
            .await
        {
            return Answer::error(e);
        }
        let event = Event::new(EventType::LoggedOut, &user)
            .session(&cookie.session_id)
            .detail("via", "rp_logout");
        let event = match &client_id {
            Some(id) => event.detail("client_id", id.as_str()),
            None => event,
        };
        events::record(state, event).await;
        tracing::info!(user_id = %user.user_id, "signed out of the hosted pages");
    }
    let answer = match redirect {
        Some(uri) => {
            let pairs: Vec<(&str, &str)> = params
                .state
                .as_deref()
                .map(|s| ("state", s))
                .into_iter()
                .collect();
            Answer::new(AnswerKind::Redirect(with_query(&uri, &pairs)))
        }
        None => Answer::message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of this browser. You may close this page.",
        ),
    };
    // A cookie sent is removed (its session ended now, or before); none is set otherwise (a
    // post of another site carries none, and must change nothing).
    let sent = key.has_session_cookie(headers);
    answer.with_cookie(sent.then(|| key.end_session_cookie()))
}
