//! The SQLite store: second factors and the logins waiting for one.

use super::*;

fn factor_from_row(row: &Row<'_>) -> rusqlite::Result<TotpFactor> {
    let recovery: String = row.get(5)?;
    Ok(TotpFactor {
        user_id: row.get(0)?,
        sealed_secret: row.get(1)?,
        enabled: row.get(2)?,
        pending_until: row.get(3)?,
        last_step: row.get(4)?,
        recovery: serde_json::from_str(&recovery).unwrap_or_default(),
        signed_in: row.get(6)?,
    })
}

fn codes(recovery: &[String]) -> String {
    serde_json::to_string(recovery).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl Factors for SqliteStore {
    async fn factor(&self, user_id: &str) -> StoreResult<Option<TotpFactor>> {
        let uid = user_id.to_string();
        self.read(move |conn| {
            conn.query_row(
                "SELECT user_id, sealed_secret, enabled, pending_until, last_step, recovery, \
                 signed_in FROM mfa_factors WHERE user_id = ?1",
                [uid],
                factor_from_row,
            )
            .optional()
        })
        .await
    }

    async fn start_factor(&self, factor: &TotpFactor) -> StoreResult<bool> {
        let f = factor.clone();
        self.run(move |conn| {
            // A pending factor is replaced; an enabled one stays (the upsert's WHERE).
            let changed = conn
                .execute(
                    "INSERT INTO mfa_factors \
                     (user_id, sealed_secret, enabled, pending_until, last_step, recovery, \
                     signed_in) \
                     SELECT ?1, ?2, 0, ?3, 0, '[]', 0 FROM users WHERE user_id = ?1 \
                     ON CONFLICT (user_id) DO UPDATE SET sealed_secret = ?2, pending_until = ?3, \
                     last_step = 0, recovery = '[]', signed_in = 0 WHERE enabled = 0",
                    params![f.user_id, f.sealed_secret, f.pending_until],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn enable_factor(
        &self,
        user_id: &str,
        step: i64,
        recovery: &[String],
        now: i64,
    ) -> StoreResult<bool> {
        let uid = user_id.to_string();
        let recovery = codes(recovery);
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE mfa_factors SET enabled = 1, last_step = ?2, recovery = ?3 \
                     WHERE user_id = ?1 AND enabled = 0 AND pending_until > ?4 AND last_step < ?2",
                    params![uid, step, recovery, now],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn use_step(&self, user_id: &str, step: i64, sign_in: bool) -> StoreResult<bool> {
        let uid = user_id.to_string();
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE mfa_factors SET last_step = ?2, signed_in = (signed_in OR ?3) \
                     WHERE user_id = ?1 AND enabled = 1 AND last_step < ?2",
                    params![uid, step, sign_in],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn use_recovery_code(&self, user_id: &str, hash: &str) -> StoreResult<bool> {
        let uid = user_id.to_string();
        let hash = hash.to_string();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let current: Option<String> = tx
                .query_row(
                    "SELECT recovery FROM mfa_factors WHERE user_id = ?1 AND enabled = 1",
                    [&uid],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            let mut left: Vec<String> = current
                .map(|c| serde_json::from_str(&c).unwrap_or_default())
                .unwrap_or_default();
            let before = left.len();
            left.retain(|h| *h != hash);
            if left.len() == before {
                return Ok(false);
            }
            tx.execute(
                "UPDATE mfa_factors SET recovery = ?2, signed_in = 1 WHERE user_id = ?1",
                params![uid, codes(&left)],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn set_recovery_codes(&self, user_id: &str, recovery: &[String]) -> StoreResult<bool> {
        let uid = user_id.to_string();
        let recovery = codes(recovery);
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE mfa_factors SET recovery = ?2 WHERE user_id = ?1 AND enabled = 1",
                    params![uid, recovery],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn remove_factor(&self, user_id: &str) -> StoreResult<bool> {
        let uid = user_id.to_string();
        self.run(move |conn| {
            let changed = conn
                .execute("DELETE FROM mfa_factors WHERE user_id = ?1", [uid])
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn remove_unproven_factor(&self, user_id: &str) -> StoreResult<bool> {
        let uid = user_id.to_string();
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM mfa_factors WHERE user_id = ?1 AND signed_in = 0",
                    [uid],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn create_challenge(&self, challenge: &MfaChallenge) -> StoreResult<()> {
        let c = challenge.clone();
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO mfa_challenges \
                 (token_hash, user_id, scope, epoch, expires_at, attempts, first_factor) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                params![
                    c.token_hash,
                    c.user_id,
                    c.scope,
                    c.epoch,
                    c.expires_at,
                    c.first_factor
                ],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn attempt_challenge(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<MfaChallenge>> {
        let hash = token_hash.to_string();
        self.run(move |conn| {
            conn.query_row(
                "UPDATE mfa_challenges SET attempts = attempts + 1 \
                 WHERE token_hash = ?1 AND expires_at > ?2 AND attempts < ?3 \
                 RETURNING token_hash, user_id, scope, epoch, expires_at, attempts, \
                 first_factor",
                params![hash, now, MAX_MFA_ATTEMPTS],
                |r| {
                    Ok(MfaChallenge {
                        token_hash: r.get(0)?,
                        user_id: r.get(1)?,
                        scope: r.get(2)?,
                        epoch: r.get(3)?,
                        expires_at: r.get(4)?,
                        attempts: r.get(5)?,
                        first_factor: r.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn spend_challenge(&self, token_hash: &str) -> StoreResult<bool> {
        let hash = token_hash.to_string();
        self.run(move |conn| {
            let changed = conn
                .execute("DELETE FROM mfa_challenges WHERE token_hash = ?1", [hash])
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }
}
