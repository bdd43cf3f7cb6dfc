//! The user store: what the domain needs, not "put item". Uniqueness of usernames and emails,
//! single use of activation tokens and the end of sessions with their user are the store's job,
//! done atomically by each implementation.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::account_event::{AccountEvent, EventType};
use crate::error::ApiError;
use crate::user::{Role, UserRecord, email_key};

pub mod dynamodb;
pub mod sqlite;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("username taken")]
    UsernameTaken,
    #[error("email taken")]
    EmailTaken,
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UsernameTaken => ApiError::UsernameTaken,
            StoreError::EmailTaken => ApiError::EmailTaken,
            StoreError::Unavailable(cause) => ApiError::StoreUnavailable(cause),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An activation token as stored: only its hash, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRecord {
    pub token_hash: String,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActivationOutcome {
    /// This click activated the account.
    Activated(UserRecord),
    /// The account was activated before (a re-click, or a mail scanner got there first).
    AlreadyActivated(UserRecord),
    Expired,
    Unknown,
}

/// A login's session. It is live while it has not expired and its `epoch` is its user's
/// [`UserRecord::auth_epoch`]: moving a user's epoch on ends every session made before, at once
/// and atomically, however many there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub session_id: String,
    pub user_id: String,
    /// When the person signed in.
    pub created_at: i64,
    /// When the sign-in ends: idle since its last refresh for too long, or too old, whichever
    /// comes first (moved on by each refresh, never past the absolute end).
    pub expires_at: i64,
    pub epoch: i64,
    /// How many times its refresh token was rotated: the generation of the one refresh token
    /// that works now (0 at login). One number per sign-in, however many refreshes.
    pub refresh_gen: i64,
    /// When it was last rotated (its login's time until the first refresh).
    pub refreshed_at: i64,
}

/// A password-reset token as stored: its hash, the user, and the user's auth epoch when it was
/// made. It works once, until it expires, and only while that epoch is the user's: using any
/// reset token (or changing the password, or ending every session) moves the epoch on and so
/// ends every reset token of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRecord {
    pub token_hash: String,
    pub user_id: String,
    pub epoch: i64,
    /// The address the link was mailed to: it works only while that is the user's address.
    pub email: String,
    pub expires_at: i64,
}

/// What a reset token is worth now.
#[derive(Debug, Clone, PartialEq)]
pub enum ResetTokenState {
    /// Usable, for this user.
    Valid(Box<UserRecord>),
    Expired,
    /// Never issued, used, or ended by a newer change of the user's credentials.
    Unknown,
}

/// A change of address waiting for its confirmation link. Like a session, it lives only while
/// `epoch` is its user's auth epoch: a password reset or change and "end every session" cancel
/// it (someone who had the password must not keep a way to move the account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChangeRecord {
    pub token_hash: String,
    pub user_id: String,
    pub new_email: String,
    pub epoch: i64,
    pub expires_at: i64,
}

/// What a confirmation token is worth now, or what using it did.
#[derive(Debug, Clone, PartialEq)]
pub enum EmailChangeOutcome {
    /// The token is valid (a lookup), or this use changed the address (a confirmation); the
    /// user as it is (lookup) or as it became (confirmation), and the address it had before.
    Changed {
        user: UserRecord,
        old_email: String,
        new_email: String,
    },
    /// Used before (a re-click, or a mail scanner got there first): the user as it is now.
    AlreadyConfirmed(UserRecord),
    /// Another account holds the new address; nothing changed.
    EmailTaken,
    Expired,
    Unknown,
}

/// At most one mail a minute, and [`MAILS_PER_DAY`] a day, to one address, of the mails that
/// anyone's request can trigger.
pub const MAIL_INTERVAL_SECS: i64 = 60;
pub const MAILS_PER_DAY: i64 = 10;
pub const MAIL_DAY_SECS: i64 = 24 * 3600;

