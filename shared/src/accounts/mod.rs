//! The domain: what each route does, as one function each, over the store, the hasher, the
//! mailer and the token keys held in [`AppState`]. Handlers read their inputs, call one of
//! these, and shape the response. By concern: [`signup`] (sign-up, activation, resend),
//! [`session`] (log in and out, sessions), [`recovery`] (forgotten password, password and
//! address changes), [`profile`] (reading, updating, deleting and listing accounts), [`history`] (reading
//! account events), [`widgets`] (the widgets
//! passthrough).

pub mod account_page;
pub mod authorize;
pub mod clients;
mod code_grant;
mod consents;
mod email_code;
mod history;
pub mod import;
mod mfa;
mod passkeys;
mod profile;
mod recovery;
mod session;
mod signup;
mod userinfo;
mod widgets;

pub use consents::*;
pub use email_code::*;
pub use history::*;
pub use mfa::*;
pub use passkeys::*;
pub use profile::*;
pub use recovery::*;
pub use session::*;
pub use signup::*;
pub use userinfo::*;
pub use widgets::*;

use crate::error::{ApiError, ApiResult};
use crate::input::{Field, Validate, required_string, when_given};
use crate::mail::Mail;
use crate::metrics::Metric;
use crate::state::AppState;
pub use crate::user::{MAX_DATA_BYTES, MAX_EMAIL_CHARS, valid_email, valid_username};

/// The longest token accepted in a link or a body (ours are 43 characters).
const MAX_TOKEN_CHARS: usize = 128;

pub(crate) fn activation_link(state: &AppState, token: &str) -> String {
    format!("{}/activate?token={token}", state.public_base_url)
}

/// What became of a mail that anyone's request can trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    Sent,
    /// Not sent: the address had its mail of the minute, or its 10 of the day (logged), or
    /// there was no longer anything to send.
    Throttled,
}

/// For the anonymous routes that may mail an account (resend, forgot, a sign-in code): sends
/// `mail` as [`store_and_send_throttled`] does and records `event` with what came of it (sent,
/// or failed: `throttled`, `mail_unavailable`). Nothing is answered: the route's answer is the
/// same whatever happened, so that it does not tell whether the account exists.
pub(crate) async fn mail_anonymously(
    state: &AppState,
    mail: &Mail,
    store: impl std::future::Future<Output = ApiResult<bool>>,
    event: crate::events::Event,
) {
    let event = match store_and_send_throttled(state, mail, store).await {
        Ok(Sent::Sent) => event,
        Ok(Sent::Throttled) => event.failed().detail("reason", "throttled"),
        Err(e) => {
            tracing::error!(error = %e, subject = %mail.subject, "mail could not be sent");
            event.failed().detail("reason", "mail_unavailable")
        }
    };
    crate::events::record(state, event).await;
}

/// Sends `mail` if the mail throttle of its address allows it (API.md, Mail throttling). A
/// mail that could not be sent is `MailUnavailable`, and does not count.
pub(crate) async fn send_throttled(state: &AppState, mail: &Mail) -> ApiResult<Sent> {
    store_and_send_throttled(state, mail, async { Ok(true) }).await
}

/// As [`send_throttled`], for a mail whose link must be stored first: `store` runs only once
/// the throttle has allowed the mail, so a request that sends nothing stores nothing (anyone
/// may call the routes that mail, and a throttled call must not grow the table or keep an
/// account waiting). `store` answers whether the mail is still to be sent; when it says no or
/// fails, or the mail fails, the allowance is given back.
pub(crate) async fn store_and_send_throttled(
    state: &AppState,
    mail: &Mail,
    store: impl std::future::Future<Output = ApiResult<bool>>,
) -> ApiResult<Sent> {
    let now = state.clock.now();
    if !state.store.take_mail_allowance(&mail.to, now).await? {
        tracing::warn!(subject = %mail.subject, "mail not sent: the address's mail throttle");
        state.metrics.count(Metric::MailThrottled);
        return Ok(Sent::Throttled);
    }
    let give_back = || async {
        if let Err(undo) = state.store.give_back_mail_allowance(&mail.to, now).await {
            tracing::warn!(error = %undo, "mail allowance not given back");
        }
    };
    match store.await {
        Ok(true) => {}
        Ok(false) => {
            give_back().await;
            state.metrics.count(Metric::MailThrottled);
            return Ok(Sent::Throttled);
        }
        Err(e) => {
            give_back().await;
            return Err(e);
        }
    }
    if let Err(e) = state.mailer.send(mail).await {
        give_back().await;
        state.metrics.count(Metric::MailFailed);
        return Err(ApiError::MailUnavailable(e.to_string()));
    }
    state.metrics.count(Metric::MailSent);
    Ok(Sent::Sent)
}

/// Sends a notice of a completed change (never throttled); one that cannot be sent is
/// `MailUnavailable`.
pub(crate) async fn send_notice(state: &AppState, mail: &Mail) -> ApiResult<()> {
    match state.mailer.send(mail).await {
        Ok(()) => {
            state.metrics.count(Metric::MailSent);
            Ok(())
        }
        Err(e) => {
            state.metrics.count(Metric::MailFailed);
            Err(ApiError::MailUnavailable(e.to_string()))
        }
    }
}

/// Every answer of a route that must not tell, by its timing, whether an account exists takes
/// at least this long (a store write and a mail take longer than a lookup that finds nothing).
pub const ANONYMOUS_MAIL_MIN_DURATION: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `work`, then waits until [`ANONYMOUS_MAIL_MIN_DURATION`] has passed since it started.
pub(crate) async fn at_least_min_duration<T>(work: impl std::future::Future<Output = T>) -> T {
    let started = tokio::time::Instant::now();
    let result = work.await;
    tokio::time::sleep_until(started + ANONYMOUS_MAIL_MIN_DURATION).await;
    result
}

/// The body `{"email"}` of the anonymous routes that may mail an address (resend, forgot): a
/// string of bounded length (whether it is a valid address is not checked: a bad one is simply
/// unknown).
#[derive(Debug, Default, serde::Deserialize, garde::Validate, utoipa::ToSchema)]
#[schema(as = EmailRequest)]
pub struct EmailBody {
    #[serde(default)]
    #[garde(
        custom(required_string),
        custom(when_given(short_enough_address, address_length_rule))
    )]
    #[schema(value_type = String, required, max_length = 254)]
    pub email: Field<String>,
}

pub(crate) fn short_enough_address(email: &str) -> bool {
    email.chars().count() <= MAX_EMAIL_CHARS
}

pub(crate) fn address_length_rule() -> String {
    format!("must be at most {MAX_EMAIL_CHARS} characters")
}

impl Validate for EmailBody {
    type Command = String;
    fn command(self) -> String {
        self.email.into_string()
    }
}

/// A token from a link or a body: present, and not absurdly long.
pub(crate) fn token_param(token: Option<&str>) -> Option<&str> {
    token.filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_CHARS)
}
