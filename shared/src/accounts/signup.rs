//! Sign-up, activation and the resend of activation links.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    EmailBody, activation_link, at_least_min_duration, mail_anonymously, send_throttled,
    token_param, valid_email, valid_username,
};
use std::time::Instant;

use crate::error::{ApiError, ApiResult};
use crate::events::{self, Actor, Event, EventType};
use crate::input::{
    Field, Validate, a_new_password, absent, data_size, required_string, when_given,
};
use crate::mail::activation_mail;
use crate::secret::{link_token, token_hash};
use crate::state::AppState;
use crate::store::{ActivationOutcome, ActivationRecord};
use crate::telemetry::ms;
use crate::user::{Role, UserRecord};

/// Activation links, and the accounts waiting on them, live 24 h.
pub const ACTIVATION_TTL_SECS: i64 = 24 * 3600;
/// `POST /user`: `username`, `email`, `password`. Every other member is profile data, kept
/// verbatim; `role`, `activated`, `user_id`, `created_at`, `updated_at` are refused.
#[derive(Debug, Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = SignupRequest)]
pub struct SignUpBody {
    #[serde(default)]
    #[garde(
        custom(required_string),
        custom(when_given(valid_username, username_rule))
    )]
    #[schema(value_type = String, required, pattern = "^[A-Za-z0-9_.-]{3,32}$")]
    pub username: Field<String>,
    #[serde(default)]
    #[garde(custom(required_string), custom(when_given(valid_email, email_rule)))]
    #[schema(value_type = String, required, format = Email, max_length = 254)]
    pub email: Field<String>,
    #[serde(default)]
    #[garde(custom(required_string), custom(a_new_password))]
    #[schema(value_type = String, required, min_length = 8, max_length = 256)]
    pub password: Field<String>,
    #[serde(default)]
    #[garde(custom(absent("cannot be set at sign-up")))]
    #[schema(ignore)]
    pub role: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be set at sign-up")))]
    #[schema(ignore)]
    pub activated: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be set at sign-up")))]
    #[schema(ignore)]
    pub user_id: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be set at sign-up")))]
    #[schema(ignore)]
    pub created_at: Field<Value>,
    #[serde(default)]
    #[garde(custom(absent("cannot be set at sign-up")))]
    #[schema(ignore)]
    pub updated_at: Field<Value>,
    #[serde(flatten)]
    #[garde(custom(data_size))]
    #[schema(ignore)]
    pub data: Map<String, Value>,
}

/// A sign-up whose every member holds.
pub struct SignUp {
    pub username: String,
    pub email: String,
    pub password: String,
    pub data: Map<String, Value>,
}

impl Validate for SignUpBody {
    type Command = SignUp;
    fn command(self) -> SignUp {
        SignUp {
            username: self.username.into_string(),
            email: self.email.into_string(),
            password: self.password.into_string(),
            data: self.data,
        }
    }
}

pub(crate) fn username_rule() -> String {
    "must be 3 to 32 characters of A-Z a-z 0-9 _ . -".into()
}
pub(crate) fn email_rule() -> String {
    "must be a valid email address".into()
}

/// `POST /user`: validates, creates the user (not activated) with an activation token, and mails
/// the link. If the mail cannot be sent, the user is removed again and the answer is 503.
pub async fn sign_up(state: &AppState, body: SignUpBody) -> ApiResult<UserRecord> {
    let SignUp {
        username,
        email,
        password,
        data,
    } = body.validate()?;

    let now = state.clock.now();
    // The operator's hook first (before a hash is spent): it sees the name, the address and
    // the profile, never the password. A refusal, or a hook that fails, keeps nothing.
    if let Some(hooks) = &state.hooks
        && let Err(refused) = hooks.before_signup(&username, &email, &data, now).await
    {
        let reason = match refused {
            ApiError::SignUpRefused(_) => "refused_by_hook",
            _ => "hook_unavailable",
        };
        let event = Event::unattached(EventType::SignedUp, Actor::anonymous())
            .failed()
            .detail("reason", reason);
        events::record(state, event).await;
        return Err(refused);
    }
    // The password's strength check and hash (CPU, on a hashing thread) and the name lookups
    // (round trips to the store) run at once: on DynamoDB the hash hides the lookups, and on a
    // cold start the connection's set-up as well. The answers keep their order: a weak
    // password, then a taken username, then a taken email. A taken name thus costs a hash, as
    // a new one does; the store decides atomically below whatever the lookups said.
    let started = Instant::now();
    let names = async {
        let names = tokio::try_join!(
            state.store.find_user_by_username(&username, now),
            state.store.find_user_by_email(&email, now),
        );
        (names, started.elapsed())
    };
    let hashed = async {
        let hashed = state
            .hasher
            .hash_if_strong(&password, &username, &email)
            .await;
        (hashed, started.elapsed())
    };
    let ((names, lookups_took), (hashed, hash_took)) = tokio::join!(names, hashed);
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
        data,
        created_at: now,
        updated_at: now,
        pending_until: Some(now + ACTIVATION_TTL_SECS),
        auth_epoch: 0,
    };
    let activation = ActivationRecord {
        token_hash: token_hash(&token),
        expires_at: now + ACTIVATION_TTL_SECS,
    };
    let stored_at = Instant::now();
    state.store.create_user(&user, &activation, now).await?;
    let store_took = stored_at.elapsed();

    // Throttled like every mail anyone can trigger: the sign-up still succeeds (the address may
    // ask for a new link a minute later), and only a mail that failed undoes it.
    let mail = activation_mail(&user.email, &user.username, &activation_link(state, &token));
    let mailed_at = Instant::now();
    if let Err(e) = send_throttled(state, &mail).await {
        if let Err(undo) = state.store.discard_unactivated_user(&user.user_id).await {
            tracing::error!(error = %undo, "could not remove a user whose mail failed");
        }
        return Err(e);
    }
    tracing::info!(user_id = %user.user_id, "user signed up");
    events::record(state, Event::new(EventType::SignedUp, &user)).await;
    // Where a sign-up's time goes (bench/run.sh reads these on cold starts); off by default.
    tracing::debug!(
        check_and_hash_ms = ms(hash_took),
        lookups_ms = ms(lookups_took),
        store_ms = ms(store_took),
        mail_ms = ms(mailed_at.elapsed()),
        "sign-up timing"
    );
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
            events::record(state, Event::new(EventType::Activated, &u)).await;
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
pub async fn resend_activation(state: &AppState, body: EmailBody) -> ApiResult<()> {
    at_least_min_duration(resend_activation_now(state, body)).await
}

async fn resend_activation_now(state: &AppState, body: EmailBody) -> ApiResult<()> {
    let email = body.validate()?;
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
    let event = Event::new(EventType::ActivationResent, &user);
    mail_anonymously(state, &mail, store, event).await;
    Ok(())
}
