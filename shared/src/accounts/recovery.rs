//! Account recovery and self-service changes: the forgotten password, changing the password and
//! the address.
//!
//! A notice of a completed change is sent *before* the change is stored: if it cannot be sent,
//! nothing changes (`503 mail_unavailable`), so no password or address ever changes without
//! its owner being told.

use serde::Deserialize;

use super::session::{login_key, take_attempt};
use super::{
    EmailBody, at_least_min_duration, mail_anonymously, send_notice, store_and_send_throttled,
    token_param, valid_email,
};
use crate::auth::Auth;
use crate::credentials::Proof;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, Actor, Event, EventType};
use crate::input::{
    Field, Validate, a_new_password, password_to_verify, required_string, when_given,
};
use crate::mail::{
    email_changed_notice, email_confirmation_mail, password_changed_notice, reset_mail,
};
use crate::secret::{link_token, token_hash};
use crate::state::AppState;
use crate::store::{EmailChangeOutcome, EmailChangeRecord, ResetRecord, ResetTokenState};
use crate::user::{UserRecord, email_key};

/// A password reset link works for 1 hour.
pub const RESET_TTL_SECS: i64 = 3600;
/// An address confirmation link works for 24 hours.
pub const EMAIL_CHANGE_TTL_SECS: i64 = 24 * 3600;

/// `POST /password/reset`: the link's `token` and the new `password`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = ResetRequest)]
pub struct ResetBody {
    #[serde(default)]
    #[garde(custom(required_string))]
    #[schema(value_type = String, required, max_length = 128)]
    pub token: Field<String>,
    #[serde(default)]
    #[garde(custom(required_string), custom(a_new_password))]
    #[schema(value_type = String, required, min_length = 8, max_length = 256)]
    pub password: Field<String>,
}

pub struct ResetPassword {
    pub token: String,
    pub password: String,
}

impl Validate for ResetBody {
    type Command = ResetPassword;
    fn command(self) -> ResetPassword {
        ResetPassword {
            token: self.token.into_string(),
            password: self.password.into_string(),
        }
    }
}

/// `PUT /user/{username}/password`: `current_password` and `new_password`.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = ChangePasswordRequest)]
pub struct ChangePasswordBody {
    #[serde(default)]
    #[garde(custom(required_string), custom(password_to_verify))]
    #[schema(value_type = String, required, max_length = 256)]
    pub current_password: Field<String>,
    #[serde(default)]
    #[garde(custom(required_string), custom(a_new_password))]
    #[schema(value_type = String, required, min_length = 8, max_length = 256)]
    pub new_password: Field<String>,
    /// A code of the second factor: the step-up of an account that has one (unless its
    /// sign-in with it is recent).
    #[serde(default)]
    #[garde(custom(super::mfa::optional))]
    #[schema(value_type = String, max_length = 512)]
    pub code: Field<String>,
}

pub struct ChangePassword {
    pub current: String,
    pub new: String,
    pub code: Option<String>,
}

impl Validate for ChangePasswordBody {
    type Command = ChangePassword;
    fn command(self) -> ChangePassword {
        ChangePassword {
            current: self.current_password.into_string(),
            new: self.new_password.into_string(),
            code: self.code.given().cloned(),
        }
    }
}

/// `PUT /user/{username}/email`: the new `email` and the account's `password`. Validated
/// knowing the account's address now (a change to it is refused).
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[garde(context(String as current))]
#[schema(as = ChangeEmailRequest)]
pub struct ChangeEmailBody {
    #[serde(default)]
    #[garde(
        custom(required_string),
        custom(when_given(valid_email, || "must be a valid email address".into())),
        custom(|email: &Field<String>, current: &String| match email.given() {
            Some(e) if email_key(e) == email_key(current) => {
                Err(garde::Error::new("is already the account's address"))
            }
            _ => Ok(()),
        })
    )]
    #[schema(value_type = String, required, format = Email, max_length = 254)]
    pub email: Field<String>,
    #[serde(default)]
    #[garde(custom(required_string), custom(password_to_verify))]
    #[schema(value_type = String, required, max_length = 256)]
    pub password: Field<String>,
    /// A code of the second factor, as for a change of password.
    #[serde(default)]
    #[garde(custom(super::mfa::optional))]
    #[schema(value_type = String, max_length = 512)]
    pub code: Field<String>,
}

