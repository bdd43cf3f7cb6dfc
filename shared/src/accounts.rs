//! The domain: what each route does, as one function each, over the store, the hasher, the
//! mailer and the token keys held in [`AppState`]. Handlers read their inputs, call one of
//! these, and shape the response.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::mail::activation_mail;
use crate::password::MAX_PASSWORD_CHARS;
use crate::secret::{activation_token, session_id, token_hash};
use crate::state::AppState;
use crate::store::{ActivationOutcome, ActivationRecord, LoginFailures, Session, UserUpdate};
use crate::token::{Claims, SESSION_TTL_SECS};
use crate::user::{Role, UserRecord, email_key, username_key};

/// Activation links, and the accounts waiting on them, live 24 h.
pub const ACTIVATION_TTL_SECS: i64 = 24 * 3600;
/// The profile `data` of a user, serialized, is at most 16 KiB.
pub const MAX_DATA_BYTES: usize = 16 * 1024;
pub const MAX_EMAIL_CHARS: usize = 254;
/// Members of a sign-up body that are not profile data, nor settable by the client.
const RESERVED_AT_SIGN_UP: [&str; 5] = ["role", "activated", "user_id", "created_at", "updated_at"];
/// Members of an update body that can never be changed through it.
const IMMUTABLE_ON_UPDATE: [&str; 6] = [
    "username",
    "email",
    "password",
    "user_id",
    "created_at",
    "updated_at",
];

/// Scopes a token may carry.
pub const KNOWN_SCOPES: [&str; 2] = ["widgets", "admin"];

/// Failed logins allowed before the back-off starts, and its cap (Cognito's rule).
pub const FREE_LOGIN_FAILURES: u32 = 5;
pub const MAX_LOCKOUT_SECS: i64 = 15 * 60;

// ---------------------------------------------------------------------------------------------
// Validation helpers

