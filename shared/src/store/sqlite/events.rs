//! The SQLite store: account events.

use super::*;
use crate::account_event::{AccountEvent, first_id_at};

/// Above every event id (ULIDs are digits and capitals): "before" when none is given.
const AFTER_EVERY_ID: &str = "~";

fn events_from(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
    limit: usize,
) -> rusqlite::Result<EventPage> {
    let mut events: Vec<AccountEvent> = stmt
        .query_map(params, |r| r.get::<_, String>(0))?
        .filter_map(|body| match body {
            Ok(body) => serde_json::from_str(&body).ok().map(Ok),
            Err(e) => Some(Err(e)),
        })
        .collect::<rusqlite::Result<_>>()?;
    let next_before = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|e| e.id.clone())
    } else {
        None
    };
    Ok(EventPage {
        events,
        next_before,
    })
}

#[async_trait]
impl Events for SqliteStore {
    async fn record_event(&self, event: &AccountEvent, expires_at: i64) -> StoreResult<()> {
        let body = serde_json::to_string(event).map_err(unavailable)?;
        let (id, user_id, kind) = (event.id.clone(), event.user_id.clone(), event.kind.as_str());
        let now = event.at_ms / 1000;
        let due = self.sweep_due(now);
        self.run(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            if due {
                sweep(&tx, now).map_err(unavailable)?;
            }
            tx.execute(
                "INSERT INTO account_events (event_id, user_id, type, expires_at, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, user_id, kind, expires_at, body],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn user_events(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: usize,
        now: i64,
    ) -> StoreResult<EventPage> {
        let uid = user_id.to_string();
        let before = before.unwrap_or(AFTER_EVERY_ID).to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM account_events WHERE user_id = ?1 AND event_id < ?2 \
                 AND expires_at > ?3 ORDER BY event_id DESC LIMIT ?4",
            )?;
            events_from(
                &mut stmt,
                params![uid, before, now, limit as i64 + 1],
                limit,
            )
        })
        .await
    }

    async fn all_events(&self, query: &EventQuery, now: i64) -> StoreResult<EventPage> {
        let before = query
            .before
            .clone()
            .unwrap_or_else(|| AFTER_EVERY_ID.into());
        let since = query.since_ms.map(first_id_at).unwrap_or_default();
        let kind = query.kind.map(|k| k.as_str());
        let limit = query.limit;
        self.read(move |conn| match kind {
            Some(kind) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT body FROM account_events WHERE type = ?1 AND event_id < ?2 \
                     AND event_id >= ?3 AND expires_at > ?4 ORDER BY event_id DESC LIMIT ?5",
                )?;
                events_from(
                    &mut stmt,
                    params![kind, before, since, now, limit as i64 + 1],
                    limit,
                )
            }
            None => {
                let mut stmt = conn.prepare_cached(
                    "SELECT body FROM account_events WHERE event_id < ?1 AND event_id >= ?2 \
                     AND expires_at > ?3 ORDER BY event_id DESC LIMIT ?4",
                )?;
                events_from(
                    &mut stmt,
                    params![before, since, now, limit as i64 + 1],
                    limit,
                )
            }
        })
        .await
    }
}
