//! The embedded, durable store: one SQLite file (WAL, synchronous=FULL). Each operation runs in
//! one transaction on the blocking pool, so the async executor never waits on disk.

mod activations;
mod clients;
mod credentials;
mod email_codes;
mod events;
mod factors;
mod grants;
mod passkeys;
mod sessions;
mod throttles;
mod users;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{
    ActivationOutcome, ActivationRecord, Activations, Credentials, EmailChangeOutcome,
    EmailChangeRecord, EventPage, EventQuery, Events, Factors, FoundEmailChange, FoundReset,
    LoginAttempt, LoginFailures, MAIL_DAY_SECS, MAIL_INTERVAL_SECS, MAILS_PER_DAY,
    MAX_MFA_ATTEMPTS, MfaChallenge, ResetRecord, ResetTokenState, Session, Sessions, StoreError,
    StoreResult, Throttles, TotpFactor, UserPage, UserUpdate, Users, judge_email_change,
    judge_reset, lockout_remaining,
};
use crate::user::{Role, UserRecord, email_key, username_key};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    user_id        TEXT PRIMARY KEY,
    username       TEXT NOT NULL,
    username_key   TEXT NOT NULL UNIQUE,
    email          TEXT NOT NULL,
    email_key      TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    activated      INTEGER NOT NULL,
    data           TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    pending_until  INTEGER
);
CREATE TABLE IF NOT EXISTS activation_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX IF NOT EXISTS activation_tokens_user ON activation_tokens(user_id);
CREATE TABLE IF NOT EXISTS sessions (
    session_id  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS login_failures (
    login_key     TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL
);
"#;

/// The schema's version (`PRAGMA user_version`): each migration below takes a store file one
/// version on, in one transaction, so a file made by an older release opens with its data.
const SCHEMA_VERSION: i64 = 11;

/// Version 2: auth epochs (every session ended in one write), reset tokens, email changes,
/// mail counters.
const MIGRATION_2: &str = r#"
ALTER TABLE users ADD COLUMN auth_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
CREATE TABLE reset_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    epoch       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX reset_tokens_user ON reset_tokens(user_id);
CREATE TABLE email_changes (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    new_email   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX email_changes_user ON email_changes(user_id);
CREATE TABLE mail_counts (
    email_key  TEXT PRIMARY KEY,
    day_start  INTEGER NOT NULL,
    day_count  INTEGER NOT NULL,
    last_sent  INTEGER NOT NULL
);
"#;

/// Version 3: an address change lives with its auth epoch; a reset link with the address it was
/// mailed to (older rows: epoch 0, no address).
const MIGRATION_3: &str = r#"
ALTER TABLE email_changes ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reset_tokens ADD COLUMN email TEXT;
CREATE INDEX IF NOT EXISTS activation_tokens_expiry ON activation_tokens(expires_at);
CREATE INDEX IF NOT EXISTS reset_tokens_expiry ON reset_tokens(expires_at);
CREATE INDEX IF NOT EXISTS email_changes_expiry ON email_changes(expires_at);
CREATE INDEX IF NOT EXISTS users_pending ON users(pending_until) WHERE pending_until IS NOT NULL;
"#;

/// Version 4: refresh tokens: each session's generation and time of its last rotation (older
/// sessions: generation 0, refreshed when they were made).
const MIGRATION_4: &str = r#"
ALTER TABLE sessions ADD COLUMN refresh_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN refreshed_at INTEGER;
"#;

/// Version 5: second factors (TOTP) and the logins waiting for one.
const MIGRATION_5: &str = r#"
CREATE TABLE mfa_factors (
    user_id        TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    sealed_secret  TEXT NOT NULL,
    enabled        INTEGER NOT NULL,
    pending_until  INTEGER NOT NULL,
    last_step      INTEGER NOT NULL,
    recovery       TEXT NOT NULL
);
CREATE TABLE mfa_challenges (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL
);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges(expires_at);
"#;

/// Version 6: account events. No foreign key: an account's events outlive it (its deletion is
/// one), until their retention ends.
const MIGRATION_6: &str = r#"
CREATE TABLE account_events (
    event_id    TEXT PRIMARY KEY,
    user_id     TEXT,
    type        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX account_events_user ON account_events(user_id, event_id);
CREATE INDEX account_events_type ON account_events(type, event_id);
CREATE INDEX account_events_expiry ON account_events(expires_at);
"#;

/// Version 7: whether a second factor has been used to sign in (a password reset removes one
/// that has not). Factors of before read as used: nothing of theirs is known, and a reset must
/// not take away a factor its owner relies on.
const MIGRATION_7: &str = r#"
ALTER TABLE mfa_factors ADD COLUMN signed_in INTEGER NOT NULL DEFAULT 1;
"#;

/// Version 8: OAuth clients (the record as JSON, its id apart).
const MIGRATION_8: &str = r#"
CREATE TABLE oauth_clients (
    client_id   TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    body        TEXT NOT NULL
);
"#;

/// Version 9: authorization codes (the record as JSON; its user, expiry and the sign-in it was
/// redeemed for apart) and consents.
const MIGRATION_9: &str = r#"
CREATE TABLE oauth_codes (
    code_hash     TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    expires_at    INTEGER NOT NULL,
    spent_for     TEXT,
    body          TEXT NOT NULL
);
CREATE INDEX oauth_codes_expiry ON oauth_codes(expires_at);
CREATE TABLE oauth_consents (
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
"#;

/// Version 10: passkeys (the relying party's record as JSON; the credential id unique across
/// accounts) and the ceremonies in progress.
const MIGRATION_10: &str = r#"
CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    credential_id  TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    credential     TEXT NOT NULL,
    counter        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
);
CREATE INDEX passkeys_user ON passkeys(user_id, created_at);
CREATE TABLE passkey_ceremonies (
    key_hash    TEXT PRIMARY KEY,
    bound_to    TEXT NOT NULL,
    state       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies(expires_at);
"#;

/// Version 11: sign-in codes mailed to accounts (one an account: a new one replaces the last),
/// and how a login waiting for its second step proved its first.
const MIGRATION_11: &str = r#"
CREATE TABLE email_codes (
    user_id     TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    code_mac    TEXT NOT NULL,
    link_hash   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL
);
CREATE INDEX email_codes_expiry ON email_codes(expires_at);
ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd';
"#;

/// Link tokens (activation, reset, address change), used or not, are kept a day past their
/// validity (so a late click says "expired", a re-click "already activated"), accounts never
/// activated a day past their window; then the sweep drops them.
const TOKEN_KEEP_SECS: i64 = 24 * 3600;
/// The sweep runs at most this often, from the writes that add tokens.
const SWEEP_EVERY_SECS: i64 = 3600;

/// Drops what has outlived its use: link tokens a day past their validity, accounts a day past
/// their activation window (their tokens with them), mail counters and login failures a day
/// old. In a write transaction; each delete walks an index on its time column.
fn sweep(tx: &rusqlite::Transaction<'_>, now: i64) -> rusqlite::Result<()> {
    let old = now - TOKEN_KEEP_SECS;
    tx.execute(
        "DELETE FROM activation_tokens WHERE expires_at <= ?1",
        [old],
    )?;
    tx.execute("DELETE FROM reset_tokens WHERE expires_at <= ?1", [old])?;
    tx.execute("DELETE FROM email_changes WHERE expires_at <= ?1", [old])?;
    tx.execute("DELETE FROM mfa_challenges WHERE expires_at <= ?1", [now])?;
    tx.execute("DELETE FROM email_codes WHERE expires_at <= ?1", [now])?;
    tx.execute("DELETE FROM account_events WHERE expires_at <= ?1", [now])?;
    tx.execute(
        "DELETE FROM passkey_ceremonies WHERE expires_at <= ?1",
        [now],
    )?;
    tx.execute(
        "DELETE FROM oauth_codes WHERE expires_at <= ?1",
        [now - crate::store::SPENT_CODE_KEEP_SECS],
    )?;
    tx.execute(
        "DELETE FROM users WHERE activated = 0 AND pending_until IS NOT NULL \
         AND pending_until <= ?1",
        [old],
    )?;
    tx.execute(
        "DELETE FROM mail_counts WHERE day_start <= ?1",
        [now - MAIL_DAY_SECS],
    )?;
    tx.execute(
        "DELETE FROM login_failures WHERE last_failure <= ?1",
        [now - FAILURE_MEMORY_SECS],
    )?;
    Ok(())
}

/// Version 3 also compares addresses after NFKC ([`email_key`]): each user's key is written
/// anew. Two accounts that become one key (made when lookalikes were distinct) both stay; the
/// later keeps its old key, and that is logged for the operator.
fn rekey_addresses(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let users: Vec<(String, String, String)> = tx
        .prepare("SELECT user_id, email, email_key FROM users ORDER BY created_at, user_id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (user_id, email, old_key) in users {
        let key = email_key(&email);
        if key == old_key {
            continue;
        }
        match tx.execute(
            "UPDATE users SET email_key = ?2 WHERE user_id = ?1",
            params![user_id, key],
        ) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                tracing::warn!(%user_id, "address not re-keyed: another account holds its form");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`], in one immediate transaction (two processes opening
/// one new file migrate it once).
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < 2 {
        tx.execute_batch(MIGRATION_2)?;
    }
    if version < 3 {
        tx.execute_batch(MIGRATION_3)?;
        rekey_addresses(&tx)?;
    }
    if version < 4 {
        tx.execute_batch(MIGRATION_4)?;
    }
    if version < 5 {
        tx.execute_batch(MIGRATION_5)?;
    }
    if version < 6 {
        tx.execute_batch(MIGRATION_6)?;
    }
    if version < 7 {
        tx.execute_batch(MIGRATION_7)?;
    }
    if version < 8 {
        tx.execute_batch(MIGRATION_8)?;
    }
    if version < 9 {
        tx.execute_batch(MIGRATION_9)?;
    }
    if version < 10 {
        tx.execute_batch(MIGRATION_10)?;
    }
    if version < 11 {
        tx.execute_batch(MIGRATION_11)?;
    }
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()
}

/// The columns `user_from_row` reads, in its order (a macro, so that the queries below are
/// whole string constants: no SQL is built at run time).
macro_rules! select_user_where {
    ($column:literal) => {
        concat!(
            "SELECT user_id, username, email, password_hash, role, activated, data, \
             created_at, updated_at, pending_until, auth_epoch FROM users WHERE ",
            $column,
            " = ?1"
        )
    };
}

/// A unique key a user is found by, and the queries that go with it.
#[derive(Clone, Copy)]
enum UserKey {
    Id,
    Username,
    Email,
}

impl UserKey {
    fn select_user(self) -> &'static str {
        match self {
            UserKey::Id => select_user_where!("user_id"),
            UserKey::Username => select_user_where!("username_key"),
            UserKey::Email => select_user_where!("email_key"),
        }
    }

    fn select_one(self) -> &'static str {
        match self {
            UserKey::Id => "SELECT 1 FROM users WHERE user_id = ?1",
            UserKey::Username => "SELECT 1 FROM users WHERE username_key = ?1",
            UserKey::Email => "SELECT 1 FROM users WHERE email_key = ?1",
        }
    }
}

/// Login-failure rows untouched for this long are dropped (the longest lock-out is 15 minutes).
const FAILURE_MEMORY_SECS: i64 = 24 * 3600;

#[derive(Clone)]
pub struct SqliteStore {
    /// The one writer: every transaction runs here, on the blocking pool.
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections for the hot single-statement reads (authentication, lookups).
    /// WAL readers never wait for the writer or each other, and such a read takes
    /// microseconds, so it runs in place instead of hopping to the blocking pool.
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
    /// When the last sweep ran (see [`sweep`]).
    last_sweep: Arc<std::sync::atomic::AtomicI64>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let role: String = row.get(4)?;
    let data: String = row.get(6)?;
    Ok(UserRecord {
        user_id: row.get(0)?,
        username: row.get(1)?,
        email: row.get(2)?,
        password_hash: row.get(3)?,
        role: Role::parse(&role).unwrap_or(Role::User),
        activated: row.get(5)?,
        data: serde_json::from_str(&data).unwrap_or_default(),
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        pending_until: row.get(9)?,
        auth_epoch: row.get(10)?,
    })
}

fn find_user(
    conn: &Connection,
    key: UserKey,
    value: &str,
    now: i64,
) -> rusqlite::Result<Option<UserRecord>> {
    let user = conn
        .prepare_cached(key.select_user())?
        .query_row([value], user_from_row)
        .optional()?;
    Ok(user.filter(|u| !u.is_expired_pending(now)))
}

/// The query planner's stability guarantee: a cached statement keeps its plan whatever values
/// are bound. Without it (this SQLite is built with STAT4), binding a value to a parameter the
/// planner looked at marks the statement expired, so every reuse of a cached statement parsed
/// and planned its SQL again (seen in a profile of authenticated reads).
fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map(|_| ())
}

/// Moves a user's auth epoch on (its sessions and reset tokens die), carrying the session
/// `keep` over when it is live; drops what died. `false` when the user is gone. In `tx`.
fn advance_epoch(
    tx: &rusqlite::Transaction<'_>,
    user_id: &str,
    keep: Option<&str>,
    now: i64,
) -> rusqlite::Result<bool> {
    let epoch: Option<i64> = tx
        .query_row(
            "UPDATE users SET auth_epoch = auth_epoch + 1 WHERE user_id = ?1 RETURNING auth_epoch",
            [user_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(epoch) = epoch else {
        return Ok(false);
    };
    if let Some(keep) = keep {
        tx.execute(
            "UPDATE sessions SET epoch = ?3 WHERE session_id = ?1 AND user_id = ?2 \
             AND epoch = ?3 - 1 AND expires_at > ?4",
            params![keep, user_id, epoch, now],
        )?;
    }
    tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND epoch <> ?2",
        params![user_id, epoch],
    )?;
    tx.execute("DELETE FROM reset_tokens WHERE user_id = ?1", [user_id])?;
    // Pending address changes die with the epoch (used ones stay, for a re-click's answer).
    tx.execute(
        "DELETE FROM email_changes WHERE user_id = ?1 AND used_at IS NULL",
        [user_id],
    )?;
    Ok(true)
}

fn reset_state(conn: &Connection, token_hash: &str, now: i64) -> rusqlite::Result<ResetTokenState> {
    let found = conn
        .prepare_cached(
            "SELECT user_id, epoch, expires_at, used_at IS NOT NULL, email FROM reset_tokens \
             WHERE token_hash = ?1",
        )?
        .query_row([token_hash], |r| {
            Ok(FoundReset {
                user_id: r.get(0)?,
                epoch: r.get(1)?,
                expires_at: r.get(2)?,
                used: r.get(3)?,
                email: r.get(4)?,
            })
        })
        .optional()?;
    let Some(found) = found else {
        return Ok(ResetTokenState::Unknown);
    };
    let user = find_user(conn, UserKey::Id, &found.user_id, now)?;
    Ok(judge_reset(&found, user, now))
}

/// What a confirmation token is worth, with its record when it was found.
fn email_change_state(
    conn: &Connection,
    token_hash: &str,
    now: i64,
) -> rusqlite::Result<(EmailChangeOutcome, Option<FoundEmailChange>)> {
    let found = conn
        .prepare_cached(
            "SELECT user_id, new_email, expires_at, used_at IS NOT NULL, epoch FROM email_changes \
             WHERE token_hash = ?1",
        )?
        .query_row([token_hash], |r| {
            Ok(FoundEmailChange {
                user_id: r.get(0)?,
                new_email: r.get(1)?,
                expires_at: r.get(2)?,
                used: r.get(3)?,
                epoch: r.get(4)?,
            })
        })
        .optional()?;
    let Some(found) = found else {
        return Ok((EmailChangeOutcome::Unknown, None));
    };
    let user = find_user(conn, UserKey::Id, &found.user_id, now)?;
    let holder = find_user(conn, UserKey::Email, &email_key(&found.new_email), now)?;
    let outcome = judge_email_change(
        &found,
        user,
        holder.as_ref().map(|h| h.user_id.as_str()),
        now,
    );
    Ok((outcome, Some(found)))
}

/// Makes the store file readable by its owner only (it holds password hashes and live link
/// tokens' hashes): created so when new, and tightened when an older release left it (and its
/// WAL and shared-memory files, which SQLite creates with the file's own mode) open to others.
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Removes accounts whose activation window has passed and that hold `email_key`, so the
/// address is free again. In a write transaction.
fn drop_expired_holder(
    tx: &rusqlite::Transaction<'_>,
    email_key: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM users WHERE activated = 0 AND pending_until IS NOT NULL \
         AND pending_until <= ?1 AND email_key = ?2",
        params![now, email_key],
    )
    .map(|_| ())
}

impl SqliteStore {
    /// Opens (creating when needed) the store file `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        make_private(path).map_err(unavailable)?;
        let mut conn = Connection::open(path).map_err(unavailable)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(unavailable)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        migrate(&mut conn).map_err(unavailable)?;
        stable_plans(&conn).map_err(unavailable)?;
        let count = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            + 1;
        let readers = (0..count)
            .map(|_| {
                let r = Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                // Bounded: a read never holds an executor thread for long.
                r.busy_timeout(std::time::Duration::from_millis(100))?;
                stable_plans(&r)?;
                Ok(Mutex::new(r))
            })
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(unavailable)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(readers),
            next_reader: Arc::default(),
            last_sweep: Arc::default(),
        })
    }

    /// Runs one read on a free read-only connection, in place; on the blocking pool when every
    /// reader is busy.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let n = self.readers.len();
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..n {
            if let Ok(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn).map_err(unavailable);
            }
        }
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers[start % n].lock().unwrap_or_else(|p| p.into_inner());
            f(&conn).map_err(unavailable)
        })
        .await
        .map_err(unavailable)?
    }

    /// Whether a sweep is due at `now` (at most one an hour); marks it taken.
    fn sweep_due(&self, now: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.last_sweep.load(Ordering::Relaxed);
        now - last >= SWEEP_EVERY_SECS
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(unavailable)?
    }
}
