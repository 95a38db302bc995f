//! [`GcpKeystore`]: keys in GCP Secret Manager (KES
//! `keystore.gcp.secretmanager`), in KES's layout, so a key written by KES
//! is read here and the other way round.
//!
//! # Layout
//! - this module: the type, [`GcpKeystore::connect`], the [`Keystore`] impl;
//! - `config`: the `keystore.gcp.secretmanager` section and [`GcpConfig`];
//! - `client`: the official client (endpoint, TLS, credentials, retries);
//! - `secrets`: the operations on secrets and versions;
//! - `error`: Secret Manager answers → [`Error`] kinds.
//!
//! # Layout in Secret Manager (KES's)
//! One secret `projects/<project>/secrets/<name>` per key, automatic
//! replication, the encoded key as the payload of version `1`. A key
//! updated here (disable, enable, rotate of this server's key lifecycle)
//! keeps its value in a newer version named by the secret annotation
//! `kes-version`; see `secrets` for the protocol, its guard and what can
//! race.

mod client;
mod config;
mod error;
mod secrets;

use std::fmt;
use std::time::Instant;

use async_trait::async_trait;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use zeroize::Zeroizing;

use crate::{Error, Keystore, Page, Revision, Status, Versioned, validate_name};

pub use config::GcpConfig;
pub(crate) use config::Section;

/// A keystore on GCP Secret Manager.
pub struct GcpKeystore {
    sm: secrets::Secrets,
    endpoint: String,
}

impl fmt::Debug for GcpKeystore {
    /// The endpoint and project; never credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcpKeystore")
            .field("endpoint", &self.endpoint)
            .field("project", &self.sm.project)
            .finish_non_exhaustive()
    }
}

impl GcpKeystore {
    /// Builds the client. Sends no request: Secret Manager being down at
    /// start-up is reported by the first operation (and `status`), so the
    /// server can start and serve from its cache.
    ///
    /// # Errors
    /// [`Error::Backend`] if the credentials cannot be loaded or the HTTP
    /// client cannot be built. Must run inside a Tokio runtime.
    pub async fn connect(config: &GcpConfig) -> Result<Self, Error> {
        let client: SecretManagerService = client::build(config).await?;
        Ok(GcpKeystore {
            sm: secrets::Secrets {
                client,
                project: format!("projects/{}", config.project_id),
            },
            endpoint: config.endpoint.clone(),
        })
    }
}

#[async_trait]
impl Keystore for GcpKeystore {
    /// Lists one secret of the project: any answer but an error is healthy.
    async fn status(&self) -> Result<Status, Error> {
        let start = Instant::now();
        self.sm.ping().await?;
        Ok(Status {
            latency: start.elapsed(),
        })
    }

    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        validate_name(name)?;
        self.sm.create(name, value).await
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        validate_name(name)?;
        Ok(self.sm.read(name).await?.value)
    }

    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        validate_name(name)?;
        self.sm.read(name).await
    }

    async fn update(&self, name: &str, old: &Revision, new: &[u8]) -> Result<Revision, Error> {
        validate_name(name)?;
        self.sm.update(name, old, new).await
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        validate_name(name)?;
        self.sm.delete(name).await
    }

    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        let names = self.sm.names().await?;
        Ok(crate::list_page(names, prefix, continue_at, limit))
    }
}
