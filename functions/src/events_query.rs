//! The query of the event listings (`GET /user/{username}/events`, `GET /events`): `limit`
//! (1 to 100, default 25), `cursor` (the `next_cursor` of the page before), and for admins'
//! listing of every account `type` and `since` (RFC 3339). Each at most once; anything else
//! is ignored, as `GET /users` does.

use shared::accounts::EventListing;
use shared::answers;
use shared::events::{EventType, valid_id};
use shared::store::EventPage;
use shared::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

/// Reads `query`; `filters` allows `type` and `since`.
pub fn parse(query: Option<&str>, filters: bool) -> ApiResult<EventListing> {
    let mut q = EventListing {
        limit: DEFAULT_LIMIT,
        ..EventListing::default()
    };
    let bad = |why: &str| ApiError::InvalidQuery(why.into());
    let mut seen: Vec<String> = Vec::new();
    let known: &[&str] = if filters {
        &["limit", "cursor", "type", "since"]
    } else {
        &["limit", "cursor"]
    };
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !known.contains(&name.as_ref()) {
            continue;
        }
        if seen.iter().any(|n| *n == name) {
            return Err(bad(&format!("{name} is given more than once.")));
        }
        seen.push(name.to_string());
        match name.as_ref() {
            "limit" => {
                q.limit = Some(&value)
                    .filter(|v| {
                        !v.is_empty() && v.len() <= 3 && v.bytes().all(|b| b.is_ascii_digit())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| bad("limit must be a whole number from 1 to 100."))?;
            }
            "cursor" if !value.is_empty() => {
                if !valid_id(&value) {
                    return Err(bad("cursor is not one this service gave."));
                }
                q.before = Some(value.into_owned());
            }
            "type" if !value.is_empty() => {
                q.kind = Some(EventType::parse(&value).ok_or_else(|| {
                    bad("type is not an event type (see the API document's list).")
                })?);
            }
            "since" if !value.is_empty() => {
                let at = (value.len() <= 40)
                    .then(|| chrono::DateTime::parse_from_rfc3339(&value).ok())
                    .flatten()
                    .map(|t| t.timestamp_millis())
                    .filter(|ms| *ms >= 0)
                    .ok_or_else(|| {
                        bad("since must be a date and time in RFC 3339, for example 2026-12-01T00:00:00Z.")
                    })?;
                q.since_ms = Some(at);
            }
            _ => {}
        }
    }
    Ok(q)
}

/// The answer: `{"events": [...], "next_cursor": id or null}`.
pub fn page(page: &EventPage) -> answers::EventPage<'_> {
    answers::EventPage {
        events: page.events.iter().map(|e| e.view()).collect(),
        next_cursor: page.next_before.as_deref(),
    }
}
