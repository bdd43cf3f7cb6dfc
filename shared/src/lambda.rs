//! Lambda wiring shared by every function's `main.rs`: logging, configuration and state built
//! once at init (Lambda keeps them warm between invocations), then the function's routes under
//! lambda_http.
//!
//! A function names what it uses beyond the store and the token keys ([`Function::sends_mail`],
//! [`Function::calls_widgets`]); what it does not name is never referenced from its `main`, so
//! the linker leaves it out of its bootstrap (the SES client, the widgets HTTP client, the
//! embedded store, the password hasher and the strength checker cost nothing to the functions
//! that never use them).

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use axum::Router;
pub use lambda_http::Error;

use crate::clock::Clock;
use crate::config::{Config, StoreKind};
use crate::mail::{Mail, MailError, Mailer};
use crate::state::{AppState, StartupError, configured_mailer, widgets_upstream};
use crate::store::dynamodb::DynamoStore;
use crate::widgets::WidgetsUpstream;

type MakeMailer = fn(&Config, &SdkConfig) -> Arc<dyn Mailer>;
type MakeWidgets = fn(&Config) -> Result<Option<Arc<WidgetsUpstream>>, StartupError>;

/// One Lambda function: its routes and the parts it uses.
pub struct Function {
    routes: fn() -> Router<AppState>,
    mailer: MakeMailer,
    widgets: MakeWidgets,
    signs_tokens: bool,
}

impl Function {
    /// A function with these routes, the DynamoDB store and the token keys; no mail, no widgets.
    pub fn new(routes: fn() -> Router<AppState>) -> Self {
        Function {
            routes,
            mailer: |_, _| Arc::new(NoMail),
            widgets: |_| Ok(None),
            signs_tokens: false,
        }
    }

    /// The function signs tokens (it logs people in): with EdDSA it needs the private key set
    /// (`JWT_SIGNING_KEYS`) and refuses to start without it. Every other function verifies
    /// with the public keys (`JWT_VERIFYING_KEYS`) and is never given the private ones.
    pub fn signs_tokens(mut self) -> Self {
        self.signs_tokens = true;
        self
    }

    /// The function sends mail, as `MAIL` says (SES by default on Lambda).
    pub fn sends_mail(mut self) -> Self {
        self.mailer = |config, sdk| configured_mailer(config, Some(sdk));
        self
    }

    /// The function calls the widgets upstream (`WIDGETS_API_URL`, when set).
    pub fn calls_widgets(mut self) -> Self {
        self.widgets = widgets_upstream;
        self
    }

    /// Builds the state at init and serves invocations until the runtime stops the process.
    pub async fn run(self) -> Result<(), Error> {
        crate::telemetry::init_lambda();
        let config = lambda_config()?;
        if self.signs_tokens {
            config.require_signing_keys()?;
        }
        let StoreKind::Dynamodb { table } = &config.store else {
            return Err(StartupError::Store(
                "STORE=sqlite is the local server's embedded store; a Lambda function keeps \
                 users in DynamoDB (STORE=dynamodb with TABLE_NAME)"
                    .into(),
            )
            .into());
        };
        let sdk = crate::aws::sdk_config(&config).await;
        let store = Arc::new(DynamoStore::new(&sdk, table.clone()));
        let mailer = (self.mailer)(&config, &sdk);
        let widgets = (self.widgets)(&config)?;
        let state = AppState::new(&config, Clock::system(), store, mailer, widgets)?;
        lambda_http::run(crate::http::app((self.routes)(), state)).await
    }
}

/// The configuration on Lambda: the cloud backends unless told otherwise.
fn lambda_config() -> Result<Config, crate::config::ConfigError> {
    Config::from_lookup(|k| {
        std::env::var(k).ok().or_else(|| match k {
            "STORE" => Some("dynamodb".into()),
            "MAIL" => Some("ses".into()),
            "DATA_DIR" => Some("/tmp".into()),
            _ => None,
        })
    })
}

/// The mailer of functions that send no mail: refuses, should a route ever try.
struct NoMail;

#[async_trait]
impl Mailer for NoMail {
    async fn send(&self, _: &Mail) -> Result<(), MailError> {
        Err(MailError("this function sends no mail".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_function_that_names_no_mail_refuses_to_send_rather_than_drop_it() {
        let mail = Mail {
            to: "alice@example.com".into(),
            subject: "Activate".into(),
            text: "link".into(),
            html: "<a>link</a>".into(),
        };
        let refused = NoMail.send(&mail).await.unwrap_err();
        assert!(refused.0.contains("sends no mail"), "{refused}");
    }
}
