//! The HTTP client under vaultrs: one `reqwest` client (rustls on aws-lc-rs,
//! connection pool shared by every request) and the vaultrs clients built on
//! it, one per (token, namespace) pair.
//!
//! vaultrs' own constructor is not used: it reads `VAULT_*` environment
//! variables. Everything here comes from the config section alone.

use std::path::Path;
use std::time::Duration;

use vaultrs::api::EndpointMiddleware;
use vaultrs::client::{VaultClient, VaultClientSettings};
use zeroize::Zeroizing;

use super::config::VaultConfig;
use crate::Error;

/// Time to establish a TCP + TLS connection to Vault.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for one whole request (KES answers within its 15 s route timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The shared HTTP client and the Vault address.
#[derive(Clone)]
pub(super) struct Http {
    client: reqwest::Client,
    address: reqwest::Url,
}

impl Http {
    /// Builds the client: the section's CA file or directory as the only
    /// roots (the system roots if none), its client certificate for mTLS.
    pub(super) async fn new(config: &VaultConfig) -> Result<Self, Error> {
        let address = reqwest::Url::parse(&config.endpoint).map_err(|e| {
            Error::backend(format!(
                "vault: invalid endpoint '{}': {e}",
                config.endpoint
            ))
        })?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT);
        if address.scheme() == "http" {
            // No TLS at all: skip loading the platform's roots.
            builder = builder.tls_certs_only(Vec::new());
        } else if let Some(ca) = &config.tls.ca {
            builder = builder.tls_certs_only(crate::cas::read_cas(ca, "vault").await?);
        }
        if let (Some(key), Some(cert)) = (&config.tls.key, &config.tls.cert) {
            let mut pem = Zeroizing::new(read(key, "tls.key").await?);
            pem.extend_from_slice(b"\n");
            pem.extend_from_slice(&read(cert, "tls.cert").await?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                Error::backend(format!(
                    "vault: invalid client certificate or key ({}, {}): {e}",
                    cert.display(),
                    key.display()
                ))
            })?;
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|e| Error::backend(format!("vault: cannot build the HTTP client: {e}")))?;
        Ok(Http { client, address })
    }

    /// A vaultrs client sending `token` (if not empty) and the namespace
    /// header `namespace` (if any) on every request.
    pub(super) fn vault(&self, token: &str, namespace: Option<&str>) -> VaultClient {
        let namespace = namespace.map(str::to_owned);
        VaultClient {
            http: rustify::clients::reqwest::Client::new(
                self.address.as_str(),
                self.client.clone(),
            ),
            middle: EndpointMiddleware {
                token: token.to_owned(),
                version: "v1".to_owned(),
                wrap: None,
                namespace: namespace.clone(),
            },
            settings: VaultClientSettings {
                address: self.address.clone(),
                ca_certs: Vec::new(),
                identity: None,
                timeout: Some(REQUEST_TIMEOUT),
                token: token.to_owned(),
                verify: true,
                version: 1,
                wrapping: false,
                namespace,
                proxy: None,
            },
        }
    }
}

/// Reads a whole file, naming the setting on failure.
async fn read(path: &Path, setting: &str) -> Result<Vec<u8>, Error> {
    tokio::fs::read(path).await.map_err(|e| {
        Error::backend(format!(
            "vault: cannot read {setting} '{}': {e}",
            path.display()
        ))
    })
}
