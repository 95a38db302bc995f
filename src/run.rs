//! Starting a server from [`Settings`]: keystore, state, TLS, listener.
//!
//! `kes server` and the end-to-end tests both go through [`start`], so tests
//! run exactly what users run (tests bind port 0).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use keystores::{Cache, CacheConfig, FsKeystore, Keystore, MemKeystore};
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{self, ConfigError, KeystoreSettings, Settings};
use crate::crypto::KeyVersion;
use crate::server::{self, Shared};
use crate::state::State;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration or TLS files are invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The keystore could not be opened.
    #[error("keystore: {0}")]
    Keystore(#[from] keystores::Error),
    /// A `keys:` entry could not be created.
    #[error("keys: cannot create key '{name}': {source}")]
    CreateKey {
        /// The key.
        name: String,
        /// Why.
        source: keystores::Error,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running server.
pub struct Running {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The shared state, for reload.
    pub shared: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops (it stops only through [`Running::stop`]
    /// or the future given to [`start_with_shutdown`]).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Opens the configured keystore.
pub fn open_keystore(settings: &KeystoreSettings) -> Result<Arc<dyn Keystore>, StartError> {
    Ok(match settings {
        KeystoreSettings::Memory => Arc::new(MemKeystore::new()),
        KeystoreSettings::Fs { path } => Arc::new(FsKeystore::open(path.clone())?),
    })
}

/// The key cache settings of `cache.expiry` (project defaults as documented).
pub fn cache_config(settings: &Settings) -> CacheConfig {
    CacheConfig {
        any: settings.cache.any,
        unused: settings.cache.unused,
        offline: settings.cache.offline,
        ..CacheConfig::default()
    }
}

/// Builds the API state for `settings` on `keystore`.
pub fn build_state(settings: &Settings, keystore: Arc<dyn Keystore>) -> State {
    State {
        admin: settings.admin.clone(),
        policies: settings.policies.clone(),
        api: settings.api.clone(),
        keystore,
        started_at: OffsetDateTime::now_utc(),
        started: Instant::now(),
    }
}

/// Creates each `keys:` entry that does not exist yet (created_by = admin).
pub async fn create_missing_keys(
    settings: &Settings,
    keystore: &dyn Keystore,
) -> Result<(), StartError> {
    let admin = settings
        .admin
        .as_ref()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    for name in &settings.keys {
        let key = KeyVersion::generate(&admin).map_err(|e| StartError::CreateKey {
            name: name.clone(),
            source: keystores::Error::backend(e.to_string()),
        })?;
        match keystore.create(name, &key.encode()).await {
            Ok(()) | Err(keystores::Error::KeyExists) => {}
            Err(source) => {
                return Err(StartError::CreateKey {
                    name: name.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Loads TLS files and builds the rustls config for `settings`.
pub fn tls_config(settings: &Settings) -> Result<rustls::ServerConfig, StartError> {
    let identity = config::tls::load_identity(
        &settings.tls.cert,
        &settings.tls.key,
        settings.tls.password.as_deref(),
    )?;
    let skips = settings.api.values().any(|o| o.skip_auth);
    Ok(config::tls::server_config(
        identity,
        settings.tls.auth,
        settings.tls.ca.as_deref(),
        skips,
    )?)
}

/// Starts a server on `keystore` (wrapped in the key cache); it runs until
/// [`Running::stop`].
pub async fn start(
    settings: &Settings,
    tls: rustls::ServerConfig,
    keystore: Arc<dyn Keystore>,
) -> Result<Running, StartError> {
    let (tx, rx) = oneshot::channel();
    let mut running = start_with_shutdown(settings, tls, keystore, async {
        let _ = rx.await;
    })
    .await?;
    running.shutdown = Some(tx);
    Ok(running)
}

/// Starts a server that stops when `shutdown` completes.
pub async fn start_with_shutdown(
    settings: &Settings,
    tls: rustls::ServerConfig,
    keystore: Arc<dyn Keystore>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let keystore: Arc<dyn Keystore> = Cache::new(keystore, cache_config(settings));
    create_missing_keys(settings, keystore.as_ref()).await?;
    let listener = server::bind(settings.address)
        .await
        .map_err(|source| StartError::Bind {
            addr: settings.address,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: settings.address,
        source,
    })?;
    let shared = Shared {
        tls: Arc::new(ArcSwap::from_pointee(tls)),
        state: Arc::new(ArcSwap::from_pointee(build_state(settings, keystore))),
    };
    let task = tokio::spawn(server::serve(listener, shared.clone(), shutdown));
    Ok(Running {
        addr,
        shared,
        shutdown: None,
        task,
    })
}

/// Loads `path` and starts the server it describes.
pub async fn start_from_file(path: &Path) -> Result<Running, StartError> {
    let settings = config::load(path)?;
    let tls = tls_config(&settings)?;
    let keystore = open_keystore(&settings.keystore)?;
    start(&settings, tls, keystore).await
}