pub fn valid_username(u: &str) -> bool {
    (3..=32).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

pub fn valid_email(e: &str) -> bool {
    e.chars().count() <= MAX_EMAIL_CHARS
        && e.trim() == e
        && email_address::EmailAddress::parse_with_options(
            e,
            email_address::Options::default().without_display_text(),
        )
        .is_ok_and(|a| a.domain().contains('.') && !a.domain().starts_with('['))
}

/// Takes a string member out of `body`, noting in `errors` when it is missing or not a string.
fn take_string(body: &mut Map<String, Value>, name: &str, errors: &mut FieldErrors) -> String {
    match body.shift_remove(name) {
        Some(Value::String(s)) => s,
        Some(_) => {
            errors.insert(name.into(), "must be a string".into());
            String::new()
        }
        None => {
            errors.insert(name.into(), "is required".into());
            String::new()
        }
    }
}

fn check_data_size(data: &Map<String, Value>, errors: &mut FieldErrors) {
    let size = serde_json::to_vec(data)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_DATA_BYTES {
        errors.insert(
            "data".into(),
            format!("profile data must be at most {MAX_DATA_BYTES} bytes"),
        );
    }
}

fn fail_if_any(errors: FieldErrors) -> ApiResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn activation_link(state: &AppState, token: &str) -> String {
    format!("{}/activate?token={token}", state.public_base_url)
}

// ---------------------------------------------------------------------------------------------
// Sign up, activate, resend

/// `POST /user`: validates, creates the user (not activated) with an activation token, and mails
/// the link. If the mail cannot be sent, the user is removed again and the answer is 503.
pub async fn sign_up(state: &AppState, mut body: Map<String, Value>) -> ApiResult<UserRecord> {
    let mut errors = FieldErrors::new();
    let username = take_string(&mut body, "username", &mut errors);
    let email = take_string(&mut body, "email", &mut errors);
    let password = take_string(&mut body, "password", &mut errors);
    if !errors.contains_key("username") && !valid_username(&username) {
        errors.insert(
            "username".into(),
            "must be 3 to 32 characters of A-Z a-z 0-9 _ . -".into(),
        );
    }
    if !errors.contains_key("email") && !valid_email(&email) {
        errors.insert("email".into(), "must be a valid email address".into());
    }
    if !errors.contains_key("password") {
        let n = password.chars().count();
        if !(8..=MAX_PASSWORD_CHARS).contains(&n) {
            errors.insert(
                "password".into(),
                format!("must be 8 to {MAX_PASSWORD_CHARS} characters"),
            );
        }
    }
    for reserved in RESERVED_AT_SIGN_UP {
        if body.contains_key(reserved) {
            errors.insert(reserved.into(), "cannot be set at sign-up".into());
        }
    }
    check_data_size(&body, &mut errors);
    fail_if_any(errors)?;

    let now = state.clock.now();
    // The password's strength check and hash (CPU, on a hashing thread) and the name lookups
    // (round trips to the store) run at once: on DynamoDB the hash hides the lookups, and on a
    // cold start the connection's set-up as well. The answers keep their order: a weak
    // password, then a taken username, then a taken email. A taken name thus costs a hash, as
    // a new one does; the store decides atomically below whatever the lookups said.
    let names = async {
        tokio::try_join!(
            state.store.find_user_by_username(&username, now),
            state.store.find_user_by_email(&email, now),
        )
    };
    let hashed = state.hasher.hash_if_strong(&password, &username, &email);
    let (names, hashed) = tokio::join!(names, hashed);
    let password_hash = hashed?;
    let (by_username, by_email) = names?;
    if by_username.is_some() {
        return Err(ApiError::UsernameTaken);
    }
    if by_email.is_some() {
        return Err(ApiError::EmailTaken);
    }
    let token = activation_token()?;
    let user = UserRecord {
        user_id: uuid::Uuid::new_v4().to_string(),
        username,
        email,
        password_hash,
        role: Role::User,
        activated: false,
        data: body,
        created_at: now,
        updated_at: now,
        pending_until: Some(now + ACTIVATION_TTL_SECS),
    };
    let activation = ActivationRecord {
        token_hash: token_hash(&token),
        expires_at: now + ACTIVATION_TTL_SECS,
    };
    state.store.create_user(&user, &activation, now).await?;

    let mail = activation_mail(&user.email, &user.username, &activation_link(state, &token));
    if let Err(e) = state.mailer.send(&mail).await {
        if let Err(undo) = state.store.discard_unactivated_user(&user.user_id).await {
            tracing::error!(error = %undo, "could not remove a user whose mail failed");
        }
        return Err(ApiError::MailUnavailable(e.to_string()));
    }
    tracing::info!(user_id = %user.user_id, "user signed up");
    Ok(user)
}

/// What `GET /activate` found.
#[derive(Debug)]
pub enum Activation {
    Activated(UserRecord),
    AlreadyActivated(UserRecord),
}

/// `GET /activate?token=T`.
pub async fn activate(state: &AppState, token: Option<&str>) -> ApiResult<Activation> {
    let token = token
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or(ApiError::InvalidActivationToken)?;
    match state
        .store
        .activate(&token_hash(token), state.clock.now())
        .await?
    {
        ActivationOutcome::Activated(u) => {
            tracing::info!(user_id = %u.user_id, "user activated");
            Ok(Activation::Activated(u))
        }
        ActivationOutcome::AlreadyActivated(u) => Ok(Activation::AlreadyActivated(u)),
        ActivationOutcome::Expired => Err(ApiError::ActivationTokenExpired),
        ActivationOutcome::Unknown => Err(ApiError::InvalidActivationToken),
    }
}

/// Every resend answer takes at least this long, so its timing does not tell whether a mail
/// went out (a store write and a mail take longer than a lookup that finds nothing).
pub const RESEND_MIN_DURATION: std::time::Duration = std::time::Duration::from_millis(250);

/// `POST /activate/resend`: mails a fresh link to an account that awaits activation; says
/// nothing of whether there is one, by its answer or by its timing.
pub async fn resend_activation(state: &AppState, body: Map<String, Value>) -> ApiResult<()> {
    let started = tokio::time::Instant::now();
    let result = resend_activation_now(state, body).await;
    tokio::time::sleep_until(started + RESEND_MIN_DURATION).await;
    result
}

async fn resend_activation_now(state: &AppState, mut body: Map<String, Value>) -> ApiResult<()> {
    let mut errors = FieldErrors::new();
    let email = take_string(&mut body, "email", &mut errors);
    if errors.is_empty() && email.chars().count() > MAX_EMAIL_CHARS {
        errors.insert(
            "email".into(),
            format!("must be at most {MAX_EMAIL_CHARS} characters"),
        );
    }
    fail_if_any(errors)?;
    let now = state.clock.now();
    let Some(user) = state.store.find_user_by_email(&email, now).await? else {
        return Ok(());
    };
    if user.activated {
        return Ok(());
    }
    let token = activation_token()?;
    let record = ActivationRecord {
        token_hash: token_hash(&token),
        expires_at: now + ACTIVATION_TTL_SECS,
    };
    if state
        .store
        .add_activation_token(&user.user_id, &record, now)
        .await?
    {
        let mail = activation_mail(&user.email, &user.username, &activation_link(state, &token));
        if let Err(e) = state.mailer.send(&mail).await {
            // The answer stays 202 (it must not tell whether the account exists).
            tracing::error!(error = %e, "activation mail could not be resent");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Log in, log out

/// The seconds a login name stays locked after `failures`, at `now`; `None` when not locked.
pub fn lockout_remaining(failures: Option<LoginFailures>, now: i64) -> Option<i64> {
    let f = failures?;
    if f.count < FREE_LOGIN_FAILURES {
        return None;
    }
    let exponent = (f.count - FREE_LOGIN_FAILURES).min(20);
    let lock = (1i64 << exponent).min(MAX_LOCKOUT_SECS);
    let remaining = f.last_failure + lock - now;
    (remaining > 0).then_some(remaining)
}

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

fn allowed_scopes(user: &UserRecord) -> Vec<String> {
    let mut s = vec!["widgets".to_string()];
    if user.role == Role::Admin {
        s.push("admin".into());
    }
    s
}

#[derive(Debug, Serialize)]
pub struct LoginResponse {
    pub token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: Vec<String>,
}

/// `POST /auth` and `POST /login`.
pub async fn log_in(state: &AppState, mut body: Map<String, Value>) -> ApiResult<LoginResponse> {
    let mut errors = FieldErrors::new();
    let (login_key, by_email, name) =
        match (body.shift_remove("username"), body.shift_remove("email")) {
            (Some(Value::String(u)), _) => (format!("u:{}", username_key(&u)), false, u),
            (None, Some(Value::String(e))) => (format!("e:{}", email_key(&e)), true, e),
            (Some(_), _) => {
                errors.insert("username".into(), "must be a string".into());
                (String::new(), false, String::new())
            }
            (None, Some(_)) => {
                errors.insert("email".into(), "must be a string".into());
                (String::new(), false, String::new())
            }
            (None, None) => {
                errors.insert("username".into(), "username or email is required".into());
                (String::new(), false, String::new())
            }
        };
    let password = take_string(&mut body, "password", &mut errors);
    if name.len() > 512 {
        errors.insert(
            if by_email { "email" } else { "username" }.into(),
            "is too long".into(),
        );
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        errors.insert(
            "password".into(),
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        );
    }
    fail_if_any(errors)?;
    let requested = requested_scopes(body.shift_remove("scope"))?;

    let now = state.clock.now();
    let failures = state.store.login_failures(&login_key).await?;
    if let Some(wait) = lockout_remaining(failures, now) {
        tracing::warn!(
            retry_after = wait,
            "login refused: too many failed attempts"
        );
        return Err(ApiError::TooManyAttempts(wait as u64));
    }
    let user = if by_email {
        state.store.find_user_by_email(&name, now).await?
    } else {
        state.store.find_user_by_username(&name, now).await?
    };
    let matched = state
        .hasher
        .verify(&password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    let user = match user {
        Some(u) if matched => u,
        other => {
            let failures = state
                .store
                .record_login_failure(&login_key, state.clock.now())
                .await?;
            // Who failed is logged (an id, or that the name is unknown), never what was typed.
            tracing::warn!(
                user_id = other
                    .as_ref()
                    .map(|u| u.user_id.as_str())
                    .unwrap_or("unknown"),
                consecutive_failures = failures.count,
                "login failed"
            );
            return Err(ApiError::InvalidCredentials);
        }
    };
    if failures.is_some() {
        state.store.clear_login_failures(&login_key).await?;
    }
    if !user.activated {
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
    let now = state.clock.now();
    let session = Session {
        session_id: session_id()?,
        user_id: user.user_id.clone(),
        expires_at: now + SESSION_TTL_SECS,
    };
    if !state.store.create_session(&session, now).await? {
        // Deleted or deactivated while this login was under way.
        return Err(ApiError::InvalidCredentials);
    }
    let claims = Claims {
        sub: user.user_id.clone(),
        name: crate::user::UserView::from(&user).name.to_string(),
        email: user.email.clone(),
        scope: scope.join(" "),
        role: user.role.as_str().into(),
        sid: session.session_id,
        iat: now,
        exp: session.expires_at,
        iss: state.keys.issuer.clone(),
        aud: state.keys.audience.clone(),
    };
    let token = state.keys.sign(&claims)?;
    tracing::info!(user_id = %user.user_id, "user logged in");
    Ok(LoginResponse {
        token,
        token_type: "Bearer",
        expires_in: SESSION_TTL_SECS,
        scope,
    })
}

/// `DELETE /auth`: ends the session of the token.
pub async fn log_out(state: &AppState, auth: &Auth) -> ApiResult<()> {
    state
        .store
        .end_session(&auth.user.user_id, &auth.session.session_id)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Users

/// The user a `/user/{username}` request is about: the caller, or (for an admin) anyone.
/// Another user's account is 403 for a non-admin, whether it exists or not.
pub async fn target_user(state: &AppState, auth: &Auth, username: &str) -> ApiResult<UserRecord> {
    if auth.is_self(username) {
        return Ok(auth.user.clone());
    }
    if !auth.is_admin() {
        return Err(ApiError::Forbidden(
            "only an admin may act on another user's account",
        ));
    }
    state
        .store
        .find_user_by_username(username, state.clock.now())
        .await?
        .ok_or(ApiError::UserNotFound)
}

/// `PUT /user/{username}`: `body` replaces the profile data; `role` and `activated` in it are
/// for admins only.
pub async fn update_user(
    state: &AppState,
    auth: &Auth,
    username: &str,
    mut body: Map<String, Value>,
) -> ApiResult<UserRecord> {
    let target = target_user(state, auth, username).await?;
    let mut errors = FieldErrors::new();
    for name in IMMUTABLE_ON_UPDATE {
        if body.contains_key(name) {
            errors.insert(name.into(), "cannot be changed".into());
        }
    }
    let role = body.shift_remove("role");
    let activated = body.shift_remove("activated");
    check_data_size(&body, &mut errors);
    let role = match role {
        None => None,
        Some(Value::String(r)) if Role::parse(&r).is_some() => Role::parse(&r),
        Some(_) => {
            errors.insert("role".into(), "must be \"user\" or \"admin\"".into());
            None
        }
    };
    let activated = match activated {
        None => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            errors.insert("activated".into(), "must be true or false".into());
            None
        }
    };
    fail_if_any(errors)?;
    if (role.is_some() || activated.is_some()) && !auth.is_admin() {
        return Err(ApiError::Forbidden(
            "only an admin may set role or activated",
        ));
    }
    let update = UserUpdate {
        data: body,
        role,
        activated,
    };
    state
        .store
        .update_user(&target.user_id, &update, state.clock.now())
        .await?
        .ok_or(ApiError::UserNotFound)
}

/// `DELETE /user/{username}`: the user goes, with every session and both name claims.
pub async fn delete_user(state: &AppState, auth: &Auth, username: &str) -> ApiResult<()> {
    let target = target_user(state, auth, username).await?;
    if !state.store.delete_user(&target.user_id).await? {
        return Err(ApiError::UserNotFound);
    }
    tracing::info!(user_id = %target.user_id, by = %auth.user.user_id, "user deleted");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Widgets

/// `GET /widgets`: the caller's widgets from the upstream, filtered and reshaped.
pub async fn widgets(
    state: &AppState,
    auth: &Auth,
    query: crate::widgets::WidgetsQuery,
) -> ApiResult<crate::widgets::WidgetsAnswer> {
    auth.require_scope("widgets")?;
    let filter = crate::widgets::Filter::from_query(query)?;
    let upstream = state.widgets.as_ref().ok_or(ApiError::WidgetsUnavailable)?;
    let items = upstream.widgets_of(&auth.user.user_id).await?;
    filter.apply(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usernames_and_emails_are_checked() {
        for ok in ["abc", "Alice_1.x-y", &"a".repeat(32)] {
            assert!(valid_username(ok), "{ok}");
        }
        for bad in ["ab", &"a".repeat(33), "al ice", "alicé", "a/b", ""] {
            assert!(!valid_username(bad), "{bad}");
        }
        for ok in ["a@example.com", "A.B+tag@sub.example.org"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@x.com",
            "a@localhost",
            "Alice <a@example.com>",
            " a@example.com",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
        assert!(!valid_email(&format!("{}@example.com", "a".repeat(250))));
    }

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
