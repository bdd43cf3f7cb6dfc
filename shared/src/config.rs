//! Configuration, read once at start-up into one struct, with a named error for each missing or
//! bad variable. Every variable is documented in docs/configuration.md.

use std::path::PathBuf;

/// The smallest JWT signing secret accepted, in bytes (HS512 wants at least 64; 32 is the floor).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{var} is invalid: {reason}")]
    Invalid { var: &'static str, reason: String },
}

impl From<crate::passkey::SettingError> for ConfigError {
    fn from(e: crate::passkey::SettingError) -> Self {
        ConfigError::Invalid {
            var: e.var,
            reason: e.reason,
        }
    }
}

#[derive(Clone)]
pub struct Config {
    /// Where the embedded store, the mail log and (locally) the generated JWT secret live.
    pub data_dir: PathBuf,
    /// `EMAIL_CODE_LOGIN`: whether a person may sign in with a code mailed to them (`on`, the
    /// default, or `off`).
    pub email_code_login: bool,
    /// `METRICS_SERVICE`: the value of the `Service` dimension of every metric
    /// ([`crate::metrics`]); the stack's name on AWS, `accounts` by default.
    pub metrics_service: String,
    /// The base of links sent by mail, without a trailing slash.
    pub public_base_url: String,
    /// `JWT_ALGORITHM`: how tokens are signed (`EdDSA` by default, `RS256`, or `HS512`).
    pub jwt_algorithm: JwtAlgorithm,
    /// The HS512 signing secret (`JWT_SECRET`). `None` unless HS512 is chosen, or before the
    /// local server has generated one.
    pub jwt_secret: Option<Vec<u8>>,
    /// `INTROSPECTION_KEY`: what a service sends (`Authorization: Bearer <key>`) to ask
    /// `POST /auth/introspect` whether a token is live. `None`: nobody may ask.
    pub introspection_key: Option<String>,
    /// `JWT_SIGNING_KEYS`: the key set (Ed25519 or RSA), PKCS#8 PEM blocks, the current key
    /// first.
    /// `None` before the local server has generated one.
    pub jwt_signing_keys: Option<String>,
    /// `JWT_VERIFYING_KEYS`: the same set's public keys, SPKI PEM blocks, the current first:
    /// what a function that only verifies tokens is given instead of the private keys.
    pub jwt_verifying_keys: Option<String>,
    /// `ISSUER`: the `iss` of every token and the `issuer` of the discovery document, a URL
    /// (RFC 8414); `None`: `PUBLIC_BASE_URL` ([`Config::issuer`]).
    pub jwt_issuer: Option<String>,
    pub jwt_audience: String,
    /// The widgets upstream; `None` when `WIDGETS_API_URL` is not set (`/widgets` is then 503).
    pub widgets: Option<WidgetsConfig>,
    /// `STORE`: where users live.
    pub store: StoreKind,
    /// `MAIL`: how mail goes out.
    pub mail: MailKind,
    /// The `From` of every mail: `SENDER_NAME` (default `Accounts`) and the sender's address
    /// (`SENDER_EMAIL`; with `MAIL=log` it defaults to `no-reply@localhost`), as a mailbox.
    pub mail_from: String,
    /// `AWS_ENDPOINT_URL`, `AWS_REGION`: passed to the AWS SDK when set (it reads the rest of the
    /// standard AWS variables, credentials among them, itself).
    pub aws_endpoint_url: Option<String>,
    pub aws_region: Option<String>,
    /// `ALLOWED_ORIGINS`: the web origins (`https://app.example.com`) whose scripts may call the
    /// JSON API from a browser (CORS), exact and normalized as browsers send them; empty: none.
    /// The local server applies it; in the cloud, template.yaml's `AllowedOrigins` does.
    pub allowed_origins: Vec<String>,
    /// `TOKEN_CACHE_ENTRIES`: how many verified tokens a process keeps, so that a token's
    /// signature is checked once (0: every time). Its session and user are checked every time.
    pub token_cache_entries: usize,
    /// `MFA_ENCRYPTION_KEY`: the key material (at least 32 bytes) that seals the second
    /// factor's secrets and MACs its recovery codes; `None`: no second factor here (its routes
    /// answer `503 mfa_unavailable`). Never logged.
    pub mfa_key: Option<String>,
    /// `LOGIN_NAME_KEY`: the key (at least 32 bytes) a login name of no account is hashed
    /// with (HMAC-SHA256) before the login throttle keeps it, so that a password typed into
    /// the name field is never stored. Only the login function holds it, and needs it (it
    /// refuses to start without it). Never logged.
    pub login_name_key: Option<String>,
    /// `MFA_ISSUER`: the issuer an authenticator app shows for the account (default: the
    /// sender's name, `Accounts`); also the name a passkey prompt shows.
    pub mfa_issuer: String,
    /// `WEBAUTHN_RP_ID`: the passkeys' relying party ID (default: the host of
    /// `PUBLIC_BASE_URL`, unless that is an IP address: then passkeys are off).
    pub webauthn_rp_id: Option<String>,
    /// `WEBAUTHN_ORIGINS`: the origins allowed to run passkey ceremonies, comma-separated
    /// (default: the origin of `PUBLIC_BASE_URL`).
    pub webauthn_origins: Vec<String>,
    /// `SIGNUP_HOOK_URL`, `TOKEN_HOOK_URL`, `HOOK_SECRET`: the hooks (`crate::hooks`).
    pub hooks: HooksConfig,
    /// How long access tokens and sign-ins last (`ACCESS_TOKEN_TTL`, `SESSION_IDLE_TTL`,
    /// `SESSION_MAX_TTL`, `REFRESH_REUSE_GRACE`).
    pub lifetimes: Lifetimes,
}

/// How long tokens and sign-ins last, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    /// An access token's lifetime (`ACCESS_TOKEN_TTL`, 300 to 86400; default 86400).
    pub access_token: i64,
    /// A sign-in ends when it has not been refreshed for this long (`SESSION_IDLE_TTL`,
    /// default 7 days), at least `access_token`.
    pub idle: i64,
    /// ... and in any case this long after the login (`SESSION_MAX_TTL`, default 30 days), at
    /// least `idle`.
    pub absolute: i64,
    /// The refresh token just replaced, presented again within this many seconds of its
    /// rotation, answers with the current pair (`REFRESH_REUSE_GRACE`, 0 to 60; default 10).
    pub reuse_grace: i64,
    /// Account events are kept this long (`EVENT_RETENTION_DAYS`, 1 to 3650; default 90),
    /// in seconds.
    pub event_retention: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            access_token: 86_400,
            idle: 7 * 86_400,
            absolute: 30 * 86_400,
            reuse_grace: 10,
            event_retention: 90 * 86_400,
        }
    }
}