/// What an update changes: `data` always (it is replaced whole), role and activation when set.
#[derive(Debug, Clone, PartialEq)]
pub struct UserUpdate {
    pub data: Map<String, Value>,
    pub role: Option<Role>,
    pub activated: Option<bool>,
}

/// Consecutive failed logins for one login name (an attempt under way counts as one until it
/// succeeds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    /// When the last of them was taken.
    pub last_failure: i64,
}

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

/// What [`UserStore::take_login_attempt`] answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// The attempt may go on; it is counted as a failure (these are the failures now) until the
    /// login succeeds and clears them.
    Taken(LoginFailures),
    /// The name is locked for this many more seconds; nothing was counted.
    Locked(i64),
}

/// A page of users and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct UserPage {
    pub users: Vec<UserRecord>,
    /// The lowercased username the next page starts after; `None`: this was the last page.
    pub next_after: Option<String>,
}

/// What the service keeps, by concern: one trait each ([`Users`], [`Activations`],
/// [`Sessions`], [`Credentials`], [`Throttles`]), each implemented by both stores in a file of
/// that concern (`sqlite/<concern>.rs`, `dynamodb/<concern>.rs`) and held to one contract
/// (`shared/tests/store_contract/<concern>.rs`). A store is all of them.
pub trait UserStore:
    Users
    + Activations
    + Sessions
    + Credentials
    + Throttles
    + Factors
    + Events
    + Clients
    + Grants
    + Passkeys
    + EmailCodes
{
}

impl<
    T: Users
        + Activations
        + Sessions
        + Credentials
        + Throttles
        + Factors
        + Events
        + Clients
        + Grants
        + Passkeys
        + EmailCodes,
> UserStore for T
{
}

/// The accounts themselves: created, found, listed, updated, deleted.
#[async_trait]
pub trait Users: Send + Sync {
    /// Creates a user (not activated) with its first activation token, atomically. Fails with
    /// `UsernameTaken` or `EmailTaken` when a live account holds either name; an account whose
    /// activation window has passed holds nothing and is removed here.
    async fn create_user(
        &self,
        user: &UserRecord,
        activation: &ActivationRecord,
        now: i64,
    ) -> StoreResult<()>;
    /// Creates a user brought by an import (`accounts import-users`): the account as given
    /// (activated or not, with no activation window and no token), with its username and
    /// address claims, in one atomic write. `UsernameTaken` or `EmailTaken` as
    /// [`Users::create_user`]; nothing is ever overwritten.
    async fn import_user(&self, user: &UserRecord, now: i64) -> StoreResult<()>;
    /// Removes a user created moments ago whose activation mail could not be sent. Does nothing
    /// when the account has been activated since.
    async fn discard_unactivated_user(&self, user_id: &str) -> StoreResult<()>;
    async fn find_user_by_id(&self, user_id: &str, now: i64) -> StoreResult<Option<UserRecord>>;
    /// Case-insensitive.
    async fn find_user_by_username(
        &self,
        username: &str,
        now: i64,
    ) -> StoreResult<Option<UserRecord>>;
    /// Case-insensitive.
    async fn find_user_by_email(&self, email: &str, now: i64) -> StoreResult<Option<UserRecord>>;
    /// Up to `limit` users (awaiting activation included, expired ones not), ordered by
    /// lowercased username, each after `after` (a lowercased username; `None`: from the first),
    /// whose lowercased address starts with `email_prefix` (lowercased) when given. With the
    /// position a next page starts after: `None` when no user is left past this page. A page
    /// may hold fewer than `limit` users and still have a next one (the DynamoDB store reads a
    /// bounded number of items a page). The order is by a key no update changes, so a user
    /// present while pages are read appears exactly once, however many others come and go.
    async fn list_users(
        &self,
        after: Option<&str>,
        email_prefix: Option<&str>,
        limit: usize,
        now: i64,
    ) -> StoreResult<UserPage>;
    /// Applies `update`; `None` when the user does not exist. Deactivating a user ends its
    /// sessions; activating one ends its activation window.
    async fn update_user(
        &self,
        user_id: &str,
        update: &UserUpdate,
        now: i64,
    ) -> StoreResult<Option<UserRecord>>;
    /// Sets the role of a user found by username (the operator's make-admin command).
    async fn set_role(
        &self,
        username: &str,
        role: Role,
        now: i64,
    ) -> StoreResult<Option<UserRecord>>;
    /// Deletes the user with its sessions, activation tokens and name claims. `false` when it
    /// did not exist.
    async fn delete_user(&self, user_id: &str) -> StoreResult<bool>;
}

