//! Log in, log out, and the caller's sessions.

use crate::api_doc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;

use super::import::Migration;
use super::send_notice;
use crate::auth::Auth;
use crate::clock::rfc3339;
use crate::credentials::{self, Method, second_step_methods};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Actor, Event, EventType};
use crate::hooks::MigrationTrigger;
use crate::input::{Field, Validate};
use crate::mail::email_change_cancelled_notice;
use crate::password::MAX_PASSWORD_CHARS;
use crate::refresh_token::{self, RefreshClaims};
use crate::secret::{session_id, token_hash};
use crate::state::AppState;
use crate::store::{LoginAttempt, MfaChallenge, Session};
use crate::token::{Claims, MAX_TOKEN_BYTES};
use crate::user::{Role, UserRecord, email_key, username_key};

/// Scopes a token may carry.
pub const KNOWN_SCOPES: [&str; 2] = ["widgets", "admin"];

/// The scopes of OpenID Connect, which an access token from an authorization code carries too
/// (what the ID token and userinfo may say of the person): anyone may have them.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "email"];

pub use crate::store::{FREE_LOGIN_FAILURES, MAX_LOCKOUT_SECS, lockout_remaining};

/// The scopes asked for: `None` when the member is absent.
fn requested_scopes(value: Option<Value>) -> ApiResult<Option<Vec<String>>> {
    let list: Vec<String> = match value {
        None => return Ok(None),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(ApiError::field(
                    "scope",
                    "must be an array of strings or a string",
                )),
            })
            .collect::<ApiResult<_>>()?,
        Some(_) => {
            return Err(ApiError::field(
                "scope",
                "must be an array of strings or a string",
            ));
        }
    };
    let mut scopes: Vec<String> = Vec::new();
    for s in list {
        if !KNOWN_SCOPES.contains(&s.as_str()) {
            let shown: String = s.chars().take(40).collect();
            return Err(ApiError::InvalidScope(shown));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    Ok(Some(scopes))
}

pub(crate) fn allowed_scopes(user: &UserRecord) -> Vec<String> {
    let mut s = vec!["widgets".to_string()];
    if user.role == Role::Admin {
        s.push("admin".into());
    }
    s
}

/// What a login and a refresh answer, as RFC 6749 section 5.1 spells a token response: the
/// access token (`access_token`, and `token` as the first clients read it), how long it lasts,
/// its scope, and the refresh token that gets the next pair, with how long the sign-in can last.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginResponse {
    /// The access token, a JWT (RFC 6749 section 5.1).
    pub access_token: String,
    #[schema(schema_with = bearer)]
    pub token_type: &'static str,
    /// Seconds until the access token expires (ACCESS_TOKEN_TTL, 86400 by default).
    #[schema(minimum = 0, maximum = 86400)]
    pub expires_in: i64,
    /// Spend it at POST /auth/token for the next pair; it works once.
    #[schema(max_length = 512)]
    pub refresh_token: String,
    /// Seconds until the sign-in ends unless refreshed before (SESSION_IDLE_TTL, never past
    /// SESSION_MAX_TTL after the login).
    #[schema(minimum = 0)]
    pub refresh_expires_in: i64,
    /// The token's scopes, space-delimited (RFC 6749 section 3.3); empty for none.
    #[schema(
        pattern = "^((openid|profile|email|widgets|admin)( (openid|profile|email|widgets|admin))*)?$"
    )]
    pub scope: String,
    /// The access token again, under the name clients written before the standard names read.
    pub token: String,
    /// The ID token (OpenID Connect Core 1.0 section 2): only from an authorization code of a
    /// request with the `openid` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// What a right password answers: the tokens, or, for an account with a second factor, the
/// token of the login's second step.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginOutcome {
    SignedIn(LoginResponse),
    MfaRequired(MfaRequired),
}

/// `200 {"mfa_required": true, "mfa_token", "methods", "expires_in"}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRequired {
    #[schema(schema_with = always_true)]
    pub mfa_required: bool,
    pub mfa_token: String,
    /// What the second step takes, from what the account has.
    pub methods: Vec<Method>,
    #[schema(schema_with = mfa_challenge_ttl)]
    pub expires_in: i64,
}

fn bearer() -> Schema {
    api_doc::constant("Bearer".into())
}

fn always_true() -> Schema {
    api_doc::constant(true.into())
}

fn mfa_challenge_ttl() -> Schema {
    api_doc::constant(MFA_CHALLENGE_TTL_SECS.into())
}

/// How long a login's second step may take, and so its `mfa_token` lasts.
pub const MFA_CHALLENGE_TTL_SECS: i64 = 300;

