//! The SQLite store: changes of password and address: by the owner, by a reset link, by a confirmation link.

use super::*;

#[async_trait]
impl Credentials for SqliteStore {
    async fn change_password(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
        keep: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let (uid, old, new, keep) = (
            user_id.to_string(),
            old_hash.to_string(),
            new_hash.to_string(),
            keep.to_string(),
        );
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let changed = tx
                .execute(
                    "UPDATE users SET password_hash = ?3, updated_at = ?4 \
                     WHERE user_id = ?1 AND password_hash = ?2",
                    params![uid, old, new, now],
                )
                .map_err(unavailable)?;
            if changed == 0 {
                return Ok(false);
            }
            advance_epoch(&tx, &uid, Some(&keep), now).map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(true)
        })
        .await
    }

    async fn rehash_password(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> StoreResult<bool> {
        let (uid, old, new) = (
            user_id.to_string(),
            old_hash.to_string(),
            new_hash.to_string(),
        );
        self.run(move |conn| {
            conn.execute(
                "UPDATE users SET password_hash = ?3 WHERE user_id = ?1 AND password_hash = ?2",
                params![uid, old, new],
            )
            .map(|changed| changed == 1)
            .map_err(unavailable)
        })
        .await
    }

    async fn add_reset_token(&self, reset: &ResetRecord, now: i64) -> StoreResult<()> {
        let r = reset.clone();
        let due = self.sweep_due(now);
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            if due {
                sweep(&tx, now).map_err(unavailable)?;
            }
            tx.execute(
                "INSERT INTO reset_tokens (token_hash, user_id, epoch, expires_at, email) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![r.token_hash, r.user_id, r.epoch, r.expires_at, r.email],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn reset_token(&self, token_hash: &str, now: i64) -> StoreResult<ResetTokenState> {
        let hash = token_hash.to_string();
        self.read(move |conn| reset_state(conn, &hash, now)).await
    }

    async fn reset_password(
        &self,
        token_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> StoreResult<ResetTokenState> {
        let (hash, new) = (token_hash.to_string(), new_hash.to_string());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let mut user = match reset_state(&tx, &hash, now).map_err(unavailable)? {
                ResetTokenState::Valid(user) => user,
                other => return Ok(other),
            };
            tx.execute(
                "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE user_id = ?1",
                params![user.user_id, new, now],
            )
            .map_err(unavailable)?;
            // Every session and every reset token of the user ends, this one included.
            advance_epoch(&tx, &user.user_id, None, now).map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            user.password_hash = new;
            user.auth_epoch += 1;
            user.updated_at = now;
            Ok(ResetTokenState::Valid(user))
        })
        .await
    }

    async fn add_email_change(&self, change: &EmailChangeRecord, now: i64) -> StoreResult<()> {
        let c = change.clone();
        let due = self.sweep_due(now);
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            if due {
                sweep(&tx, now).map_err(unavailable)?;
            }
            tx.execute(
                "INSERT INTO email_changes (token_hash, user_id, new_email, expires_at, epoch) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![c.token_hash, c.user_id, c.new_email, c.expires_at, c.epoch],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn has_pending_email_change(
        &self,
        user_id: &str,
        epoch: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let uid = user_id.to_string();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT 1 FROM email_changes WHERE user_id = ?1 AND epoch = ?2 \
                 AND used_at IS NULL AND expires_at > ?3 LIMIT 1",
            )?
            .query_row(params![uid, epoch, now], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
        })
        .await
    }

    async fn email_change(&self, token_hash: &str, now: i64) -> StoreResult<EmailChangeOutcome> {
        let hash = token_hash.to_string();
        self.read(move |conn| email_change_state(conn, &hash, now).map(|(o, _)| o))
            .await
    }

    async fn confirm_email_change(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<EmailChangeOutcome> {
        let hash = token_hash.to_string();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let (outcome, found) = email_change_state(&tx, &hash, now).map_err(unavailable)?;
            let (
                EmailChangeOutcome::Changed {
                    mut user,
                    old_email,
                    ..
                },
                Some(found),
            ) = (outcome.clone(), found)
            else {
                return Ok(outcome);
            };
            let key = email_key(&found.new_email);
            drop_expired_holder(&tx, &key, now).map_err(unavailable)?;
            tx.execute(
                "UPDATE email_changes SET used_at = ?2 WHERE token_hash = ?1",
                params![hash, now],
            )
            .map_err(unavailable)?;
            // email_key is UNIQUE: the address is claimed here or the transaction fails.
            tx.execute(
                "UPDATE users SET email = ?2, email_key = ?3, updated_at = ?4 WHERE user_id = ?1",
                params![user.user_id, found.new_email, key, now],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            user.email = found.new_email;
            user.updated_at = now;
            Ok(EmailChangeOutcome::Changed {
                new_email: user.email.clone(),
                user,
                old_email,
            })
        })
        .await
    }
}
