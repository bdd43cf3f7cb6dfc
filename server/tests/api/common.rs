//! The test harness: the real service (every route, the embedded store in a temporary
//! directory, the logging mailer) served over HTTP on a loopback port, and a client for it.

use std::path::{Path, PathBuf};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::AppState;
use shared::clock::Clock;
use shared::config::Config;
use shared::user::Role;
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";
/// The origin the tests' passkey ceremonies run on (the harness's relying party is
/// `localhost`).
pub const PASSKEY_ORIGIN: &str = "http://localhost:3000";
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// What a service presents to `POST /auth/introspect` on the test servers.
pub const INTROSPECTION_KEY: &str = "test-introspection-key-0123456789abcdef";
/// The second factor's key material of the test servers (`MFA_ENCRYPTION_KEY`).
pub const MFA_KEY: &str = "test-mfa-key-0123456789abcdef0123456789";
/// The key login names of no account are hashed with on the test servers (`LOGIN_NAME_KEY`).
pub const LOGIN_NAME_KEY: &str = "test-login-name-key-0123456789abcdef0123";
/// The user agent of the test client (account events record it).
pub const USER_AGENT: &str = "accounts-tests/1";

/// The Ed25519 key set of the test servers (EdDSA is the default): one key, made once per test
/// run.
pub fn test_signing_keys() -> &'static str {
    static KEYS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| shared::token::KeySet::generate_pem().unwrap())
}

