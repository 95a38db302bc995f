//! Building the Key Vault client: our reqwest client (rustls on aws-lc-rs,
//! the section's CA or the system roots) as the SDK's transport, the
//! credential on the same transport, and the [`SecretClient`].
//!
//! Nothing is read from the environment: the authority host is always set
//! explicitly (the SDK would otherwise honour `AZURE_AUTHORITY_HOST`).

use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};

use super::config::{AzureConfig, Credential};
use crate::Error;

/// Time to establish a TCP + TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for one whole request (KES answers within its 15 s route timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Retries of a request that got no answer or a 408/429/5xx (the SDK's
/// default, 8 retries within 60 s, outlasts KES's 15 s route timeout; KES
/// itself configures its Azure client with short delays too).
fn retry() -> RetryOptions {
    use azure_core::time::Duration;
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: Duration::milliseconds(200),
        max_delay: Duration::milliseconds(800),
        max_retries: 3,
        max_total_elapsed: Duration::seconds(5),
    })
}

/// The clients of one keystore.
pub(super) struct Clients {
    /// The Key Vault secrets client.
    pub(super) secrets: SecretClient,
    /// The plain HTTP client (status checks).
    pub(super) http: reqwest::Client,
}

/// Builds the clients for `config` (reads the CA file now).
pub(super) async fn build(config: &AzureConfig) -> Result<Clients, Error> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    if let Some(ca) = &config.ca {
        builder = builder.tls_certs_only(crate::cas::read_cas(ca, "azure").await?);
    }
    let http = builder
        .build()
        .map_err(|e| Error::backend(format!("azure: cannot build the HTTP client: {e}")))?;
    let transport = Transport::new(Arc::new(http.clone()));
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host.clone_from(&config.authority_host);
    let client_options = ClientOptions {
        transport: Some(transport),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        retry: retry(),
        ..ClientOptions::default()
    };
    let credential: Arc<dyn TokenCredential> = match &config.credential {
        Credential::ClientSecret {
            tenant_id,
            client_id,
            secret,
        } => ClientSecretCredential::new(
            tenant_id,
            client_id.clone(),
            Secret::new(secret.expose().to_owned()),
            Some(ClientSecretCredentialOptions {
                client_options: client_options.clone(),
            }),
        )
        .map_err(|e| Error::backend(format!("azure: invalid credentials: {e}")))?,
        Credential::ManagedIdentity { client_id } => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: Some(UserAssignedId::ClientId(client_id.clone())),
                client_options: client_options.clone(),
            }))
            .map_err(|e| Error::backend(format!("azure: invalid managed identity: {e}")))?
        }
    };
    let secrets = SecretClient::new(
        &config.endpoint,
        credential,
        Some(SecretClientOptions {
            client_options,
            verify_challenge_resource: Some(config.verify_challenge_resource),
            ..SecretClientOptions::default()
        }),
    )
    .map_err(|e| {
        Error::backend(format!(
            "azure: invalid endpoint '{}': {e}",
            config.endpoint
        ))
    })?;
    Ok(Clients { secrets, http })
}
