//! The SQLite store: sign-in codes mailed to accounts, one row an account (a new code replaces
//! the last); a try counted by one `UPDATE ... RETURNING`, a code spent by one `DELETE`.

use super::*;
use crate::store::{EmailCode, EmailCodes, MAX_EMAIL_CODE_ATTEMPTS};

/// The columns `email_code_from_row` reads, in its order.
const EMAIL_CODE_COLUMNS: &str = "user_id, code_mac, link_hash, created_at, expires_at, attempts";

fn email_code_from_row(row: &Row<'_>) -> rusqlite::Result<EmailCode> {
    Ok(EmailCode {
        user_id: row.get(0)?,
        code_mac: row.get(1)?,
        link_hash: row.get(2)?,
        created_at: row.get(3)?,
        expires_at: row.get(4)?,
        attempts: row.get(5)?,
    })
}

#[async_trait]
impl EmailCodes for SqliteStore {
    async fn put_email_code(&self, code: &EmailCode) -> StoreResult<()> {
        let c = code.clone();
        self.run(move |conn| {
            // An account deleted meanwhile keeps no code (the foreign key refuses it).
            conn.execute(
                "INSERT INTO email_codes \
                 (user_id, code_mac, link_hash, created_at, expires_at, attempts) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0) \
                 ON CONFLICT (user_id) DO UPDATE SET code_mac = excluded.code_mac, \
                 link_hash = excluded.link_hash, created_at = excluded.created_at, \
                 expires_at = excluded.expires_at, attempts = 0",
                params![
                    c.user_id,
                    c.code_mac,
                    c.link_hash,
                    c.created_at,
                    c.expires_at
                ],
            )
            .map(|_| ())
            .or_else(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Ok(())
                }
                e => Err(e),
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn email_code(&self, user_id: &str, now: i64) -> StoreResult<Option<EmailCode>> {
        let user_id = user_id.to_string();
        self.read(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {EMAIL_CODE_COLUMNS} FROM email_codes \
                     WHERE user_id = ?1 AND expires_at > ?2"
                ),
                params![user_id, now],
                email_code_from_row,
            )
            .optional()
        })
        .await
    }

    async fn attempt_email_code(&self, user_id: &str, now: i64) -> StoreResult<Option<EmailCode>> {
        let user_id = user_id.to_string();
        self.run(move |conn| {
            conn.query_row(
                &format!(
                    "UPDATE email_codes SET attempts = attempts + 1 \
                     WHERE user_id = ?1 AND expires_at > ?2 AND attempts < ?3 \
                     RETURNING {EMAIL_CODE_COLUMNS}"
                ),
                params![user_id, now, MAX_EMAIL_CODE_ATTEMPTS],
                email_code_from_row,
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn spend_email_code(&self, user_id: &str, link_hash: &str) -> StoreResult<bool> {
        let (user_id, link_hash) = (user_id.to_string(), link_hash.to_string());
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM email_codes WHERE user_id = ?1 AND link_hash = ?2",
                    params![user_id, link_hash],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }
}
