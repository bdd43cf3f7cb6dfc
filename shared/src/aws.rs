//! The AWS SDK configuration, loaded once per process (Lambda init): timeouts and retries set
//! so a dead dependency fails fast (at most about 5 s per store call), the standard AWS
//! variables honoured, `AWS_ENDPOINT_URL` for local DynamoDB-compatible servers.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::config::Config;

/// The longest one SDK call may take, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn sdk_config(config: &Config) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_millis(2200))
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    load(
        config.aws_endpoint_url.as_deref(),
        config.aws_region.as_deref(),
        timeouts,
        2,
    )
    .await
}

/// The SDK's configuration with these time-outs and at most `attempts` tries a call; the
/// endpoint and region given, where given, else the standard variables' (the publisher and the
/// Lambda hooks load theirs with this too).
pub async fn load(
    endpoint: Option<&str>,
    region: Option<&str>,
    timeouts: TimeoutConfig,
    attempts: u32,
) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(attempts));
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    loader.load().await
}