pub struct ChangeEmail {
    pub email: String,
    pub password: String,
    pub code: Option<String>,
}

impl Validate for ChangeEmailBody {
    type Command = ChangeEmail;
    fn command(self) -> ChangeEmail {
        ChangeEmail {
            email: self.email.into_string(),
            password: self.password.into_string(),
            code: self.code.given().cloned(),
        }
    }
}

/// Routes on `/user/{username}/...` that change credentials are the owner's alone: an admin
/// may not set another user's password or address.
fn require_self(auth: &Auth, username: &str) -> ApiResult<()> {
    if auth.is_self(username) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the account's owner may change its password or address",
        ))
    }
}

/// Checks the caller's password as a login does: under the login throttle of its username
/// (`429` while locked), a wrong one counted as a failed login (`401 invalid_credentials`).
pub(crate) async fn verify_own_password(
    state: &AppState,
    user: &UserRecord,
    password: &str,
) -> ApiResult<()> {
    let key = login_key(false, &user.username);
    take_attempt(state, &key).await?;
    if !state
        .hasher
        .verify(password, Some(&user.password_hash))
        .await?
    {
        state
            .store
            .record_failed_attempt(&key, state.clock.now())
            .await?;
        tracing::warn!(user_id = %user.user_id, "password check failed");
        return Err(ApiError::InvalidCredentials);
    }
    // An imported hash is left for the sign-in to replace: a change of password that asked
    // for this one writes on condition of the hash it read.
    state.store.clear_login_failures(&key).await?;
    Ok(())
}

/// The "password changed" notice, sent before the change is stored; it says whether the change
/// (which moves the auth epoch on) cancels a pending change of address.
async fn send_password_notice(
    state: &AppState,
    user: &UserRecord,
    removes_factor: bool,
) -> ApiResult<()> {
    let cancels = state
        .store
        .has_pending_email_change(&user.user_id, user.auth_epoch, state.clock.now())
        .await?;
    let notice = password_changed_notice(&user.email, &user.username, cancels, removes_factor);
    send_notice(state, &notice).await
}

// ---------------------------------------------------------------------------------------------
// The forgotten password

/// `POST /password/forgot`: mails a reset link to an existing, activated account; says nothing
/// of whether there is one, by its answer or by its timing (as resend).
pub async fn forgot_password(state: &AppState, body: EmailBody) -> ApiResult<()> {
    at_least_min_duration(forgot_password_now(state, body)).await
}

async fn forgot_password_now(state: &AppState, body: EmailBody) -> ApiResult<()> {
    let email = body.validate()?;
    let now = state.clock.now();
    let mut user = state.store.find_user_by_email(&email, now).await?;
    if user.is_none() {
        // A person of the old system (the migration hook, when set) is created here with no
        // password, which the link sets. A hook that fails creates no one; the answer stays
        // 202 (it says nothing of whether an address is known).
        let trigger = crate::hooks::MigrationTrigger::ForgotPassword;
        user = match super::import::migrate(state, trigger, &email, None).await {
            Ok(super::import::Migration::Created(u)) => Some(*u),
            Ok(super::import::Migration::Taken) => {
                state.store.find_user_by_email(&email, now).await?
            }
            Ok(super::import::Migration::No) | Err(ApiError::HookUnavailable(_)) => None,
            Err(e) => return Err(e),
        };
    }
    let Some(user) = user else {
        return Ok(());
    };
    if !user.activated {
        return Ok(());
    }
    let token = link_token()?;
    let reset = ResetRecord {
        token_hash: token_hash(&token),
        user_id: user.user_id.clone(),
        epoch: user.auth_epoch,
        email: user.email.clone(),
        expires_at: now + RESET_TTL_SECS,
    };
    let link = format!("{}/password/reset?token={token}", state.public_base_url);
    let mail = reset_mail(&user.email, &user.username, &link);
    // The token is stored only when the mail may go.
    let store = async {
        state.store.add_reset_token(&reset, now).await?;
        Ok(true)
    };
    let event = Event::new(EventType::PasswordResetRequested, &user).by(Actor::anonymous());
    mail_anonymously(state, &mail, store, event).await;
    Ok(())
}