/// The longest sign-in `SESSION_MAX_TTL` (and so `SESSION_IDLE_TTL`) may ask for: a year.
pub const MAX_SESSION_TTL: i64 = 365 * 86_400;

/// How tokens are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// Ed25519 with a key set whose public keys `GET /.well-known/jwks.json` publishes: anyone
    /// can verify a token, only this service can make one.
    EdDsa,
    /// RSA (2048 bits or more) with a key set, published the same way: what API Gateway's JWT
    /// authorizer on HTTP APIs verifies.
    Rs256,
    /// HS512 with one shared secret: whoever verifies can also mint tokens (the seed API's way).
    Hs512,
}

impl JwtAlgorithm {
    /// The kind of key that signs, for the algorithms of a key set; `None` for HS512.
    pub fn key_kind(self) -> Option<crate::token::KeyKind> {
        match self {
            JwtAlgorithm::EdDsa => Some(crate::token::KeyKind::Ed25519),
            JwtAlgorithm::Rs256 => Some(crate::token::KeyKind::Rsa),
            JwtAlgorithm::Hs512 => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded SQLite store in `DATA_DIR` (`STORE=sqlite`).
    Sqlite,
    /// The DynamoDB table `TABLE_NAME` (`STORE=dynamodb`).
    Dynamodb { table: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailKind {
    /// Written to the log and `DATA_DIR/mail.log` (`MAIL=log`).
    Log,
    /// Sent through Amazon SES from `SENDER_EMAIL` (`MAIL=ses`).
    Ses { sender: String },
}

/// The hooks asked before a sign-up and before a token is issued: each an HTTPS endpoint
/// (`*_HOOK_URL`) or a Lambda function (`*_HOOK_ARN`), or off.
#[derive(Clone, Default)]
pub struct HooksConfig {
    pub signup: Option<HookTarget>,
    pub token: Option<HookTarget>,
    /// Asked when a login or a password reset names no account here: the old system's.
    pub migration: Option<HookTarget>,
    /// `HOOK_SECRET`: signs every request to a hook URL (required with one; a secret, never
    /// logged). A Lambda hook is invoked with the function's IAM role instead.
    pub secret: String,
    /// Where the Lambda API is: `AWS_ENDPOINT_URL_LAMBDA`, else `AWS_ENDPOINT_URL` (stand-ins).
    pub lambda_endpoint_url: Option<String>,
    pub aws_region: Option<String>,
}

/// Where a hook is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookTarget {
    /// An endpoint, `POST`ed to with a signature.
    Url(String),
    /// A Lambda function (its ARN, with an alias or version if any), invoked synchronously.
    Lambda(String),
}

/// A hook's Lambda function: `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
fn hook_arn(var: &'static str, arn: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(arn) = arn.map(|a| a.trim().to_string()) else {
        return Ok(None);
    };
    let parts: Vec<&str> = arn.split(':').collect();
    let word = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let ok = (7..=8).contains(&parts.len())
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "lambda"
        && word(parts[3])
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5] == "function"
        && parts[6..].iter().all(|p| word(p));
    if !ok {
        return Err(ConfigError::Invalid {
            var,
            reason: "must be a Lambda function's ARN (arn:aws:lambda:<region>:<account>:function:<name>)"
                .into(),
        });
    }
    Ok(Some(arn))
}

/// One hook from its two settings, at most one of them set.
fn hook_target(
    url_var: &'static str,
    url: Option<String>,
    arn_var: &'static str,
    arn: Option<String>,
) -> Result<Option<HookTarget>, ConfigError> {
    match (hook_url(url_var, url)?, hook_arn(arn_var, arn)?) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid {
            var: arn_var,
            reason: format!("set {url_var} or {arn_var}, not both"),
        }),
        (Some(url), None) => Ok(Some(HookTarget::Url(url))),
        (None, Some(arn)) => Ok(Some(HookTarget::Lambda(arn))),
        (None, None) => Ok(None),
    }
}

impl std::fmt::Debug for HooksConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HooksConfig")
            .field("signup", &self.signup)
            .field("token", &self.token)
            .field("migration", &self.migration)
            .finish_non_exhaustive()
    }
}

/// A hook's URL: `https://`, or `http://` to this machine only (a signed request carries what
/// a hook needs to see, so it does not cross a network in the clear).
fn hook_url(var: &'static str, url: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(url) = url else { return Ok(None) };
    let url = parse_url(var, &url)?;
    let host = reqwest::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let loopback = ["127.0.0.1", "localhost", "[::1]"].contains(&host.as_str());
    if url.starts_with("http://") && !loopback {
        return Err(ConfigError::Invalid {
            var,
            reason: "must be https:// (http:// only to 127.0.0.1, localhost or [::1])".into(),
        });
    }
    Ok(Some(url))
}

/// Where the widgets upstream is and how to call it.
#[derive(Clone)]
pub struct WidgetsConfig {
    /// `WIDGETS_API_URL`, without a trailing slash.
    pub url: String,
    /// `WIDGETS_API_KEY`: a secret, never logged.
    pub api_key: String,
    /// `WIDGETS_TIMEOUT_MS` (default 5000).
    pub timeout: std::time::Duration,
}

/// The sender's name in the `From` of every mail, unless `SENDER_NAME` is set.
pub const DEFAULT_SENDER_NAME: &str = "Accounts";
pub const MAX_SENDER_NAME_CHARS: usize = 64;

