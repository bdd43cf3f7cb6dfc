//! Log in, log out, and the caller's sessions.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{fail_if_any, take_string};
use crate::auth::Auth;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::password::MAX_PASSWORD_CHARS;
use crate::secret::{session_id, token_hash};
use crate::state::AppState;
use crate::store::{LoginFailures, Session};
use crate::token::{Claims, SESSION_TTL_SECS};
use crate::user::{Role, UserRecord, email_key, username_key};

/// Scopes a token may carry.
pub const KNOWN_SCOPES: [&str; 2] = ["widgets", "admin"];

/// Failed logins allowed before the back-off starts, and its cap (Cognito's rule).
pub const FREE_LOGIN_FAILURES: u32 = 5;
pub const MAX_LOCKOUT_SECS: i64 = 15 * 60;

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
            (Some(Value::String(u)), _) => (login_key(false, &u), false, u),
            (None, Some(Value::String(e))) => (login_key(true, &e), true, e),
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
        created_at: now,
        expires_at: now + SESSION_TTL_SECS,
        epoch: user.auth_epoch,
    };
    if !state.store.create_session(&session, now).await? {
        // Deleted, deactivated, or its password reset while this login was under way.
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

/// The login throttle's key for a name typed at login: by username or by email.
pub(crate) fn login_key(by_email: bool, name: &str) -> String {
    if by_email {
        format!("e:{}", email_key(name))
    } else {
        format!("u:{}", username_key(name))
    }
}

/// A session as `GET /auth/sessions` shows it. Its id is derived from the session's, so it names
/// the session without being any part of a token.
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub session_id: String,
    pub created_at: String,
    pub expires_at: String,
    pub current: bool,
}

/// The id a session is shown by: 128 bits of the SHA-256 of its real id.
fn shown_session_id(session_id: &str) -> String {
    token_hash(session_id)[..32].to_string()
}

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
            expires_at: rfc3339(s.expires_at),
        })
        .collect())
}

/// `DELETE /auth/sessions`: every session of the caller ends, this one included.
pub async fn end_all_sessions(state: &AppState, auth: &Auth) -> ApiResult<()> {
    state
        .store
        .end_all_sessions(&auth.user.user_id, None, state.clock.now())
        .await?;
    tracing::info!(user_id = %auth.user.user_id, "every session ended");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