/// The activation links of accounts waiting to be activated.
#[async_trait]
pub trait Activations: Send + Sync {
    /// Adds a fresh activation token to an account still waiting for activation, extending its
    /// window to the token's expiry. `false` (and nothing stored) for any other account.
    async fn add_activation_token(
        &self,
        user_id: &str,
        activation: &ActivationRecord,
        now: i64,
    ) -> StoreResult<bool>;
    /// Uses an activation token, exactly once.
    async fn activate(&self, token_hash: &str, now: i64) -> StoreResult<ActivationOutcome>;
}

/// Sessions: made at login, checked on every authenticated request, ended.
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Creates a session for an existing, activated user whose auth epoch is still the
    /// session's, atomically with that check: `false` (and nothing stored) when the user is
    /// gone or deactivated, or its sessions were all ended (say, by a password reset) since the
    /// login read it.
    async fn create_session(&self, session: &Session, now: i64) -> StoreResult<bool>;
    /// The live session `session_id` of user `user_id`, with its user, or `None` when the
    /// session is gone, expired, of an older auth epoch or another user's, or the user is gone
    /// or not activated.
    async fn authenticate(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<Option<(Session, UserRecord)>>;
    async fn end_session(&self, user_id: &str, session_id: &str) -> StoreResult<()>;
    /// Rotates the refresh token of `session` (as [`Sessions::authenticate`] read it) if its
    /// generation is still `session.refresh_gen`: the generation goes one on, `refreshed_at`
    /// becomes `now` and the sign-in ends at `expires_at`, in one conditional write with the
    /// checks of `authenticate` (live, of an activated user still of its epoch). `false`
    /// (nothing written) when another rotation came first or the session is no longer live.
    async fn rotate_session(
        &self,
        session: &Session,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<bool>;
    /// The live sessions of a user whose auth epoch is `epoch`, oldest first.
    async fn list_sessions(&self, user_id: &str, epoch: i64, now: i64)
    -> StoreResult<Vec<Session>>;
    /// Ends every session of the user (and every reset token) by moving its auth epoch on, in
    /// one atomic write; `keep` names a session carried over to the new epoch in the same write.
    /// `false` when the user is gone (or `keep` is).
    async fn end_all_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> StoreResult<bool>;
}

/// Changes of password and address: by the owner, by a reset link, by a confirmation link.
#[async_trait]
pub trait Credentials: Send + Sync {
    /// Replaces the password hash, only while it is still `old_hash`, and ends every session
    /// but `keep` (as [`Sessions::end_all_sessions`]), atomically. `false` when the password
    /// changed meanwhile or the user is gone.
    async fn change_password(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
        keep: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Replaces the password hash, only while it is still `old_hash`, and nothing else (the
    /// same password, hashed again: an imported hash becomes this service's argon2id at the
    /// first login). `false` when the password changed meanwhile (that change wins) or the
    /// user is gone.
    async fn rehash_password(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> StoreResult<bool>;
    async fn add_reset_token(&self, reset: &ResetRecord, now: i64) -> StoreResult<()>;
    /// What the token is worth, without using it.
    async fn reset_token(&self, token_hash: &str, now: i64) -> StoreResult<ResetTokenState>;
    /// Uses a reset token, exactly once: sets the password hash and moves the user's auth epoch
    /// on (every session and every other reset token ends), atomically. Answers what the token
    /// was worth; `Valid` carries the user as it became.
    async fn reset_password(
        &self,
        token_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> StoreResult<ResetTokenState>;
    async fn add_email_change(&self, change: &EmailChangeRecord, now: i64) -> StoreResult<()>;
    /// Whether the user has an address change waiting for its link under auth epoch `epoch`
    /// (one that moving the epoch on would cancel).
    async fn has_pending_email_change(
        &self,
        user_id: &str,
        epoch: i64,
        now: i64,
    ) -> StoreResult<bool>;
    /// What the token is worth, without using it (`Changed` means it is valid; `EmailTaken`
    /// that the address is held by another account now).
    async fn email_change(&self, token_hash: &str, now: i64) -> StoreResult<EmailChangeOutcome>;
    /// Uses a confirmation token, exactly once: in one atomic write the new address is claimed,
    /// the old one released and the user updated; nothing changes when another account holds
    /// the new address.
    async fn confirm_email_change(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<EmailChangeOutcome>;
}

/// The throttles: mails to an address, password attempts of a login name.
#[async_trait]
pub trait Throttles: Send + Sync {
    /// Counts a mail to `email` when the throttle allows it (see [`MAIL_INTERVAL_SECS`],
    /// [`MAILS_PER_DAY`]): `true` when it may be sent, `false` (and nothing counted) otherwise.
    async fn take_mail_allowance(&self, email: &str, now: i64) -> StoreResult<bool>;
    /// Gives back the allowance taken at `taken_at` for a mail that could not be sent, so a
    /// retry may mail at once. Does nothing when another mail was counted since.
    async fn give_back_mail_allowance(&self, email: &str, taken_at: i64) -> StoreResult<()>;
    /// Takes one password attempt for a login name, atomically with the lock-out check: while
    /// the name is locked ([`lockout_remaining`]) nothing is counted and the wait is answered;
    /// otherwise the attempt is counted as a failure before the password is verified, so
    /// attempts sent together cannot all pass the check before any is counted (one guess per
    /// unlock window, however many arrive at once). Failures a day old are forgotten.
    async fn take_login_attempt(&self, key: &str, now: i64) -> StoreResult<LoginAttempt>;
    /// An attempt taken before proved wrong at `now`: the lock runs from now (the answer), not
    /// from when the attempt was taken (a slow verification would otherwise use up the lock).
    /// Only ever moves the time on.
    async fn record_failed_attempt(&self, key: &str, now: i64) -> StoreResult<()>;
    /// Forgets the failures of a login name (a login that succeeded, a password reset).
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}

/// A reset token as a store found it.
pub(crate) struct FoundReset {
    pub user_id: String,
    pub epoch: i64,
    /// `None` on tokens made before the address was recorded.
    pub email: Option<String>,
    pub expires_at: i64,
    pub used: bool,
}

/// What a found reset token is worth, given its user as stored now. One rule for both stores.
pub(crate) fn judge_reset(
    found: &FoundReset,
    user: Option<UserRecord>,
    now: i64,
) -> ResetTokenState {
    match user {
        Some(u)
            if !found.used
                && u.activated
                && u.auth_epoch == found.epoch
                && found
                    .email
                    .as_deref()
                    .is_none_or(|e| email_key(e) == email_key(&u.email)) =>
        {
            if found.expires_at <= now {
                ResetTokenState::Expired
            } else {
                ResetTokenState::Valid(Box::new(u))
            }
        }
        _ => ResetTokenState::Unknown,
    }
}

/// A confirmation token as a store found it.
pub(crate) struct FoundEmailChange {
    pub user_id: String,
    pub new_email: String,
    pub epoch: i64,
    pub expires_at: i64,
    pub used: bool,
}

/// What a found confirmation token is worth, given its user as stored now and the id of the
/// live account holding the new address, if any. One rule for both stores.
pub(crate) fn judge_email_change(
    found: &FoundEmailChange,
    user: Option<UserRecord>,
    holder: Option<&str>,
    now: i64,
) -> EmailChangeOutcome {
    let Some(user) = user else {
        return EmailChangeOutcome::Unknown;
    };
    if found.used || holder == Some(user.user_id.as_str()) {
        return EmailChangeOutcome::AlreadyConfirmed(user);
    }
    if found.epoch != user.auth_epoch {
        // Cancelled by a password reset or change, or by ending every session.
        return EmailChangeOutcome::Unknown;
    }
    if found.expires_at <= now {
        return EmailChangeOutcome::Expired;
    }
    if holder.is_some() {
        return EmailChangeOutcome::EmailTaken;
    }
    EmailChangeOutcome::Changed {
        old_email: user.email.clone(),
        new_email: found.new_email.clone(),
        user,
    }
}

/// A user's second factor (TOTP): its secret sealed ([`crate::mfa::MfaKeys::seal`]), whether it
/// is on or pending (made, not yet proven with a code), until when a pending one may be proven,
/// the last time step accepted (a step is accepted once), the MACs of the unused recovery
/// codes, and whether it has ever been used to sign in (a login's second step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    pub user_id: String,
    pub sealed_secret: String,
    pub enabled: bool,
    pub pending_until: i64,
    pub last_step: i64,
    pub recovery: Vec<String>,
    /// Set by the first login that passes its second step with this factor. A password reset
    /// removes a factor that never has ([`Factors::remove_unproven_factor`]): whoever turned
    /// it on without the owner cannot keep the owner out. A factor stored before this was
    /// kept reads as used (it is never removed by a reset).
    pub signed_in: bool,
}

/// A login whose password was right, waiting for its second factor: the hash of its
/// `mfa_token`, the user, the scope granted, until when, and how many codes were tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub token_hash: String,
    pub user_id: String,
    pub scope: String,
    /// How the first step was proven, as `amr` says it: `pwd` (the password), or `email` (a
    /// mailed code).
    pub first_factor: String,
    /// The user's auth epoch at the password step: a reset or "end all sessions" meanwhile
    /// ends the login too.
    pub epoch: i64,
    pub expires_at: i64,
    pub attempts: i64,
}

/// The most codes one login's second step may try.
pub const MAX_MFA_ATTEMPTS: i64 = 5;

/// Second factors and the logins waiting for one. Every change is one conditional write, so
/// two requests at once cannot both use one step, one recovery code or one challenge.
#[async_trait]
pub trait Factors: Send + Sync {
    async fn factor(&self, user_id: &str) -> StoreResult<Option<TotpFactor>>;
    /// Stores a pending factor, replacing a pending one; `false` when the user has one on (or
    /// is gone).
    async fn start_factor(&self, factor: &TotpFactor) -> StoreResult<bool>;
    /// Turns the pending factor on with its first accepted `step` and the recovery codes'
    /// MACs, if it is still pending at `now`; `false` otherwise (on already, expired, none).
    async fn enable_factor(
        &self,
        user_id: &str,
        step: i64,
        recovery: &[String],
        now: i64,
    ) -> StoreResult<bool>;
    /// Accepts `step` for an enabled factor if it is later than every step accepted before;
    /// `sign_in`: at a login's second step (the factor is then [`TotpFactor::signed_in`]).
    async fn use_step(&self, user_id: &str, step: i64, sign_in: bool) -> StoreResult<bool>;
    /// Spends the recovery code of MAC `hash` of an enabled factor (at a login's second step,
    /// so the factor is [`TotpFactor::signed_in`] after); `false` if it is not one.
    async fn use_recovery_code(&self, user_id: &str, hash: &str) -> StoreResult<bool>;
    /// Replaces the recovery codes of an enabled factor.
    async fn set_recovery_codes(&self, user_id: &str, recovery: &[String]) -> StoreResult<bool>;
    /// Removes the factor, on or pending; `false` when there was none.
    async fn remove_factor(&self, user_id: &str) -> StoreResult<bool>;
    /// Removes the factor, on or pending, if it has never been used to sign in; `false` when
    /// there was none or it has (one conditional write: a sign-in at the same moment either
    /// comes first and keeps it, or finds it gone).
    async fn remove_unproven_factor(&self, user_id: &str) -> StoreResult<bool>;
    async fn create_challenge(&self, challenge: &MfaChallenge) -> StoreResult<()>;
    /// Counts one attempt at the challenge of `token_hash` if it is unexpired at `now` and has
    /// attempts left: the challenge as it stands after the count, or `None`.
    async fn attempt_challenge(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<MfaChallenge>>;
    /// Ends the challenge; `true` for the one request that ended it.
    async fn spend_challenge(&self, token_hash: &str) -> StoreResult<bool>;
}

/// A page of account events, newest first, and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub events: Vec<AccountEvent>,
    /// The id the next page starts before; `None`: this was the last page.
    pub next_before: Option<String>,
}

/// What the admins' listing of every account's events asks for.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events older than this id (a cursor); `None`: from the newest.
    pub before: Option<String>,
    /// Only events at or after this time (Unix milliseconds).
    pub since_ms: Option<i64>,
    pub kind: Option<EventType>,
    pub limit: usize,
}

/// Account events: recorded once each, read newest first by account or across all accounts.
/// They outlive the account they are about (a deletion is an event), until their retention
/// ends (`expires_at`; past it an event is treated as gone).
#[async_trait]
pub trait Events: Send + Sync {
    async fn record_event(&self, event: &AccountEvent, expires_at: i64) -> StoreResult<()>;
    /// Up to `limit` events of `user_id`, newest first, each older than `before` when given.
    async fn user_events(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: usize,
        now: i64,
    ) -> StoreResult<EventPage>;
    /// Up to `query.limit` events of every account (and of none), newest first. A page may hold
    /// fewer and still have a next one (the DynamoDB store reads a bounded number of days and
    /// items a page).
    async fn all_events(&self, query: &EventQuery, now: i64) -> StoreResult<EventPage>;
}

/// At most this many OAuth clients are registered at once: the listing is one page, and a
/// registration past it is refused (counted in the same write, so registrations at the same
/// moment cannot pass it).
pub const MAX_CLIENTS: usize = 100;

/// An OAuth client (an app that signs its people in through this service), as kept. Its
/// secret is never kept: only its SHA-256 ([`crate::secret::token_hash`]; the secret has 256
/// random bits).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OAuthClient {
    pub client_id: String,
    pub name: String,
    /// Matched exactly, as registered.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    /// A public client (a single-page or native app) has no secret and must use PKCE.
    pub public: bool,
    /// A first-party app is not asked for consent.
    pub first_party: bool,
    /// The SHA-256 of a confidential client's secret, hex; `None` for a public client.
    pub secret_hash: Option<String>,
    pub created_at: i64,
}

/// What registering a client came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAdded {
    Added,
    /// [`MAX_CLIENTS`] are registered already.
    Full,
}

/// The registered OAuth clients.
#[async_trait]
pub trait Clients: Send + Sync {
    /// Registers `client` unless [`MAX_CLIENTS`] are registered (its id is new: 128 random
    /// bits).
    async fn add_client(&self, client: &OAuthClient) -> StoreResult<ClientAdded>;
    async fn client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>>;
    /// Every registered client, oldest first (those of one second by id).
    async fn list_clients(&self) -> StoreResult<Vec<OAuthClient>>;
    /// Removes a client: `false` if there was none of that id.
    async fn remove_client(&self, client_id: &str) -> StoreResult<bool>;
}

/// How long an authorization code may wait to be redeemed (OpenID Connect's Basic OP test plan
/// and RFC 6749 section 4.1.2 ask for a short life: a minute).
pub const CODE_TTL_SECS: i64 = 60;
/// A redeemed code is kept this long past its expiry, so that a second redemption is known for
/// what it is (a stolen or replayed code) and ends the sign-in the first one made.
pub const SPENT_CODE_KEEP_SECS: i64 = 600;

/// An authorization code (RFC 6749 section 4.1.2) as kept: what it grants, to whom, and what
/// redeeming it must show. The code itself is never kept: only its SHA-256
/// ([`crate::secret::token_hash`]; the code has 256 random bits).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    /// The redirect URI of the request, which the token request must repeat exactly.
    pub redirect_uri: String,
    pub user_id: String,
    /// The user's auth epoch when the code was issued: a code outlives no "end all sessions".
    pub epoch: i64,
    /// The scopes granted, space-delimited.
    pub scope: String,
    pub nonce: Option<String>,
    /// PKCE's S256 challenge (RFC 7636), when the request carried one.
    pub code_challenge: Option<String>,
    /// When the person proved who they are (the ID token's `auth_time`).
    pub auth_time: i64,
    /// How (the ID token's `amr`).
    pub amr: Vec<String>,
    pub expires_at: i64,
}

