//! Account events as data: what happened (the type), who did it, how it ended, the event as
//! stored and shown, and its id (a ULID, sorting by time). The store keeps these; recording
//! one for a request is the `events` module's.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::user::UserRecord;

/// The longest user agent kept (longer ones are cut, on a character boundary).
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// What happened. The names are the `type` of the API and of EventBridge's `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    SignedUp,
    Activated,
    ActivationResent,
    LoggedIn,
    LoginFailed,
    LoginThrottled,
    LoggedOut,
    SessionsEnded,
    RefreshReuseDetected,
    /// The refresh token just replaced was presented again within the reuse grace, and the
    /// current pair answered (two tabs, or a thief converging on the same pair).
    RefreshGraceUsed,
    PasswordResetRequested,
    PasswordReset,
    PasswordChanged,
    EmailChangeRequested,
    EmailChanged,
    ProfileUpdated,
    RoleChanged,
    ActivationChanged,
    Deleted,
    UsersListed,
    MfaEnabled,
    MfaDisabled,
    RecoveryCodeUsed,
    RecoveryCodesReplaced,
    /// An OAuth client was registered (by an admin, or the operator's `accounts add-client`).
    ClientAdded,
    ClientRemoved,
    /// A person allowed an app (an OAuth client not marked first-party) what it asked for.
    ConsentGiven,
    /// A person withdrew what they had allowed an app.
    ConsentWithdrawn,
    /// A passkey was added to the account.
    PasskeyAdded,
    /// A passkey was removed (by its owner, or an admin).
    PasskeyRemoved,
    /// A passkey signed the person in.
    PasskeyUsed,
    /// A passkey's signature counter went back: a cloned authenticator, or a replay; refused.
    PasskeyCounterRegressed,
    /// A sign-in code was mailed to the account's address.
    EmailCodeSent,
    /// A mailed code signed the person in (or passed the first step of a sign-in with a
    /// second factor).
    EmailCodeUsed,
    /// A mailed code was tried and refused.
    EmailCodeFailed,
    /// The operator's import (`accounts import-users`) created the account, with the kind of
    /// password hash it brought (`detail.hash`; `detail.weak_hash` when under the floor).
    UserImported,
    /// An imported password hash was replaced by argon2id at the first right password
    /// (`detail.from`: the kind it had).
    PasswordRehashed,
    /// A person the migration hook vouched for was created at a login or a reset
    /// (`detail.trigger`); failed: why (`hook_unavailable`, `bad_answer`, `name_taken`).
    UserMigrated,
}

