//! The SQLite store: authorization codes (the record as JSON; its user, expiry and the sign-in
//! it was redeemed for apart) and consents (one row per user and client).

use super::*;
use crate::store::{AuthorizationCode, CodeRedeemed, Consent, Grants};

fn consent_from_row(row: &Row<'_>) -> rusqlite::Result<Consent> {
    let scopes: String = row.get(1)?;
    Ok(Consent {
        client_id: row.get(0)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        granted_at: row.get(2)?,
    })
}

#[async_trait]
impl Grants for SqliteStore {
    async fn add_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        let body = serde_json::to_string(code).map_err(unavailable)?;
        let (hash, user_id, expires_at) = (
            code.code_hash.clone(),
            code.user_id.clone(),
            code.expires_at,
        );
        // The sweep runs at the time the code was issued: at its expiry it would drop what
        // lives less than a code does (a login's second step in its last minute).
        let now = expires_at - crate::store::CODE_TTL_SECS;
        let due = self.sweep_due(now);
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            if due {
                sweep(&tx, now).map_err(unavailable)?;
            }
            tx.execute(
                "INSERT INTO oauth_codes (code_hash, user_id, expires_at, body) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![hash, user_id, expires_at, body],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<CodeRedeemed> {
        let (hash, sid) = (code_hash.to_string(), session_id.to_string());
        // The one writer connection runs one transaction at a time: the read and the mark see no
        // other redemption between them.
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            let row: Option<(String, i64, Option<String>, String)> = tx
                .query_row(
                    "SELECT user_id, expires_at, spent_for, body FROM oauth_codes \
                     WHERE code_hash = ?1",
                    [&hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(unavailable)?;
            let outcome = match row {
                None => CodeRedeemed::Unknown,
                Some((user_id, _, Some(spent_for), _)) => CodeRedeemed::Spent {
                    user_id,
                    session_id: spent_for,
                },
                Some((_, expires_at, None, _)) if expires_at <= now => CodeRedeemed::Unknown,
                Some((_, _, None, body)) => {
                    tx.execute(
                        "UPDATE oauth_codes SET spent_for = ?2 WHERE code_hash = ?1",
                        params![hash, sid],
                    )
                    .map_err(unavailable)?;
                    let code = serde_json::from_str(&body)
                        .map_err(|e| unavailable(format!("malformed code: {e}")))?;
                    CodeRedeemed::Redeemed(code)
                }
            };
            tx.commit().map_err(unavailable)?;
            Ok(outcome)
        })
        .await
    }

    async fn consent(&self, user_id: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        let (uid, cid) = (user_id.to_string(), client_id.to_string());
        self.read(move |conn| {
            conn.query_row(
                "SELECT client_id, scopes, granted_at FROM oauth_consents \
                 WHERE user_id = ?1 AND client_id = ?2",
                [uid, cid],
                consent_from_row,
            )
            .optional()
        })
        .await
    }

    async fn give_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scopes: &[String],
        now: i64,
    ) -> StoreResult<bool> {
        let (uid, cid, more) = (user_id.to_string(), client_id.to_string(), scopes.to_vec());
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            let held: Option<String> = tx
                .query_row(
                    "SELECT scopes FROM oauth_consents WHERE user_id = ?1 AND client_id = ?2",
                    [&uid, &cid],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            let mut all: Vec<String> = held
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .chain(more)
                .collect();
            all.sort();
            all.dedup();
            // Only for a user that is there (a row of a deleted user would fail its key).
            let written = tx
                .execute(
                    "INSERT INTO oauth_consents (user_id, client_id, scopes, granted_at) \
                     SELECT ?1, ?2, ?3, ?4 FROM users WHERE user_id = ?1 \
                     ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = ?3, granted_at = ?4",
                    params![uid, cid, all.join(" "), now],
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(written == 1)
        })
        .await
    }

    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        let uid = user_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT client_id, scopes, granted_at FROM oauth_consents WHERE user_id = ?1 \
                 ORDER BY granted_at, client_id",
            )?;
            let rows = stmt.query_map([uid], consent_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn withdraw_consent(&self, user_id: &str, client_id: &str) -> StoreResult<bool> {
        let (uid, cid) = (user_id.to_string(), client_id.to_string());
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM oauth_consents WHERE user_id = ?1 AND client_id = ?2",
                [uid, cid],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }
}
