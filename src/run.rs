//! Starting a server from [`Settings`]: keystore, key cache, telemetry,
//! state, TLS, listener.
//!
//! `kes server` and the end-to-end tests both go through [`start_with_options`]
//! (or its shorthands), so tests run exactly what users run (tests bind
//! port 0). [`crate::reload`] rebuilds the state of a [`Running`] server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use keystores::Keystore;
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::instrument::WithSubscriber as _;

use crate::config::{self, ConfigError, KeystoreSettings, Settings};
use crate::crypto::KeyVersion;
use crate::keycache::{KeyCache, KeyCacheConfig};
use crate::logs::{LogFormat, Sinks, Telemetry};
use crate::server::{self, Shared};
use crate::state::State;

/// KES's keystore health-probe interval.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);

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
    #[error(transparent)]
    CreateKey(#[from] CreateKeyError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A `keys:` entry could not be created (at start or reload).
#[derive(Debug, thiserror::Error)]
#[error("keys: cannot create key '{name}': {source}")]
pub struct CreateKeyError {
    /// The key.
    pub name: String,
    /// Why.
    pub source: keystores::Error,
}

/// Knobs that the config file cannot set.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often the key cache probes the keystore's health
    /// ([`PROBE_INTERVAL`]; tests shorten it).
    pub probe_interval: Duration,
    /// Metrics and logs to use; `None` = new ones writing the audit log to
    /// stdout and the error log to stderr.
    pub telemetry: Option<Arc<Telemetry>>,
    /// Connection header-read and idle timeouts (KES: 5 s and 90 s; tests
    /// shorten them).
    pub timeouts: server::timeouts::Timeouts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            probe_interval: PROBE_INTERVAL,
            telemetry: None,
            timeouts: server::timeouts::Timeouts::default(),
        }
    }
}

/// What a reload compares against and reuses; guarded by a lock so reloads
/// run one at a time.
pub(crate) struct Current {
    /// The settings in effect (with the `--addr` override applied).
    pub(crate) settings: Settings,
    /// The keystore (reused when its settings are unchanged).
    pub(crate) inner: Arc<dyn Keystore>,
    /// The probe interval new caches get.
    pub(crate) probe_interval: Duration,
}

/// A running server.
pub struct Running {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The shared state, for reload.
    pub shared: Shared,
    pub(crate) current: tokio::sync::Mutex<Current>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops accepting, ends log streams, lets in-flight requests finish
    /// (up to [`server::SHUTDOWN_GRACE`]), and waits.
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

    /// The server's metrics and logs.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.shared.state.load().telemetry.clone()
    }

    /// The current state snapshot.
    pub fn state(&self) -> Arc<State> {
        self.shared.state.load_full()
    }
}

/// Opens the configured keystore (`keystores::open`: the backend is chosen
/// and built by the `keystores` crate).
pub async fn open_keystore(
    settings: &KeystoreSettings,
) -> Result<Arc<dyn Keystore>, keystores::Error> {
    keystores::open(settings).await
}

/// The key cache settings of `cache.expiry` (project defaults as documented).
pub fn cache_config(settings: &Settings, probe_interval: Duration) -> KeyCacheConfig {
    KeyCacheConfig {
        any: settings.cache.any,
        unused: settings.cache.unused,
        offline: settings.cache.offline,
        state: settings.cache.state,
        probe_interval,
    }
}

/// Builds the API state for `settings` on `keystore` and its key `cache`.
pub fn build_state(
    settings: &Settings,
    keystore: Arc<dyn Keystore>,
    cache: Arc<KeyCache>,
    telemetry: Arc<Telemetry>,
    started_at: OffsetDateTime,
    started: Instant,
) -> State {
    State {
        admin: settings.admin.clone(),
        policies: settings.policies.clone(),
        api: settings.api.clone(),
        keystore,
        health: cache.health().clone(),
        cache,
        telemetry,
        started_at,
        started,
    }
}