/// What redeeming a code came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedeemed {
    /// The first redemption, in time: the code, now spent; the sign-in named at redemption is
    /// recorded as the one its tokens belong to.
    Redeemed(AuthorizationCode),
    /// Redeemed before: the user and the sign-in its tokens belong to (to be ended).
    Spent { user_id: String, session_id: String },
    /// No such code, or it expired unredeemed.
    Unknown,
}

/// What a person allowed an app (a client not marked first-party) to have: asked once, then
/// remembered until withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub client_id: String,
    /// The scopes allowed, each once, sorted.
    pub scopes: Vec<String>,
    /// When it was last given or widened.
    pub granted_at: i64,
}

/// What an OAuth client is granted: authorization codes on their way to the token endpoint, and
/// the consents people gave.
#[async_trait]
pub trait Grants: Send + Sync {
    /// Keeps a new code.
    async fn add_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Spends the code of `code_hash` if it is unexpired and unspent, recording `session_id` as
    /// the sign-in its tokens belong to, in one conditional write: of codes redeemed at once,
    /// one is [`CodeRedeemed::Redeemed`].
    async fn redeem_code(
        &self,
        code_hash: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<CodeRedeemed>;
    /// The consent `user_id` gave `client_id`, if any.
    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    /// Adds `scopes` to what `user_id` allowed `client_id` (a new consent, or a wider one):
    /// `false` (nothing kept) when the user is gone.
    async fn give_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
        now: i64,
    ) -> StoreResult<bool>;
    /// Every consent of a user, oldest first.
    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>>;
    /// Withdraws a consent: `false` if there was none.
    async fn withdraw_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool>;
}

