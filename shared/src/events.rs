//! Account events: what happened to an account, when, by whom, from where, and how it ended.
//!
//! Each route records its events through [`record`] after it has acted: the event goes to the
//! store (kept [`crate::config::Lifetimes::event_retention`] seconds), and is printed as one
//! JSON log line (target `account_event`). An event never holds a password, a token, a code or
//! a hash: only ids, names, the caller's address and user agent, the outcome, and a small
//! `detail` of what changed (member names, never their values).
//!
//! Who is calling (the source address and user agent as API Gateway reports them, or the
//! local server's peer) is request context, like a trace span: [`caller_context`] (a layer of
//! every router, see [`crate::http::app`]) sets it for the request's task, and [`record`]
//! reads it, so the domain functions need not carry it.

use serde_json::{Map, Value};

use crate::auth::Auth;
use crate::state::AppState;
use crate::user::UserRecord;

pub use crate::account_event::*;
pub use crate::caller::*;

impl Actor {
    /// The authenticated caller acting on `target`: the owner, or an admin.
    pub fn of(auth: &Auth, target: &UserRecord) -> Self {
        Actor {
            kind: if auth.user.user_id == target.user_id {
                ActorKind::User
            } else {
                ActorKind::Admin
            },
            user_id: Some(auth.user.user_id.clone()),
            username: Some(auth.user.username.clone()),
        }
    }
}

/// An event being made: [`Event::new`], then what is known, then [`record`].
pub struct Event(AccountEvent);

impl Event {
    /// An event of `kind` about `user`, done by the user itself, successful.
    pub fn new(kind: EventType, user: &UserRecord) -> Self {
        Event(AccountEvent {
            id: String::new(),
            kind,
            at_ms: 0,
            user_id: Some(user.user_id.clone()),
            username: Some(user.username.clone()),
            actor: Actor::user(user),
            source_ip: None,
            user_agent: None,
            session_id: None,
            outcome: Outcome::Success,
            detail: Map::new(),
        })
    }

    /// An event of no account (a failed login of a name no account has, a listing). What was
    /// typed is not kept: people type passwords into name fields.
    pub fn unattached(kind: EventType, actor: Actor) -> Self {
        Event(AccountEvent {
            id: String::new(),
            kind,
            at_ms: 0,
            user_id: None,
            username: None,
            actor,
            source_ip: None,
            user_agent: None,
            session_id: None,
            outcome: Outcome::Success,
            detail: Map::new(),
        })
    }

    pub fn by(mut self, actor: Actor) -> Self {
        self.0.actor = actor;
        self
    }

    pub fn failed(mut self) -> Self {
        self.0.outcome = Outcome::Failure;
        self
    }

    /// The sign-in, by the id `GET /auth/sessions` shows for it (never the real one).
    pub fn session(mut self, session_id: &str) -> Self {
        self.0.session_id = Some(shown_session_id(session_id));
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.detail.insert(key.to_string(), value.into());
        self
    }

    /// The event as it would be recorded at `at_ms` with id `id`, for the caller `caller`.
    fn finish(self, id: String, at_ms: i64, caller: &Caller) -> AccountEvent {
        let mut e = self.0;
        e.id = id;
        e.at_ms = at_ms;
        e.source_ip = caller.ip.clone();
        e.user_agent = caller.user_agent.clone();
        e
    }
}

/// Records `event`: stored until the retention ends, and logged. A store that cannot take it
/// does not undo what the route did (that has happened): the failure is logged, with the
/// event, at error level, for the operator.
pub async fn record(state: &AppState, event: Event) {
    let at_ms = state.clock.now_millis();
    let caller = Caller::current();
    let event = event.finish(new_id(at_ms), at_ms, &caller);
    let expires_at = at_ms / 1000 + state.lifetimes.event_retention;
    let line = serde_json::to_string(&event).unwrap_or_default();
    if let Some(metric) =
        crate::metrics::Metric::of_event(event.kind, event.outcome == Outcome::Failure)
    {
        state.metrics.count(metric);
    }
    match state.store.record_event(&event, expires_at).await {
        Ok(()) => tracing::info!(target: "account_event", event = %line, "account event"),
        Err(e) => {
            tracing::error!(target: "account_event", event = %line, error = %e, "account event not stored")
        }
    }
}
