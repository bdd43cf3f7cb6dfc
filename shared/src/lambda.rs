//! The route table's rows and the Lambda wiring every function shares.
//!
//! Each function is one [`Function`]: its name (its binary's, and template.yaml's
//! `BuildProperties: Binary`), its [`Route`]s (method, path, handler: written once, and both
//! its router and every list of routes are derived from them), and what it uses beyond the
//! store and the token keys ([`Function::sends_mail`], [`Function::calls_widgets`],
//! [`Function::signs_tokens`]). A function's binary names only its own row, so what its row
//! does not name is never referenced from its `main` and the linker leaves it out of its
//! bootstrap (the SES client, the widgets HTTP client, the embedded store, the password hasher
//! and the strength checker cost nothing to the functions that never use them).
//!
//! [`run`] builds the logging, configuration and state once at init (Lambda keeps them warm
//! between invocations), then serves the function's routes under lambda_http.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use axum::Router;
use axum::routing::{MethodFilter, MethodRouter};
pub use lambda_http::Error;

use crate::api_doc::Doc;
use crate::clock::Clock;
use crate::config::{Config, StoreKind};
use crate::mail::{Mail, MailError, Mailer};
use crate::state::{AppState, StartupError, configured_mailer, widgets_upstream};
use crate::store::dynamodb::DynamoStore;
use crate::widgets::WidgetsUpstream;

type MakeMailer = fn(&Config, &SdkConfig) -> Arc<dyn Mailer>;
type MakeWidgets = fn(&Config) -> Result<Option<Arc<WidgetsUpstream>>, StartupError>;
/// A handler, for the method its row names: `|m| on(m, handler)`.
pub type Handler = fn(MethodFilter) -> MethodRouter<AppState>;

/// One route: the method and path API Gateway sends to its function, and its handler.
#[derive(Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    filter: MethodFilter,
    handler: Handler,
    /// Its operation in openapi.json.
    pub doc: Option<Doc>,
}

impl Route {
    const fn new(
        method: &'static str,
        filter: MethodFilter,
        path: &'static str,
        handler: Handler,
    ) -> Route {
        Route {
            method,
            path,
            filter,
            handler,
            doc: None,
        }
    }

    /// Its operation in openapi.json (`accounts openapi` writes it).
    pub const fn doc(mut self, doc: Doc) -> Route {
        self.doc = Some(doc);
        self
    }
    pub const fn get(path: &'static str, handler: Handler) -> Route {
        Route::new("GET", MethodFilter::GET, path, handler)
    }
    pub const fn post(path: &'static str, handler: Handler) -> Route {
        Route::new("POST", MethodFilter::POST, path, handler)
    }
    pub const fn put(path: &'static str, handler: Handler) -> Route {
        Route::new("PUT", MethodFilter::PUT, path, handler)
    }
    pub const fn delete(path: &'static str, handler: Handler) -> Route {
        Route::new("DELETE", MethodFilter::DELETE, path, handler)
    }
}

/// An action a function may take on the users table (its IAM policy; the table's ARN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableAction {
    GetItem,
    PutItem,
    UpdateItem,
    DeleteItem,
    Query,
    ConditionCheckItem,
}

impl TableAction {
    /// The IAM action's name.
    pub const fn iam(self) -> &'static str {
        match self {
            TableAction::GetItem => "dynamodb:GetItem",
            TableAction::PutItem => "dynamodb:PutItem",
            TableAction::UpdateItem => "dynamodb:UpdateItem",
            TableAction::DeleteItem => "dynamodb:DeleteItem",
            TableAction::Query => "dynamodb:Query",
            TableAction::ConditionCheckItem => "dynamodb:ConditionCheckItem",
        }
    }
}

/// One Lambda function: a row of the route table. Besides its routes it declares what it may
/// touch, and template.yaml's resources for it are written from that (`accounts template`).
pub struct Function {
    /// Its binary's name (`functions/src/bin/<name>.rs`), as template.yaml builds it.
    pub name: &'static str,
    pub routes: &'static [Route],
    /// What it does, one line (its template.yaml `Description`).
    pub description: &'static str,
    /// What it may do to the users table (any item).
    pub table: &'static [TableAction],
    mailer: Option<MakeMailer>,
    widgets: Option<MakeWidgets>,
    signs_tokens: bool,
    counts_login_names: bool,
    records_events: bool,
    reads_account_events: bool,
    queries_users_index: bool,
    hashes_passwords: bool,
    holds_mfa_key: bool,
    holds_introspection_key: bool,
    asks_signup_hook: bool,
    asks_migration_hook: bool,
}

impl Function {
    /// A function with these routes, the DynamoDB store and the token keys; no mail, no widgets,
    /// nothing of the table until [`Function::table`] says.
    pub const fn new(name: &'static str, routes: &'static [Route]) -> Self {
        Function {
            name,
            routes,
            description: "",
            table: &[],
            mailer: None,
            widgets: None,
            signs_tokens: false,
            counts_login_names: false,
            records_events: false,
            reads_account_events: false,
            queries_users_index: false,
            hashes_passwords: false,
            holds_mfa_key: false,
            holds_introspection_key: false,
            asks_signup_hook: false,
            asks_migration_hook: false,
        }
    }

    /// What it does, in one line.
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// What it may do to any item of the users table.
    pub const fn table(mut self, actions: &'static [TableAction]) -> Self {
        self.table = actions;
        self
    }