/// Creates each `keys:` entry that does not exist yet (created_by = admin).
pub async fn create_missing_keys(
    settings: &Settings,
    keystore: &dyn Keystore,
) -> Result<(), CreateKeyError> {
    let admin = settings
        .admin
        .as_ref()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    for name in &settings.keys {
        let key = KeyVersion::generate(&admin).map_err(|e| CreateKeyError {
            name: name.clone(),
            source: keystores::Error::backend(e.to_string()),
        })?;
        match keystore.create(name, &key.encode()).await {
            Ok(()) => tracing::info!(key = name.as_str(), "key created from config"),
            Err(keystores::Error::KeyExists) => {}
            Err(source) => {
                return Err(CreateKeyError {
                    name: name.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Loads TLS files and builds the rustls config for `settings`.
pub fn tls_config(settings: &Settings) -> Result<rustls::ServerConfig, ConfigError> {
    let identity = config::tls::load_identity(
        &settings.tls.cert,
        &settings.tls.key,
        settings.tls.password.as_deref(),
    )?;
    let skips = settings.api.values().any(|o| o.skip_auth);
    config::tls::server_config(
        identity,
        settings.tls.auth,
        settings.tls.ca.as_deref(),
        skips,
    )
}

/// Starts a server on `keystore` (wrapped in the key cache); it runs until
/// [`Running::stop`].
pub async fn start(
    settings: &Settings,
    tls: rustls::ServerConfig,
    keystore: Arc<dyn Keystore>,
) -> Result<Running, StartError> {
    start_with_options(settings, tls, keystore, Options::default()).await
}

/// Like [`start`], with [`Options`].
pub async fn start_with_options(
    settings: &Settings,
    tls: rustls::ServerConfig,
    keystore: Arc<dyn Keystore>,
    options: Options,
) -> Result<Running, StartError> {
    let (tx, rx) = oneshot::channel();
    let mut running = launch(settings, tls, keystore, options, async {
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
    launch(settings, tls, keystore, Options::default(), shutdown).await
}

async fn launch(
    settings: &Settings,
    tls: rustls::ServerConfig,
    keystore: Arc<dyn Keystore>,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let telemetry = options
        .telemetry
        .unwrap_or_else(|| Telemetry::new(&settings.log, Sinks::stdio(LogFormat::Text)));
    telemetry.set_levels(&settings.log);
    let cache = KeyCache::new(
        keystore.clone(),
        cache_config(settings, options.probe_interval),
    );
    create_missing_keys(settings, keystore.as_ref())
        .with_subscriber(telemetry.dispatch.clone())
        .await?;
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
    let state = build_state(
        settings,
        keystore.clone(),
        cache,
        telemetry,
        OffsetDateTime::now_utc(),
        Instant::now(),
    );
    let shared = Shared {
        tls: Arc::new(ArcSwap::from_pointee(tls)),
        state: Arc::new(ArcSwap::from_pointee(state)),
    };
    let task = tokio::spawn(server::serve(
        listener,
        shared.clone(),
        options.timeouts,
        shutdown,
    ));
    Ok(Running {
        addr,
        shared,
        current: tokio::sync::Mutex::new(Current {
            settings: settings.clone(),
            inner: keystore,
            probe_interval: options.probe_interval,
        }),
        shutdown: None,
        task,
    })
}

/// Loads `path` and starts the server it describes.
pub async fn start_from_file(path: &Path) -> Result<Running, StartError> {
    start_from_file_with(path, Options::default()).await
}

/// Loads `path` and starts the server it describes, with [`Options`].
pub async fn start_from_file_with(path: &Path, options: Options) -> Result<Running, StartError> {
    let settings = config::load(path)?;
    let tls = tls_config(&settings)?;
    let keystore = open_keystore(&settings.keystore).await?;
    start_with_options(&settings, tls, keystore, options).await
}
