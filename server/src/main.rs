//! `accounts`: the local server and the operator's commands.
//!
//! ```text
//! accounts [serve]                 serve every route on 127.0.0.1:$PORT (default 3000)
//! accounts make-admin <username>   make that user an admin (from its next login)
//! accounts create-table            create the DynamoDB table TABLE_NAME (local servers)
//! accounts backfill-user-index     index user items written before GET /users (DynamoDB, once)
//! accounts sample-upstream         a SAMPLE widgets upstream on $SAMPLE_UPSTREAM_HOST (127.0.0.1):$SAMPLE_UPSTREAM_PORT
//! accounts rotate-key              a new current signing key in DATA_DIR, of JWT_ALGORITHM's kind
//!                                  (Ed25519 for EdDSA, RSA for RS256; previous ones kept)
//! accounts retire-keys             keep only the current signing key (24 h after a rotation)
//! accounts public-keys             the public keys of the key set on standard input, as PEM
//! accounts add-client --name N --redirect-uri URI [--redirect-uri URI ...]
//!          [--post-logout-redirect-uri URI ...] [--scope S ...] [--public] [--first-party]
//!                                  register an OAuth client; prints its id and secret (once)
//! accounts import-users FILE [--dry-run] [--in-flight N]
//!                                  users of another system (JSON Lines, with their password
//!                                  hashes) into the store; run again to resume
//! accounts template                rewrite template.yaml's functions, docs/contributing.md's table of
//!                                  functions and openapi.json from the route table (in the
//!                                  repository's root)
//! ```

use std::process::ExitCode;

/// Many small allocations freed on another worker thread than the one that made them: glibc's
/// malloc serialized them on its arena locks (seen in a profile under load); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use shared::AppState;
use shared::clock::Clock;
use shared::config::{Config, StoreKind};
use shared::events::{Actor, Event, EventType};
use shared::store::dynamodb::DynamoStore;
use shared::token::KeyKind;
use shared::user::Role;

