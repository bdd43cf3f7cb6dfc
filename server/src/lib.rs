//! The local server: every route of every function in one process, on the embedded store, with
//! mail logged. The same routers run on Lambda, one per function.

pub mod import;
pub mod openapi;
pub mod sample_upstream;
pub mod template;

use std::io::Write;
use std::path::Path;

use axum::Router;
use shared::AppState;
use shared::config::{Config, ConfigError, JwtAlgorithm, parse_base_url};
use shared::token::{KeyKind, KeySet};

pub use functions::{FUNCTIONS, routes};

/// The OpenAPI 3.1 description of every route (openapi.json at the repository's root).
pub const OPENAPI: &str = include_str!("../../openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// The whole service, ready to serve, with its OpenAPI description at `GET /openapi.json`
/// (locally only: no function serves it on Lambda), and CORS for `allowed_origins`
/// (`ALLOWED_ORIGINS`; none: no CORS header at all, and `OPTIONS` is a `405` as before).
pub fn app(state: AppState, allowed_origins: &[String]) -> Router {
    let app = shared::http::app(
        routes().route("/openapi.json", axum::routing::get(openapi)),
        state,
    );
    if allowed_origins.is_empty() {
        return app;
    }
    app.layer(cors::layer(allowed_origins))
        .layer(axum::middleware::map_response(cors::not_on_pages))
}

/// Cross-origin calls from browsers (CORS), as the HTTP API's `CorsConfiguration` in
/// template.yaml answers them in the cloud: the same methods, headers and cache time (the drift
/// test holds the two together).
pub mod cors {
    use std::time::Duration;

    use axum::http::header::{self, HeaderName, HeaderValue};
    use axum::http::{Method, Response};
    use tower_http::cors::{AllowOrigin, CorsLayer};

    /// The request headers a script may send: the token, and the JSON body's type.
    pub const ALLOWED_HEADERS: [HeaderName; 2] = [header::AUTHORIZATION, header::CONTENT_TYPE];
    /// The response headers a script may read beyond the safelisted ones: how long to wait
    /// after a `429` or `503`, and why a token was refused.
    pub const EXPOSED_HEADERS: [HeaderName; 2] = [header::RETRY_AFTER, header::WWW_AUTHENTICATE];
    /// How long a browser may keep a preflight's answer.
    pub const MAX_AGE: Duration = Duration::from_secs(600);

    /// The methods the API's routes use (the route table's), in a fixed order.
    pub fn allowed_methods() -> Vec<Method> {
        let used: Vec<&str> = super::FUNCTIONS
            .iter()
            .flat_map(|f| f.routes)
            .map(|r| r.method)
            .collect();
        [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ]
        .into_iter()
        .filter(|m| used.contains(&m.as_str()))
        .collect()
    }

    /// The layer: the origins exactly as listed (already normalized by the configuration), no
    /// credentials (tokens travel in `Authorization`, never in cookies). A preflight (`OPTIONS`)
    /// is answered here, before any route, so a refused one changes nothing.
    pub fn layer(origins: &[String]) -> CorsLayer {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .map(|o| HeaderValue::from_str(o).expect("origins are checked at start-up"))
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(allowed_methods())
            .allow_headers(ALLOWED_HEADERS)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(MAX_AGE)
    }

    /// HTML pages are for a person's browser window, not for another site's scripts: they lose
    /// the CORS layer's grant (and keep their own CSP and framing headers).
    pub async fn not_on_pages<B>(mut response: Response<B>) -> Response<B> {
        const HTML: &[u8] = b"text/html";
        let is_page = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.as_bytes().get(..HTML.len()))
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(HTML));
        if is_page {
            let headers = response.headers_mut();
            headers.remove(header::ACCESS_CONTROL_ALLOW_ORIGIN);
            headers.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
        }
        response
    }
}

/// The file that keeps the generated JWT secret (HS512) in the data directory.
pub const SECRET_FILE: &str = "jwt-secret";
/// The file that keeps the generated introspection key in the data directory.
pub const INTROSPECTION_KEY_FILE: &str = "introspection-key";
/// The file that keeps the generated key of the second factor's secrets in the data directory.
pub const MFA_KEY_FILE: &str = "mfa-key";
/// The key login names of no account are hashed with, when `LOGIN_NAME_KEY` is not set.
pub const LOGIN_NAME_KEY_FILE: &str = "login-name-key";
/// The file that keeps the generated key set (EdDSA, the default, or RS256) in the data
/// directory.
pub const SIGNING_KEYS_FILE: &str = "jwt-signing-keys.pem";

