//! Logging: `tracing`, filtered by `RUST_LOG` (default `info`), JSON lines on Lambda (CloudWatch)
//! and readable lines locally. Nothing logs a request body, a password, a token or a header.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The local server's logging: `RUST_LOG` in full `EnvFilter` syntax.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // `try_init`: a second call (tests) leaves the first subscriber in place.
    let _ = if json {
        builder.json().without_time().try_init()
    } else {
        builder.try_init()
    };
}

/// A Lambda function's logging: JSON lines without a time (CloudWatch stamps each line),
/// `RUST_LOG` read as a list of `target=level` directives (`EnvFilter`'s span and field filters
/// would link a regex engine into every bootstrap; a malformed value means `info`).
pub fn init_lambda() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_target(false)
        .json()
        .without_time()
        .finish()
        .with(filter)
        .try_init();
}

/// A duration as fractional milliseconds, the unit of the timing fields in debug events.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