/// Part `part` of a JWT (0 the header, 1 the claims), decoded, as JSON.
pub fn jwt_part(token: &str, part: usize) -> Value {
    use base64::Engine;
    let encoded = token.split('.').nth(part).expect("a JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// What Chromium sends as `Accept` when it opens a page.
pub const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Clock,
    pub state: AppState,
    pub data_dir: PathBuf,
    /// The DynamoDB table of a `TEST_STORE=dynamodb` run.
    pub table: Option<String>,
    _dir: Option<TempDir>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and, for errors, the `error` code and the error shape.
    #[track_caller]
    pub fn expect(&self, status: u16, code: Option<&str>) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        if self.text.is_empty() {
            return Value::Null;
        }
        let body = self.json();
        if let Some(code) = code {
            assert_eq!(body["error"], code, "body: {}", self.text);
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}",
                self.text
            );
        }
        body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(&[]).await
    }

    /// With extra configuration variables (the widgets upstream, say).
    pub async fn start_with(vars: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let mut server = Server::start_in(&path, vars).await;
        server._dir = Some(dir);
        server
    }

    /// Mailing through moto's SES from `sender` (verified there or not, as the test needs).
    pub async fn start_with_ses(sender: &str) -> Server {
        Server::start_with(&[
            ("MAIL", "ses"),
            ("SENDER_EMAIL", sender),
            ("AWS_ENDPOINT_URL", &moto_endpoint()),
            ("AWS_REGION", "us-east-1"),
        ])
        .await
    }

    pub async fn start_in(data_dir: &Path, vars: &[(&str, &str)]) -> Server {
        Server::start_on(data_dir, vars, dynamodb_mode().then(fresh_table), true).await
    }

    /// Another server on this one's store (its data directory, its table), configured with
    /// `vars` besides the harness's: this service after a restart with other settings.
    /// Its issuer stays this one's (the service's URL does not change with a restart).
    pub async fn restarted_with(&self, vars: &[(&str, &str)]) -> Server {
        let issuer = self.state.keys.issuer.clone();
        let mut vars = vars.to_vec();
        if !vars
            .iter()
            .any(|(k, _)| *k == "ISSUER" || *k == "JWT_ISSUER")
        {
            vars.push(("ISSUER", &issuer));
        }
        Server::start_on(&self.data_dir, &vars, self.table.clone(), false).await
    }

    async fn start_on(
        data_dir: &Path,
        vars: &[(&str, &str)],
        table: Option<String>,
        create: bool,
    ) -> Server {
        let mut vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(table) = &table {
            vars.extend(dynamodb_vars(table));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let dir = data_dir.to_string_lossy().to_string();
        let base_for_config = base.clone();
        // The test's own variables first (an empty one unsets), then the harness's.
        let config = Config::from_lookup(move |k| {
            if let Some((_, v)) = vars.iter().find(|(name, _)| name == k) {
                return Some(v.clone());
            }
            match k {
                "DATA_DIR" => Some(dir.clone()),
                "PUBLIC_BASE_URL" => Some(base_for_config.clone()),
                "JWT_SECRET" => Some(SECRET.into()),
                "JWT_SIGNING_KEYS" => Some(test_signing_keys().into()),
                "INTROSPECTION_KEY" => Some(INTROSPECTION_KEY.into()),
                "MFA_ENCRYPTION_KEY" => Some(MFA_KEY.into()),
                "LOGIN_NAME_KEY" => Some(LOGIN_NAME_KEY.into()),
                // Passkeys' relying party: localhost, its pages at PASSKEY_ORIGIN.
                "WEBAUTHN_RP_ID" => Some("localhost".into()),
                "WEBAUTHN_ORIGINS" => Some(PASSKEY_ORIGIN.into()),
                _ => None,
            }
        })
        .unwrap();
        if let Some(table) = table.as_ref().filter(|_| create) {
            create_table(&config, table).await;
        }
        let clock = Clock::system();
        let state = AppState::from_config(&config, clock.clone()).await.unwrap();
        let app = accounts::app(state.clone(), &config.allowed_origins);
        let task = tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        });
        Server {
            base,
            client: reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .build()
                .unwrap(),
            clock,
            state,
            data_dir: data_dir.to_path_buf(),
            table,
            _dir: None,
            task,
        }
    }

    /// Sends a request; `body` is sent as raw bytes when it is a string, as JSON otherwise.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        Self::reply(req).await
    }

    pub async fn reply(req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Reply {
            status,
            headers,
            text,
        }
    }

    /// Sends `body` as it is, said to be JSON (`Content-Type: application/json`).
    pub async fn raw(&self, method: Method, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        Self::reply(
            self.client
                .request(method, format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None).await
    }

    /// A form post, as a browser sends it (`application/x-www-form-urlencoded`).
    pub async fn form_post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        Server::reply(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", BROWSER_ACCEPT)
                .body(body),
        )
        .await
    }

    /// A GET as a browser sends it (asking for HTML first).
    pub async fn html_get(&self, path: &str) -> Reply {
        Server::reply(
            self.client
                .get(format!("{}{path}", self.base))
                .header("accept", BROWSER_ACCEPT),
        )
        .await
    }

    /// How many link tokens of a kind the store holds, whatever their state: `"activation"`,
    /// `"reset"` or `"email_change"` (read from the SQLite file, or by a scan of the table).
    pub async fn stored_tokens(&self, kind: &str) -> usize {
        match &self.table {
            None => {
                let db = rusqlite::Connection::open(self.data_dir.join("accounts.db")).unwrap();
                let table = match kind {
                    "activation" => "activation_tokens",
                    "reset" => "reset_tokens",
                    _ => "email_changes",
                };
                let n: i64 = db
                    .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                    .unwrap();
                n as usize
            }
            Some(table) => {
                let prefix = match kind {
                    "activation" => "ACTIVATION#",
                    "reset" => "RESET#",
                    _ => "EMAILCHANGE#",
                };
                scan_prefix(table, prefix).await.len()
            }
        }
    }

    /// The keys the login throttle holds failures under, each with its count (read from the
    /// SQLite file, or by a scan of the table), sorted.
    pub async fn stored_failures(&self) -> Vec<(String, i64)> {
        let mut keys: Vec<(String, i64)> = match &self.table {
            None => {
                let db = rusqlite::Connection::open(self.data_dir.join("accounts.db")).unwrap();
                let mut query = db
                    .prepare("SELECT login_key, failures FROM login_failures")
                    .unwrap();
                query
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            Some(table) => scan_prefix(table, "LOGINFAIL#")
                .await
                .iter()
                .map(|i| {
                    let pk = i["pk"].as_s().unwrap();
                    let failures = i["failures"].as_n().unwrap().parse().unwrap();
                    (pk["LOGINFAIL#".len()..].to_string(), failures)
                })
                .collect(),
        };
        keys.sort();
        keys
    }

    /// The account stored under `username` (any case), as the store reads it now.
    pub async fn stored_user(&self, username: &str) -> Option<shared::user::UserRecord> {
        let now = self.clock.now();
        self.state
            .store
            .find_user_by_username(username, now)
            .await
            .unwrap()
    }

    /// The account stored under the address `email`, as the store reads it now.
    pub async fn stored_user_by_email(&self, email: &str) -> Option<shared::user::UserRecord> {
        let now = self.clock.now();
        self.state
            .store
            .find_user_by_email(email, now)
            .await
            .unwrap()
    }

    /// `username`'s account events as its owner reads them (the newest 100): each type, with
    /// its `detail`.
    pub async fn events_of(&self, username: &str, token: &str) -> Vec<(String, Value)> {
        let page = self
            .get(&format!("/user/{username}/events?limit=100"), Some(token))
            .await
            .expect(200, None);
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["type"].as_str().unwrap().to_string(), e["detail"].clone()))
            .collect()
    }

    /// Sets `password` through the newest reset link mailed to `address` (`200`).
    pub async fn reset_by_link(&self, address: &str, password: &str) {
        let token = self.link_token(address, "/password/reset");
        self.post(
            "/password/reset",
            None,
            json!({"token": token, "password": password}),
        )
        .await
        .expect(200, None);
    }

    /// Every mail the logging mailer wrote, oldest first.
    pub fn mails(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(self.data_dir.join("mail.log")) else {
            return vec![];
        };
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The activation token of the newest mail to `email`.
    pub fn activation_token(&self, email: &str) -> String {
        self.link_token(email, "/activate")
    }

    /// The token of the link to `path` in the newest mail to `email` that holds one.
    pub fn link_token(&self, email: &str, path: &str) -> String {
        let start = format!("{}{path}?token=", self.base);
        self.mails()
            .into_iter()
            .rev()
            .filter(|m| m["to"] == email)
            .find_map(|m| {
                let text = m["text"].as_str().unwrap().to_string();
                text.lines()
                    .find(|l| l.starts_with(&start))
                    .map(|l| l[start.len()..].to_string())
            })
            .unwrap_or_else(|| panic!("no mail to {email} with a link to {path}"))
    }

    pub async fn sign_up(&self, username: &str) -> Value {
        self.post(
            "/user",
            None,
            json!({
                "username": username,
                "email": email(username),
                "password": PASSWORD,
            }),
        )
        .await
        .expect(201, None)
    }

    pub async fn activate(&self, username: &str) {
        let token = self.activation_token(&email(username));
        self.get(&format!("/activate?token={token}"), None)
            .await
            .expect(200, None);
    }

    pub async fn log_in(&self, username: &str) -> String {
        self.log_in_pair(username).await.0
    }

    /// The access token and the refresh token of a login.
    pub async fn log_in_pair(&self, username: &str) -> (String, String) {
        let body = self
            .post(
                "/auth",
                None,
                json!({"username": username, "password": PASSWORD}),
            )
            .await
            .expect(200, None);
        let text = |k: &str| body[k].as_str().unwrap().to_string();
        (text("token"), text("refresh_token"))
    }

    /// The token of a login with `password`, or `None` when it is refused (`401`).
    pub async fn log_in_with_password(&self, username: &str, password: &str) -> Option<String> {
        let r = self
            .post(
                "/auth",
                None,
                json!({"username": username, "password": password}),
            )
            .await;
        if r.status.as_u16() == 401 {
            return None;
        }
        Some(r.expect(200, None)["token"].as_str().unwrap().to_string())
    }

    /// Signs up, activates and logs in `username`; returns the token.
    pub async fn user(&self, username: &str) -> String {
        self.sign_up(username).await;
        self.activate(username).await;
        self.log_in(username).await
    }

    /// An activated admin (made so as the operator's command does), logged in.
    pub async fn admin(&self, username: &str) -> String {
        self.sign_up(username).await;
        self.activate(username).await;
        let now = self.clock.now();
        self.state
            .store
            .set_role(username, Role::Admin, now)
            .await
            .unwrap()
            .unwrap();
        self.log_in(username).await
    }

    /// A token of `username` (an admin) that asked for the `widgets` scope only: not an
    /// admin's token.
    pub async fn narrow_token(&self, username: &str) -> String {
        self.post(
            "/auth",
            None,
            json!({"username": username, "password": PASSWORD, "scope": ["widgets"]}),
        )
        .await
        .expect(200, None)["token"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// `TEST_STORE=dynamodb` runs the route tests on DynamoDB (the moto server of scripts/test).
pub fn dynamodb_mode() -> bool {
    std::env::var("TEST_STORE").is_ok_and(|v| v == "dynamodb")
}

pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run the tests with scripts/test, which starts moto")
}

/// Whether a test that needs `what` may run. Plain `cargo test` has no moto server and builds no
/// function binary: such a test is skipped, with one line (once per kind, straight to the
/// terminal, past the harness's capture) saying how to run it. scripts/test sets
/// `TEST_REQUIRE_ALL=1`, and there a missing part fails the test instead.
pub fn can_run(what: Needs) -> bool {
    use std::io::Write;
    use std::sync::Once;
    static MOTO: Once = Once::new();
    static BINARIES: Once = Once::new();
    let (ready, once, why) = match what {
        Needs::Moto => (
            std::env::var_os("MOTO_ENDPOINT").is_some(),
            &MOTO,
            "tests on DynamoDB and SES skipped: MOTO_ENDPOINT is not set (scripts/test starts \
             a moto server and runs them)",
        ),
        Needs::FunctionBinaries => (
            function_binary("home").exists(),
            &BINARIES,
            "tests of the function binaries skipped: they are not built (cargo build -p \
             functions --bins, as scripts/test does, then run them again)",
        ),
    };
    if ready {
        return true;
    }
    assert!(
        std::env::var_os("TEST_REQUIRE_ALL").is_none(),
        "TEST_REQUIRE_ALL is set: {why}"
    );
    once.call_once(|| {
        let _ = writeln!(std::io::stderr(), "note: {why}");
    });
    false
}

/// What a test needs beyond the repository.
pub enum Needs {
    Moto,
    FunctionBinaries,
}

/// A function's binary as cargo builds it, beside this test (`target/<profile>/<name>`).
pub fn function_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap(); // target/<profile>/deps/..
    dir.join(name)
}

/// A table of its own for each test: tests run in parallel on one moto server.
pub fn fresh_table() -> String {
    format!("accounts-test-{}", uuid::Uuid::new_v4())
}

pub fn dynamodb_vars(table: &str) -> Vec<(String, String)> {
    vec![
        ("STORE".into(), "dynamodb".into()),
        ("TABLE_NAME".into(), table.into()),
        ("AWS_ENDPOINT_URL".into(), moto_endpoint()),
        ("AWS_REGION".into(), "us-east-1".into()),
    ]
}

pub async fn create_table(config: &Config, table: &str) {
    let sdk = shared::aws::sdk_config(config).await;
    match shared::store::dynamodb::DynamoStore::new(&sdk, table)
        .create_table()
        .await
    {
        Ok(()) => {}
        // The SDK's retry of a CreateTable whose first attempt timed out on a loaded moto after
        // moto had made it: the table is this test's own (its name is new), so it is there.
        Err(e) if e.to_string().contains("ResourceInUseException") => {}
        Err(e) => panic!("create table {table}: {e}"),
    }
}

pub fn email(username: &str) -> String {
    format!("{}@example.com", username.to_lowercase())
}

/// An SES client on the moto server, to verify senders as an operator would.
pub async fn ses_client() -> aws_sdk_ses::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    aws_sdk_ses::Client::new(&config)
}