impl EventType {
    /// Every type, in the order of the API document.
    pub const ALL: [EventType; 38] = [
        EventType::SignedUp,
        EventType::Activated,
        EventType::ActivationResent,
        EventType::LoggedIn,
        EventType::LoginFailed,
        EventType::LoginThrottled,
        EventType::LoggedOut,
        EventType::SessionsEnded,
        EventType::RefreshReuseDetected,
        EventType::RefreshGraceUsed,
        EventType::PasswordResetRequested,
        EventType::PasswordReset,
        EventType::PasswordChanged,
        EventType::EmailChangeRequested,
        EventType::EmailChanged,
        EventType::ProfileUpdated,
        EventType::RoleChanged,
        EventType::ActivationChanged,
        EventType::Deleted,
        EventType::UsersListed,
        EventType::MfaEnabled,
        EventType::MfaDisabled,
        EventType::RecoveryCodeUsed,
        EventType::RecoveryCodesReplaced,
        EventType::ClientAdded,
        EventType::ClientRemoved,
        EventType::ConsentGiven,
        EventType::ConsentWithdrawn,
        EventType::PasskeyAdded,
        EventType::PasskeyRemoved,
        EventType::PasskeyUsed,
        EventType::PasskeyCounterRegressed,
        EventType::EmailCodeSent,
        EventType::EmailCodeUsed,
        EventType::EmailCodeFailed,
        EventType::UserImported,
        EventType::PasswordRehashed,
        EventType::UserMigrated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SignedUp => "signed_up",
            EventType::Activated => "activated",
            EventType::ActivationResent => "activation_resent",
            EventType::LoggedIn => "logged_in",
            EventType::LoginFailed => "login_failed",
            EventType::LoginThrottled => "login_throttled",
            EventType::LoggedOut => "logged_out",
            EventType::SessionsEnded => "sessions_ended",
            EventType::RefreshReuseDetected => "refresh_reuse_detected",
            EventType::RefreshGraceUsed => "refresh_grace_used",
            EventType::PasswordResetRequested => "password_reset_requested",
            EventType::PasswordReset => "password_reset",
            EventType::PasswordChanged => "password_changed",
            EventType::EmailChangeRequested => "email_change_requested",
            EventType::EmailChanged => "email_changed",
            EventType::ProfileUpdated => "profile_updated",
            EventType::RoleChanged => "role_changed",
            EventType::ActivationChanged => "activation_changed",
            EventType::Deleted => "deleted",
            EventType::UsersListed => "users_listed",
            EventType::MfaEnabled => "mfa_enabled",
            EventType::MfaDisabled => "mfa_disabled",
            EventType::RecoveryCodeUsed => "recovery_code_used",
            EventType::RecoveryCodesReplaced => "recovery_codes_replaced",
            EventType::ClientAdded => "client_added",
            EventType::ClientRemoved => "client_removed",
            EventType::ConsentGiven => "consent_given",
            EventType::ConsentWithdrawn => "consent_withdrawn",
            EventType::PasskeyAdded => "passkey_added",
            EventType::PasskeyRemoved => "passkey_removed",
            EventType::PasskeyUsed => "passkey_used",
            EventType::PasskeyCounterRegressed => "passkey_counter_regressed",
            EventType::EmailCodeSent => "email_code_sent",
            EventType::EmailCodeUsed => "email_code_used",
            EventType::EmailCodeFailed => "email_code_failed",
            EventType::UserImported => "user_imported",
            EventType::PasswordRehashed => "password_rehashed",
            EventType::UserMigrated => "user_migrated",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The account's owner (or, for a failed login, whoever typed its name).
    User,
    /// An admin, acting on someone's account.
    Admin,
    /// The operator's command on the server (`accounts make-admin`).
    Operator,
    /// The service itself (for example, reuse of a refresh token ending a sign-in).
    Service,
    /// Someone not signed in, not (yet) proven to be anyone: a failed login, a request for a
    /// reset link.
    Anonymous,
}

/// Who did it: their kind, and for a user or an admin who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    pub kind: ActorKind,
    /// The acting user's id, for `user` and `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub username: Option<String>,
}

impl Actor {
    pub fn service() -> Self {
        Actor {
            kind: ActorKind::Service,
            user_id: None,
            username: None,
        }
    }

    pub fn anonymous() -> Self {
        Actor {
            kind: ActorKind::Anonymous,
            user_id: None,
            username: None,
        }
    }

    pub fn operator() -> Self {
        Actor {
            kind: ActorKind::Operator,
            user_id: None,
            username: None,
        }
    }

    /// The user itself.
    pub fn user(user: &UserRecord) -> Self {
        Actor {
            kind: ActorKind::User,
            user_id: Some(user.user_id.clone()),
            username: Some(user.username.clone()),
        }
    }
}

/// Whether what was tried succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

/// One account event as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountEvent {
    /// A ULID: its first 48 bits are the time in milliseconds, so ids sort by time.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
    /// The account; `None` for a failed login of a name no account has, and for listings.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The account's username then.
    #[serde(default)]
    pub username: Option<String>,
    pub actor: Actor,
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The sign-in it happened in, or that it made or ended, as `GET /auth/sessions` shows it.
    #[serde(default)]
    pub session_id: Option<String>,
    pub outcome: Outcome,
    /// What changed or why it failed: member names and reasons, never values that are secret.
    #[serde(default)]
    pub detail: Map<String, Value>,
}

