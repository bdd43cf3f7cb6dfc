//! The DynamoDB store: the throttles: mails to an address, password attempts of a login name.

use super::*;

#[async_trait]
impl Throttles for DynamoStore {
    async fn take_mail_allowance(&self, email: &str, now: i64) -> StoreResult<bool> {
        // Marked writes: a retry of one whose answer was lost (failing its condition on the
        // first try's own write) still reads as taken, never as throttled.
        // A new day's window (none yet, or the last one is over)...
        let fresh = self
            .update_marked(
                mail_key(email),
                "SET day_start = :now, day_count = :one, last_sent = :now, expires_at = :end",
                "attribute_not_exists(pk) OR day_start <= :day_ago",
                value_map([
                    (":now", n(now)),
                    (":one", n(1)),
                    (":end", n(now + MAIL_DAY_SECS)),
                    (":day_ago", n(now - MAIL_DAY_SECS)),
                ]),
            )
            .await?;
        if fresh {
            return Ok(true);
        }
        // ...or one more in the current one, a minute after the last.
        self.update_marked(
            mail_key(email),
            "SET day_count = day_count + :one, last_sent = :now",
            "day_start > :day_ago AND last_sent <= :minute_ago AND day_count < :max",
            value_map([
                (":now", n(now)),
                (":one", n(1)),
                (":day_ago", n(now - MAIL_DAY_SECS)),
                (":minute_ago", n(now - MAIL_INTERVAL_SECS)),
                (":max", n(MAILS_PER_DAY)),
            ]),
        )
        .await
    }

    async fn give_back_mail_allowance(&self, email: &str, taken_at: i64) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(mail_key(email)))
            .update_expression("SET day_count = day_count - :one, last_sent = :before")
            .condition_expression("last_sent = :at")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", n(taken_at))
            .expression_attribute_values(":before", n(taken_at - MAIL_INTERVAL_SECS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn take_login_attempt(&self, key: &str, now: i64) -> StoreResult<LoginAttempt> {
        // Read, judge, then count only if the item is still as read (a conditional write on
        // the count and time read): of attempts sent together, one wins each round and the
        // others read again, and find the name locked once the free failures are spent.
        for _ in 0..8 {
            let item = live(self.get(failure_key(key)).await?, now);
            let current = item.as_ref().map(|item| LoginFailures {
                count: get_n(item, "failures")
                    .unwrap_or(0)
                    .clamp(0, u32::MAX as i64) as u32,
                last_failure: get_n(item, "last_failure").unwrap_or(0),
            });
            if let Some(wait) = lockout_remaining(current, now) {
                return Ok(LoginAttempt::Locked(wait));
            }
            let next = LoginFailures {
                count: current.map_or(1, |c| c.count.saturating_add(1)),
                last_failure: now,
            };
            let request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(failure_key(key)))
                .update_expression("SET failures = :next, last_failure = :now, expires_at = :exp")
                .expression_attribute_values(":next", n(next.count as i64))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":exp", n(now + FAILURE_MEMORY_SECS));
            // Unchanged since the read: the same count and time, or still absent (an item past
            // its TTL counts as absent, and is overwritten only while it still is).
            let request = match (&item, current) {
                (Some(_), Some(c)) => request
                    .condition_expression("failures = :count AND last_failure = :last")
                    .expression_attribute_values(":count", n(c.count as i64))
                    .expression_attribute_values(":last", n(c.last_failure)),
                _ => request.condition_expression("attribute_not_exists(pk) OR expires_at <= :now"),
            };
            match request.send().await {
                Ok(_) => return Ok(LoginAttempt::Taken(next)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        // Still contended after eight rounds: many attempts at once, refused for a second.
        Ok(LoginAttempt::Locked(1))
    }

    async fn record_failed_attempt(&self, key: &str, now: i64) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(failure_key(key)))
            .update_expression("SET last_failure = :now, expires_at = :exp")
            .condition_expression("attribute_exists(pk) AND last_failure < :now")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":exp", n(now + FAILURE_MEMORY_SECS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(failure_key(key)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
