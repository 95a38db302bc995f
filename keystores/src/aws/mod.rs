//! [`AwsKeystore`]: keys in AWS Secrets Manager (KES
//! `keystore.aws.secretsmanager`), one secret per key in KES's layout, so a
//! key written by KES is read here and the other way round.
//!
//! # Layout
//! - this module: the type, [`AwsKeystore::connect`], the [`Keystore`] impl;
//! - `config`: the `keystore.aws.secretsmanager` section and [`AwsConfig`];
//! - `client`: the SDK client (endpoint, region, credentials or the default
//!   chain, bounded retries, timeouts);
//! - `ops`: create, read, delete, list, status and the stored layout;
//! - `update`: the conditional update and how atomic it is;
//! - `error`: SDK errors → [`Error`] kinds.
//!
//! # Guarantees
//! Create is atomic across processes (`CreateSecret` never overwrites).
//! Update is a read followed by a `PutSecretValue` whose version ID is
//! derived from the revision read, under this process's lock of the name:
//! of concurrent updates from one revision exactly one succeeds, with the
//! narrow cross-process exceptions listed in `update`.
//! Delete is `ForceDeleteWithoutRecovery`: the name is free again at once
//! (on AWS itself a re-create can be refused for a short while).

mod client;
mod config;
mod error;
mod ops;
mod update;

use std::fmt;

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use zeroize::Zeroizing;

use crate::{Error, Keystore, Page, Revision, Status, Versioned};

pub use config::AwsConfig;
pub(crate) use config::Section;

/// A keystore on AWS Secrets Manager.
pub struct AwsKeystore {
    client: Client,
    /// Serialises this process's updates of one name (see `update`).
    locks: crate::locks::NameLocks,
    kms_key: Option<String>,
    endpoint: String,
    region: String,
}

impl fmt::Debug for AwsKeystore {
    /// The endpoint, region and KMS key; never credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKeystore")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("kms_key", &self.kms_key)
            .finish_non_exhaustive()
    }
}

impl AwsKeystore {
    /// Builds the client for `config`. Contacts nothing: an unreachable
    /// service or bad credentials show at the first call (and in
    /// [`Keystore::status`]), so the server starts while AWS is down.
    ///
    /// # Errors
    /// None today; the `Result` keeps the signature of the other backends.
    pub async fn connect(config: &AwsConfig) -> Result<Self, Error> {
        Ok(AwsKeystore {
            client: client::build(config).await,
            locks: crate::locks::NameLocks::default(),
            kms_key: config.kms_key.clone(),
            endpoint: config.endpoint.clone(),
            region: config.region.clone(),
        })
    }
}

#[async_trait]
impl Keystore for AwsKeystore {
    /// `ListSecrets` with one result: [`Error::Unreachable`] when the
    /// service does not answer, [`Error::Backend`] when it refuses.
    async fn status(&self) -> Result<Status, Error> {
        ops::status(&self.client).await
    }

    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        ops::create(&self.client, self.kms_key.as_deref(), name, value).await
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(ops::read(&self.client, name).await?.0)
    }

    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        let (value, revision) = update::get_versioned(&self.client, name).await?;
        Ok(Versioned { value, revision })
    }

    async fn update(&self, name: &str, old: &Revision, new: &[u8]) -> Result<Revision, Error> {
        crate::validate_name(name)?;
        let _lock = self.locks.lock(name).await;
        update::update(&self.client, name, old, new).await
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        ops::delete(&self.client, name).await
    }

    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        ops::list(&self.client, prefix, continue_at, limit).await
    }
}