    /// It records account events: without `PutItem` on the table, it may put event items
    /// (keys `EVENTS#`, `EVENT#`) and nothing else.
    pub const fn records_events(mut self) -> Self {
        self.records_events = true;
        self
    }

    /// It reads one account's events: `Query` on partitions `EVENTS#` only.
    pub const fn reads_account_events(mut self) -> Self {
        self.reads_account_events = true;
        self
    }

    /// It queries the table's `users` index (the admins' listings).
    pub const fn queries_users_index(mut self) -> Self {
        self.queries_users_index = true;
        self
    }

    /// It hashes or verifies passwords (argon2id): more memory, so more CPU on Lambda.
    pub const fn hashes_passwords(mut self) -> Self {
        self.hashes_passwords = true;
        self
    }

    /// It holds the second factor's key (`MFA_ENCRYPTION_KEY`): it seals or opens TOTP secrets,
    /// or checks a code or a recovery code.
    pub const fn holds_mfa_key(mut self) -> Self {
        self.holds_mfa_key = true;
        self
    }

    /// It holds the key services present to introspection (`INTROSPECTION_KEY`).
    pub const fn holds_introspection_key(mut self) -> Self {
        self.holds_introspection_key = true;
        self
    }

    /// It asks the sign-up hook (`SIGNUP_HOOK_URL` or `SIGNUP_HOOK_ARN`, and its secret).
    pub const fn asks_signup_hook(mut self) -> Self {
        self.asks_signup_hook = true;
        self
    }

    /// It asks the migration hook (`MIGRATION_HOOK_URL` or `MIGRATION_HOOK_ARN`, and its
    /// secret): a login or a reset naming no account here.
    pub const fn asks_migration_hook(mut self) -> Self {
        self.asks_migration_hook = true;
        self
    }

    pub const fn is_asking_migration_hook(&self) -> bool {
        self.asks_migration_hook
    }

    /// The hooks it asks, as the template names them (`Signup`, `Token`, `Migration`).
    pub fn hooks(&self) -> Vec<&'static str> {
        [
            (self.asks_signup_hook, "Signup"),
            (self.signs_tokens, "Token"),
            (self.asks_migration_hook, "Migration"),
        ]
        .into_iter()
        .filter_map(|(asks, kind)| asks.then_some(kind))
        .collect()
    }

    pub const fn is_recording_events(&self) -> bool {
        self.records_events
    }

    pub const fn is_reading_account_events(&self) -> bool {
        self.reads_account_events
    }

    pub const fn is_querying_users_index(&self) -> bool {
        self.queries_users_index
    }

    pub const fn is_hashing_passwords(&self) -> bool {
        self.hashes_passwords
    }

    pub const fn is_holding_mfa_key(&self) -> bool {
        self.holds_mfa_key
    }

    pub const fn is_holding_introspection_key(&self) -> bool {
        self.holds_introspection_key
    }

    pub const fn is_asking_signup_hook(&self) -> bool {
        self.asks_signup_hook
    }

    /// The function signs tokens (it logs people in): with EdDSA it needs the private key set
    /// (`JWT_SIGNING_KEYS`) and refuses to start without it. Every other function verifies
    /// with the public keys (`JWT_VERIFYING_KEYS`) and is never given the private ones. It asks
    /// the token hook, when one is set.
    pub const fn signs_tokens(mut self) -> Self {
        self.signs_tokens = true;
        self
    }

    /// The function counts failed logins by the name typed (the login function): it needs the
    /// key names of no account are hashed with (`LOGIN_NAME_KEY`) and refuses to start without
    /// it. Every other function's failures count on an account, whose name is no secret.
    pub const fn counts_login_names(mut self) -> Self {
        self.counts_login_names = true;
        self
    }

    pub const fn is_counting_login_names(&self) -> bool {
        self.counts_login_names
    }

    /// The function sends mail, as `MAIL` says (SES by default on Lambda).
    pub const fn sends_mail(mut self) -> Self {
        self.mailer = Some(ses_or_configured);
        self
    }

    /// The function calls the widgets upstream (`WIDGETS_API_URL`, when set).
    pub const fn calls_widgets(mut self) -> Self {
        self.widgets = Some(widgets_upstream);
        self
    }

    pub const fn is_signing(&self) -> bool {
        self.signs_tokens
    }

    pub const fn is_sending_mail(&self) -> bool {
        self.mailer.is_some()
    }

    pub const fn is_calling_widgets(&self) -> bool {
        self.widgets.is_some()
    }

    /// This function's router: each of its routes, and nothing else.
    pub fn router(&self) -> Router<AppState> {
        self.routes.iter().fold(Router::new(), |router, route| {
            router.route(route.path, (route.handler)(route.filter))
        })
    }
}

fn ses_or_configured(config: &Config, sdk: &SdkConfig) -> Arc<dyn Mailer> {
    configured_mailer(config, Some(sdk))
}

/// Builds the state at init and serves invocations until the runtime stops the process.
pub async fn run(function: &Function) -> Result<(), Error> {
    crate::telemetry::init_lambda();
    let config = lambda_config()?;
    if function.signs_tokens {
        config.require_signing_keys()?;
    }
    if function.counts_login_names {
        config.require_login_name_key()?;
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
    let mailer = match function.mailer {
        Some(make) => make(&config, &sdk),
        None => Arc::new(NoMail),
    };
    let widgets = match function.widgets {
        Some(make) => make(&config)?,
        None => None,
    };
    let state = AppState::new(&config, Clock::system(), store, mailer, widgets)?;
    lambda_http::run(crate::http::app(function.router(), state)).await
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
