//! The DynamoDB store: account events.
//!
//! An event is one item: `pk` `EVENTS#<user_id>` (an event of no account: `EVENT#<id>`), `sk`
//! `EVENT#<id>`, so an account's events are one query, newest first. Across accounts, the
//! table's sparse index (`lpk`, `ukey`, which user items use for the listing) holds each
//! event under `EVENTS#<day>#<shard>` with `ukey` the id: a day's events are spread over
//! [`DAY_SHARDS`] partitions, so a busy day is not one hot partition of the index (one
//! partition takes about 1000 writes a second; a write the index cannot take throttles the
//! table's), and a page merges the day's shards, newest first, walking back a day at a time.

use super::*;
use crate::account_event::{AccountEvent, first_id_at, id_millis};

/// The index partitions of one day's events.
pub const DAY_SHARDS: u32 = 4;
/// The most days one page of the listing walks back over (a page of a quiet month may come
/// back short, with a cursor to go on).
const DAYS_PER_PAGE: i64 = 31;
const DAY_MS: i64 = 86_400_000;
/// Above every event id (ULIDs are digits and capitals).
const AFTER_EVERY_ID: &str = "~";

fn day_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// The index partition of an event: its day and a shard from its random bits.
fn day_partition(id: &str) -> String {
    let ms = id_millis(id).unwrap_or_default();
    let shard = id.bytes().last().map(u32::from).unwrap_or_default() % DAY_SHARDS;
    format!("EVENTS#{}#{shard}", day_of(ms))
}

fn event_from_item(item: &Item) -> StoreResult<AccountEvent> {
    get_s(item, "body")
        .and_then(|b| serde_json::from_str(b).ok())
        .ok_or_else(|| broken("event"))
}

fn page_of(mut events: Vec<AccountEvent>, limit: usize, more: Option<String>) -> EventPage {
    if events.len() > limit {
        events.truncate(limit);
        let next_before = events.last().map(|e| e.id.clone());
        return EventPage {
            events,
            next_before,
        };
    }
    EventPage {
        events,
        next_before: more,
    }
}

impl DynamoStore {
    /// The events of one index partition older than `before` and at least `since`, newest
    /// first, reading at most `want` items; with the id down to which it was read when items
    /// are left.
    async fn shard_events(
        &self,
        partition: String,
        before: &str,
        since: &str,
        want: usize,
        query: &EventQuery,
        now: i64,
    ) -> StoreResult<(Vec<AccountEvent>, Option<String>)> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(USERS_INDEX)
            .key_condition_expression("lpk = :l AND ukey BETWEEN :since AND :before")
            .expression_attribute_values(":l", s(partition))
            .expression_attribute_values(":since", s(since))
            .expression_attribute_values(":before", s(before))
            .expression_attribute_values(":now", n(now))
            .scan_index_forward(false)
            .limit(want.clamp(1, 1000) as i32);
        q = match query.kind {
            Some(kind) => q
                .filter_expression("expires_at > :now AND etype = :t")
                .expression_attribute_values(":t", s(kind.as_str())),
            None => q.filter_expression("expires_at > :now"),
        };
        let out = q.send().await.map_err(unavailable)?;
        let events = out
            .items()
            .iter()
            .map(event_from_item)
            .collect::<StoreResult<Vec<_>>>()?;
        let read_to = out
            .last_evaluated_key
            .filter(|k| !k.is_empty())
            .and_then(|k| get_s(&k, "ukey").map(String::from));
        // BETWEEN includes `before`: a cursor names the last event shown.
        let events = events
            .into_iter()
            .filter(|e| e.id.as_str() < before)
            .collect();
        Ok((events, read_to))
    }
}