/// Local configuration: the shared variables, plus `PORT` (default 3000), a default
/// `PUBLIC_BASE_URL` of `http://127.0.0.1:$PORT`, and, when they are not set, the chosen
/// algorithm's keys (a key set for EdDSA, a secret for HS512) and the introspection key,
/// generated on first run and kept (mode 0600) in the data directory.
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
    let in_data_dir = |reason| ConfigError::Invalid {
        var: "DATA_DIR",
        reason,
    };
    match config.jwt_algorithm {
        JwtAlgorithm::Hs512 if config.jwt_secret.is_none() => {
            let secret = local_secret(&config.data_dir, SECRET_FILE).map_err(in_data_dir)?;
            config.jwt_secret = Some(secret.into_bytes());
        }
        algorithm if config.jwt_signing_keys.is_none() => {
            if let Some(kind) = algorithm.key_kind() {
                let keys = local_keys(&config.data_dir, kind).map_err(in_data_dir)?;
                config.jwt_signing_keys = Some(keys);
            }
        }
        _ => {}
    }
    if config.introspection_key.is_none() {
        config.introspection_key =
            Some(local_secret(&config.data_dir, INTROSPECTION_KEY_FILE).map_err(in_data_dir)?);
    }
    if config.mfa_key.is_none() {
        config.mfa_key = Some(local_secret(&config.data_dir, MFA_KEY_FILE).map_err(in_data_dir)?);
    }
    if config.login_name_key.is_none() {
        let key = local_secret(&config.data_dir, LOGIN_NAME_KEY_FILE).map_err(in_data_dir)?;
        config.login_name_key = Some(key);
    }
    Ok((config, port))
}

/// Writes `text` to a new file at `path` that only its owner can read.
fn write_private(path: &Path, text: &str, replace: bool) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads the secret kept in `dir`'s `file`, or makes one (512 random bits) and keeps it.
fn local_secret(dir: &Path, file: &str) -> Result<String, String> {
    let path = dir.join(file);
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if s.len() >= shared::config::MIN_JWT_SECRET_BYTES {
            return Ok(s.to_string());
        }
        return Err(format!(
            "{} is too short; delete it to make a new one",
            path.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let secret = shared::secret::random_token(64).map_err(|e| e.to_string())?;
    write_private(&path, &secret, false)?;
    Ok(secret)
}

/// Reads the key set kept in `dir`, or makes one (a single new key of `kind`) and keeps it.
/// When `JWT_ALGORITHM` has changed since (its current key is of another kind), a new key of
/// `kind` goes first and the others stay: the switch is a rotation, and nobody is signed out.
fn local_keys(dir: &Path, kind: KeyKind) -> Result<String, String> {
    let path = dir.join(SIGNING_KEYS_FILE);
    if let Ok(pem) = std::fs::read_to_string(&path) {
        let set = KeySet::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        if set.current_kind() == kind {
            return Ok(pem);
        }
        let switched = format!("{}{pem}", labelled(&KeySet::generate_pem_of(kind)?));
        write_private(&path, &switched, true)?;
        tracing::warn!(
            from = set.current_kind().alg(),
            to = kind.alg(),
            "JWT_ALGORITHM changed: a new current key of its kind signs; the previous keys still verify"
        );
        return Ok(switched);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let pem = labelled(&KeySet::generate_pem_of(kind)?);
    write_private(&path, &pem, false)?;
    Ok(pem)
}

/// The key set kept in `dir` as it is (no key made, no switch), if there is one.
fn kept_keys(dir: &Path) -> Result<Option<String>, String> {
    let path = dir.join(SIGNING_KEYS_FILE);
    let Ok(pem) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    KeySet::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(pem))
}

/// A key's PEM block with a line before it saying when it was made (text outside the blocks
/// is ignored when the set is read).
fn labelled(pem: &str) -> String {
    let made = shared::clock::rfc3339(shared::clock::Clock::system().now());
    format!("made {made}\n{pem}")
}

/// What a key-set command did: the key ids of the set it left, the current one first.
pub type KeyIds = Vec<String>;

/// `accounts rotate-key`: a new current key in `DATA_DIR`'s key set; the previous ones stay, so
/// the tokens they signed keep working. Restart the server to use it.
pub fn rotate_local_key(dir: &Path, kind: KeyKind) -> Result<KeyIds, String> {
    let old = kept_keys(dir)?.map_or_else(|| local_keys(dir, kind), Ok)?;
    let new = format!("{}{old}", labelled(&KeySet::generate_pem_of(kind)?));
    let set = KeySet::from_pem(&new)?;
    write_private(&dir.join(SIGNING_KEYS_FILE), &new, true)?;
    Ok(set.kids().map(String::from).collect())
}

/// `accounts retire-keys`: keeps only the current key (run 24 h after a rotation, when every
/// token a previous key signed has expired). Restart the server to use it.
pub fn retire_local_keys(dir: &Path, kind: KeyKind) -> Result<KeyIds, String> {
    let old = kept_keys(dir)?.map_or_else(|| local_keys(dir, kind), Ok)?;
    let current = *shared::token::pem_blocks(&old)?.first().ok_or("no key")?;
    let kept = format!("{current}\n");
    let set = KeySet::from_pem(&kept)?;
    write_private(&dir.join(SIGNING_KEYS_FILE), &kept, true)?;
    Ok(set.kids().map(String::from).collect())
}
