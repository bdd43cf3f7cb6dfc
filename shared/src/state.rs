//! The state every handler gets: built once per process (Lambda init, or the local server's
//! start), cheap to clone.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::mail::{LogMailer, Mailer};
use crate::password::Hasher;
use crate::store::UserStore;
use crate::store::sqlite::SqliteStore;
use crate::token::TokenKeys;
use crate::widgets::WidgetsUpstream;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn UserStore>,
    pub mailer: Arc<dyn Mailer>,
    pub hasher: Hasher,
    pub keys: Arc<TokenKeys>,
    pub clock: Clock,
    /// The base of activation links, without a trailing slash.
    pub public_base_url: Arc<str>,
    /// `None` when no upstream is configured.
    pub widgets: Option<Arc<WidgetsUpstream>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the store cannot be opened: {0}")]
    Store(String),
    #[error("the widgets client cannot be built: {0}")]
    Widgets(String),
}

/// The embedded store's file in the data directory.
pub const STORE_FILE: &str = "accounts.db";
/// The logging mailer's file in the data directory.
pub const MAIL_FILE: &str = "mail.log";

impl AppState {
    /// The embedded store and the logging mailer, both in `config.data_dir`. `config` must
    /// hold a JWT secret and a public base URL.
    pub fn embedded(config: &Config, clock: Clock) -> Result<Self, StartupError> {
        config.require_base_url()?;
        let secret = config.require_jwt_secret()?;
        let store = SqliteStore::open(&config.data_dir.join(STORE_FILE))
            .map_err(|e| StartupError::Store(e.to_string()))?;
        Ok(AppState {
            store: Arc::new(store),
            mailer: Arc::new(LogMailer::new(config.data_dir.join(MAIL_FILE))),
            hasher: Hasher::default(),
            keys: Arc::new(TokenKeys::new(
                secret,
                &config.jwt_issuer,
                &config.jwt_audience,
            )),
            clock,
            public_base_url: config.public_base_url.as_str().into(),
            widgets: match &config.widgets {
                None => None,
                Some(w) => Some(Arc::new(
                    WidgetsUpstream::new(w).map_err(|e| StartupError::Widgets(e.to_string()))?,
                )),
            },
        })
    }
}
