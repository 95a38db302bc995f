//! The Secrets Manager client a [`super::AwsKeystore`] talks through.
//!
//! Built from [`AwsConfig`] with `aws-config`: the section's endpoint and
//! region, its static credentials or else the default AWS credential chain,
//! the SDK's standard retry mode bounded to [`MAX_ATTEMPTS`] attempts with
//! short back-off, and timeouts so that a silent network never blocks a
//! request for long ([`CONNECT_TIMEOUT`], [`ATTEMPT_TIMEOUT`],
//! [`OPERATION_TIMEOUT`]). The HTTPS client is the SDK's non-legacy default
//! one (hyper 1, rustls on aws-lc-rs).
//!
//! The SDK retries only what it classifies as transient (I/O errors,
//! timeouts, throttling, 5xx). Every write carries an explicit
//! `ClientRequestToken`, so a retried write that had in fact succeeded is
//! recognised by the service as the same request (see `super::ops` and
//! `super::update`).

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::config::{Credentials, Region};

use super::config::AwsConfig;

/// Attempts per call, the first included.
pub(super) const MAX_ATTEMPTS: u32 = 3;
/// First retry back-off (doubled, with jitter, up to [`MAX_BACKOFF`]).
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// TCP + TLS connect.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One attempt, connect to last byte.
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// One call, all attempts and back-off included.
pub(super) const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The provider name the SDK records for credentials from the config file.
const STATIC_PROVIDER: &str = "kes-config";

/// Builds the client. Contacts nothing: credentials from the default chain
/// are resolved (and cached) at the first request.
pub(super) async fn build(config: &AwsConfig) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .endpoint_url(config.endpoint.clone())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(INITIAL_BACKOFF)
                .with_max_backoff(MAX_BACKOFF),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(creds) = &config.credentials {
        loader = loader.credentials_provider(Credentials::new(
            creds.access_key.clone(),
            creds.secret_key.expose().to_owned(),
            creds.token.as_ref().map(|t| t.expose().to_owned()),
            None,
            STATIC_PROVIDER,
        ));
    }
    Client::new(&loader.load().await)
}