/// At most this many passkeys an account holds (counted in the write that adds one, so that
/// additions at the same moment cannot pass it).
pub const MAX_PASSKEYS: usize = 10;

/// A passkey (a WebAuthn credential) as kept: its public key and counter inside `credential`
/// (the relying party's own record, JSON), nothing secret. `id` names it in the API; the
/// credential id the authenticator chose is unique across accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub id: String,
    pub user_id: String,
    /// The credential id, base64url.
    pub credential_id: String,
    pub name: String,
    /// The relying party's record of the credential (webauthn-rs's `Passkey`), JSON.
    pub credential: String,
    /// The authenticator's signature counter last seen (0: it keeps none).
    pub counter: u32,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What adding a passkey came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyAdded {
    Added,
    /// The account holds [`MAX_PASSKEYS`] already.
    Full,
    /// The credential id is registered already (to this account or another).
    Taken,
    /// The account is gone.
    NoUser,
}

/// What recording a passkey's use came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyUse {
    Recorded,
    /// The counter did not go past the one kept (a cloned authenticator, or a replay that
    /// raced the first use): nothing was written.
    CounterRegressed,
    /// The passkey is gone.
    Gone,
}

/// How long a ceremony (the options a browser or app was given) may wait for its answer.
pub const CEREMONY_TTL_SECS: i64 = 300;

