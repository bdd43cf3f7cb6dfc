//! The DynamoDB store: the throttles: mails to an address, password attempts of a login name.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::*;
use crate::secret::random_token;

#[async_trait]
impl Throttles for DynamoStore {
    async fn take_mail_allowance(&self, email: &str, now: i64) -> StoreResult<bool> {
        // Each call marks what it writes with a mark of its own. A write that reached the table
        // but whose answer was lost is tried again by the SDK, and that second try fails its
        // condition on the first one's write: the mark tells this call's own allowance from
        // another's, so a slow answer never reads as "throttled".
        let mark = random_token(16).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let ours = |e: &SdkError<UpdateItemError, _>| match e {
            SdkError::ServiceError(se) => match se.err() {
                UpdateItemError::ConditionalCheckFailedException(c) => Some(
                    c.item()
                        .and_then(|old| get_s(old, "taken_by"))
                        .is_some_and(|m| m == mark),
                ),
                _ => None,
            },
            _ => None,
        };
        // A new day's window (none yet, or the last one is over)...
        let fresh = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(mail_key(email)))
            .update_expression(
                "SET day_start = :now, day_count = :one, last_sent = :now, expires_at = :end, \
                 taken_by = :mark",
            )
            .condition_expression("attribute_not_exists(pk) OR day_start <= :day_ago")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":end", n(now + MAIL_DAY_SECS))
            .expression_attribute_values(":day_ago", n(now - MAIL_DAY_SECS))
            .expression_attribute_values(":mark", s(&mark))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match fresh {
            Ok(_) => return Ok(true),
            Err(e) => match ours(&e) {
                Some(true) => return Ok(true),
                Some(false) => {}
                None => return Err(unavailable(e)),
            },
        }
        // ...or one more in the current one, a minute after the last.
        let more = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(mail_key(email)))
            .update_expression(
                "SET day_count = day_count + :one, last_sent = :now, taken_by = :mark",
            )
            .condition_expression(
                "day_start > :day_ago AND last_sent <= :minute_ago AND day_count < :max",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":day_ago", n(now - MAIL_DAY_SECS))
            .expression_attribute_values(":minute_ago", n(now - MAIL_INTERVAL_SECS))
            .expression_attribute_values(":max", n(MAILS_PER_DAY))
            .expression_attribute_values(":mark", s(&mark))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match more {
            Ok(_) => Ok(true),
            Err(e) => match ours(&e) {
                Some(taken) => Ok(taken),
                None => Err(unavailable(e)),
            },
        }
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
