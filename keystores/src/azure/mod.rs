//! [`AzureKeystore`]: keys as Azure Key Vault secrets (KES
//! `keystore.azure.keyvault`), in KES's layout: secret name = key name,
//! secret value = the encoded key (text).
//!
//! # Layout
//! - this module: the type, [`AzureKeystore::connect`], the [`Keystore`]
//!   impl;
//! - `config`: the section and [`AzureConfig`];
//! - `client`: transport (our reqwest on rustls/aws-lc-rs), credential,
//!   [`SecretClient`](azure_security_keyvault_secrets::SecretClient);
//! - `ops`: reads, writes, listings and the post-write race check;
//! - `error`: Azure answers → [`Error`] kinds;
//! - per-name locks of this process: [`crate::locks`] (shared with `vault` and `aws`).
//!
//! # Reads
//! KES reads the *first* (oldest) version of a secret, so that two KES
//! servers racing to create one key agree on the value written first. We
//! read the *current* (latest) version instead, because our conditional
//! update adds a version; for a key that was never updated (everything KES
//! writes) the two are the same version. The version read must be enabled
//! (Key Vault refuses a disabled one with 403 `SecretDisabled`) and inside
//! its `nbf`/`exp` window (which Key Vault does not enforce for secrets, so
//! the backend does, as KES does): otherwise the read fails with a clear
//! [`Error::Backend`]. That is how a user locks a key on Azure.
//!
//! # Writes and what can race
//! Key Vault has no conditional write for secrets (no ETag, no
//! create-only): a set always adds a version. Within one process, create,
//! update and delete of a name hold that name's lock, so they are atomic
//! among this process's callers (the conformance suite's guarantees).
//! Across processes (two servers on one vault, KES next to us, a user in
//! the portal) the backend *detects* interleaved writes after the fact:
//! - create: check (404), set, then list the name's versions: more than
//!   one means another writer set the name in between;
//! - update: count the versions, read the current one and compare its
//!   version with the expected revision ([`Error::Conflict`] if it moved),
//!   set, count again: more than one new version means another writer set
//!   the name in between.
//!
//! A detected race is an [`Error::Backend`] naming both counts ("the
//! outcome is unknown: read again", as the trait allows); the latest
//! version is whichever set landed last. The window is the time between
//! the check and the set (two round trips).
//!
//! # Values
//! A value that is UTF-8 text (every KES key) is stored as the secret's
//! value unchanged. Any other bytes are stored base64-encoded with content
//! type [`BINARY_CONTENT_TYPE`] (our extension, never written for KES keys).
//!
//! # Delete
//! Delete soft-deletes the secret, then purges it (retrying briefly while
//! Key Vault still reports the deletion in progress), as KES does. A purge
//! refused for lack of permission or by purge protection is logged and the
//! delete still succeeds; the name then stays soft-deleted, and a create of
//! it reports [`Error::KeyExists`] until it is purged or recovered.

mod client;
mod config;
mod error;
mod ops;

use std::fmt;
use std::time::Instant;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::{Error, Keystore, Page, Revision, Status, Versioned, list_page, validate_name};

pub use config::AzureConfig;
pub(crate) use config::Service;

/// Content type marking a value stored base64-encoded (not UTF-8 text).
pub(crate) const BINARY_CONTENT_TYPE: &str = "application/vnd.kes-rs.base64";

/// A keystore on an Azure Key Vault.
pub struct AzureKeystore {
    clients: client::Clients,
    endpoint: String,
    locks: crate::locks::NameLocks,
}

impl fmt::Debug for AzureKeystore {
    /// The endpoint only; never credentials or tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureKeystore")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Key Vault secret names are `[0-9a-zA-Z-]{1,127}`: our names are that
/// plus `_`, which Key Vault refuses.
fn check_name(name: &str) -> Result<(), Error> {
    validate_name(name)?;
    if name.contains('_') {
        return Err(Error::InvalidName);
    }
    Ok(())
}

impl AzureKeystore {
    /// Builds the clients (the CA file is read now). No request is sent:
    /// the first one fetches the token (Key Vault's challenge names the
    /// scope).
    ///
    /// # Errors
    /// [`Error::Backend`] for an unreadable CA file or invalid settings.
    pub async fn connect(config: &AzureConfig) -> Result<Self, Error> {
        Ok(AzureKeystore {
            clients: client::build(config).await?,
            endpoint: config.endpoint.clone(),
            locks: crate::locks::NameLocks::default(),
        })
    }

    fn ops(&self) -> ops::Ops<'_> {
        ops::Ops {
            client: &self.clients.secrets,
        }
    }
}

#[async_trait]
impl Keystore for AzureKeystore {
    /// As KES: an unauthenticated `GET` of the endpoint; any HTTP answer
    /// (Key Vault answers 401) means reachable.
    async fn status(&self) -> Result<Status, Error> {
        let start = Instant::now();
        match self.clients.http.get(&self.endpoint).send().await {
            Ok(_) => Ok(Status {
                latency: start.elapsed(),
            }),
            Err(e) => Err(Error::unreachable(format!(
                "azure: cannot reach '{}': {e}",
                self.endpoint
            ))),
        }
    }

    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        check_name(name)?;
        let _lock = self.locks.lock(name).await;
        self.ops().create(name, value).await
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        check_name(name)?;
        Ok(self.ops().current(name).await?.0)
    }

    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        check_name(name)?;
        let (value, version) = self.ops().current(name).await?;
        Ok(Versioned {
            value,
            revision: Revision::from_bytes(version.into_bytes()),
        })
    }

    async fn update(&self, name: &str, old: &Revision, new: &[u8]) -> Result<Revision, Error> {
        check_name(name)?;
        let _lock = self.locks.lock(name).await;
        let version = self.ops().update(name, old.as_bytes(), new).await?;
        Ok(Revision::from_bytes(version.into_bytes()))
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        check_name(name)?;
        let _lock = self.locks.lock(name).await;
        self.ops().delete(name).await
    }

    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        let names = self.ops().names().await?;
        Ok(list_page(names, prefix, continue_at, limit))
    }
}