#[async_trait]
impl Events for DynamoStore {
    async fn record_event(&self, event: &AccountEvent, expires_at: i64) -> StoreResult<()> {
        let body = serde_json::to_string(event).map_err(|e| broken(&e.to_string()))?;
        let pk = match &event.user_id {
            Some(user_id) => format!("EVENTS#{user_id}"),
            None => format!("EVENT#{}", event.id),
        };
        let mut item = key(pk, &format!("EVENT#{}", event.id));
        item.insert("lpk".into(), s(day_partition(&event.id)));
        item.insert("ukey".into(), s(event.id.clone()));
        item.insert("etype".into(), s(event.kind.as_str()));
        item.insert("body".into(), s(body));
        item.insert(TTL_ATTRIBUTE.into(), n(expires_at));
        self.put_new(item).await
    }

    async fn user_events(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: usize,
        now: i64,
    ) -> StoreResult<EventPage> {
        let before = format!("EVENT#{}", before.unwrap_or(AFTER_EVERY_ID));
        let mut events = Vec::with_capacity(limit + 1);
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND sk BETWEEN :first AND :before")
                .filter_expression("expires_at > :now")
                .expression_attribute_values(":p", s(format!("EVENTS#{user_id}")))
                .expression_attribute_values(":first", s("EVENT#"))
                .expression_attribute_values(":before", s(before.clone()))
                .expression_attribute_values(":now", n(now))
                .scan_index_forward(false)
                .limit((limit + 1 - events.len()).max(1) as i32)
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.items() {
                if get_s(item, "sk") != Some(before.as_str()) {
                    events.push(event_from_item(item)?);
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() && events.len() <= limit => start = Some(k),
                _ => return Ok(page_of(events, limit, None)),
            }
        }
    }

    async fn all_events(&self, query: &EventQuery, now: i64) -> StoreResult<EventPage> {
        let limit = query.limit;
        let since_ms = query.since_ms.unwrap_or(0);
        let since = first_id_at(since_ms);
        let mut before = query
            .before
            .clone()
            .unwrap_or_else(|| AFTER_EVERY_ID.into());
        // The newest day to read: the cursor's, or today's (the service clock's).
        let mut day_ms = match query.before.as_deref().and_then(id_millis) {
            Some(ms) => ms,
            None => now.saturating_mul(1000).max(since_ms),
        };
        day_ms -= day_ms.rem_euclid(DAY_MS);
        let mut events: Vec<AccountEvent> = Vec::with_capacity(limit + 1);
        for _ in 0..DAYS_PER_PAGE {
            if day_ms + DAY_MS <= since_ms || before <= since {
                return Ok(page_of(events, limit, None));
            }
            let want = limit + 1 - events.len();
            let mut day: Vec<AccountEvent> = Vec::new();
            // Below this id some shard has items not read: nothing under it is shown yet.
            let mut seen_down_to: Option<String> = None;
            // The day's shards at once: a page costs a round trip a day, not one a shard.
            let shards = (0..DAY_SHARDS).map(|shard| {
                let partition = format!("EVENTS#{}#{shard}", day_of(day_ms));
                self.shard_events(partition, &before, &since, want, query, now)
            });
            for (found, read_to) in futures::future::try_join_all(shards).await? {
                day.extend(found);
                if let Some(r) = read_to
                    && seen_down_to.as_deref().is_none_or(|s| r.as_str() > s)
                {
                    seen_down_to = Some(r);
                }
            }
            if let Some(floor) = &seen_down_to {
                day.retain(|e| e.id.as_str() >= floor.as_str());
            }
            day.sort_by(|a, b| b.id.cmp(&a.id));
            events.extend(day);
            if events.len() > limit {
                return Ok(page_of(events, limit, None));
            }
            if let Some(floor) = seen_down_to {
                // Everything at or above `floor` is in; the next page goes on below it.
                let next = events.last().map(|e| e.id.clone()).filter(|l| *l < floor);
                return Ok(page_of(events, limit, Some(next.unwrap_or(floor))));
            }
            before = first_id_at(day_ms);
            day_ms -= DAY_MS;
        }
        let more = (day_ms + DAY_MS > since_ms).then_some(before);
        Ok(page_of(events, limit, more))
    }
}