/// Verifies `sender` in moto's SES, as an operator would.
pub async fn verify_sender(sender: &str) {
    ses_client()
        .await
        .verify_email_identity()
        .email_address(sender)
        .send()
        .await
        .unwrap();
}

/// A new sender address, verified.
/// The items of moto's `table` whose key starts with `prefix` (one scan page: a test's table).
pub async fn scan_prefix(
    table: &str,
    prefix: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let out = aws_sdk_dynamodb::Client::new(&sdk)
        .scan()
        .table_name(table)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S(prefix.into()),
        )
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default()
}

pub async fn verified_sender(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let sender = format!("{prefix}-{id}@sender.example.com");
    verify_sender(&sender).await;
    sender
}

/// Every message moto's SES kept that went to `to`, as JSON, oldest first.
pub async fn ses_sent_to(to: &str) -> Vec<serde_json::Value> {
    let data: serde_json::Value = reqwest::get(format!("{}/moto-api/data.json", moto_endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    messages
        .into_iter()
        .filter(|m| m.to_string().contains(to))
        .collect()
}

/// The activation link (under `base`) in a message, as moto kept it.
pub fn link_in(message: &serde_json::Value, base: &str) -> String {
    link_to(message, base, "/activate")
}

/// The link to `path` (under `base`) in a message, as moto kept it.
pub fn link_to(message: &serde_json::Value, base: &str, path: &str) -> String {
    let text = message.to_string();
    let start = text
        .find(&format!("{base}{path}?token="))
        .expect("a link in the mail");
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/.?=_-".contains(*c))
        .collect()
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// RFC 4648 base32 (no padding), as the enrolment shows the secret.
pub fn base32(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').chars() {
        value = (value << 5) | ALPHABET.find(c).expect("base32") as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}
