//! Sign-up, activation and the resend of activation links.

use serde_json::{Map, Value};

use super::{
    activation_link, at_least_min_duration, check_data_size, email_member, fail_if_any,
    send_throttled, store_and_send_throttled, take_string, token_param, valid_email,
    valid_username,
};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::mail::activation_mail;
use crate::password::MAX_PASSWORD_CHARS;
use crate::secret::{link_token, token_hash};
use crate::state::AppState;
use crate::store::{ActivationOutcome, ActivationRecord};
use crate::user::{Role, UserRecord};

/// Activation links, and the accounts waiting on them, live 24 h.
pub const ACTIVATION_TTL_SECS: i64 = 24 * 3600;
/// Members of a sign-up body that are not profile data, nor settable by the client.
const RESERVED_AT_SIGN_UP: [&str; 5] = ["role", "activated", "user_id", "created_at", "updated_at"];

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
    let token = link_token()?;
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
        auth_epoch: 0,
    };
    let activation = ActivationRecord {
        token_hash: token_hash(&token),
        expires_at: now + ACTIVATION_TTL_SECS,
    };
    state.store.create_user(&user, &activation, now).await?;

    // Throttled like every mail anyone can trigger: the sign-up still succeeds (the address may
    // ask for a new link a minute later), and only a mail that failed undoes it.
    let mail = activation_mail(&user.email, &user.username, &activation_link(state, &token));
    if let Err(e) = send_throttled(state, &mail).await {
        if let Err(undo) = state.store.discard_unactivated_user(&user.user_id).await {
            tracing::error!(error = %undo, "could not remove a user whose mail failed");
        }
        return Err(e);
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
    let token = token_param(token).ok_or(ApiError::InvalidActivationToken)?;
    match state
        .store
        .activate(&token_hash(token), state.clock.now())
        .await?
    {
        ActivationOutcome::Activated(u) => {
            tracing::info!(user_id = %u.user_id, "user activated");
            Ok(Activation::Activated(u))
        }
        // Deactivated by an admin since: the link is spent and says nothing more.
        ActivationOutcome::AlreadyActivated(u) if !u.activated => {
            Err(ApiError::InvalidActivationToken)
        }
        ActivationOutcome::AlreadyActivated(u) => Ok(Activation::AlreadyActivated(u)),
        ActivationOutcome::Expired => Err(ApiError::ActivationTokenExpired),
        ActivationOutcome::Unknown => Err(ApiError::InvalidActivationToken),
    }
}

/// `POST /activate/resend`: mails a fresh link to an account that awaits activation; says
/// nothing of whether there is one, by its answer or by its timing.
pub async fn resend_activation(state: &AppState, body: Map<String, Value>) -> ApiResult<()> {
    at_least_min_duration(resend_activation_now(state, body)).await
}

async fn resend_activation_now(state: &AppState, body: Map<String, Value>) -> ApiResult<()> {
    let email = email_member(body)?;
    let now = state.clock.now();
    let Some(user) = state.store.find_user_by_email(&email, now).await? else {
        return Ok(());
    };
    if user.activated {
        return Ok(());
    }
    let token = link_token()?;
    let record = ActivationRecord {
        token_hash: token_hash(&token),
        expires_at: now + ACTIVATION_TTL_SECS,
    };
    let mail = activation_mail(&user.email, &user.username, &activation_link(state, &token));
    // The token is stored (and the account's window extended) only when the mail may go.
    let store = async {
        Ok(state
            .store
            .add_activation_token(&user.user_id, &record, now)
            .await?)
    };
    if let Err(e) = store_and_send_throttled(state, &mail, store).await {
        // The answer stays 202 (it must not tell whether the account exists).
        tracing::error!(error = %e, "activation mail could not be resent");
    }
    Ok(())
}
