//! Starting a server: [`Builder`] → [`Running`]. From [`Settings`] it opens
//! the keystore, wraps it in the key cache, creates the `keys:` entries,
//! builds the telemetry, the API state and TLS, binds and serves.
//!
//! `kes server` and the end-to-end tests both go through [`Builder`], so
//! tests run exactly what users run (tests bind port 0 and may hand in a
//! keystore, TLS config or [`Options`]). [`super::reload`] rebuilds the state
//! of a [`Running`] server.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
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
use crate::server::listener::{self, Shared};
use crate::server::timeouts::Timeouts;
use crate::state::State;

/// KES's keystore health-probe interval.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);

/// Why a server could not start, or a reload was rejected.
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
    /// The address could not be bound (start only).
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
    /// shorten them). The other connection bounds are the config's
    /// `limits:` section ([`crate::config::LimitSettings`]).
    pub timeouts: Timeouts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            probe_interval: PROBE_INTERVAL,
            telemetry: None,
            timeouts: Timeouts::default(),
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
    /// (up to [`listener::SHUTDOWN_GRACE`]), and waits.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops (it stops only through [`Running::stop`]
    /// or the future given to [`Builder::shutdown_on`]).
    pub async fn wait(self) {
        let Running { task, shutdown, .. } = self;
        // Dropping the sender would stop the server: keep it until the end.
        let _keep = shutdown;
        let _ = task.await;
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
pub(crate) async fn open_keystore(
    settings: &KeystoreSettings,
) -> Result<Arc<dyn Keystore>, keystores::Error> {
    keystores::open(settings).await
}

/// The key cache settings of `cache.expiry` (project defaults as documented).
pub(crate) fn cache_config(settings: &Settings, probe_interval: Duration) -> KeyCacheConfig {
    KeyCacheConfig {
        any: settings.cache.any,
        unused: settings.cache.unused,
        offline: settings.cache.offline,
        state: settings.cache.state,
        probe_interval,
    }
}

/// Builds the API state for `settings` on `keystore` and its key `cache`.
pub(crate) fn build_state(
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
pub(crate) async fn create_missing_keys(
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
pub(crate) fn tls_config(settings: &Settings) -> Result<rustls::ServerConfig, ConfigError> {
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

/// A shutdown signal handed to [`Builder::shutdown_on`].
type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Builds and starts a server. Only the [`Settings`] are required: the TLS
/// config is built from them unless given, and so is the keystore.
///
/// ```no_run
/// # async fn demo() -> Result<(), kes::server::StartError> {
/// let running = kes::server::Builder::from_file("server-config.yaml".as_ref())?
///     .start()
///     .await?;
/// running.wait().await;
/// # Ok(()) }
/// ```
pub struct Builder {
    settings: Settings,
    tls: Option<rustls::ServerConfig>,
    keystore: Option<Arc<dyn Keystore>>,
    options: Options,
    shutdown: Option<ShutdownSignal>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("address", &self.settings.address)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A server for `settings`.
    pub fn new(settings: Settings) -> Builder {
        Builder {
            settings,
            tls: None,
            keystore: None,
            options: Options::default(),
            shutdown: None,
        }
    }

    /// A server for the config file at `path` (loaded and validated now).
    pub fn from_file(path: &Path) -> Result<Builder, StartError> {
        Ok(Builder::new(config::load(path)?))
    }

    /// The settings the server will run with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Listens on `addr` instead of the config's `address`.
    pub fn address(mut self, addr: SocketAddr) -> Builder {
        self.settings.address = addr;
        self
    }

    /// Uses this TLS config instead of loading the config's files.
    pub fn tls(mut self, tls: rustls::ServerConfig) -> Builder {
        self.tls = Some(tls);
        self
    }

    /// Serves `keystore` (wrapped in the key cache) instead of opening the
    /// config's `keystore:` section.
    pub fn keystore(mut self, keystore: Arc<dyn Keystore>) -> Builder {
        self.keystore = Some(keystore);
        self
    }

    /// Knobs the config file cannot set.
    pub fn options(mut self, options: Options) -> Builder {
        self.options = options;
        self
    }

    /// Also stops the server when `signal` completes (as [`Running::stop`]
    /// does).
    pub fn shutdown_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Builder {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// Opens what was not given, binds and starts serving; the server runs
    /// until [`Running::stop`], the [`Builder::shutdown_on`] signal, or the
    /// [`Running`] is dropped.
    pub async fn start(self) -> Result<Running, StartError> {
        let Builder {
            settings,
            tls,
            keystore,
            options,
            shutdown,
        } = self;
        let tls = match tls {
            Some(tls) => tls,
            None => tls_config(&settings)?,
        };
        let keystore = match keystore {
            Some(keystore) => keystore,
            None => open_keystore(&settings.keystore).await?,
        };
        let (tx, rx) = oneshot::channel::<()>();
        let signal = async move {
            match shutdown {
                Some(external) => {
                    tokio::select! {
                        _ = rx => {}
                        () = external => {}
                    }
                }
                None => {
                    let _ = rx.await;
                }
            }
        };
        let mut running = launch(&settings, tls, keystore, options, signal).await?;
        running.shutdown = Some(tx);
        Ok(running)
    }
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
    let listener = listener::bind(settings.address)
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
    let task = tokio::spawn(listener::serve(
        listener,
        shared.clone(),
        settings.limits,
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
