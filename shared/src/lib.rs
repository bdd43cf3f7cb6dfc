//! The common crate of the accounts service. A request travels one way: a function's handler
//! (or the local server) -> [`accounts`] -> the store, the mailer, the hasher, the token keys.

pub mod account_event;
pub mod accounts;
pub mod answers;
pub mod api_doc;
pub mod auth;
pub mod aws;
pub mod browser;
pub mod caller;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod error;
pub mod events;
pub mod foreign_hash;
pub mod hooks;
pub mod http;
pub mod input;
pub mod lambda;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod pages;
pub mod passkey;
pub mod password;
pub mod refresh_token;
pub mod secret;
pub mod state;
pub mod store;
pub mod style;
pub mod telemetry;
pub mod token;
pub mod user;
pub mod widgets;

pub use auth::{Auth, MaybeAuth};
pub use error::{ApiError, ApiResult};
pub use http::{JsonObject, JsonOrForm};
pub use state::AppState;
