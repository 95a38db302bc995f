//! Building the Secret Manager client from a [`GcpConfig`]: endpoint,
//! credentials, bounded retries.
//!
//! - **Endpoint.** The REST endpoint from the section (`https://` + KES's
//!   `host:port`). The library sends `Host: secretmanager.googleapis.com`
//!   to Google's private endpoints (`private.googleapis.com`, Private
//!   Service Connect) and the endpoint's own host to anything else.
//! - **TLS.** The library's own reqwest client on rustls with the platform
//!   verifier: the system roots, or the PEM bundle named by `SSL_CERT_FILE`
//!   / `SSL_CERT_DIR`. The library offers no way to pass a CA or an HTTP
//!   client, so a private CA is trusted through those variables.
//! - **Credentials.** A service-account key from `credentials:` is turned
//!   into Google's JSON key format and handed to `google-cloud-auth`, which
//!   signs a self-signed JWT (RS256, `kid` = `private_key_id`,
//!   `iss`/`sub` = `client_email`, `scope` = the section's scopes, one hour)
//!   and sends it as the bearer token; no token endpoint is called. Without
//!   `credentials:` the Google default credentials of the environment are
//!   used, with the section's scopes.
//! - **Retries.** Idempotent calls (reads, list, delete) are retried on
//!   `UNAVAILABLE` and connection errors, at most 3 attempts within 10 s
//!   (which also bounds every single attempt); creates and writes are sent
//!   once.

use std::time::Duration;

use google_cloud_auth::credentials::Credentials;
use google_cloud_auth::credentials::service_account::{AccessSpecifier, Builder as SaBuilder};
use google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicyExt as _};
use google_cloud_secretmanager_v1::client::SecretManagerService;

use super::config::GcpConfig;
use crate::Error;

/// Attempts per call, and the time all of them (and each) may take.
const ATTEMPTS: u32 = 3;
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// The credentials the section describes.
fn credentials(config: &GcpConfig) -> Result<Credentials, Error> {
    let built = match &config.credentials {
        Some(sa) => {
            // Google's JSON key file format, which is what the library reads.
            let key = serde_json::json!({
                "type": "service_account",
                "project_id": config.project_id,
                "client_email": sa.client_email,
                "client_id": sa.client_id,
                "private_key_id": sa.private_key_id,
                "private_key": sa.private_key.expose(),
            });
            SaBuilder::new(key)
                .with_access_specifier(AccessSpecifier::from_scopes(config.scopes.clone()))
                .build()
        }
        None => google_cloud_auth::credentials::Builder::default()
            .with_scopes(config.scopes.clone())
            .build(),
    };
    built.map_err(|e| Error::backend(format!("gcp: invalid credentials: {e}")))
}

/// Builds the client. No request is sent.
///
/// # Errors
/// [`Error::Backend`] if the credentials cannot be loaded (a malformed
/// key, no default credentials in the environment) or the HTTP client
/// cannot be built (no root certificates).
pub(super) async fn build(config: &GcpConfig) -> Result<SecretManagerService, Error> {
    let backoff = ExponentialBackoffBuilder::new()
        .with_initial_delay(Duration::from_millis(100))
        .with_maximum_delay(Duration::from_secs(2))
        .build()
        .map_err(|e| Error::backend(format!("gcp: backoff policy: {e}")))?;
    SecretManagerService::builder()
        .with_endpoint(config.endpoint.clone())
        .with_credentials(credentials(config)?)
        .with_retry_policy(
            Aip194Strict
                .with_attempt_limit(ATTEMPTS)
                .with_time_limit(TIME_LIMIT),
        )
        .with_backoff_policy(backoff)
        .build()
        .await
        .map_err(|e| {
            Error::backend(format!(
                "gcp: cannot create the Secret Manager client for '{}': {e}",
                config.endpoint
            ))
        })
}