/// The user a reset token is for, or why it cannot be used.
fn usable(state: ResetTokenState) -> ApiResult<UserRecord> {
    match state {
        ResetTokenState::Valid(user) => Ok(*user),
        ResetTokenState::Expired => Err(ApiError::ResetTokenExpired),
        ResetTokenState::Unknown => Err(ApiError::InvalidResetToken),
    }
}

/// `GET /password/reset?token=T`: whether the link can still be used (nothing is spent).
pub async fn check_reset_token(state: &AppState, token: Option<&str>) -> ApiResult<()> {
    let token = token_param(token).ok_or(ApiError::InvalidResetToken)?;
    usable(
        state
            .store
            .reset_token(&token_hash(token), state.clock.now())
            .await?,
    )
    .map(|_| ())
}

/// `POST /password/reset` `{"token", "password"}`: sets the password. Every session and every
/// reset link of the user ends, the login throttle of the account is cleared, and a notice is
/// mailed (before the change is stored: if it cannot be sent, nothing changes).
pub async fn reset_password(state: &AppState, body: ResetBody) -> ApiResult<()> {
    let ResetPassword { token, password } = body.validate()?;
    let token = token_param(Some(&token)).ok_or(ApiError::InvalidResetToken)?;
    let hash = token_hash(token);
    // A dead link is refused before any hashing.
    let user = usable(state.store.reset_token(&hash, state.clock.now()).await?)?;
    let new_hash = state
        .hasher
        .hash_if_strong(&password, &user.username, &user.email)
        .await?;
    // A second factor never used to sign in goes: whoever turned it on without the owner (with
    // the password, which this reset replaces) cannot keep the owner out. The notice says so;
    // it goes first, as every notice of a change does.
    let unproven = state
        .store
        .factor(&user.user_id)
        .await?
        .filter(|f| !f.signed_in);
    let removes_factor = unproven.as_ref().is_some_and(|f| f.enabled);
    send_password_notice(state, &user, removes_factor).await?;
    let removed = unproven.is_some() && state.store.remove_unproven_factor(&user.user_id).await?;
    if removed && removes_factor {
        tracing::warn!(user_id = %user.user_id, "a second factor never used to sign in was removed by a password reset");
        let event = Event::new(EventType::MfaDisabled, &user).detail("via", "password_reset");
        events::record(state, event).await;
    }
    let user = usable(
        state
            .store
            .reset_password(&hash, &new_hash, state.clock.now())
            .await?,
    )?;
    // The account's count (every name that finds it counts there).
    let key = login_key(false, &user.username);
    state.store.clear_login_failures(&key).await?;
    tracing::info!(user_id = %user.user_id, "password reset");
    events::record(state, Event::new(EventType::PasswordReset, &user)).await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Changes by the account's owner

/// `PUT /user/{username}/password` `{"current_password", "new_password"}`: the owner only.
/// Every other session ends; the calling one goes on.
pub async fn change_password(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: ChangePasswordBody,
) -> ApiResult<()> {
    require_self(auth, username)?;
    let ChangePassword { current, new, code } = body.validate()?;
    let user = &auth.user;
    verify_own_password(state, user, &current).await?;
    super::mfa::step_up(state, auth, code.map(Proof::Totp)).await?;
    let new_hash = state
        .hasher
        .hash_if_strong(&new, &user.username, &user.email)
        .await?;
    send_password_notice(state, user, false).await?;
    let changed = state
        .store
        .change_password(
            &user.user_id,
            &user.password_hash,
            &new_hash,
            &auth.session.session_id,
            state.clock.now(),
        )
        .await?;
    if !changed {
        // Changed (or the account deleted) since this request read it.
        return Err(ApiError::InvalidCredentials);
    }
    tracing::info!(user_id = %user.user_id, "password changed");
    let event = Event::new(EventType::PasswordChanged, user).session(&auth.session.session_id);
    events::record(state, event).await;
    Ok(())
}

/// `PUT /user/{username}/email` `{"email", "password"}`: the owner only. Mails a confirmation
/// link to the new address; nothing changes until it is followed.
pub async fn change_email(
    state: &AppState,
    auth: &Auth,
    username: &str,
    body: ChangeEmailBody,
) -> ApiResult<()> {
    require_self(auth, username)?;
    let ChangeEmail {
        email,
        password,
        code,
    } = body.validate_with(&auth.user.email)?;
    let user = &auth.user;
    verify_own_password(state, user, &password).await?;
    super::mfa::step_up(state, auth, code.map(Proof::Totp)).await?;
    let now = state.clock.now();
    if state.store.find_user_by_email(&email, now).await?.is_some() {
        return Err(ApiError::EmailTaken);
    }
    let token = link_token()?;
    let change = EmailChangeRecord {
        token_hash: token_hash(&token),
        user_id: user.user_id.clone(),
        new_email: email.clone(),
        epoch: user.auth_epoch,
        expires_at: now + EMAIL_CHANGE_TTL_SECS,
    };
    let link = format!("{}/email/confirm?token={token}", state.public_base_url);
    // Throttled like every mail a request can trigger: past the limit the answer is the same,
    // and nothing is stored.
    let store = async {
        state.store.add_email_change(&change, now).await?;
        Ok(true)
    };
    store_and_send_throttled(
        state,
        &email_confirmation_mail(&email, &user.username, &link),
        store,
    )
    .await?;
    tracing::info!(user_id = %user.user_id, "email change requested");
    let event = Event::new(EventType::EmailChangeRequested, user).session(&auth.session.session_id);
    events::record(state, event).await;
    Ok(())
}

/// What `GET /email/confirm` did.
#[derive(Debug)]
pub enum EmailConfirmation {
    Changed(UserRecord),
    /// The link was followed before (a re-click, or a mail scanner first).
    AlreadyConfirmed(UserRecord),
}

fn confirmed(outcome: EmailChangeOutcome) -> ApiResult<EmailConfirmation> {
    match outcome {
        EmailChangeOutcome::Changed { user, .. } => Ok(EmailConfirmation::Changed(user)),
        EmailChangeOutcome::AlreadyConfirmed(user) => Ok(EmailConfirmation::AlreadyConfirmed(user)),
        EmailChangeOutcome::EmailTaken => Err(ApiError::EmailTaken),
        EmailChangeOutcome::Expired => Err(ApiError::ConfirmationTokenExpired),
        EmailChangeOutcome::Unknown => Err(ApiError::InvalidConfirmationToken),
    }
}

/// `GET /email/confirm?token=T`: the new address is claimed, the old one released, atomically;
/// a notice goes to the old address first (if it cannot be sent, nothing changes).
pub async fn confirm_email(state: &AppState, token: Option<&str>) -> ApiResult<EmailConfirmation> {
    let token = token_param(token).ok_or(ApiError::InvalidConfirmationToken)?;
    let hash = token_hash(token);
    let (user, old_email, new_email) =
        match state.store.email_change(&hash, state.clock.now()).await? {
            EmailChangeOutcome::Changed {
                user,
                old_email,
                new_email,
            } => (user, old_email, new_email),
            other => return confirmed(other),
        };
    send_notice(
        state,
        &email_changed_notice(&old_email, &user.username, &new_email),
    )
    .await?;
    let outcome = state
        .store
        .confirm_email_change(&hash, state.clock.now())
        .await?;
    if let EmailChangeOutcome::Changed { user: changed, .. } = &outcome {
        tracing::info!(user_id = %user.user_id, "email changed");
        events::record(state, Event::new(EventType::EmailChanged, changed)).await;
    }
    confirmed(outcome)
}
