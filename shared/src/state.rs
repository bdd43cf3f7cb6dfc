//! The state every handler gets: built once per process (Lambda init, or the local server's
//! start), cheap to clone.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::clock::Clock;
use crate::config::{Config, ConfigError, MailKind, StoreKind};
use crate::mail::{LogMailer, Mailer, SesMailer};
use crate::password::Hasher;
use crate::store::UserStore;
use crate::store::dynamodb::DynamoStore;
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
    /// The key a service presents to `POST /auth/introspect`; `None`: nobody may.
    pub introspection_key: Option<Arc<str>>,
    /// How long access tokens and sign-ins last.
    pub lifetimes: crate::config::Lifetimes,
    /// The second factor's keys; `None` without `MFA_ENCRYPTION_KEY` (no second factor here).
    pub mfa: Option<Arc<crate::mfa::MfaKeys>>,
    /// The issuer authenticator apps show (`MFA_ISSUER`).
    pub mfa_issuer: Arc<str>,
    /// The key login names of no account are hashed with before the login throttle keeps
    /// them (`LOGIN_NAME_KEY`); `None` in every function but the login function's.
    pub login_name_key: Option<Arc<[u8]>>,
    /// The key of the hosted pages' browser sessions and forms, derived from `LOGIN_NAME_KEY`
    /// (so held where that is).
    pub browser: Option<crate::browser::BrowserKey>,
    /// The hooks before a sign-up and before a token; `None` when neither is configured.
    pub hooks: Option<Arc<crate::hooks::Hooks>>,
    /// The passkeys' relying party; `None` when passkeys are off (`crate::passkey`).
    pub passkeys: Option<Arc<crate::passkey::RelyingParty>>,
    /// Whether a person may sign in with a code mailed to them (`EMAIL_CODE_LOGIN`).
    pub email_code_login: bool,
    /// Where the service's counts go (EMF lines on standard output).
    pub metrics: crate::metrics::Metrics,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the store cannot be opened: {0}")]
    Store(String),
    #[error("the widgets client cannot be built: {0}")]
    Widgets(String),
    #[error("the hooks' client cannot be built: {0}")]
    Hooks(String),
}

/// The embedded store's file in the data directory.
pub const STORE_FILE: &str = "accounts.db";
/// The logging mailer's file in the data directory.
pub const MAIL_FILE: &str = "mail.log";

impl AppState {
    /// The key of the hosted pages' browser sessions and forms: a function that serves them
    /// holds `LOGIN_NAME_KEY`.
    pub fn browser_key(&self) -> Result<&crate::browser::BrowserKey, crate::error::ApiError> {
        self.browser.as_ref().ok_or_else(|| {
            crate::error::ApiError::Internal(
                "LOGIN_NAME_KEY is not configured: no browser sessions".into(),
            )
        })
    }

    /// Builds the state `config` describes: the store (`STORE`), the mailer (`MAIL`), the
    /// widgets client, the token keys. AWS clients are built here, once. `config` must hold a
    /// JWT secret and a public base URL. The local server's way; a Lambda function builds only
    /// the parts it uses (see [`crate::lambda`]).
    pub async fn from_config(config: &Config, clock: Clock) -> Result<Self, StartupError> {
        let needs_aws = matches!(config.store, StoreKind::Dynamodb { .. })
            || matches!(config.mail, MailKind::Ses { .. });
        let sdk = if needs_aws {
            Some(crate::aws::sdk_config(config).await)
        } else {
            None
        };
        let store: Arc<dyn UserStore> = match (&config.store, &sdk) {
            (StoreKind::Dynamodb { table }, Some(sdk)) => {
                Arc::new(DynamoStore::new(sdk, table.clone()))
            }
            _ => Arc::new(
                SqliteStore::open(&config.data_dir.join(STORE_FILE))
                    .map_err(|e| StartupError::Store(e.to_string()))?,
            ),
        };
        let mailer = configured_mailer(config, sdk.as_ref());
        let widgets = widgets_upstream(config)?;
        Self::new(config, clock, store, mailer, widgets)
    }

    /// Puts the state together from its parts, with the token keys and the base URL from
    /// `config` (both required).
    pub fn new(
        config: &Config,
        clock: Clock,
        store: Arc<dyn UserStore>,
        mailer: Arc<dyn Mailer>,
        widgets: Option<Arc<WidgetsUpstream>>,
    ) -> Result<Self, StartupError> {
        config.require_base_url()?;
        let keys = config.token_keys()?;
        let metrics = crate::metrics::Metrics::stdout(&config.metrics_service);
        Ok(AppState {
            store,
            mailer,
            hasher: Hasher::default(),
            keys: Arc::new(keys),
            clock,
            public_base_url: config.public_base_url.as_str().into(),
            widgets,
            introspection_key: config.introspection_key.as_deref().map(Arc::from),
            lifetimes: config.lifetimes,
            mfa: config
                .mfa_key
                .as_deref()
                .map(|k| Arc::new(crate::mfa::MfaKeys::new(k.as_bytes()))),
            mfa_issuer: config.mfa_issuer.as_str().into(),
            login_name_key: config
                .login_name_key
                .as_deref()
                .map(|k| Arc::from(k.as_bytes())),
            browser: config
                .login_name_key
                .as_deref()
                .map(|k| crate::browser::BrowserKey::derive(k.as_bytes(), &config.public_base_url)),
            hooks: crate::hooks::Hooks::new(&config.hooks, metrics.clone())
                .map_err(|e| StartupError::Hooks(e.to_string()))?
                .map(Arc::new),
            email_code_login: config.email_code_login,
            metrics,
            passkeys: crate::passkey::relying_party(
                config.webauthn_rp_id.as_deref(),
                &config.webauthn_origins,
                &config.public_base_url,
                &config.mfa_issuer,
            )
            .map_err(ConfigError::from)?
            .map(Arc::new),
        })
    }
}

/// The mailer `MAIL` names: SES (given the AWS configuration) or the logging mailer writing to
/// `DATA_DIR/mail.log`.
pub fn configured_mailer(config: &Config, sdk: Option<&SdkConfig>) -> Arc<dyn Mailer> {
    match (&config.mail, sdk) {
        (MailKind::Ses { .. }, Some(sdk)) => Arc::new(SesMailer::new(
            aws_sdk_ses::Client::new(sdk),
            config.mail_from.clone(),
        )),
        _ => Arc::new(LogMailer::new(
            config.data_dir.join(MAIL_FILE),
            config.mail_from.clone(),
        )),
    }
}

/// The widgets client, or `None` when no upstream is configured.
pub fn widgets_upstream(config: &Config) -> Result<Option<Arc<WidgetsUpstream>>, StartupError> {
    config
        .widgets
        .as_ref()
        .map(|w| {
            WidgetsUpstream::new(w)
                .map(Arc::new)
                .map_err(|e| StartupError::Widgets(e.to_string()))
        })
        .transpose()
}
