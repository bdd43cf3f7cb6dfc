//! Users brought from another system: one line of `accounts import-users` at a time, and the
//! replacement of an imported password hash at the first right password.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ApiResult;
use crate::events::{self, Actor, Event, EventType};
use crate::foreign_hash::{self, NO_PASSWORD};
use crate::password;
use crate::state::AppState;
use crate::store::StoreError;
use crate::user::{MAX_DATA_BYTES, Role, UserRecord, email_key};

use super::{valid_email, valid_username};

/// The longest line of an import file read (profile data is at most 16 KiB of it).
pub const MAX_IMPORT_LINE_BYTES: usize = 64 * 1024;

/// Members of `data` that are the account's own, never profile data (sign-up refuses them
/// too).
const RESERVED_DATA: [&str; 8] = [
    "username",
    "email",
    "password",
    "role",
    "activated",
    "user_id",
    "created_at",
    "updated_at",
];

/// One line of an import file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    username: String,
    email: String,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    activated: Option<bool>,
    /// RFC 3339, or Unix seconds.
    #[serde(default)]
    created_at: Option<Value>,
    #[serde(default)]
    role: Option<String>,
}

/// What became of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome {
    /// Created (or, on a dry run, would be); `flag` says why its hash is under the floor.
    Imported { flag: Option<String> },
    /// The same account (username and address) is there already: left as it is.
    Skipped,
    /// Refused, and why (never the hash, never the line).
    Refused(String),
}

/// A line read and checked: the account it makes, and why its hash is flagged.
pub struct Checked {
    user: UserRecord,
    hash_kind: &'static str,
    flag: Option<String>,
}

impl Checked {
    /// The keys its username and its address are unique by: two lines that share one must not
    /// be written at once (the first in the file wins).
    pub fn keys(&self) -> [String; 2] {
        [
            format!("u:{}", crate::user::username_key(&self.user.username)),
            format!("e:{}", email_key(&self.user.email)),
        ]
    }
}

/// Reads and checks one line, as sign-up checks its body; why it is refused otherwise (never
/// the hash, never the line).
pub fn check_line(line: &str, now: i64) -> Result<Checked, String> {
    if line.len() > MAX_IMPORT_LINE_BYTES {
        return Err(format!("longer than {MAX_IMPORT_LINE_BYTES} bytes"));
    }
    let parsed: ImportLine = serde_json::from_str(line).map_err(|e| {
        // serde_json's message names the member, never its value past the type.
        format!("not a JSON object of the import's members: {e}")
    })?;
    let (hash, hash_kind, flag) = match parsed.password_hash.as_deref() {
        None => (NO_PASSWORD.to_string(), "none", None),
        Some(h) => {
            let foreign = foreign_hash::parse(h).map_err(|why| format!("bad hash: {why}"))?;
            (h.to_string(), foreign.kind(), foreign.weak_reason())
        }
    };
    if !valid_email(&parsed.email) {
        return Err("bad email: not a valid address".into());
    }
    if !valid_username(&parsed.username) {
        return Err("bad username: must be 3 to 32 characters of A-Z a-z 0-9 _ . -".into());
    }
    let data = parsed.data.unwrap_or_default();
    if let Some(k) = RESERVED_DATA.iter().find(|k| data.contains_key(**k)) {
        return Err(format!(
            "bad data: {k} is the account's own, not profile data"
        ));
    }
    if serde_json::to_vec(&data).map_or(true, |v| v.len() > MAX_DATA_BYTES) {
        return Err(format!("bad data: more than {MAX_DATA_BYTES} bytes"));
    }
    let role = match parsed.role.as_deref() {
        None => Role::User,
        Some(r) => Role::parse(r).ok_or("bad role: user or admin")?,
    };
    let created_at = match &parsed.created_at {
        None => now,
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|t| (0..=now).contains(t))
            .ok_or("bad created_at: Unix seconds, not in the future")?,
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp())
            .filter(|t| (0..=now).contains(t))
            .ok_or("bad created_at: RFC 3339, not in the future")?,
        Some(_) => return Err("bad created_at: RFC 3339 or Unix seconds".into()),
    };
    let user = UserRecord {
        user_id: uuid::Uuid::new_v4().to_string(),
        username: parsed.username,
        email: parsed.email,
        password_hash: hash,
        role,
        // Deactivated unless said otherwise: as an admin's deactivation (no activation window,
        // nothing expires), an admin activates it.
        activated: parsed.activated.unwrap_or(true),
        data,
        created_at,
        updated_at: now,
        pending_until: None,
        auth_epoch: 0,
    };
    Ok(Checked {
        user,
        hash_kind,
        flag,
    })
}