impl AccountEvent {
    /// The event as the API shows it: `at` in RFC 3339 (milliseconds), no internal fields.
    pub fn view(&self) -> EventView<'_> {
        EventView {
            id: &self.id,
            kind: self.kind.as_str(),
            at: chrono::DateTime::from_timestamp_millis(self.at_ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            user_id: self.user_id.as_deref(),
            username: self.username.as_deref(),
            actor: &self.actor,
            source_ip: self.source_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            session_id: self.session_id.as_deref(),
            outcome: self.outcome,
            detail: &self.detail,
        }
    }
}

/// An account event as the API shows it: what happened, to which account, who did it, from
/// where, and what it came to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AccountEvent)]
pub struct EventView<'a> {
    /// A ULID: sorts by time.
    #[schema(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: &'a str,
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    pub kind: &'static str,
    #[schema(format = DateTime)]
    pub at: String,
    #[schema(required)]
    pub user_id: Option<&'a str>,
    #[schema(required)]
    pub username: Option<&'a str>,
    pub actor: &'a Actor,
    #[schema(required)]
    pub source_ip: Option<&'a str>,
    #[schema(required, max_length = 256)]
    pub user_agent: Option<&'a str>,
    #[schema(required)]
    pub session_id: Option<&'a str>,
    pub outcome: Outcome,
    #[schema(value_type = Object)]
    pub detail: &'a Map<String, Value>,
}

/// The id a session is shown by (in `GET /auth/sessions` and in events): 128 bits of the
/// SHA-256 of its real id, which is part of its tokens and so never shown.
pub fn shown_session_id(session_id: &str) -> String {
    crate::secret::token_hash(session_id)[..32].to_string()
}

/// A new ULID for `at_ms`: its time is `at_ms`, and within one millisecond each id this
/// process makes is later than the one before (the random part counts on).
pub fn new_id(at_ms: i64) -> String {
    static LAST: Mutex<(u64, u128)> = Mutex::new((0, 0));
    let ms = at_ms.max(0) as u64;
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let random = if ms == last.0 && last.1 < (1u128 << 80) - 1 {
        last.1 + 1
    } else {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes[6..]).expect("the OS random source");
        // 79 bits, so counting on within a millisecond never overflows the 80.
        u128::from_be_bytes(bytes) >> 1
    };
    *last = (ms, random);
    ulid::Ulid::from_parts(ms, random).to_string()
}

/// Whether `id` is an event id this service could have made (a cursor).
pub fn valid_id(id: &str) -> bool {
    const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    id.len() == 26
        && id.as_bytes()[0] <= b'7'
        && id.bytes().all(|b| CROCKFORD.contains(&b))
        && ulid::Ulid::from_string(id).is_ok()
}

/// The smallest id of millisecond `at_ms` (for "since").
pub fn first_id_at(at_ms: i64) -> String {
    ulid::Ulid::from_parts(at_ms.max(0) as u64, 0).to_string()
}

/// The millisecond an id was made in.
pub fn id_millis(id: &str) -> Option<i64> {
    ulid::Ulid::from_string(id)
        .ok()
        .map(|u| u.timestamp_ms() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_by_making_within_a_millisecond() {
        let a = new_id(1_700_000_000_000);
        let b = new_id(1_700_000_000_000);
        let c = new_id(1_700_000_000_001);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!(valid_id(&a) && valid_id(&c));
        assert_eq!(id_millis(&c), Some(1_700_000_000_001));
        assert!(first_id_at(1_700_000_000_001) <= c);
        assert!(!valid_id("not-an-id") && !valid_id(&"Z".repeat(27)));
        // Past 48 bits of milliseconds, lowercase, letters Crockford leaves out.
        assert!(!valid_id(&"Z".repeat(26)) && !valid_id(&a.to_lowercase()));
        assert!(!valid_id(&format!("{}U", &a[..25])));
    }

    #[test]
    fn every_type_has_one_name_and_back() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                Value::String(t.as_str().into())
            );
        }
        assert_eq!(EventType::parse("nope"), None);
    }
}
