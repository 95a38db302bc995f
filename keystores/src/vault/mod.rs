//! [`VaultKeystore`]: keys in HashiCorp Vault or OpenBao (KES
//! `keystore.vault`), at KES's paths and in KES's layout, so a key written
//! by KES is read here and the other way round.
//!
//! # Layout
//! - this module: the type, [`VaultKeystore::connect`], the [`Keystore`]
//!   impl (dispatch to the K/V version, name locks);
//! - `config`: the `keystore.vault` section and [`VaultConfig`];
//! - `http`: the reqwest client (TLS, mTLS) and vaultrs clients on it;
//! - `auth`: AppRole / Kubernetes login, token renewal and re-login;
//! - `health`: `sys/health` for [`Keystore::status`] and the sealed poller;
//! - `kv`: paths, the stored layout, transit wrapping (both versions);
//! - `v1`, `v2`: the operations of K/V v1 and v2;
//! - `crate::locks`: per-name locks of this process's writers;
//! - `error`: Vault answers → [`Error`] kinds.
//!
//! # Paths (KES's)
//! | | K/V v1 | K/V v2 |
//! |---|---|---|
//! | read, create, update | `<engine>/<prefix>/<name>` | `<engine>/data/<prefix>/<name>` |
//! | delete | `<engine>/<prefix>/<name>` | `<engine>/metadata/<prefix>/<name>` (all versions) |
//! | list | `LIST <engine>/<prefix>` | `LIST <engine>/metadata/<prefix>` |
//!
//! Every K/V and transit request carries the configured namespace header;
//! logins carry the auth method's namespace; health checks none.
//!
//! # Atomicity
//! K/V v2 creates and updates are check-and-set writes: atomic across
//! processes. K/V v1 has no conditional write; its writes are atomic only
//! within one process (best effort, see `v1`). Update and delete on both,
//! and every K/V v1 write, hold the name's lock in this process.

mod auth;
mod config;
mod error;
mod health;
mod http;
mod kv;
mod v1;
mod v2;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::AbortHandle;
use vaultrs::client::VaultClient;
use zeroize::Zeroizing;

use crate::{Error, Keystore, Page, Revision, Status, Versioned, locks, validate_name};

use config::KvVersion;
pub(crate) use config::Section;
pub use config::VaultConfig;

/// A keystore on a Vault / OpenBao K/V engine.
///
/// Holds a logged-in session; background tasks renew its token and watch
/// the seal state until the keystore is dropped.
pub struct VaultKeystore {
    session: Arc<auth::Session>,
    /// Client for `sys/health`: no token, no namespace.
    root: Arc<VaultClient>,
    kv: kv::Kv,
    version: KvVersion,
    locks: locks::NameLocks,
    endpoint: String,
    tasks: Vec<AbortHandle>,
}

impl fmt::Debug for VaultKeystore {
    /// The endpoint and K/V location; never tokens or credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultKeystore")
            .field("endpoint", &self.endpoint)
            .field("engine", &self.kv.engine)
            .field("version", &self.version)
            .field("prefix", &self.kv.prefix)
            .field("transit", &self.kv.transit.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for VaultKeystore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl VaultKeystore {
    /// Connects: builds the HTTP client (TLS files are read now), logs in
    /// once and starts the token renewal and the health poller.
    ///
    /// # Errors
    /// [`Error::Unreachable`] if Vault does not answer the login,
    /// [`Error::Backend`] for anything else (unreadable TLS or JWT file,
    /// login refused). Must run inside a Tokio runtime.
    pub async fn connect(config: &VaultConfig) -> Result<Self, Error> {
        let http = http::Http::new(config).await?;
        let root = Arc::new(http.vault("", None));
        let (session, lease) =
            auth::Session::open(http, config.auth.clone(), config.namespace.clone()).await?;
        let session = Arc::new(session);
        let tasks = vec![
            tokio::spawn(auth::renew_loop(Arc::clone(&session), lease)).abort_handle(),
            tokio::spawn(health::poll_loop(
                Arc::clone(&session),
                Arc::clone(&root),
                config.ping,
            ))
            .abort_handle(),
        ];
        Ok(VaultKeystore {
            session,
            root,
            kv: kv::Kv {
                engine: config.engine.clone(),
                prefix: config.prefix.clone(),
                transit: config.transit.clone(),
            },
            version: config.version,
            locks: locks::NameLocks::default(),
            endpoint: config.endpoint.clone(),
            tasks,
        })
    }

    fn cx(&self) -> kv::Ctx<'_> {
        kv::Ctx {
            kv: &self.kv,
            client: self.session.client(),
            session: &self.session,
        }
    }

    async fn read(&self, name: &str) -> Result<(Zeroizing<Vec<u8>>, Revision), Error> {
        validate_name(name)?;
        let cx = self.cx();
        match self.version {
            KvVersion::V1 => v1::get(&cx, name).await,
            KvVersion::V2 => v2::get(&cx, name).await,
        }
    }
}

#[async_trait]
impl Keystore for VaultKeystore {
    /// Vault's health endpoint (see `health`).
    async fn status(&self) -> Result<Status, Error> {
        health::check(&self.root).await
    }

    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        validate_name(name)?;
        match self.version {
            KvVersion::V1 => {
                let _lock = self.locks.lock(name).await;
                v1::create(&self.cx(), name, value).await
            }
            KvVersion::V2 => v2::create(&self.cx(), name, value).await,
        }
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(self.read(name).await?.0)
    }

    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        let (value, revision) = self.read(name).await?;
        Ok(Versioned { value, revision })
    }

    async fn update(&self, name: &str, old: &Revision, new: &[u8]) -> Result<Revision, Error> {
        validate_name(name)?;
        let _lock = self.locks.lock(name).await;
        let cx = self.cx();
        match self.version {
            KvVersion::V1 => v1::update(&cx, name, old, new).await,
            KvVersion::V2 => v2::update(&cx, name, old, new).await,
        }
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        validate_name(name)?;
        let _lock = self.locks.lock(name).await;
        let cx = self.cx();
        match self.version {
            KvVersion::V1 => v1::delete(&cx, name).await,
            KvVersion::V2 => v2::delete(&cx, name).await,
        }
    }

    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        let cx = self.cx();
        let (kv, client) = (&cx.kv, &*cx.client);
        let (listed, location) = match self.version {
            KvVersion::V1 => (
                vaultrs::kv1::list(client, &kv.engine, &kv.prefix)
                    .await
                    .map(|res| res.data.keys),
                kv.location("", ""),
            ),
            KvVersion::V2 => (
                vaultrs::kv2::list(client, &kv.engine, &kv.prefix).await,
                kv.location("metadata", ""),
            ),
        };
        cx.list_page(listed, &location, (prefix, continue_at, limit))
    }
}
