//! Lambda wiring shared by every function's `main.rs`: logging, configuration and state built
//! once at init (Lambda keeps them warm between invocations), then the function's routes under
//! lambda_http.

use axum::Router;
pub use lambda_http::Error;

use crate::clock::Clock;
use crate::config::Config;
use crate::state::AppState;

pub async fn run(routes: fn() -> Router<AppState>) -> Result<(), Error> {
    crate::telemetry::init(true);
    // On Lambda, the cloud backends unless told otherwise (the embedded store would be
    // per-instance and lost).
    let config = Config::from_lookup(|k| {
        std::env::var(k).ok().or_else(|| match k {
            "STORE" => Some("dynamodb".into()),
            "MAIL" => Some("ses".into()),
            "DATA_DIR" => Some("/tmp".into()),
            _ => None,
        })
    })?;
    let state = AppState::from_config(&config, Clock::system()).await?;
    lambda_http::run(crate::http::app(routes(), state)).await
}
