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
    let config = Config::from_env()?;
    let state = AppState::embedded(&config, Clock::system())?;
    lambda_http::run(crate::http::app(routes(), state)).await
}
