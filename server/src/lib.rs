//! The local server: every route of every function in one process, on the embedded store, with
//! mail logged. The same routers run on Lambda, one per function.

pub mod sample_upstream;

use std::io::Write;
use std::path::Path;

use axum::Router;
use shared::AppState;
use shared::config::{Config, ConfigError, parse_base_url};

/// Every function's routes, merged. (Each function's own router is what runs on Lambda.)
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(home::routes())
        .merge(signup::routes())
        .merge(activate::routes())
        .merge(resend_activation::routes())
        .merge(login::routes())
        .merge(logout::routes())
        .merge(me::routes())
        .merge(get_user::routes())
        .merge(update_user::routes())
        .merge(delete_user::routes())
        .merge(widgets::routes())
        .merge(password_forgot::routes())
        .merge(password_reset::routes())
        .merge(change_password::routes())
        .merge(change_email::routes())
        .merge(confirm_email::routes())
        .merge(sessions::routes())
}

/// Every function (its name, as in `functions/<name>` and template.yaml) with its routes.
pub const FUNCTIONS: &[(&str, &[(&str, &str)])] = &[
    ("home", home::ROUTES),
    ("signup", signup::ROUTES),
    ("activate", activate::ROUTES),
    ("resend-activation", resend_activation::ROUTES),
    ("login", login::ROUTES),
    ("logout", logout::ROUTES),
    ("me", me::ROUTES),
    ("get-user", get_user::ROUTES),
    ("update-user", update_user::ROUTES),
    ("delete-user", delete_user::ROUTES),
    ("widgets", widgets::ROUTES),
    ("password-forgot", password_forgot::ROUTES),
    ("password-reset", password_reset::ROUTES),
    ("change-password", change_password::ROUTES),
    ("change-email", change_email::ROUTES),
    ("confirm-email", confirm_email::ROUTES),
    ("sessions", sessions::ROUTES),
];

/// The OpenAPI 3.1 description of every route (openapi.json at the repository's root).
pub const OPENAPI: &str = include_str!("../../openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// The whole service, ready to serve, with its OpenAPI description at `GET /openapi.json`
/// (locally only: no function serves it on Lambda).
pub fn app(state: AppState) -> Router {
    shared::http::app(
        routes().route("/openapi.json", axum::routing::get(openapi)),
        state,
    )
}

/// The file that keeps the generated JWT secret in the data directory.
pub const SECRET_FILE: &str = "jwt-secret";

/// Local configuration: the shared variables, plus `PORT` (default 3000), a default
/// `PUBLIC_BASE_URL` of `http://127.0.0.1:$PORT`, and, without `JWT_SECRET`, a secret generated
/// on first run and kept (mode 0600) in the data directory.
pub fn local_config(get: impl Fn(&str) -> Option<String>) -> Result<(Config, u16), ConfigError> {
    let port = match get("PORT").filter(|p| !p.is_empty()) {
        None => 3000,
        Some(p) => p.parse::<u16>().map_err(|_| ConfigError::Invalid {
            var: "PORT",
            reason: "must be a port number".into(),
        })?,
    };
    let mut config = Config::from_lookup(&get)?;
    if config.public_base_url.is_empty() {
        config.public_base_url = parse_base_url(&format!("http://127.0.0.1:{port}"))?;
    }
    if config.jwt_secret.is_none() {
        config.jwt_secret =
            Some(
                local_secret(&config.data_dir).map_err(|reason| ConfigError::Invalid {
                    var: "DATA_DIR",
                    reason,
                })?,
            );
    }
    Ok((config, port))
}

/// Reads the secret kept in `dir`, or makes one (512 random bits) and keeps it.
fn local_secret(dir: &Path) -> Result<Vec<u8>, String> {
    let path = dir.join(SECRET_FILE);
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if s.len() >= shared::config::MIN_JWT_SECRET_BYTES {
            return Ok(s.as_bytes().to_vec());
        }
        return Err(format!(
            "{} is too short; delete it to make a new one",
            path.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secret = shared::secret::random_token(64).map_err(|e| e.to_string())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(secret.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(secret.into_bytes())
}