/// The default upstream time-out, and the largest one accepted.
pub const DEFAULT_WIDGETS_TIMEOUT_MS: u64 = 5000;
pub const MAX_WIDGETS_TIMEOUT_MS: u64 = 60_000;

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("public_base_url", &self.public_base_url)
            .field("email_code_login", &self.email_code_login)
            .field("metrics_service", &self.metrics_service)
            .field("jwt_algorithm", &self.jwt_algorithm)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "jwt_signing_keys",
                &self.jwt_signing_keys.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "introspection_key",
                &self.introspection_key.as_ref().map(|_| "<redacted>"),
            )
            .field("mfa_key", &self.mfa_key.as_ref().map(|_| "<redacted>"))
            .field(
                "login_name_key",
                &self.login_name_key.as_ref().map(|_| "<redacted>"),
            )
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field(
                "widgets_url",
                &self.widgets.as_ref().map(|w| w.url.as_str()),
            )
            .finish()
    }
}

/// A key given as a variable (trimmed), if set: at least [`MIN_JWT_SECRET_BYTES`] bytes.
fn key_of(
    non_empty: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<String>, ConfigError> {
    match non_empty(var) {
        Some(k) if k.trim().len() < MIN_JWT_SECRET_BYTES => Err(ConfigError::Invalid {
            var,
            reason: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
        }),
        k => Ok(k.map(|k| k.trim().to_string())),
    }
}

impl Config {
    /// Reads configuration through `get`, so tests need not touch the process environment.
    /// `PUBLIC_BASE_URL` may be absent here; callers that need it use [`Config::require_base_url`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(non_empty("DATA_DIR").unwrap_or_else(|| "./.data".into()));
        let public_base_url = match non_empty("PUBLIC_BASE_URL") {
            Some(url) => parse_base_url(&url)?,
            None => String::new(),
        };
        let jwt_secret = match get("JWT_SECRET") {
            None => None,
            Some(s) if s.len() < MIN_JWT_SECRET_BYTES => {
                return Err(ConfigError::Invalid {
                    var: "JWT_SECRET",
                    reason: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
                });
            }
            Some(s) => Some(s.into_bytes()),
        };
        let jwt_algorithm = match non_empty("JWT_ALGORITHM").as_deref().map(str::trim) {
            None | Some("EdDSA") => JwtAlgorithm::EdDsa,
            Some("RS256") => JwtAlgorithm::Rs256,
            Some("HS512") => JwtAlgorithm::Hs512,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "JWT_ALGORITHM",
                    reason: "must be EdDSA, RS256 or HS512".into(),
                });
            }
        };
        let jwt_signing_keys = non_empty("JWT_SIGNING_KEYS");
        let jwt_verifying_keys = non_empty("JWT_VERIFYING_KEYS");
        let introspection_key = key_of(&non_empty, "INTROSPECTION_KEY")?;
        let widgets = match non_empty("WIDGETS_API_URL") {
            None => None,
            Some(url) => Some(WidgetsConfig {
                url: parse_url("WIDGETS_API_URL", &url)?,
                api_key: non_empty("WIDGETS_API_KEY")
                    .ok_or(ConfigError::Missing("WIDGETS_API_KEY"))?,
                timeout: std::time::Duration::from_millis(number_in(
                    "WIDGETS_TIMEOUT_MS",
                    non_empty("WIDGETS_TIMEOUT_MS"),
                    DEFAULT_WIDGETS_TIMEOUT_MS,
                    1..=MAX_WIDGETS_TIMEOUT_MS,
                    "milliseconds",
                )?),
            }),
        };
        let store = match non_empty("STORE").as_deref().map(str::trim) {
            None | Some("sqlite") => StoreKind::Sqlite,
            Some("dynamodb") => StoreKind::Dynamodb {
                table: non_empty("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            },
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "STORE",
                    reason: "must be sqlite or dynamodb".into(),
                });
            }
        };
        let mail = match non_empty("MAIL").as_deref().map(str::trim) {
            None | Some("log") => MailKind::Log,
            Some("ses") => {
                let sender =
                    non_empty("SENDER_EMAIL").ok_or(ConfigError::Missing("SENDER_EMAIL"))?;
                if !sender.contains('@') {
                    return Err(ConfigError::Invalid {
                        var: "SENDER_EMAIL",
                        reason: "must be an email address".into(),
                    });
                }
                MailKind::Ses { sender }
            }
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "MAIL",
                    reason: "must be log or ses".into(),
                });
            }
        };
        let sender_name = non_empty("SENDER_NAME")
            .map(|n| n.trim().to_string())
            .unwrap_or_else(|| DEFAULT_SENDER_NAME.into());
        if sender_name.chars().count() > MAX_SENDER_NAME_CHARS
            || sender_name.chars().any(char::is_control)
        {
            return Err(ConfigError::Invalid {
                var: "SENDER_NAME",
                reason: format!(
                    "must be at most {MAX_SENDER_NAME_CHARS} characters, none a control character"
                ),
            });
        }
        let sender_address = match &mail {
            MailKind::Ses { sender } => sender.clone(),
            MailKind::Log => {
                non_empty("SENDER_EMAIL").unwrap_or_else(|| "no-reply@localhost".into())
            }
        };
        let lifetimes = lifetimes(&non_empty)?;
        let mfa_key = key_of(&non_empty, "MFA_ENCRYPTION_KEY")?;
        let login_name_key = key_of(&non_empty, "LOGIN_NAME_KEY")?;
        let mfa_issuer = non_empty("MFA_ISSUER")
            .map(|n| n.trim().to_string())
            .unwrap_or_else(|| sender_name.clone());
        if mfa_issuer.chars().count() > MAX_SENDER_NAME_CHARS
            || mfa_issuer.chars().any(|c| c.is_control() || c == ':')
        {
            return Err(ConfigError::Invalid {
                var: "MFA_ISSUER",
                reason: format!(
                    "must be at most {MAX_SENDER_NAME_CHARS} characters, none a control character or ':'"
                ),
            });
        }
        let hooks = HooksConfig {
            signup: hook_target(
                "SIGNUP_HOOK_URL",
                non_empty("SIGNUP_HOOK_URL"),
                "SIGNUP_HOOK_ARN",
                non_empty("SIGNUP_HOOK_ARN"),
            )?,
            token: hook_target(
                "TOKEN_HOOK_URL",
                non_empty("TOKEN_HOOK_URL"),
                "TOKEN_HOOK_ARN",
                non_empty("TOKEN_HOOK_ARN"),
            )?,
            migration: hook_target(
                "MIGRATION_HOOK_URL",
                non_empty("MIGRATION_HOOK_URL"),
                "MIGRATION_HOOK_ARN",
                non_empty("MIGRATION_HOOK_ARN"),
            )?,
            secret: non_empty("HOOK_SECRET")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            lambda_endpoint_url: non_empty("AWS_ENDPOINT_URL_LAMBDA")
                .or_else(|| non_empty("AWS_ENDPOINT_URL")),
            aws_region: non_empty("AWS_REGION"),
        };
        let hooked = [&hooks.signup, &hooks.token, &hooks.migration]
            .iter()
            .any(|h| matches!(h, Some(HookTarget::Url(_))));
        if hooked && hooks.secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                var: "HOOK_SECRET",
                reason: format!(
                    "a hook is set: HOOK_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
                ),
            });
        }
        let webauthn_rp_id = non_empty("WEBAUTHN_RP_ID").map(|v| v.trim().to_string());
        let webauthn_origins =
            crate::passkey::parse_origins(&non_empty("WEBAUTHN_ORIGINS").unwrap_or_default());
        if (webauthn_rp_id.is_some() || !webauthn_origins.is_empty()) && !public_base_url.is_empty()
        {
            crate::passkey::relying_party(
                webauthn_rp_id.as_deref(),
                &webauthn_origins,
                &public_base_url,
                &mfa_issuer,
            )?;
        }
        let email_code_login = match non_empty("EMAIL_CODE_LOGIN")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    var: "EMAIL_CODE_LOGIN",
                    reason: "must be on or off".into(),
                });
            }
        };
        let metrics_service = non_empty("METRICS_SERVICE")
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "accounts".into());
        if metrics_service.is_empty()
            || metrics_service.chars().count() > crate::metrics::MAX_SERVICE_CHARS
            || metrics_service.chars().any(char::is_control)
        {
            return Err(ConfigError::Invalid {
                var: "METRICS_SERVICE",
                reason: format!(
                    "must be 1 to {} characters, none of them a control character",
                    crate::metrics::MAX_SERVICE_CHARS
                ),
            });
        }
        Ok(Config {
            email_code_login,
            metrics_service,
            hooks,
            lifetimes,
            mfa_key,
            login_name_key,
            mfa_issuer,
            webauthn_rp_id,
            webauthn_origins,
            store,
            mail_from: mailbox(&sender_name, sender_address.trim()),
            mail,
            aws_endpoint_url: non_empty("AWS_ENDPOINT_URL"),
            aws_region: non_empty("AWS_REGION"),
            widgets,
            data_dir,
            public_base_url,
            jwt_algorithm,
            jwt_secret,
            jwt_signing_keys,
            jwt_verifying_keys,
            introspection_key,
            // ISSUER, a URL; JWT_ISSUER, its name before, read as it is when ISSUER is not set.
            jwt_issuer: match non_empty("ISSUER") {
                Some(url) => Some(parse_url("ISSUER", &url)?),
                None => non_empty("JWT_ISSUER"),
            },
            jwt_audience: non_empty("JWT_AUDIENCE").unwrap_or_else(|| "accounts".into()),
            allowed_origins: parse_allowed_origins(&get("ALLOWED_ORIGINS").unwrap_or_default())?,
            token_cache_entries: number_in(
                "TOKEN_CACHE_ENTRIES",
                non_empty("TOKEN_CACHE_ENTRIES"),
                crate::token::DEFAULT_TOKEN_CACHE_ENTRIES,
                0..=MAX_TOKEN_CACHE_ENTRIES,
                "a number",
            )?,
        })
    }

    /// For the Lambda functions: no default base URL can be guessed there.
    pub fn require_base_url(&self) -> Result<(), ConfigError> {
        if self.public_base_url.is_empty() {
            return Err(ConfigError::Missing("PUBLIC_BASE_URL"));
        }
        Ok(())
    }

    pub fn require_jwt_secret(&self) -> Result<&[u8], ConfigError> {
        self.jwt_secret
            .as_deref()
            .ok_or(ConfigError::Missing("JWT_SECRET"))
    }

    /// For a function that signs tokens: with a key set, the private keys must be there (a
    /// function given only the public keys would answer every login with a 500).
    /// What the login function needs beyond the signing keys: the key login names of no
    /// account are hashed with.
    pub fn require_login_name_key(&self) -> Result<(), ConfigError> {
        match &self.login_name_key {
            None => Err(ConfigError::Missing("LOGIN_NAME_KEY")),
            Some(_) => Ok(()),
        }
    }

    pub fn require_signing_keys(&self) -> Result<(), ConfigError> {
        match (self.jwt_algorithm.key_kind(), &self.jwt_signing_keys) {
            (Some(_), None) => Err(ConfigError::Missing("JWT_SIGNING_KEYS")),
            _ => Ok(()),
        }
    }

    /// The issuer tokens name (`iss`) and discovery publishes: `ISSUER`, else
    /// `PUBLIC_BASE_URL`, else (only where neither is set: tests) the legacy `accounts`.
    pub fn issuer(&self) -> &str {
        match &self.jwt_issuer {
            Some(issuer) => issuer,
            None if !self.public_base_url.is_empty() => &self.public_base_url,
            None => crate::token::LEGACY_ISSUER,
        }
    }

    /// The token keys `JWT_ALGORITHM` asks for: from `JWT_SIGNING_KEYS` (signs and verifies),
    /// else `JWT_VERIFYING_KEYS` (verifies only), or from `JWT_SECRET` with HS512; keeping
    /// `TOKEN_CACHE_ENTRIES` verified tokens.
    pub fn token_keys(&self) -> Result<crate::token::TokenKeys, ConfigError> {
        use crate::token::{KeySet, TokenKeys};
        let keys = match self.jwt_algorithm.key_kind() {
            None => TokenKeys::new(
                self.require_jwt_secret()?,
                self.issuer(),
                &self.jwt_audience,
            ),
            Some(kind) => {
                let keys = match (&self.jwt_signing_keys, &self.jwt_verifying_keys) {
                    (Some(pem), _) => {
                        let set = KeySet::from_pem(pem).map_err(|reason| ConfigError::Invalid {
                            var: "JWT_SIGNING_KEYS",
                            reason,
                        })?;
                        // The key that signs is of the algorithm asked for; the others verify
                        // whatever their kind (a switch keeps the keys of the other).
                        if set.current_kind() != kind {
                            return Err(ConfigError::Invalid {
                                var: "JWT_SIGNING_KEYS",
                                reason: format!(
                                    "JWT_ALGORITHM is {} but the current (first) key is for {}: \
                                     put a key of {} first (accounts rotate-key makes one)",
                                    kind.alg(),
                                    set.current_kind().alg(),
                                    kind.alg()
                                ),
                            });
                        }
                        set
                    }
                    (None, Some(pem)) => {
                        KeySet::from_public_pem(pem).map_err(|reason| ConfigError::Invalid {
                            var: "JWT_VERIFYING_KEYS",
                            reason,
                        })?
                    }
                    (None, None) => return Err(ConfigError::Missing("JWT_SIGNING_KEYS")),
                };
                TokenKeys::with_set(keys, self.issuer(), &self.jwt_audience)
            }
        };
        Ok(keys.with_cache(self.token_cache_entries))
    }
}

