//! The SQLite store: the activation links of accounts waiting to be activated.

use super::*;

#[async_trait]
impl Activations for SqliteStore {
    async fn add_activation_token(
        &self,
        user_id: &str,
        activation: &ActivationRecord,
        now: i64,
    ) -> StoreResult<bool> {
        let id = user_id.to_string();
        let activation = activation.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let extended = tx
                .execute(
                    "UPDATE users SET pending_until = ?2 WHERE user_id = ?1 AND activated = 0 \
                     AND pending_until IS NOT NULL AND pending_until > ?3",
                    params![id, activation.expires_at, now],
                )
                .map_err(unavailable)?;
            if extended == 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO activation_tokens (token_hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![activation.token_hash, id, activation.expires_at],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn activate(&self, token_hash: &str, now: i64) -> StoreResult<ActivationOutcome> {
        let hash = token_hash.to_string();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let token: Option<(String, i64, Option<i64>)> = tx
                .query_row(
                    "SELECT user_id, expires_at, used_at FROM activation_tokens WHERE token_hash = ?1",
                    [&hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(unavailable)?;
            let Some((user_id, expires_at, used_at)) = token else {
                return Ok(ActivationOutcome::Unknown);
            };
            if used_at.is_none() && expires_at <= now {
                return Ok(ActivationOutcome::Expired);
            }
            let Some(mut user) = tx
                .query_row(UserKey::Id.select_user(), [&user_id], user_from_row).optional().map_err(unavailable)?
            else {
                return Ok(ActivationOutcome::Unknown);
            };
            // Used, or the account is no longer waiting (activated, or deactivated by an admin).
            if used_at.is_some() || user.activated || user.pending_until.is_none() {
                return Ok(ActivationOutcome::AlreadyActivated(user));
            }
            // Every link of the account is spent by this one, so none can re-activate it later
            // (after an admin deactivates it, say).
            tx.execute(
                "UPDATE activation_tokens SET used_at = ?2 WHERE user_id = ?1 AND used_at IS NULL",
                params![user_id, now],
            )
            .map_err(unavailable)?;
            tx.execute(
                "UPDATE users SET activated = 1, pending_until = NULL, updated_at = ?2 \
                 WHERE user_id = ?1",
                params![user_id, now],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            user.activated = true;
            user.pending_until = None;
            user.updated_at = now;
            Ok(ActivationOutcome::Activated(user))
        })
        .await
    }
}