/// `POST /auth` and `POST /login`: `username` (or else `email`), `password`, and `scope`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = LoginMembers)]
pub struct LoginBody {
    /// The username, or else `email`.
    #[serde(default)]
    #[schema(value_type = String)]
    pub username: Field<String>,
    #[serde(default)]
    #[schema(value_type = String)]
    pub email: Field<String>,
    #[serde(default)]
    #[schema(value_type = String, max_length = 256, required)]
    pub password: Field<String>,
    /// The scopes asked for, space-delimited or a list; by default all the account may have.
    #[serde(default)]
    #[schema(schema_with = api_doc::scope_request)]
    pub scope: Field<Value>,
}

/// The login body as openapi.json describes it: its members ([`LoginBody`]) and the rule they
/// share, which a struct's schema cannot say: `username` or `email` is given.
pub struct LoginRequest;

impl utoipa::PartialSchema for LoginRequest {
    fn schema() -> utoipa::openapi::RefOr<Schema> {
        use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder};
        let all = AllOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name(LoginBody::name()))
            .item(
                AnyOfBuilder::new()
                    .item(ObjectBuilder::new().required("username"))
                    .item(ObjectBuilder::new().required("email")),
            )
            .description(Some(
                "A login: `username` (or else `email`), `password`, and `scope`.",
            ))
            .build();
        utoipa::openapi::RefOr::T(Schema::AllOf(all))
    }
}

impl ToSchema for LoginRequest {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<Schema>)>) {
        schemas.push((
            LoginBody::name().into(),
            <LoginBody as utoipa::PartialSchema>::schema(),
        ));
        <LoginBody as ToSchema>::schemas(schemas);
    }
}

/// A login whose members hold: the name (an address when `by_email`), the password, and the
/// scope member as given (checked after the fields, as its own error).
pub struct LogIn {
    pub name: String,
    pub by_email: bool,
    pub password: String,
    pub scope: Option<Value>,
}

/// The rules of a login body, which depend on one another (a username, else an address).
impl garde::Validate for LoginBody {
    type Context = ();

    fn validate_into(
        &self,
        _: &(),
        _: &mut dyn FnMut() -> garde::Path,
        report: &mut garde::Report,
    ) {
        let mut fail = |field: &str, message: String| {
            report.append(garde::Path::new(field), garde::Error::new(message));
        };
        let name = match (&self.username, &self.email) {
            (Field::Given(u), _) => Some(("username", u)),
            (Field::Missing, Field::Given(e)) => Some(("email", e)),
            (Field::Wrong, _) => {
                fail("username", "must be a string".into());
                None
            }
            (Field::Missing, Field::Wrong) => {
                fail("email", "must be a string".into());
                None
            }
            (Field::Missing, Field::Missing) => {
                fail("username", "username or email is required".into());
                None
            }
        };
        if let Some((field, name)) = name
            && name.len() > 512
        {
            fail(field, "is too long".into());
        }
        match &self.password {
            Field::Missing => fail("password", "is required".into()),
            Field::Wrong => fail("password", "must be a string".into()),
            Field::Given(p) if p.chars().count() > MAX_PASSWORD_CHARS => fail(
                "password",
                format!("must be at most {MAX_PASSWORD_CHARS} characters"),
            ),
            Field::Given(_) => {}
        }
    }
}

impl Validate for LoginBody {
    type Command = LogIn;
    fn command(self) -> LogIn {
        let (name, by_email) = match (self.username, self.email) {
            (Field::Given(u), _) => (u, false),
            (_, e) => (e.into_string(), true),
        };
        LogIn {
            name,
            by_email,
            password: self.password.into_string(),
            // Any JSON value is a Value: given (`null` included) or absent.
            scope: match self.scope {
                Field::Given(v) => Some(v),
                _ => None,
            },
        }
    }
}

/// `POST /auth` and `POST /login`.
pub async fn log_in(state: &AppState, body: LoginBody) -> ApiResult<LoginOutcome> {
    let (user, scope) = match check_password(state, body).await? {
        PasswordChecked::Proven { user, scope } => (user, scope),
        PasswordChecked::SecondStep(asked) => return Ok(LoginOutcome::MfaRequired(asked)),
    };
    let amr = credentials::amr(None);
    let ext = token_hook(state, &user, &scope, &amr).await?;
    let pair = sign_in(state, &user, scope, amr, ext).await?;
    tracing::info!(user_id = %user.user_id, "user logged in");
    Ok(LoginOutcome::SignedIn(pair))
}

/// What a right first factor (a password, or a mailed code) came to.
pub(crate) enum PasswordChecked {
    /// The sign-in is proven (the account has no second factor): its user, and the scopes it
    /// may have of those asked.
    Proven {
        user: UserRecord,
        scope: Vec<String>,
    },
    /// The second step is asked for (its challenge is stored).
    SecondStep(MfaRequired),
}

