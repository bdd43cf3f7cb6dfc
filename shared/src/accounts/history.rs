//! Account events as their owners and admins read them (`GET /user/{username}/events`,
//! `GET /events`). What is recorded, and how, is [`crate::events`].

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::events::EventType;
use crate::state::AppState;
use crate::store::{EventPage, EventQuery};

/// What a listing of events asks for, as the route read it.
#[derive(Debug, Default, Clone)]
pub struct EventListing {
    /// The cursor: events older than this id.
    pub before: Option<String>,
    /// Only events at or after this time (Unix milliseconds); admins' listing only.
    pub since_ms: Option<i64>,
    /// Only events of this type; admins' listing only.
    pub kind: Option<EventType>,
    pub limit: usize,
}

/// `GET /user/{username}/events`: the account's events, newest first, for its owner or an
/// admin. Who asks is checked before the query is (`listing`, as the route could read it).
pub async fn user_events(
    state: &AppState,
    auth: &Auth,
    username: &str,
    listing: ApiResult<EventListing>,
) -> ApiResult<EventPage> {
    let target = super::target_user(state, auth, username).await?;
    let listing = listing?;
    Ok(state
        .store
        .user_events(
            &target.user_id,
            listing.before.as_deref(),
            listing.limit,
            state.clock.now(),
        )
        .await?)
}

/// `GET /events`: every account's events (and those of no account), newest first, for admins
/// only; within the retention (`since` earlier than that finds nothing more).
pub async fn all_events(
    state: &AppState,
    auth: &Auth,
    listing: ApiResult<EventListing>,
) -> ApiResult<EventPage> {
    if !auth.is_admin() {
        return Err(ApiError::Forbidden(
            "only an admin may read every account's events",
        ));
    }
    super::mfa::second_factor_sign_in(state, auth).await?;
    let listing = listing?;
    let now = state.clock.now();
    let oldest_kept = (now - state.lifetimes.event_retention) * 1000;
    let query = EventQuery {
        before: listing.before,
        since_ms: Some(listing.since_ms.unwrap_or(oldest_kept).max(oldest_kept)),
        kind: listing.kind,
        limit: listing.limit,
    };
    Ok(state.store.all_events(&query, now).await?)
}