/// `"name" <address>`: the name quoted (ASCII) or MIME encoded-word (RFC 2047, as SES asks for
/// any other name). The name holds no control character (the configuration checks).
pub fn mailbox(name: &str, address: &str) -> String {
    use base64::Engine;
    if name.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{address}>")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
        format!("=?UTF-8?B?{encoded}?= <{address}>")
    }
}

/// The number `var` holds (`value`, trimmed), within `range`, or `default` when it is unset;
/// otherwise the variable is invalid: "must be `what` from <start> to <end>".
/// The lifetimes, each in its bounds, and in order: an access token no longer than the idle
/// limit, the idle limit no longer than the absolute one.
fn lifetimes(get: &dyn Fn(&str) -> Option<String>) -> Result<Lifetimes, ConfigError> {
    let d = Lifetimes::default();
    let seconds = |var: &'static str, default: i64, range: std::ops::RangeInclusive<i64>| {
        number_in(var, get(var), default, range, "seconds")
    };
    let l = Lifetimes {
        access_token: seconds("ACCESS_TOKEN_TTL", d.access_token, 300..=86_400)?,
        idle: seconds("SESSION_IDLE_TTL", d.idle, 300..=MAX_SESSION_TTL)?,
        absolute: seconds("SESSION_MAX_TTL", d.absolute, 300..=MAX_SESSION_TTL)?,
        reuse_grace: seconds("REFRESH_REUSE_GRACE", d.reuse_grace, 0..=60)?,
        event_retention: number_in(
            "EVENT_RETENTION_DAYS",
            get("EVENT_RETENTION_DAYS"),
            d.event_retention / 86_400,
            1..=3650,
            "days",
        )? * 86_400,
    };
    if l.access_token > l.idle {
        return Err(ConfigError::Invalid {
            var: "SESSION_IDLE_TTL",
            reason: "must be at least ACCESS_TOKEN_TTL".into(),
        });
    }
    if l.idle > l.absolute {
        return Err(ConfigError::Invalid {
            var: "SESSION_MAX_TTL",
            reason: "must be at least SESSION_IDLE_TTL".into(),
        });
    }
    Ok(l)
}