/// The first step of every sign-in with a password (`POST /auth`, the hosted sign-in page):
/// the login throttle, the password, the account's state, the scopes asked, and the challenge
/// of the second step when the account has one. Every failure is recorded and answered alike.
pub(crate) async fn check_password(
    state: &AppState,
    body: LoginBody,
) -> ApiResult<PasswordChecked> {
    let LogIn {
        name,
        by_email,
        password,
        scope,
    } = body.validate()?;
    let requested = requested_scopes(scope)?;
    // Before anything is looked up, so that every name is refused alike without it.
    let name_key = state
        .login_name_key
        .clone()
        .ok_or_else(|| ApiError::Internal("LOGIN_NAME_KEY is not configured".into()))?;

    let now = state.clock.now();
    let find = || async {
        if by_email {
            state.store.find_user_by_email(&name, now).await
        } else {
            state.store.find_user_by_username(&name, now).await
        }
    };
    let user = find().await?;
    // One account, one budget: a name that finds an account counts on the account (its
    // username's key, which the password and code checks of every route share), whether it was
    // typed as the username or the address. A name of no account counts on its own key, a MAC
    // of it: the store never keeps what was typed (a password typed into the name field).
    let login_key = match &user {
        Some(u) => login_key(false, &u.username),
        None => unknown_name_key(&name_key, &login_key(by_email, &name)),
    };
    let attempts = match take_attempt(state, &login_key).await {
        Err(refused @ ApiError::TooManyAttempts(_)) => {
            record_failed_login(state, EventType::LoginThrottled, user.as_ref(), None).await;
            return Err(refused);
        }
        taken => taken?,
    };
    // A name of no account here may be a person of the old system (the migration hook, when
    // set): created here now, with the password it vouched for. The hook saying no costs what
    // any unknown name costs (the dummy hash is verified below).
    let mut user = user;
    let mut migrated = false;
    if user.is_none() {
        let trigger = MigrationTrigger::Login { by_email };
        match super::import::migrate(state, trigger, &name, Some(&password)).await {
            Err(unavailable @ ApiError::HookUnavailable(_)) => {
                // Counted as a failure: a hook that fails is no way around the throttle.
                let now = state.clock.now();
                state.store.record_failed_attempt(&login_key, now).await?;
                return Err(unavailable);
            }
            Err(e) => return Err(e),
            Ok(Migration::Created(u)) => {
                user = Some(*u);
                migrated = true;
            }
            // Held here now (by this person, migrated at once by another request, or by
            // someone else): the name is looked up again and the password checked as usual.
            Ok(Migration::Taken) => user = find().await?,
            Ok(Migration::No) => {}
        }
    }
    let matched = migrated
        || state
            .hasher
            .verify(&password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
    let user = match user {
        Some(u) if matched => super::import::upgrade_hash(state, u, &password).await,
        other => {
            // The attempt was counted when it was taken; the lock runs from now. Who failed is
            // logged (an id, or that the name is unknown), never what was typed.
            state
                .store
                .record_failed_attempt(&login_key, state.clock.now())
                .await?;
            tracing::warn!(
                user_id = other
                    .as_ref()
                    .map(|u| u.user_id.as_str())
                    .unwrap_or("unknown"),
                "login failed"
            );
            let reason = Some("wrong_password").filter(|_| other.is_some());
            record_failed_login(state, EventType::LoginFailed, other.as_ref(), reason).await;
            return Err(ApiError::InvalidCredentials);
        }
    };
    // With a second factor on, a right password proves nothing yet: after earlier failures
    // (wrong codes among them) the count stays until a code proves right, else each right
    // password would wipe what wrong codes built, and codes could be guessed without end.
    let methods = second_step_of(state, &user).await?;
    let mfa_on = !methods.is_empty();
    if !mfa_on || attempts <= 1 {
        state.store.clear_login_failures(&login_key).await?;
    }
    if !user.activated {
        let reason = Some("not_activated");
        record_failed_login(state, EventType::LoginFailed, Some(&user), reason).await;
        return Err(ApiError::AccountNotActivated);
    }
    let allowed = allowed_scopes(&user);
    let scope = match requested {
        None => allowed,
        Some(asked) => {
            if asked.iter().any(|s| !allowed.contains(s)) {
                return Err(ApiError::Forbidden(
                    "the account may not have a requested scope",
                ));
            }
            asked
        }
    };
    if mfa_on {
        // The password was right; the second step decides.
        let asked = open_second_step(state, &user, &scope, methods, credentials::PASSWORD_AMR);
        tracing::info!(user_id = %user.user_id, "password right: the second factor is asked for");
        return Ok(PasswordChecked::SecondStep(asked.await?));
    }
    Ok(PasswordChecked::Proven { user, scope })
}

/// What the second step of `user`'s sign-ins offers (nothing: no second step).
pub(crate) async fn second_step_of(state: &AppState, user: &UserRecord) -> ApiResult<Vec<Method>> {
    let factor = state.store.factor(&user.user_id).await?;
    let has_passkeys = match &factor {
        Some(f) if f.enabled => !state.store.passkeys(&user.user_id).await?.is_empty(),
        _ => false,
    };
    Ok(second_step_methods(factor.as_ref(), has_passkeys))
}

/// Keeps the challenge of a sign-in's second step, its first proven with `first_factor` (as
/// `amr` says it), and answers it.
pub(crate) async fn open_second_step(
    state: &AppState,
    user: &UserRecord,
    scope: &[String],
    methods: Vec<Method>,
    first_factor: &str,
) -> ApiResult<MfaRequired> {
    let token = crate::secret::link_token()?;
    let now = state.clock.now();
    state
        .store
        .create_challenge(&MfaChallenge {
            token_hash: token_hash(&token),
            user_id: user.user_id.clone(),
            scope: scope.join(" "),
            first_factor: first_factor.into(),
            epoch: user.auth_epoch,
            expires_at: now + MFA_CHALLENGE_TTL_SECS,
            attempts: 0,
        })
        .await?;
    state
        .metrics
        .count(crate::metrics::Metric::SecondStepRequired);
    Ok(MfaRequired {
        mfa_required: true,
        mfa_token: token,
        methods,
        expires_in: MFA_CHALLENGE_TTL_SECS,
    })
}

/// Makes the session of a sign-in whose every factor was proven, and its pair of tokens; `ext`
/// what the token hook added, asked by the caller ([`token_hook`]) before anything was spent.
pub(crate) async fn sign_in(
    state: &AppState,
    user: &UserRecord,
    scope: Vec<String>,
    amr: Vec<String>,
    ext: Option<Map<String, Value>>,
) -> ApiResult<LoginResponse> {
    let session = open_session(state, user, &amr, session_id()?, &[]).await?;
    token_pair(state, user, &session, scope, amr, ext, session.created_at)
}

/// Makes the session `session_id` of a sign-in of `user` whose every factor was proven (`amr`),
/// and records it (its event with `details` besides: how it was made).
pub(crate) async fn open_session(
    state: &AppState,
    user: &UserRecord,
    amr: &[String],
    session_id: String,
    details: &[(&str, &str)],
) -> ApiResult<Session> {
    let now = state.clock.now();
    let lifetimes = state.lifetimes;
    let session = Session {
        session_id,
        user_id: user.user_id.clone(),
        created_at: now,
        expires_at: now + lifetimes.idle.min(lifetimes.absolute),
        epoch: user.auth_epoch,
        refresh_gen: 0,
        refreshed_at: now,
    };
    if !state.store.create_session(&session, now).await? {
        // Deleted, deactivated, or its password reset while this login was under way.
        return Err(ApiError::InvalidCredentials);
    }
    let mut event = Event::new(EventType::LoggedIn, user)
        .session(&session.session_id)
        .detail("amr", amr);
    for (key, value) in details {
        event = event.detail(key, *value);
    }
    events::record(state, event).await;
    Ok(session)
}

/// The scope granted at login (space-separated), less what `user` may no longer have.
pub(crate) fn still_allowed(user: &UserRecord, granted: &str) -> Vec<String> {
    let allowed = allowed_scopes(user);
    granted
        .split_whitespace()
        .filter(|s| OIDC_SCOPES.contains(s) || allowed.iter().any(|a| a == s))
        .map(str::to_string)
        .collect()
}

/// What the token hook adds to `user`'s access token, when there is a token hook: asked before
/// a sign-in spends anything (a session, a code, a recovery code), so that a hook that refuses
/// leaves nothing behind.
pub(crate) async fn token_hook(
    state: &AppState,
    user: &UserRecord,
    scope: &[String],
    amr: &[impl AsRef<str>],
) -> ApiResult<Option<Map<String, Value>>> {
    let Some(hooks) = &state.hooks else {
        return Ok(None);
    };
    let now = state.clock.now();
    let ext = hooks.before_token(user, scope, amr, now).await?;
    if let Some(ext) = &ext {
        // The token these claims would make, measured as signed: one the service would then
        // refuse (over MAX_TOKEN_BYTES) is refused now, before anything is spent. Its session id
        // and times are as long as the real ones (22 characters, ten digits).
        let amr = amr.iter().map(|m| m.as_ref().to_string()).collect();
        let times = (now, now + state.lifetimes.access_token);
        let sid = "x".repeat(22);
        let claims = access_claims(state, user, &sid, scope, amr, Some(ext.clone()), times);
        let size = state.keys.sign(&claims)?.len();
        if size > MAX_TOKEN_BYTES {
            tracing::error!(
                hook = "token",
                size,
                "claims make a token too large to be accepted: refused"
            );
            state.metrics.count(crate::metrics::Metric::HookFailures);
            return Err(ApiError::HookUnavailable(
                "token: claims make the token too large".into(),
            ));
        }
    }
    Ok(ext)
}

/// Records a login that failed or was refused: of `user`, or of no account (what was typed is
/// not kept), by someone not proven to be anyone.
pub(crate) async fn record_failed_login(
    state: &AppState,
    kind: EventType,
    user: Option<&UserRecord>,
    reason: Option<&str>,
) {
    let event = match user {
        Some(u) => Event::new(kind, u),
        None => Event::unattached(kind, Actor::anonymous()),
    };
    let mut event = event.by(Actor::anonymous()).failed();
    if let Some(reason) = reason {
        event = event.detail("reason", reason);
    }
    events::record(state, event).await;
}

/// The pair of tokens of `session` at its current generation: the access token (issued when
/// the generation began, `session.refreshed_at`, for `ACCESS_TOKEN_TTL` and never past the
/// sign-in's absolute end) and the refresh token of that generation. Both are the same however
/// often they are made for the same session, generation and user (Ed25519, RSA PKCS#1 v1.5 and
/// HMAC signatures are deterministic): a tab answered from the reuse grace gets exactly the pair the winning
/// tab got (with a token hook, as long as the hook answers both alike). `ext`: what the token
/// hook added.
pub(crate) fn token_pair(
    state: &AppState,
    user: &UserRecord,
    session: &Session,
    scope: Vec<String>,
    amr: Vec<String>,
    ext: Option<Map<String, Value>>,
    now: i64,
) -> ApiResult<LoginResponse> {
    let lifetimes = state.lifetimes;
    let iat = session.refreshed_at;
    let exp = (iat + lifetimes.access_token).min(session.created_at + lifetimes.absolute);
    let claims = access_claims(
        state,
        user,
        &session.session_id,
        &scope,
        amr,
        ext,
        (iat, exp),
    );
    let token = state.keys.sign(&claims)?;
    let refresh = RefreshClaims {
        sub: user.user_id.clone(),
        sid: session.session_id.clone(),
        generation: session.refresh_gen,
        scope: claims.scope.clone(),
        amr: claims.amr,
    };
    let refresh_token = refresh_token::make(&state.keys, &refresh)
        .ok_or_else(|| ApiError::Internal("these keys cannot make refresh tokens".into()))?;
    Ok(LoginResponse {
        access_token: token.clone(),
        token,
        token_type: "Bearer",
        expires_in: exp - now,
        scope: claims.scope,
        refresh_token,
        refresh_expires_in: session.expires_at - now,
        id_token: None,
    })
}

/// The claims of `user`'s access token in the sign-in `sid`, issued and expiring at `times`.
fn access_claims(
    state: &AppState,
    user: &UserRecord,
    sid: &str,
    scope: &[String],
    amr: Vec<String>,
    ext: Option<Map<String, Value>>,
    (iat, exp): (i64, i64),
) -> Claims {
    Claims {
        sub: user.user_id.clone(),
        name: name_in_token(crate::user::UserView::from(user).name),
        email: user.email.clone(),
        scope: scope.join(" "),
        role: user.role.as_str().into(),
        sid: sid.to_string(),
        iat,
        exp,
        iss: state.keys.issuer.clone(),
        aud: state.keys.audience.clone(),
        nbf: None,
        acr: credentials::acr(&amr).into(),
        amr,
        ext,
    }
}

/// `POST /auth/token` (JSON or a form): `grant_type`, and what the grant takes: the refresh
/// token (RFC 6749 section 6), or the code with its redirect URI and PKCE verifier (section
/// 4.1.3, RFC 7636 section 4.5), with the client's credentials in the body
/// (`client_secret_post`) or the `Authorization` header (`client_secret_basic`).
#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[schema(as = TokenRequest)]
pub struct RefreshBody {
    /// `refresh_token` or `authorization_code`; any other value answers 400
    /// unsupported_grant_type.
    #[serde(default)]
    #[garde(custom(crate::input::required_string))]
    #[schema(value_type = String, required)]
    pub grant_type: Field<String>,
    /// For `refresh_token`: any string; one that is not a working refresh token of this service
    /// answers 400 invalid_grant.
    #[serde(default)]
    #[garde(custom(grant_member))]
    #[schema(value_type = String)]
    pub refresh_token: Field<String>,
    /// For `authorization_code`: the code the redirect carried.
    #[serde(default)]
    #[garde(custom(grant_member))]
    #[schema(value_type = String)]
    pub code: Field<String>,
    /// For `authorization_code`: the redirect URI of the authorization request, exactly.
    #[serde(default)]
    #[garde(custom(grant_member))]
    #[schema(value_type = String)]
    pub redirect_uri: Field<String>,
    /// For `authorization_code`: PKCE's verifier (RFC 7636), when the request had a challenge.
    #[serde(default)]
    #[garde(custom(grant_member))]
    #[schema(value_type = String)]
    pub code_verifier: Field<String>,
    /// The client, when not in the `Authorization` header.
    #[serde(default)]
    #[garde(custom(grant_member))]
    #[schema(value_type = String)]
    pub client_id: Field<String>,
    /// A confidential client's secret, when not in the `Authorization` header
    /// (`client_secret_post`).
    #[serde(default)]
    #[garde(custom(grant_member))]
    #[schema(value_type = String)]
    pub client_secret: Field<String>,
}

/// A member of a token request: a string when given (its length is the body's limit's; a token
/// or code too long is simply not one of this service's).
fn grant_member<C>(field: &Field<String>, _: &C) -> garde::Result {
    match field {
        Field::Wrong => Err(garde::Error::new("must be a string")),
        _ => Ok(()),
    }
}

/// A token request whose members hold.
pub struct TokenRequest {
    pub grant_type: String,
    pub refresh_token: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

impl Validate for RefreshBody {
    type Command = TokenRequest;
    fn command(self) -> TokenRequest {
        TokenRequest {
            grant_type: self.grant_type.into_string(),
            refresh_token: self.refresh_token.given().cloned(),
            code: self.code.given().cloned(),
            redirect_uri: self.redirect_uri.given().cloned(),
            code_verifier: self.code_verifier.given().cloned(),
            client_id: self.client_id.given().cloned(),
            client_secret: self.client_secret.given().cloned(),
        }
    }
}

/// `required` of a grant's member: present, else `invalid_request` naming it.
pub(crate) fn required(value: Option<String>, name: &str) -> ApiResult<String> {
    value.ok_or_else(|| {
        ApiError::InvalidRequest(crate::error::FieldErrors::from([(
            name.to_string(),
            "is required".to_string(),
        )]))
    })
}

/// `POST /auth/token`: the grant the request names. `authorization`: its `Authorization`
/// header, if any (a client's Basic credentials).
pub async fn token(
    state: &AppState,
    authorization: Option<&str>,
    body: RefreshBody,
) -> ApiResult<LoginResponse> {
    let request = body.validate().map_err(|e| match e {
        ApiError::Validation(fields) => ApiError::InvalidRequest(fields),
        other => other,
    })?;
    match request.grant_type.as_str() {
        "refresh_token" => refresh(state, required(request.refresh_token, "refresh_token")?).await,
        "authorization_code" => super::code_grant::redeem(state, authorization, request).await,
        _ => Err(ApiError::UnsupportedGrantType),
    }
}

/// How many times a refresh reads the session again after losing a race for its rotation.
const ROTATION_TRIES: usize = 3;

/// `POST /auth/token` with `grant_type=refresh_token`: spends the refresh token for a new pair.
///
/// The token's generation against its session's: the current one is rotated (one conditional
/// write; the sign-in's idle end moves on, never past its absolute end); the one just replaced,
/// within `REFRESH_REUSE_GRACE` seconds of its rotation, gets the current pair again (two tabs
/// refreshing at once both stay signed in); any other spent one ends the sign-in, every token
/// of it, and is logged as a possible theft. Unknown, forged, revoked, expired and spent tokens
/// all answer `invalid_grant`.
async fn refresh(state: &AppState, token: String) -> ApiResult<LoginResponse> {
    let Some(presented) = refresh_token::read(&state.keys, &token) else {
        tracing::debug!("refresh refused: not a refresh token of this service");
        return Err(ApiError::InvalidGrant);
    };
    let lifetimes = state.lifetimes;
    for _ in 0..ROTATION_TRIES {
        let now = state.clock.now();
        let Some((session, user)) = state
            .store
            .authenticate(&presented.sub, &presented.sid, now)
            .await?
        else {
            tracing::debug!(user_id = %presented.sub, "refresh refused: the sign-in has ended");
            return Err(ApiError::InvalidGrant);
        };
        let scope = still_allowed(&user, &presented.scope);
        let current = session.refresh_gen;
        let within_grace = presented.generation == current - 1
            && now - session.refreshed_at <= lifetimes.reuse_grace;
        // The token hook before the rotation: a hook that refuses leaves the presented token
        // as it was (still usable), never neither token.
        let ext = if presented.generation == current || within_grace {
            token_hook(state, &user, &scope, &presented.amr).await?
        } else {
            None
        };
        if presented.generation == current {
            let ends = (now + lifetimes.idle).min(session.created_at + lifetimes.absolute);
            if state.store.rotate_session(&session, now, ends).await? {
                let rotated = Session {
                    refresh_gen: current + 1,
                    refreshed_at: now,
                    expires_at: ends,
                    ..session
                };
                tracing::info!(user_id = %user.user_id, "tokens refreshed");
                state.metrics.count(crate::metrics::Metric::Refreshes);
                return token_pair(state, &user, &rotated, scope, presented.amr, ext, now);
            }
            // Another refresh (or an end) came first: read the session again.
            continue;
        }
        if within_grace {
            tracing::info!(user_id = %user.user_id, "refresh within the reuse grace");
            state.metrics.count(crate::metrics::Metric::Refreshes);
            let event = Event::new(EventType::RefreshGraceUsed, &user)
                .session(&session.session_id)
                .detail("presented_generation", presented.generation)
                .detail("current_generation", current);
            events::record(state, event).await;
            return token_pair(state, &user, &session, scope, presented.amr, ext, now);
        }
        if presented.generation < current {
            state
                .store
                .end_session(&user.user_id, &session.session_id)
                .await?;
            let event = Event::new(EventType::RefreshReuseDetected, &user)
                .by(Actor::service())
                .session(&session.session_id)
                .detail("presented_generation", presented.generation)
                .detail("current_generation", current);
            events::record(state, event).await;
            tracing::warn!(
                user_id = %user.user_id,
                presented = presented.generation,
                current,
                "a spent refresh token was used again: the sign-in is ended (a possible theft)"
            );
        }
        return Err(ApiError::InvalidGrant);
    }
    Err(ApiError::StoreUnavailable(
        "the session kept changing under its refresh".into(),
    ))
}

/// `POST /auth/revoke` (RFC 7009): `token`, and `token_type_hint` (`refresh_token` or
/// `access_token`), which is only a hint: both kinds are looked for whatever it says.
#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[schema(as = RevokeRequest)]
pub struct RevokeBody {
    /// A refresh token or an access token.
    #[serde(default)]
    #[garde(custom(crate::input::required_string), custom(not_empty))]
    #[schema(value_type = String, required)]
    pub token: Field<String>,
    /// `refresh_token` or `access_token`; only a hint (both kinds are looked for).
    #[serde(default)]
    #[garde(custom(optional_hint))]
    #[schema(value_type = String)]
    pub token_type_hint: Field<String>,
}

fn not_empty<C>(token: &Field<String>, _: &C) -> garde::Result {
    match token {
        Field::Given(t) if t.is_empty() => Err(garde::Error::new("is required")),
        _ => Ok(()),
    }
}

fn optional_hint<C>(hint: &Field<String>, _: &C) -> garde::Result {
    match hint {
        Field::Wrong => Err(garde::Error::new("must be a string")),
        _ => Ok(()),
    }
}

impl Validate for RevokeBody {
    type Command = String;
    fn command(self) -> String {
        self.token.into_string()
    }
}

/// `POST /auth/revoke`: a refresh token or an access token of this service ends its sign-in
/// (RFC 7009 section 2.1: revoking either ends the other tokens of the same sign-in). Anything
/// else (unknown, forged, expired, already revoked, another service's) is left as it is, and
/// the answer is the same: nothing tells the caller what the token was.
pub async fn revoke(state: &AppState, body: RevokeBody) -> ApiResult<()> {
    let token = body.validate().map_err(|e| match e {
        ApiError::Validation(fields) => ApiError::InvalidRequest(fields),
        other => other,
    })?;
    let now = state.clock.now();
    let named = match refresh_token::read(&state.keys, &token) {
        Some(refresh) => Some((refresh.sub, refresh.sid)),
        None => state.keys.verify(&token, now).ok().map(|c| (c.sub, c.sid)),
    };
    let Some((user_id, session_id)) = named else {
        tracing::debug!("revocation of a token that is not one of this service's: nothing to do");
        return Ok(());
    };
    let Some((session, user)) = state.store.authenticate(&user_id, &session_id, now).await? else {
        tracing::debug!(user_id = %user_id, "revocation of a sign-in that has ended already");
        return Ok(());
    };
    state
        .store
        .end_session(&user.user_id, &session.session_id)
        .await?;
    tracing::info!(user_id = %user.user_id, "sign-in revoked");
    let event = Event::new(EventType::LoggedOut, &user)
        .session(&session.session_id)
        .detail("via", "revocation");
    events::record(state, event).await;
    Ok(())
}

/// `DELETE /auth`: ends the session of the token.
pub async fn log_out(state: &AppState, auth: &Auth) -> ApiResult<()> {
    state
        .store
        .end_session(&auth.user.user_id, &auth.session.session_id)
        .await?;
    let event = Event::new(EventType::LoggedOut, &auth.user).session(&auth.session.session_id);
    events::record(state, event).await;
    Ok(())
}

/// The most characters of the profile's `name` a token carries: the profile is the user's to
/// fill (16 KiB), a token is refused past 4,096 bytes, so a long name must not make every token
/// of the account unusable.
pub const MAX_NAME_CHARS_IN_TOKEN: usize = 64;

/// The profile's name, cut to [`MAX_NAME_CHARS_IN_TOKEN`] characters.
pub(crate) fn name_in_token(name: &str) -> String {
    name.chars().take(MAX_NAME_CHARS_IN_TOKEN).collect()
}

/// Takes one password attempt under the login throttle of `login_key` (counted as a failure
/// until the password proves right): `429` while the name is locked.
/// The attempts counted, this one included.
pub(crate) async fn take_attempt(state: &AppState, login_key: &str) -> ApiResult<u32> {
    match state
        .store
        .take_login_attempt(login_key, state.clock.now())
        .await?
    {
        LoginAttempt::Taken(failures) => {
            if failures.count > 1 {
                tracing::debug!(consecutive_failures = failures.count - 1, "login attempt");
            }
            Ok(failures.count)
        }
        LoginAttempt::Locked(wait) => {
            tracing::warn!(
                retry_after = wait,
                "login refused: too many failed attempts"
            );
            Err(ApiError::TooManyAttempts(wait as u64))
        }
    }
}

/// The login throttle's key of a name that finds no account: `n:` and the base64url
/// HMAC-SHA256 of its [`login_key`] under `LOGIN_NAME_KEY`. Deterministic (the same name
/// meets the same count), and nothing of the name can be read back without the key.
pub(crate) fn unknown_name_key(key: &[u8], login_key: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(login_key.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!(
        "n:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
    )
}

/// The login throttle's key of a name: by username (`u:`, the key of an account) or by
/// email (`e:`, only ever kept as [`unknown_name_key`]).
pub(crate) fn login_key(by_email: bool, name: &str) -> String {
    if by_email {
        format!("e:{}", email_key(name))
    } else {
        format!("u:{}", username_key(name))
    }
}

/// A session as `GET /auth/sessions` shows it. Its id is derived from the session's, so it names
/// the session without being any part of a token.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub struct SessionView {
    pub session_id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When its refresh token was last used (`null`: never since the login).
    #[schema(format = DateTime, required)]
    pub refreshed_at: Option<String>,
    /// When the sign-in ends unless refreshed before (never past its absolute end).
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The session of the token that asked.
    pub current: bool,
}

use crate::events::shown_session_id;

/// `GET /auth/sessions`: the caller's live sessions, oldest first.
pub async fn list_sessions(state: &AppState, auth: &Auth) -> ApiResult<Vec<SessionView>> {
    let sessions = state
        .store
        .list_sessions(&auth.user.user_id, auth.user.auth_epoch, state.clock.now())
        .await?;
    Ok(sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.session_id == auth.session.session_id,
            session_id: shown_session_id(&s.session_id),
            created_at: rfc3339(s.created_at),
            refreshed_at: (s.refresh_gen > 0).then(|| rfc3339(s.refreshed_at)),
            expires_at: rfc3339(s.expires_at),
        })
        .collect())
}