/// The longest name a passkey may have.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

/// A WebAuthn ceremony in progress: what the relying party must remember between the options
/// and the answer. Kept under the SHA-256 of a random token (or of what binds it, for an
/// account's one registration), spent by the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub key_hash: String,
    /// What it was made for (a user to register for, a name to sign in as, a login's second
    /// step), as the caller writes it; the answer must come for the same.
    pub bound_to: String,
    /// The relying party's state, JSON.
    pub state: String,
    pub expires_at: i64,
}

/// The passkeys of accounts, and the ceremonies that add and use them.
#[async_trait]
pub trait Passkeys: Send + Sync {
    /// Adds a passkey to its account unless the account holds [`MAX_PASSKEYS`], the credential
    /// id is registered, or the account is gone; in one write.
    async fn add_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<PasskeyAdded>;
    /// An account's passkeys, oldest first.
    async fn passkeys(&self, user_id: &str) -> StoreResult<Vec<PasskeyRecord>>;
    /// The passkey of a credential id, whoever holds it.
    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRecord>>;
    /// Renames a passkey: `false` if the account has none of that id.
    async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> StoreResult<bool>;
    /// Removes a passkey: `false` if the account has none of that id.
    async fn remove_passkey(&self, user_id: &str, id: &str) -> StoreResult<bool>;
    /// Records a use: the new counter and record, when the counter goes past the one kept (or
    /// both are 0: an authenticator that keeps none), and when it was used.
    async fn use_passkey(
        &self,
        user_id: &str,
        id: &str,
        counter: u32,
        credential: &str,
        now: i64,
    ) -> StoreResult<PasskeyUse>;
    /// Keeps a ceremony, replacing one of the same key.
    async fn put_ceremony(&self, ceremony: &Ceremony) -> StoreResult<()>;
    /// Spends the ceremony of `key_hash`: it is answered once, and only while unexpired (of
    /// answers at once, one gets it).
    async fn take_ceremony(&self, key_hash: &str, now: i64) -> StoreResult<Option<Ceremony>>;
}

