//! Logging: `tracing`, filtered by `RUST_LOG` (default `info`), JSON lines on Lambda (CloudWatch)
//! and readable lines locally. Nothing logs a request body, a password, a token or a header.

use tracing_subscriber::EnvFilter;

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