/// `DELETE /auth/sessions`: every session of the caller ends, this one included, and so does a
/// pending change of address (its owner is told by mail).
pub async fn end_all_sessions(state: &AppState, auth: &Auth) -> ApiResult<()> {
    let user = &auth.user;
    let now = state.clock.now();
    let cancels = state
        .store
        .has_pending_email_change(&user.user_id, user.auth_epoch, now)
        .await?;
    state
        .store
        .end_all_sessions(&user.user_id, None, now)
        .await?;
    tracing::info!(user_id = %user.user_id, "every session ended");
    let event = Event::new(EventType::SessionsEnded, user).session(&auth.session.session_id);
    events::record(state, event).await;
    if cancels {
        // The sessions have ended whatever becomes of the notice.
        let notice = email_change_cancelled_notice(&user.email, &user.username);
        if let Err(e) = send_notice(state, &notice).await {
            tracing::error!(error = %e, "notice of a cancelled address change not sent");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LoginFailures;
    use serde_json::json;

    #[test]
    fn lockout_starts_after_five_failures_doubles_and_caps() {
        let f = |count, last_failure| {
            Some(LoginFailures {
                count,
                last_failure,
            })
        };
        assert_eq!(lockout_remaining(None, 100), None);
        assert_eq!(lockout_remaining(f(4, 100), 100), None);
        assert_eq!(lockout_remaining(f(5, 100), 100), Some(1));
        assert_eq!(lockout_remaining(f(5, 100), 101), None);
        assert_eq!(lockout_remaining(f(7, 100), 100), Some(4));
        assert_eq!(lockout_remaining(f(15, 100), 100), Some(900));
        assert_eq!(lockout_remaining(f(1000, 100), 100), Some(900));
    }

    #[test]
    fn scopes_parse_from_arrays_and_strings() {
        assert_eq!(requested_scopes(None).unwrap(), None);
        assert_eq!(requested_scopes(Some(json!([]))).unwrap(), Some(vec![]));
        assert_eq!(requested_scopes(Some(json!(""))).unwrap(), Some(vec![]));
        assert_eq!(
            requested_scopes(Some(json!("widgets  admin widgets"))).unwrap(),
            Some(vec!["widgets".to_string(), "admin".to_string()])
        );
        assert!(matches!(
            requested_scopes(Some(json!(["nope"]))),
            Err(ApiError::InvalidScope(_))
        ));
        assert!(matches!(
            requested_scopes(Some(json!([1]))),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            requested_scopes(Some(json!({}))),
            Err(ApiError::Validation(_))
        ));
    }
}
