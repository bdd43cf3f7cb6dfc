//! The query of the event listings (`GET /user/{username}/events`, `GET /events`), typed:
//! `limit` (1 to 100, default 25), `cursor` (the `next_cursor` of the page before), and for
//! admins' listing of every account `type` and `since` (RFC 3339). Each at most once; anything
//! else is ignored, as `GET /users` does.

use serde::Deserialize;
use shared::accounts::EventListing;
use shared::answers;
use shared::events::{EventType, valid_id};
use shared::input::{Limit, QueryValue, empty_is_none, query_value};
use shared::store::EventPage;

/// `GET /user/{username}/events`'s query: `limit` and `cursor`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountEventsQuery {
    #[serde(default, deserialize_with = "query_value")]
    /// How many at most (1 to 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 25)]
    limit: Limit,
    #[serde(default, deserialize_with = "empty_is_none")]
    /// The previous page's `next_cursor`.
    #[param(value_type = Option<String>, pattern = "^([0-7][0-9A-HJKMNP-TV-Z]{25})?$")]
    cursor: Option<EventCursor>,
}

/// `GET /events`'s query: `limit`, `cursor`, `type` and `since`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    #[serde(default, deserialize_with = "query_value")]
    /// How many at most (1 to 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 25)]
    limit: Limit,
    #[serde(default, deserialize_with = "empty_is_none")]
    /// The previous page's `next_cursor`.
    #[param(value_type = Option<String>, pattern = "^([0-7][0-9A-HJKMNP-TV-Z]{25})?$")]
    cursor: Option<EventCursor>,
    #[serde(rename = "type", default, deserialize_with = "empty_is_none")]
    /// Only events of this type.
    #[param(value_type = Option<EventType>)]
    kind: Option<Kind>,
    #[serde(default, deserialize_with = "empty_is_none")]
    /// Only events at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<Since>,
}

/// The id the next page starts before: one of this service's event ids.
pub struct EventCursor(String);

impl QueryValue for EventCursor {
    fn parse(value: &str) -> Result<Self, String> {
        if !valid_id(value) {
            return Err("cursor is not one this service gave.".into());
        }
        Ok(EventCursor(value.to_string()))
    }
}

/// One event type, by its name.
pub struct Kind(EventType);

impl QueryValue for Kind {
    fn parse(value: &str) -> Result<Self, String> {
        EventType::parse(value)
            .map(Kind)
            .ok_or_else(|| "type is not an event type (see the API document's list).".into())
    }
}

/// A time in RFC 3339, as Unix milliseconds (not before 1970).
pub struct Since(i64);

impl QueryValue for Since {
    fn parse(value: &str) -> Result<Self, String> {
        (value.len() <= 40)
            .then(|| chrono::DateTime::parse_from_rfc3339(value).ok())
            .flatten()
            .map(|t| t.timestamp_millis())
            .filter(|ms| *ms >= 0)
            .map(Since)
            .ok_or_else(|| {
                "since must be a date and time in RFC 3339, for example 2026-12-01T00:00:00Z."
                    .into()
            })
    }
}

impl From<AccountEventsQuery> for EventListing {
    fn from(q: AccountEventsQuery) -> Self {
        EventListing {
            limit: q.limit.0,
            before: q.cursor.map(|c| c.0),
            ..EventListing::default()
        }
    }
}

impl From<EventsQuery> for EventListing {
    fn from(q: EventsQuery) -> Self {
        EventListing {
            limit: q.limit.0,
            before: q.cursor.map(|c| c.0),
            kind: q.kind.map(|k| k.0),
            since_ms: q.since.map(|s| s.0),
        }
    }
}

/// The answer: `{"events": [...], "next_cursor": id or null}`.
pub fn page(page: &EventPage) -> answers::EventPage<'_> {
    answers::EventPage {
        events: page.events.iter().map(|e| e.view()).collect(),
        next_cursor: page.next_before.as_deref(),
    }
}
