//! The user store: what the domain needs, not "put item". Uniqueness of usernames and emails,
//! single use of activation tokens and the end of sessions with their user are the store's job,
//! done atomically by each implementation.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::user::{Role, UserRecord};

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub session_id: String,
    pub user_id: String,
    pub expires_at: i64,
}

/// What an update changes: `data` always (it is replaced whole), role and activation when set.
#[derive(Debug, Clone, PartialEq)]
pub struct UserUpdate {
    pub data: Map<String, Value>,
    pub role: Option<Role>,
    pub activated: Option<bool>,
}

/// Consecutive failed logins for one login name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub last_failure: i64,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user (not activated) with its first activation token, atomically. Fails with
    /// `UsernameTaken` or `EmailTaken` when a live account holds either name; an account whose
    /// activation window has passed holds nothing and is removed here.
    async fn create_user(
        &self,
        user: &UserRecord,
        activation: &ActivationRecord,
        now: i64,
    ) -> StoreResult<()>;

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

    /// Creates a session for an existing, activated user, atomically with that check: `false`
    /// (and nothing stored) when the user is gone or deactivated.
    async fn create_session(&self, session: &Session, now: i64) -> StoreResult<bool>;
    /// The live session `session_id` of user `user_id`, with its user, or `None` when the
    /// session is gone, expired or another user's, or the user is gone or not activated.
    async fn authenticate(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<Option<(Session, UserRecord)>>;
    async fn end_session(&self, user_id: &str, session_id: &str) -> StoreResult<()>;

    async fn login_failures(&self, key: &str) -> StoreResult<Option<LoginFailures>>;
    async fn record_login_failure(&self, key: &str, now: i64) -> StoreResult<LoginFailures>;
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
}
