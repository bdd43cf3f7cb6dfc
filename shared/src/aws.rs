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
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(2));
    if let Some(url) = &config.aws_endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &config.aws_region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}