/// Imports a checked line (a dry run writes nothing). A store that fails is the error: the
/// line is not done, and the import stops (run it again to go on).
pub async fn import_checked(
    state: &AppState,
    checked: Checked,
    dry_run: bool,
) -> ApiResult<LineOutcome> {
    let now = state.clock.now();
    let Checked {
        user,
        hash_kind,
        flag,
    } = checked;
    let written = if dry_run {
        // Whether it could be written: what a write would find.
        match state
            .store
            .find_user_by_username(&user.username, now)
            .await?
        {
            Some(_) => Err(StoreError::UsernameTaken),
            None => match state.store.find_user_by_email(&user.email, now).await? {
                Some(_) => Err(StoreError::EmailTaken),
                None => Ok(()),
            },
        }
    } else {
        state.store.import_user(&user, now).await
    };
    match written {
        Ok(()) => {
            if !dry_run {
                let mut event = Event::new(EventType::UserImported, &user)
                    .by(Actor::operator())
                    .detail("hash", hash_kind);
                if let Some(why) = &flag {
                    event = event.detail("weak_hash", why.as_str());
                }
                events::record(state, event).await;
            }
            Ok(LineOutcome::Imported { flag })
        }
        Err(StoreError::UsernameTaken | StoreError::EmailTaken) => {
            // The same account (an earlier run, or a run at once) is skipped; another account
            // holding either name refuses the line.
            let held = state
                .store
                .find_user_by_username(&user.username, now)
                .await?;
            match held {
                Some(u) if email_key(&u.email) == email_key(&user.email) => {
                    Ok(LineOutcome::Skipped)
                }
                Some(_) => Ok(LineOutcome::Refused(
                    "duplicate username: another account holds it".into(),
                )),
                None => Ok(LineOutcome::Refused(
                    "duplicate address: another account holds it".into(),
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// After a right password: a hash this service did not make (an imported one) is replaced
/// with argon2id at the service's parameters, in one write conditional on the old hash (a
/// password changed meanwhile wins, and this does nothing). Answers the user as stored after.
/// A failure here fails nothing: the sign-in was proven, and the next one tries again.
pub(crate) async fn upgrade_hash(
    state: &AppState,
    mut user: UserRecord,
    password: &str,
) -> UserRecord {
    if password::is_current(&user.password_hash) {
        return user;
    }
    let from = foreign_hash::parse(&user.password_hash).map_or("unknown", |f| f.kind());
    let new = match state.hasher.hash(password).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, user_id = %user.user_id, "could not rehash a password");
            return user;
        }
    };
    match state
        .store
        .rehash_password(&user.user_id, &user.password_hash, &new)
        .await
    {
        Ok(true) => {
            tracing::info!(user_id = %user.user_id, from, "imported password hash replaced");
            user.password_hash = new;
            let event = Event::new(EventType::PasswordRehashed, &user)
                .by(Actor::service())
                .detail("from", from);
            events::record(state, event).await;
        }
        Ok(false) => {
            tracing::info!(user_id = %user.user_id, "password changed meanwhile: not rehashed");
        }
        Err(e) => {
            tracing::error!(error = %e, user_id = %user.user_id, "could not store a rehashed password");
        }
    }
    user
}

/// What the migration hook came to.
pub(crate) enum Migration {
    /// No hook, or the old system does not know the person (or, at a login, the password is
    /// wrong): as an unknown name.
    No,
    /// The person was created here (activated; the password typed hashed with argon2id, or at
    /// a reset no password, which the reset link sets).
    Created(Box<UserRecord>),
    /// The username or the address the old system answered is held here (by this person,
    /// migrated by a request at once, or by someone else): look the name up again.
    Taken,
}

/// Asks the migration hook about `name`, which names no account here, and creates the person
/// it answers. The answered user must be the one named (the same username, or the same
/// address) and pass sign-up's checks; else the hook is broken (`503`, fail closed). A hook
/// that fails or is slow is `503 hook_unavailable` too.
pub(crate) async fn migrate(
    state: &AppState,
    trigger: crate::hooks::MigrationTrigger,
    name: &str,
    password: Option<&str>,
) -> ApiResult<Migration> {
    use crate::error::ApiError;
    use crate::hooks::MigrationTrigger;
    let Some(hooks) = state.hooks.as_ref().filter(|h| h.migrates()) else {
        return Ok(Migration::No);
    };
    let now = state.clock.now();
    let failed = |reason: &str| {
        Event::unattached(EventType::UserMigrated, Actor::anonymous())
            .failed()
            .detail("trigger", trigger.as_str())
            .detail("reason", reason)
    };
    let answered = match hooks.migrate_user(trigger, name, password, now).await {
        Ok(a) => a,
        Err(e) => {
            events::record(state, failed("hook_unavailable")).await;
            return Err(e);
        }
    };
    let Some(answered) = answered else {
        return Ok(Migration::No);
    };
    // The person as sign-up would take them (and as an import line: no role, no hash).
    let mut line = Map::new();
    for key in ["username", "email", "data"] {
        if let Some(v) = answered.get(key) {
            line.insert(key.into(), v.clone());
        }
    }
    let checked = check_line(&Value::Object(line).to_string(), now).and_then(|c| {
        let same = match trigger {
            MigrationTrigger::Login { by_email: false } => {
                crate::user::username_key(&c.user.username) == crate::user::username_key(name)
            }
            _ => email_key(&c.user.email) == email_key(name),
        };
        same.then_some(c)
            .ok_or_else(|| "it answered another person than the one named".to_string())
    });
    let mut user = match checked {
        Ok(c) => c.user,
        Err(why) => {
            tracing::error!(hook = "migration", why = %why, "a migration answer refused (fail closed)");
            state.metrics.count(crate::metrics::Metric::HookFailures);
            events::record(state, failed("bad_answer")).await;
            return Err(ApiError::HookUnavailable(format!("migration: {why}")));
        }
    };
    if let Some(p) = password {
        user.password_hash = state.hasher.hash(p).await?;
    }
    match state.store.import_user(&user, now).await {
        Ok(()) => {
            tracing::info!(user_id = %user.user_id, trigger = trigger.as_str(), "user migrated");
            let event = Event::new(EventType::UserMigrated, &user)
                .by(Actor::service())
                .detail("trigger", trigger.as_str());
            events::record(state, event).await;
            Ok(Migration::Created(Box::new(user)))
        }
        Err(StoreError::UsernameTaken | StoreError::EmailTaken) => {
            tracing::warn!("a migrated person's username or address is held here: not created");
            events::record(state, failed("name_taken")).await;
            Ok(Migration::Taken)
        }
        Err(e) => Err(e.into()),
    }
}
