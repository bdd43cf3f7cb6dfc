//! The SQLite store: the throttles: mails to an address, password attempts of a login name.

use super::*;

#[async_trait]
impl Throttles for SqliteStore {
    async fn take_mail_allowance(&self, email: &str, now: i64) -> StoreResult<bool> {
        let key = email_key(email);
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            tx.execute(
                "DELETE FROM mail_counts WHERE day_start <= ?1",
                [now - MAIL_DAY_SECS],
            )
            .map_err(unavailable)?;
            let counted = tx
                .execute(
                    "INSERT INTO mail_counts (email_key, day_start, day_count, last_sent) \
                     VALUES (?1, ?2, 1, ?2) ON CONFLICT (email_key) DO UPDATE \
                     SET day_count = day_count + 1, last_sent = ?2 \
                     WHERE last_sent <= ?2 - ?3 AND day_count < ?4",
                    params![key, now, MAIL_INTERVAL_SECS, MAILS_PER_DAY],
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(counted == 1)
        })
        .await
    }

    async fn give_back_mail_allowance(&self, email: &str, taken_at: i64) -> StoreResult<()> {
        let key = email_key(email);
        self.run(move |conn| {
            conn.execute(
                "UPDATE mail_counts SET day_count = day_count - 1, last_sent = ?2 - ?3 \
                 WHERE email_key = ?1 AND last_sent = ?2",
                params![key, taken_at, MAIL_INTERVAL_SECS],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn take_login_attempt(&self, key: &str, now: i64) -> StoreResult<LoginAttempt> {
        let key = key.to_string();
        let due = self.sweep_due(now);
        self.run(move |conn| {
            // One immediate transaction: the check and the count are one step for every writer.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            // Day-old rows go with the hourly sweep (not a table-wide delete on every login);
            // until then a day-old row counts as none.
            if due {
                sweep(&tx, now).map_err(unavailable)?;
            }
            let forgotten = now - FAILURE_MEMORY_SECS;
            let current = tx
                .query_row(
                    "SELECT failures, last_failure FROM login_failures WHERE login_key = ?1",
                    [&key],
                    |r| Ok(LoginFailures { count: r.get(0)?, last_failure: r.get(1)? }),
                )
                .optional()
                .map_err(unavailable)?
                .filter(|f| f.last_failure > forgotten);
            if let Some(wait) = lockout_remaining(current, now) {
                return Ok(LoginAttempt::Locked(wait));
            }
            let failures = tx
                .query_row(
                    "INSERT INTO login_failures (login_key, failures, last_failure) VALUES (?1, 1, ?2) \
                     ON CONFLICT (login_key) DO UPDATE SET failures = CASE WHEN last_failure <= ?3 \
                     THEN 1 ELSE failures + 1 END, last_failure = ?2 \
                     RETURNING failures, last_failure",
                    params![key, now, forgotten],
                    |r| Ok(LoginFailures { count: r.get(0)?, last_failure: r.get(1)? }),
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(LoginAttempt::Taken(failures))
        })
        .await
    }

    async fn record_failed_attempt(&self, key: &str, now: i64) -> StoreResult<()> {
        let key = key.to_string();
        self.run(move |conn| {
            conn.execute(
                "UPDATE login_failures SET last_failure = ?2 \
                 WHERE login_key = ?1 AND last_failure < ?2",
                params![key, now],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        let key = key.to_string();
        self.run(move |conn| {
            conn.execute("DELETE FROM login_failures WHERE login_key = ?1", [key])
                .map(|_| ())
                .map_err(unavailable)
        })
        .await
    }
}