fn number_in<T>(
    var: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    what: &str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(value) = value else {
        return Ok(default);
    };
    value
        .trim()
        .parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ConfigError::Invalid {
            var,
            reason: format!("must be {what} from {} to {}", range.start(), range.end()),
        })
}

/// The most verified tokens `TOKEN_CACHE_ENTRIES` may keep (about 0.5 KiB each).
pub const MAX_TOKEN_CACHE_ENTRIES: usize = 1_000_000;

/// The most origins `ALLOWED_ORIGINS` may list.
pub const MAX_ALLOWED_ORIGINS: usize = 100;

/// `ALLOWED_ORIGINS`: a comma-separated list of exact web origins, `scheme://host[:port]` with
/// an `http` or `https` scheme and nothing after the host and port, each as a browser's `Origin`
/// header spells it (lowercase, the scheme's default port left out: these are normalized). Empty
/// entries are ignored. `*` and `null` are refused: either would let any web site (or any
/// sandboxed page) drive the API with a signed-in person's token.
pub fn parse_allowed_origins(list: &str) -> Result<Vec<String>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        var: "ALLOWED_ORIGINS",
        reason,
    };
    let mut origins: Vec<String> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "*" || entry.eq_ignore_ascii_case("null") {
            return Err(invalid(format!(
                "{entry} is refused: it would let any web site call the API with a signed-in \
                 person's token; list each origin exactly (https://app.example.com)"
            )));
        }
        let origin = parse_origin(entry).ok_or_else(|| {
            invalid(format!(
                "{entry:?} is not an origin: scheme://host[:port] with http or https and no \
                 path, not even a trailing slash (https://app.example.com, \
                 http://127.0.0.1:5173)"
            ))
        })?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    if origins.len() > MAX_ALLOWED_ORIGINS {
        return Err(invalid(format!("at most {MAX_ALLOWED_ORIGINS} origins")));
    }
    Ok(origins)
}

/// One origin, normalized as a browser serializes it, or `None` when it is not one.
fn parse_origin(entry: &str) -> Option<String> {
    let lower = entry.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://")?;
    let default_port = match scheme {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    // The host: a name or IPv4 address, or an IPv6 address in brackets; then an optional port.
    let (host, port) = if rest.starts_with('[') {
        let end = rest.find(']')? + 1;
        let address = &rest[1..end - 1];
        let valid = !address.is_empty()
            && address
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if !valid {
            return None;
        }
        let port = match &rest[end..] {
            "" => None,
            after => Some(after.strip_prefix(':')?),
        };
        (&rest[..end], port)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        let valid = !host.is_empty()
            && host.len() <= 253
            && !host.starts_with(['.', '-'])
            && !host.ends_with(['.', '-'])
            && !host.contains("..")
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return None;
        }
        (host, port)
    };
    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(port) => {
            let valid = !port.is_empty()
                && port.len() <= 5
                && port.chars().all(|c| c.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0);
            if !valid {
                return None;
            }
            let port = port.trim_start_matches('0');
            if port == default_port {
                Some(format!("{scheme}://{host}"))
            } else {
                Some(format!("{scheme}://{host}:{port}"))
            }
        }
    }
}