/// How long a mailed sign-in code lives.
pub const EMAIL_CODE_TTL_SECS: i64 = 600;

/// The most tries one mailed code takes, right or wrong.
pub const MAX_EMAIL_CODE_ATTEMPTS: i64 = 5;

/// A sign-in code mailed to an account's address: kept as a keyed MAC of the code (never the
/// code), with the SHA-256 of its link's token, one an account (a new one replaces the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCode {
    pub user_id: String,
    /// The MAC of the code, under a key the store does not hold.
    pub code_mac: String,
    /// The SHA-256 of the link's token: what names this code (a newer one has another).
    pub link_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// Tries taken, right or wrong.
    pub attempts: i64,
}

/// Sign-in codes mailed to accounts. Every try is counted before the code is compared, in one
/// conditional write, so that requests at once take no more than [`MAX_EMAIL_CODE_ATTEMPTS`]
/// between them; and a code is spent by one request only.
#[async_trait]
pub trait EmailCodes: Send + Sync {
    /// Keeps `code` as its account's, replacing any earlier one.
    async fn put_email_code(&self, code: &EmailCode) -> StoreResult<()>;
    /// The account's code if it is unexpired at `now` (nothing counted: the link's page).
    async fn email_code(&self, user_id: &str, now: i64) -> StoreResult<Option<EmailCode>>;
    /// Counts one try at the account's code if it is unexpired at `now` and has tries left: the
    /// code as it stands after the count, or `None`.
    async fn attempt_email_code(&self, user_id: &str, now: i64) -> StoreResult<Option<EmailCode>>;
    /// Spends the account's code of `link_hash` (not a newer one): `true` for the one request
    /// that spent it.
    async fn spend_email_code(&self, user_id: &str, link_hash: &str) -> StoreResult<bool>;
}