const USAGE: &str = "usage: accounts [serve] | accounts make-admin <username> | \
                     accounts create-table | accounts backfill-user-index | \
                     accounts sample-upstream | accounts rotate-key | accounts retire-keys | \
                     accounts public-keys < keys.pem | accounts template | \
                     accounts import-users FILE [--dry-run] [--in-flight N] | \
                     accounts add-client --name NAME --redirect-uri URI [...]";

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init(std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => match state().await {
            Ok((state, config, port)) => serve(state, &config, port).await,
            Err(code) => code,
        },
        ["make-admin", username] => match state().await {
            Ok((state, _, _)) => make_admin(state, username).await,
            Err(code) => code,
        },
        ["add-client", rest @ ..] => match add_client_body(rest) {
            Ok(body) => match state().await {
                Ok((state, _, _)) => add_client(state, body).await,
                Err(code) => code,
            },
            Err(e) => {
                eprintln!("add-client: {e}\n{ADD_CLIENT_USAGE}");
                ExitCode::from(2)
            }
        },
        ["import-users", rest @ ..] => match accounts::import::Options::parse(rest) {
            Ok(options) => match state().await {
                Ok((state, _, _)) => accounts::import::run(&state, &options).await,
                Err(code) => code,
            },
            Err(e) => {
                eprintln!("import-users: {e}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        ["create-table"] => create_table().await,
        ["backfill-user-index"] => backfill_user_index().await,
        ["sample-upstream"] => sample_upstream().await,
        ["rotate-key"] => key_command("rotate-key", accounts::rotate_local_key),
        ["retire-keys"] => key_command("retire-keys", accounts::retire_local_keys),
        ["public-keys"] => public_keys(),
        ["template"] => template(),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// `accounts template`: writes template.yaml's resources of each function, openapi.json and docs/contributing.md's
/// table of functions, from the route table (between their marker lines), in the current
/// directory (the repository's root).
fn template() -> ExitCode {
    type Rewrite = fn(&str, &[&shared::lambda::Function]) -> Result<String, String>;
    let files: [(&str, Rewrite); 3] = [
        ("template.yaml", accounts::template::rewrite),
        ("docs/contributing.md", accounts::template::rewrite_readme),
        ("openapi.json", |_, functions| {
            Ok(accounts::openapi::text(functions))
        }),
    ];
    for (file, rewrite) in files {
        let written = std::fs::read_to_string(file)
            .map_err(|e| format!("template: {file}: {e} (run it in the repository's root)"))
            .and_then(|old| Ok((rewrite(&old, accounts::FUNCTIONS)?, old)))
            .and_then(|(new, old)| {
                if new == old {
                    return Ok("unchanged");
                }
                std::fs::write(file, new)
                    .map(|()| "written")
                    .map_err(|e| format!("template: {file}: {e}"))
            });
        match written {
            Ok(how) => println!("{file}: {how} ({} functions)", accounts::FUNCTIONS.len()),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// `accounts public-keys < keys.pem`: the public keys of a key set (private PEM blocks on
/// standard input), the current first: the value of `JWT_VERIFYING_KEYS`, which the functions
/// that only verify tokens are given instead of the private keys.
fn public_keys() -> ExitCode {
    use std::io::Read;
    let mut pem = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut pem) {
        eprintln!("public-keys: {e}");
        return ExitCode::FAILURE;
    }
    match shared::token::KeySet::from_pem(&pem).and_then(|set| set.public_pem()) {
        Ok(public) => {
            print!("{public}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("public-keys: {e}");
            ExitCode::from(2)
        }
    }
}

fn config() -> Result<(Config, u16), ExitCode> {
    accounts::local_config(|k| std::env::var(k).ok()).map_err(|e| {
        eprintln!("configuration: {e}");
        ExitCode::from(2)
    })
}

async fn state() -> Result<(AppState, Config, u16), ExitCode> {
    let (config, port) = config()?;
    let state = AppState::from_config(&config, Clock::system())
        .await
        .map_err(|e| {
            eprintln!("start-up: {e}");
            ExitCode::FAILURE
        })?;
    Ok((state, config, port))
}

/// The DynamoDB store `STORE=dynamodb TABLE_NAME=...` names, for an operator's `command`.
async fn dynamo_store(command: &str) -> Result<(DynamoStore, String), ExitCode> {
    let (config, _) = config()?;
    let StoreKind::Dynamodb { table } = &config.store else {
        eprintln!("{command} needs STORE=dynamodb and TABLE_NAME");
        return Err(ExitCode::from(2));
    };
    let sdk = shared::aws::sdk_config(&config).await;
    Ok((DynamoStore::new(&sdk, table.clone()), table.clone()))
}

/// Prints what an operator's command did, or why it failed.
fn report(command: &str, result: Result<String, shared::store::StoreError>) -> ExitCode {
    match result {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{command}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn create_table() -> ExitCode {
    match dynamo_store("create-table").await {
        Ok((store, table)) => report(
            "create-table",
            store
                .create_table()
                .await
                .map(|()| format!("table {table} created")),
        ),
        Err(code) => code,
    }
}

async fn backfill_user_index() -> ExitCode {
    match dynamo_store("backfill-user-index").await {
        Ok((store, _)) => report(
            "backfill-user-index",
            store
                .backfill_user_index()
                .await
                .map(|n| format!("{n} user items indexed for GET /users")),
        ),
        Err(code) => code,
    }
}

async fn listen(port: u16) -> Option<tokio::net::TcpListener> {
    listen_on(std::net::Ipv4Addr::LOCALHOST.into(), port).await
}

async fn listen_on(host: std::net::IpAddr, port: u16) -> Option<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind((host, port)).await {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("cannot listen on {host}:{port}: {e}");
            None
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

async fn run(listener: tokio::net::TcpListener, app: axum::Router) -> ExitCode {
    // With each connection's peer address: account events record where a request came from.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(state: AppState, config: &Config, port: u16) -> ExitCode {
    let Some(listener) = listen(port).await else {
        return ExitCode::FAILURE;
    };
    if state.widgets.is_none() {
        tracing::info!("WIDGETS_API_URL is not set: GET /widgets answers 503");
    }
    if !config.allowed_origins.is_empty() {
        tracing::info!(origins = ?config.allowed_origins, "CORS: browsers on these origins may call the JSON API");
    }
    tracing::info!("accounts listening on http://127.0.0.1:{port}");
    run(listener, accounts::app(state, &config.allowed_origins)).await
}

async fn sample_upstream() -> ExitCode {
    let port = match std::env::var("SAMPLE_UPSTREAM_PORT") {
        Err(_) => 3001,
        Ok(p) => match p.parse::<u16>() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("configuration: SAMPLE_UPSTREAM_PORT must be a port number");
                return ExitCode::from(2);
            }
        },
    };
    // Another address of this machine (scripts/sam-local: the Docker bridge's, which the
    // functions' containers reach); never a wildcard, which would open it beyond the machine.
    let host = match std::env::var("SAMPLE_UPSTREAM_HOST") {
        Err(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        Ok(h) => match h.parse::<std::net::IpAddr>() {
            Ok(h) if !h.is_unspecified() => h,
            _ => {
                eprintln!(
                    "configuration: SAMPLE_UPSTREAM_HOST must be one IP address of this machine"
                );
                return ExitCode::from(2);
            }
        },
    };
    let key = std::env::var("WIDGETS_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| accounts::sample_upstream::DEFAULT_SAMPLE_KEY.into());
    let Some(listener) = listen_on(host, port).await else {
        return ExitCode::FAILURE;
    };
    let address = listener
        .local_addr()
        .map_or(format!("{host}:{port}"), |a| a.to_string());
    tracing::info!("SAMPLE widgets upstream (not for production) on http://{address}");
    run(listener, accounts::sample_upstream::app(key)).await
}

/// Changes the local key set in `DATA_DIR` (keys from `JWT_SIGNING_KEYS` are changed where
/// they are kept: docs/deploying.md's cloud procedure).
fn key_command(
    name: &str,
    change: fn(&std::path::Path, KeyKind) -> Result<accounts::KeyIds, String>,
) -> ExitCode {
    // Read only: the local server's start (which makes missing keys) is not run here.
    let config = match Config::from_lookup(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var("JWT_SIGNING_KEYS").is_ok_and(|k| !k.trim().is_empty()) {
        eprintln!("{name}: the keys come from JWT_SIGNING_KEYS; change them where they are kept");
        return ExitCode::from(2);
    }
    let Some(kind) = config.jwt_algorithm.key_kind() else {
        eprintln!("{name}: JWT_ALGORITHM is HS512: there is no key set to change");
        return ExitCode::from(2);
    };
    match change(&config.data_dir, kind) {
        Ok(kids) => {
            println!("signing keys (the first signs; restart the server to use them):");
            for kid in kids {
                println!("  {kid}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

const ADD_CLIENT_USAGE: &str = "usage: accounts add-client --name NAME --redirect-uri URI \
                                [--redirect-uri URI ...] [--post-logout-redirect-uri URI ...] \
                                [--scope SCOPE ...] [--public] [--first-party]";

/// The registration `accounts add-client` was given, as the body `POST /oauth/clients` takes
/// (so both are held to the same rules).
fn add_client_body(args: &[&str]) -> Result<serde_json::Value, String> {
    let mut body = serde_json::Map::new();
    let (mut redirect, mut post_logout, mut scopes) = (Vec::new(), Vec::new(), None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .map(|v| v.to_string())
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match *arg {
            "--name" => {
                body.insert("name".into(), value()?.into());
            }
            "--redirect-uri" => redirect.push(value()?),
            "--post-logout-redirect-uri" => post_logout.push(value()?),
            "--scope" => scopes.get_or_insert_with(Vec::new).push(value()?),
            "--public" => {
                body.insert("public".into(), true.into());
            }
            "--first-party" => {
                body.insert("first_party".into(), true.into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    body.insert("redirect_uris".into(), redirect.into());
    body.insert("post_logout_redirect_uris".into(), post_logout.into());
    if let Some(scopes) = scopes {
        body.insert("scopes".into(), scopes.into());
    }
    Ok(serde_json::Value::Object(body))
}

/// `accounts add-client`: registers an OAuth client on the configured store, as an admin's
/// `POST /oauth/clients` does (the operator as its actor), and prints its id and, for a
/// confidential client, its secret: shown this once.
async fn add_client(state: AppState, body: serde_json::Value) -> ExitCode {
    use shared::accounts::clients::{ClientBody, register_client};
    use shared::input::Validate;
    let registered = match serde_json::from_value::<ClientBody>(body) {
        Ok(body) => body.validate().map_err(|e| match e {
            shared::ApiError::Validation(fields) => fields
                .iter()
                .map(|(field, why)| format!("{field} {why}"))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.message(),
        }),
        Err(e) => Err(e.to_string()),
    };
    let new = match registered {
        Ok(new) => new,
        Err(e) => {
            eprintln!("add-client: {e}\n{ADD_CLIENT_USAGE}");
            return ExitCode::from(2);
        }
    };
    match register_client(&state, new, Actor::operator(), None).await {
        Ok(client) => {
            println!("client_id: {}", client.client_id);
            match &client.client_secret {
                Some(secret) => println!(
                    "client_secret: {secret}\n(shown this once: the service keeps only its hash)"
                ),
                None => println!("a public client: no secret; it must use PKCE"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("add-client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn make_admin(state: AppState, username: &str) -> ExitCode {
    match state
        .store
        .set_role(username, Role::Admin, state.clock.now())
        .await
    {
        Ok(Some(user)) => {
            let event = Event::new(EventType::RoleChanged, &user)
                .by(Actor::operator())
                .detail("role", "admin");
            shared::events::record(&state, event).await;
            println!(
                "{} is now an admin; the role applies from their next login.",
                user.username
            );
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("no user named {username}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("store: {e}");
            ExitCode::FAILURE
        }
    }
}