/// Accepts `http://` or `https://` URLs; drops a trailing slash.
pub fn parse_base_url(url: &str) -> Result<String, ConfigError> {
    parse_url("PUBLIC_BASE_URL", url)
}

fn parse_url(var: &'static str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty())
        && !url.contains(char::is_whitespace)
        && !url.contains(['?', '#']);
    if !ok {
        return Err(ConfigError::Invalid {
            var,
            reason: "must be an http:// or https:// URL without query or fragment".into(),
        });
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./.data"));
        assert_eq!(c.issuer(), "accounts");
        assert!(c.jwt_secret.is_none());
        assert_eq!(
            c.require_base_url(),
            Err(ConfigError::Missing("PUBLIC_BASE_URL"))
        );
        assert_eq!(
            c.require_jwt_secret().unwrap_err(),
            ConfigError::Missing("JWT_SECRET")
        );
        assert_eq!(c.jwt_algorithm, JwtAlgorithm::EdDsa);
        assert_eq!(
            c.token_keys().err(),
            Some(ConfigError::Missing("JWT_SIGNING_KEYS"))
        );
    }

    #[test]
    fn metrics_service_is_accounts_unless_named_and_bounded() {
        let service =
            |v: &[(&str, &str)]| Config::from_lookup(lookup(v)).map(|c| c.metrics_service);
        assert_eq!(service(&[]).unwrap(), "accounts");
        assert_eq!(
            service(&[("METRICS_SERVICE", " prod-accounts ")]).unwrap(),
            "prod-accounts"
        );
        let long = "x".repeat(256);
        for bad in [long.as_str(), "a\nb"] {
            assert!(
                matches!(
                    service(&[("METRICS_SERVICE", bad)]),
                    Err(ConfigError::Invalid {
                        var: "METRICS_SERVICE",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn email_code_login_is_on_unless_turned_off() {
        let on = |v: &[(&str, &str)]| Config::from_lookup(lookup(v)).map(|c| c.email_code_login);
        assert!(on(&[]).unwrap());
        assert!(on(&[("EMAIL_CODE_LOGIN", " On ")]).unwrap());
        assert!(!on(&[("EMAIL_CODE_LOGIN", "off")]).unwrap());
        assert!(matches!(
            on(&[("EMAIL_CODE_LOGIN", "sometimes")]),
            Err(ConfigError::Invalid {
                var: "EMAIL_CODE_LOGIN",
                ..
            })
        ));
    }

    #[test]
    fn the_issuer_is_a_url_defaulting_to_the_public_base_url() {
        let c = Config::from_lookup(lookup(&[("PUBLIC_BASE_URL", "https://api.example.com/")]))
            .unwrap();
        assert_eq!(c.issuer(), "https://api.example.com");
        let c = Config::from_lookup(lookup(&[
            ("PUBLIC_BASE_URL", "https://api.example.com"),
            ("ISSUER", "https://id.example.com/"),
        ]))
        .unwrap();
        assert_eq!(c.issuer(), "https://id.example.com");
        let ed = crate::token::KeySet::generate_pem().unwrap();
        let c = Config {
            jwt_signing_keys: Some(ed),
            ..c
        };
        assert_eq!(c.token_keys().unwrap().issuer, "https://id.example.com");
        for bad in [
            "accounts",
            "https://id.example.com/?x=1",
            "ftp://id.example.com",
        ] {
            assert!(
                matches!(
                    Config::from_lookup(lookup(&[("ISSUER", bad)])),
                    Err(ConfigError::Invalid { var: "ISSUER", .. })
                ),
                "{bad}"
            );
        }
        // The name before, read as it is.
        let c = Config::from_lookup(lookup(&[
            ("PUBLIC_BASE_URL", "https://api.example.com"),
            ("JWT_ISSUER", "accounts"),
        ]))
        .unwrap();
        assert_eq!(c.issuer(), "accounts");
    }

    #[test]
    fn rs256_signs_with_an_rsa_key_first_and_says_so_when_it_is_not() {
        use crate::token::{KeyKind, KeySet};
        let ed = KeySet::generate_pem().unwrap();
        let rsa = KeySet::generate_pem_of(KeyKind::Rsa).unwrap();
        let rs256 = |keys: &str| {
            Config::from_lookup(lookup(&[
                ("JWT_ALGORITHM", "RS256"),
                ("JWT_SIGNING_KEYS", keys),
            ]))
            .unwrap()
        };
        assert_eq!(rs256(&ed).jwt_algorithm, JwtAlgorithm::Rs256);
        match rs256(&format!("{ed}{rsa}")).token_keys().err() {
            Some(ConfigError::Invalid { var, reason }) => {
                assert_eq!(var, "JWT_SIGNING_KEYS");
                assert!(
                    reason.contains("RS256") && reason.contains("EdDSA"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        let keys = rs256(&format!("{rsa}{ed}")).token_keys().unwrap();
        assert_eq!(keys.algorithms(), vec!["RS256", "EdDSA"]);
        assert_eq!(rs256(&rsa).require_signing_keys(), Ok(()));
        let none = Config::from_lookup(lookup(&[("JWT_ALGORITHM", "RS256")])).unwrap();
        assert_eq!(
            none.require_signing_keys(),
            Err(ConfigError::Missing("JWT_SIGNING_KEYS"))
        );
        assert!(Config::from_lookup(lookup(&[("JWT_ALGORITHM", "RS512")])).is_err());
    }

    #[test]
    fn the_algorithm_chooses_the_keys_and_bad_keys_are_named() {
        let pem = crate::token::KeySet::generate_pem().unwrap();
        let c = Config::from_lookup(lookup(&[("JWT_SIGNING_KEYS", &pem)])).unwrap();
        assert!(c.token_keys().unwrap().jwks().is_some());
        assert!(!format!("{c:?}").contains("PRIVATE"), "{c:?}");
        let c = Config::from_lookup(lookup(&[
            ("JWT_ALGORITHM", "HS512"),
            ("JWT_SECRET", &"s".repeat(32)),
        ]))
        .unwrap();
        assert!(c.token_keys().unwrap().jwks().is_none());
        // The public keys alone: a verifier, which publishes the same JWKS and cannot sign.
        let public = crate::token::KeySet::from_pem(&pem)
            .unwrap()
            .public_pem()
            .unwrap();
        assert!(!public.contains("PRIVATE"), "{public}");
        let full = Config::from_lookup(lookup(&[("JWT_SIGNING_KEYS", &pem)])).unwrap();
        let v = Config::from_lookup(lookup(&[("JWT_VERIFYING_KEYS", &public)])).unwrap();
        assert_eq!(
            v.token_keys().unwrap().jwks(),
            full.token_keys().unwrap().jwks()
        );
        assert_eq!(
            v.require_signing_keys(),
            Err(ConfigError::Missing("JWT_SIGNING_KEYS"))
        );
        assert_eq!(full.require_signing_keys(), Ok(()));
        assert_eq!(c.require_signing_keys(), Ok(()), "HS512 has its secret");
        let v = Config::from_lookup(lookup(&[("JWT_VERIFYING_KEYS", &pem)])).unwrap();
        assert!(
            matches!(
                v.token_keys().err(),
                Some(ConfigError::Invalid {
                    var: "JWT_VERIFYING_KEYS",
                    ..
                })
            ),
            "private keys are no public keys"
        );
        let c = Config::from_lookup(lookup(&[("JWT_SIGNING_KEYS", "garbage")])).unwrap();
        assert!(matches!(
            c.token_keys().err(),
            Some(ConfigError::Invalid {
                var: "JWT_SIGNING_KEYS",
                ..
            })
        ));
        assert!(matches!(
            Config::from_lookup(lookup(&[("JWT_ALGORITHM", "ES512")])).unwrap_err(),
            ConfigError::Invalid {
                var: "JWT_ALGORITHM",
                ..
            }
        ));
    }

    #[test]
    fn a_short_secret_is_named() {
        let err = Config::from_lookup(lookup(&[("JWT_SECRET", "short")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                var: "JWT_SECRET",
                ..
            }
        ));
    }

    /// Every key given as a variable is at least 32 bytes once trimmed, and kept trimmed.
    #[test]
    fn a_short_key_is_named_and_a_key_is_kept_trimmed() {
        for var in ["INTROSPECTION_KEY", "MFA_ENCRYPTION_KEY", "LOGIN_NAME_KEY"] {
            let err = Config::from_lookup(lookup(&[(var, &format!("  {}  ", "k".repeat(31)))]))
                .unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { var: v, .. } if v == var),
                "{var}: {err:?}"
            );
        }
        let key = format!(" {} ", "k".repeat(32));
        let c = Config::from_lookup(lookup(&[("LOGIN_NAME_KEY", &key)])).unwrap();
        assert_eq!(c.login_name_key.as_deref(), Some("k".repeat(32).as_str()));
        assert!(c.require_login_name_key().is_ok());
        let none = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(
            none.require_login_name_key(),
            Err(ConfigError::Missing("LOGIN_NAME_KEY"))
        );
    }

    #[test]
    fn the_widgets_upstream_is_optional_but_complete_when_set() {
        assert!(Config::from_lookup(lookup(&[])).unwrap().widgets.is_none());
        let err =
            Config::from_lookup(lookup(&[("WIDGETS_API_URL", "http://w.example")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("WIDGETS_API_KEY"));
        let c = Config::from_lookup(lookup(&[
            ("WIDGETS_API_URL", "http://w.example/v1/"),
            ("WIDGETS_API_KEY", "k"),
        ]))
        .unwrap();
        let w = c.widgets.unwrap();
        assert_eq!(
            (w.url.as_str(), w.timeout.as_millis()),
            ("http://w.example/v1", 5000)
        );
        for bad in ["0", "abc", "60001", "-5"] {
            let err = Config::from_lookup(lookup(&[
                ("WIDGETS_API_URL", "http://w.example"),
                ("WIDGETS_API_KEY", "k"),
                ("WIDGETS_TIMEOUT_MS", bad),
            ]))
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        var: "WIDGETS_TIMEOUT_MS",
                        ..
                    }
                ),
                "{bad}"
            );
        }
        let err = Config::from_lookup(lookup(&[
            ("WIDGETS_API_URL", "w.example"),
            ("WIDGETS_API_KEY", "k"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                var: "WIDGETS_API_URL",
                ..
            }
        ));
    }

    #[test]
    fn backends_are_chosen_by_store_and_mail() {
        let c = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!((c.store, c.mail), (StoreKind::Sqlite, MailKind::Log));
        let c = Config::from_lookup(lookup(&[
            ("STORE", "dynamodb"),
            ("TABLE_NAME", "users"),
            ("MAIL", "ses"),
            ("SENDER_EMAIL", "no-reply@example.com"),
        ]))
        .unwrap();
        assert_eq!(
            c.store,
            StoreKind::Dynamodb {
                table: "users".into()
            }
        );
        assert_eq!(
            c.mail,
            MailKind::Ses {
                sender: "no-reply@example.com".into()
            }
        );
        assert_eq!(c.mail_from, "\"Accounts\" <no-reply@example.com>");
        let missing = |pairs: &[(&str, &str)]| Config::from_lookup(lookup(pairs)).unwrap_err();
        assert_eq!(
            missing(&[("STORE", "dynamodb")]),
            ConfigError::Missing("TABLE_NAME")
        );
        assert_eq!(
            missing(&[("MAIL", "ses")]),
            ConfigError::Missing("SENDER_EMAIL")
        );
        assert!(matches!(
            missing(&[("STORE", "redis")]),
            ConfigError::Invalid { var: "STORE", .. }
        ));
        assert!(matches!(
            missing(&[("MAIL", "smtp")]),
            ConfigError::Invalid { var: "MAIL", .. }
        ));
    }

    #[test]
    fn the_sender_name_is_bounded_and_goes_into_the_from() {
        let from = |pairs: &[(&str, &str)]| Config::from_lookup(lookup(pairs)).map(|c| c.mail_from);
        assert_eq!(from(&[]).unwrap(), "\"Accounts\" <no-reply@localhost>");
        assert_eq!(
            from(&[
                ("SENDER_NAME", " Acme \"Login\" "),
                ("SENDER_EMAIL", "a@acme.example")
            ])
            .unwrap(),
            "\"Acme \\\"Login\\\"\" <a@acme.example>"
        );
        for bad in ["a\nBcc: x@evil.example".to_string(), "n".repeat(65)] {
            assert!(matches!(
                from(&[("SENDER_NAME", &bad)]),
                Err(ConfigError::Invalid {
                    var: "SENDER_NAME",
                    ..
                })
            ));
        }
    }

    #[test]
    fn base_url_is_checked_and_trimmed() {
        let c =
            Config::from_lookup(lookup(&[("PUBLIC_BASE_URL", "https://x.example/api/")])).unwrap();
        assert_eq!(c.public_base_url, "https://x.example/api");
        for bad in ["ftp://x", "x.example", "http://", "http://x/?a=b"] {
            let err = Config::from_lookup(lookup(&[("PUBLIC_BASE_URL", bad)])).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        var: "PUBLIC_BASE_URL",
                        ..
                    }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn allowed_origins_are_exact_origins_normalized_as_browsers_send_them() {
        let origins = |v: &str| {
            Config::from_lookup(lookup(&[("ALLOWED_ORIGINS", v)])).map(|c| c.allowed_origins)
        };
        assert_eq!(origins("").unwrap(), Vec::<String>::new());
        assert_eq!(
            Config::from_lookup(lookup(&[])).unwrap().allowed_origins,
            Vec::<String>::new()
        );
        assert_eq!(
            origins(" https://App.Example.com , http://127.0.0.1:5173,,https://app.example.com:443, http://[::1]:8080, http://x.test:80")
                .unwrap(),
            [
                "https://app.example.com",
                "http://127.0.0.1:5173",
                "http://[::1]:8080",
                "http://x.test"
            ]
        );
        for bad in [
            "*",
            "null",
            "https://a.example, *",
            "https://app.example.com/",
            "https://app.example.com/path",
            "app.example.com",
            "ftp://app.example.com",
            "https://",
            "https://user@app.example.com",
            "https://app.example.com:0",
            "https://app.example.com:65536",
            "https://app.example.com:",
            "https://app.example.com?x",
            "https://*.example.com",
            "https://app..example.com",
            "https://ex\u{e4}mple.com",
            "http://[::1",
            "http://[::1]x",
            "http://[]",
        ] {
            let err = origins(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        var: "ALLOWED_ORIGINS",
                        ..
                    }
                ),
                "{bad}"
            );
        }
        let star = origins("*").unwrap_err().to_string();
        assert!(star.contains("any web site"), "{star}");
        let many: Vec<String> = (0..=MAX_ALLOWED_ORIGINS)
            .map(|i| format!("https://a{i}.example"))
            .collect();
        assert!(origins(&many.join(",")).is_err());
        assert_eq!(
            origins(&many[..MAX_ALLOWED_ORIGINS].join(","))
                .unwrap()
                .len(),
            MAX_ALLOWED_ORIGINS
        );
    }

    #[test]
    fn the_token_cache_is_on_by_default_and_bounded() {
        let entries = |v: &str| {
            Config::from_lookup(lookup(&[("TOKEN_CACHE_ENTRIES", v)]))
                .map(|c| c.token_cache_entries)
        };
        assert_eq!(
            Config::from_lookup(lookup(&[]))
                .unwrap()
                .token_cache_entries,
            crate::token::DEFAULT_TOKEN_CACHE_ENTRIES
        );
        assert_eq!(entries("0").unwrap(), 0);
        assert_eq!(entries(" 500 ").unwrap(), 500);
        for bad in ["-1", "many", "1000001", "1e3"] {
            assert!(
                matches!(
                    entries(bad),
                    Err(ConfigError::Invalid {
                        var: "TOKEN_CACHE_ENTRIES",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn lifetimes_default_to_a_day_a_week_and_a_month_and_stay_in_order() {
        let lifetimes =
            |pairs: &[(&str, &str)]| Config::from_lookup(lookup(pairs)).map(|c| c.lifetimes);
        assert_eq!(
            lifetimes(&[]).unwrap(),
            Lifetimes {
                access_token: 86_400,
                idle: 604_800,
                absolute: 2_592_000,
                reuse_grace: 10,
                event_retention: 90 * 86_400,
            }
        );
        assert_eq!(
            lifetimes(&[("EVENT_RETENTION_DAYS", "7")])
                .unwrap()
                .event_retention,
            7 * 86_400
        );
        let short = lifetimes(&[
            ("ACCESS_TOKEN_TTL", "900"),
            ("SESSION_IDLE_TTL", "3600"),
            ("SESSION_MAX_TTL", "3600"),
            ("REFRESH_REUSE_GRACE", "0"),
        ])
        .unwrap();
        assert_eq!(
            (short.access_token, short.idle, short.absolute),
            (900, 3600, 3600)
        );
        assert_eq!(short.reuse_grace, 0);
        let refused = |pairs: &[(&str, &str)], var: &str| {
            assert!(
                matches!(lifetimes(pairs), Err(ConfigError::Invalid { var: v, .. }) if v == var),
                "{pairs:?}"
            );
        };
        refused(&[("ACCESS_TOKEN_TTL", "299")], "ACCESS_TOKEN_TTL");
        refused(&[("ACCESS_TOKEN_TTL", "86401")], "ACCESS_TOKEN_TTL");
        refused(&[("ACCESS_TOKEN_TTL", "15m")], "ACCESS_TOKEN_TTL");
        refused(&[("SESSION_IDLE_TTL", "31536001")], "SESSION_IDLE_TTL");
        refused(&[("SESSION_MAX_TTL", "-1")], "SESSION_MAX_TTL");
        refused(&[("REFRESH_REUSE_GRACE", "61")], "REFRESH_REUSE_GRACE");
        refused(&[("EVENT_RETENTION_DAYS", "0")], "EVENT_RETENTION_DAYS");
        refused(&[("EVENT_RETENTION_DAYS", "3651")], "EVENT_RETENTION_DAYS");
        // Out of order: an access token outliving the idle end, an idle end past the absolute.
        refused(&[("SESSION_IDLE_TTL", "3600")], "SESSION_IDLE_TTL");
        refused(&[("SESSION_MAX_TTL", "86400")], "SESSION_MAX_TTL");
    }
}
