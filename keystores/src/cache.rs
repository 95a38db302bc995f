//! [`Cache`]: a caching [`Keystore`] decorator with KES's expiry and offline
//! semantics (kes-api.md §8).
//!
//! # Layout
//! - [`CacheConfig`]: the `cache.expiry.{any,unused,offline}` settings plus the
//!   health-probe interval.
//! - [`Cache`]: the decorator. `get` is served from memory when possible;
//!   `create`/`update`/`delete` write through and evict; `get_versioned`,
//!   `list` and `status` pass through.
//! - `Slot`, `Flight`: one map entry per name, either a cached value or a
//!   read in flight that concurrent callers share (single flight).
//! - `run`: the background task (sweeps and health probe).
//!
//! # Semantics
//! - Concurrent misses for one name make exactly one inner `get`; every
//!   caller gets its result, including an error. Errors are never cached.
//!   If the caller running the read is cancelled, a waiting caller takes over.
//! - Expiry is by periodic sweeps, not per-entry TTLs: every `any` the whole
//!   cache is dropped; every `unused / 2` the entries not read since the
//!   previous sweep are dropped.
//! - Every `probe_interval` the inner store's `status` is called (with a
//!   timeout of one interval). While it fails the cache is *offline*
//!   ([`Cache::is_offline`]); if `offline > 0` the `any`/`unused` sweeps are
//!   suspended and instead the whole cache is dropped `offline` after going
//!   offline and every `offline` thereafter. With `offline == 0` going
//!   offline changes nothing about expiry. A miss always goes to the inner
//!   store, online or not.
//! - `create`, `update` and `delete` evict the name after the inner call
//!   returns (whatever its result: a failed update may mean the cached value
//!   is stale), and an inner read that was in flight when the name was
//!   evicted is not cached, so a value read before a write is never served
//!   after it.
//! - `get_versioned` always reads the inner store and caches nothing: a
//!   read-modify-write must start from the stored value, not a cached one.
//!
//! # Security
//! Cached values are `Zeroizing` and wiped when evicted or when the cache is
//! dropped. `Debug` shows counts only. Nothing logs names' values.
//!
//! # Lifetime
//! [`Cache::new`] spawns one Tokio task. It ends when the last `Arc<Cache>` is
//! dropped or when [`Cache::shutdown`] is called; it holds no strong
//! reference to the [`Cache`] itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{OnceCell, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use zeroize::Zeroizing;

use crate::{Error, Keystore, Page, Revision, Status, Versioned, validate_name};

/// Expiry settings of a [`Cache`]. A zero duration disables that setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Drop the whole cache every `any` (`cache.expiry.any`). Default 5 min.
    pub any: Duration,
    /// Every `unused / 2` (at least 1 ms), drop entries not read since the
    /// previous sweep (`cache.expiry.unused`). Default 30 s.
    pub unused: Duration,
    /// While the store is unreachable, keep serving cached entries and drop
    /// the whole cache every `offline` instead of sweeping
    /// (`cache.expiry.offline`). Default 0 = offline cache disabled.
    pub offline: Duration,
    /// How often the inner store's health is probed. Default 10 s; 0 turns
    /// the probe off (the cache then never goes offline).
    pub probe_interval: Duration,
}

impl Default for CacheConfig {
    /// The documented KES defaults: 5 min / 30 s / disabled, probe every 10 s.
    fn default() -> Self {
        Self {
            any: Duration::from_secs(5 * 60),
            unused: Duration::from_secs(30),
            offline: Duration::ZERO,
            probe_interval: Duration::from_secs(10),
        }
    }
}

/// The outcome of one inner `get`, shared by every caller waiting for it.
type Loaded = Result<Arc<Zeroizing<Vec<u8>>>, Arc<Error>>;

/// One inner read in flight. Its identity (pointer) tells whether the map
/// entry still belongs to it when it completes.
type Flight = Arc<OnceCell<Loaded>>;

enum Slot {
    /// A cached value and whether it was read since the last unused-sweep.
    Ready {
        value: Arc<Zeroizing<Vec<u8>>>,
        used: bool,
    },
    /// An inner read in flight.
    Loading(Flight),
}

/// State shared between the [`Cache`] and its background task.
struct Shared {
    slots: Mutex<HashMap<String, Slot>>,
    offline: AtomicBool,
}

impl Shared {
    // Lock poisoning: no critical section panics half-way through an update
    // (map operations only), so a poisoned map is still consistent.
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops every cached value (reads in flight stay).
    fn flush(&self) {
        self.slots()
            .retain(|_, slot| matches!(slot, Slot::Loading(_)));
    }

    /// Drops values not read since the previous sweep and clears the flags.
    fn sweep_unused(&self) {
        self.slots().retain(|_, slot| match slot {
            Slot::Ready { used, .. } => std::mem::replace(used, false),
            Slot::Loading(_) => true,
        });
    }

    /// Whether `any`/`unused` sweeps are suspended right now.
    fn sweeps_suspended(&self, cfg: &CacheConfig) -> bool {
        !cfg.offline.is_zero() && self.offline.load(Ordering::Acquire)
    }
}

/// A caching decorator around another [`Keystore`]; see the module docs.
pub struct Cache {
    inner: Arc<dyn Keystore>,
    shared: Arc<Shared>,
    /// `true` after [`Cache::shutdown`]; dropping it also stops the task.
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slots = self.shared.slots();
        let cached = slots
            .values()
            .filter(|s| matches!(s, Slot::Ready { .. }))
            .count();
        let loading = slots.len() - cached;
        drop(slots);
        f.debug_struct("Cache")
            .field("cached", &cached)
            .field("loading", &loading)
            .field("offline", &self.is_offline())
            .field("stopped", &*self.stop.borrow())
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// Wraps `inner` and starts the background sweep/probe task.
    ///
    /// The first health probe runs immediately, so [`Cache::is_offline`]
    /// reflects the store's state shortly after start.
    ///
    /// # Panics
    /// If called outside a Tokio runtime (it spawns a task).
    pub fn new(inner: Arc<dyn Keystore>, cfg: CacheConfig) -> Arc<Cache> {
        let shared = Arc::new(Shared {
            slots: Mutex::new(HashMap::new()),
            offline: AtomicBool::new(false),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(Arc::clone(&shared), Arc::clone(&inner), cfg, stopped));
        Arc::new(Cache {
            inner,
            shared,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// Whether the last health probe failed (the store is unreachable).
    ///
    /// Used by the server's `/v1/ready` (504 while offline) and `/v1/status`
    /// (`keystore_unreachable`).
    pub fn is_offline(&self) -> bool {
        self.shared.offline.load(Ordering::Acquire)
    }

    /// Stops the background task and waits for it to end, then drops every
    /// cached value. Afterwards the cache is a plain pass-through (nothing is
    /// cached any more, since nothing would expire it). Idempotent.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            // The task only ends by returning; a JoinError would mean it
            // panicked, and there is nothing left to stop in either case.
            if let Err(err) = task.await {
                tracing::error!(error = %err, "key cache task failed");
            }
        }
        self.shared.slots().clear();
    }

    fn is_stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Removes `name` from the cache, including a read in flight (whose
    /// result will then not be cached).
    fn evict(&self, name: &str) {
        self.shared.slots().remove(name);
    }
}

#[async_trait]
impl Keystore for Cache {
    /// Passes through to the inner store (never cached).
    async fn status(&self) -> Result<Status, Error> {
        self.inner.status().await
    }

    /// Creates in the inner store, then evicts `name` (never caches the value).
    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        let res = self.inner.create(name, value).await;
        self.evict(name);
        res
    }

    /// Serves `name` from the cache, or reads it from the inner store once for
    /// all concurrent callers and caches a successful result.
    ///
    /// # Errors
    /// [`Error::InvalidName`] for a name failing [`validate_name`]; otherwise
    /// whatever the inner `get` returned (not cached).
    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        validate_name(name)?;
        if self.is_stopped() {
            return self.inner.get(name).await;
        }
        let flight: Flight = {
            let mut slots = self.shared.slots();
            match slots.get_mut(name) {
                Some(Slot::Ready { value, used }) => {
                    *used = true;
                    return Ok(Zeroizing::new(value.as_slice().to_vec()));
                }
                Some(Slot::Loading(flight)) => Arc::clone(flight),
                None => {
                    let flight = Flight::default();
                    slots.insert(name.to_owned(), Slot::Loading(Arc::clone(&flight)));
                    flight
                }
            }
        };
        let loaded = flight
            .get_or_init(|| async { self.inner.get(name).await.map(Arc::new).map_err(Arc::new) })
            .await;
        {
            let mut slots = self.shared.slots();
            let ours = matches!(slots.get(name), Some(Slot::Loading(f)) if Arc::ptr_eq(f, &flight));
            if ours {
                match loaded {
                    Ok(value) => {
                        slots.insert(
                            name.to_owned(),
                            Slot::Ready {
                                value: Arc::clone(value),
                                used: true,
                            },
                        );
                    }
                    Err(_) => {
                        slots.remove(name);
                    }
                }
            }
        }
        match loaded {
            Ok(value) => Ok(Zeroizing::new(value.as_slice().to_vec())),
            Err(err) => Err(share_error(err)),
        }
    }

    /// Passes through to the inner store (never cached, nothing cached).
    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        self.inner.get_versioned(name).await
    }

    /// Updates in the inner store, then evicts `name` (also on failure).
    async fn update(
        &self,
        name: &str,
        expected: &Revision,
        value: &[u8],
    ) -> Result<Revision, Error> {
        let res = self.inner.update(name, expected, value).await;
        self.evict(name);
        res
    }

    /// Deletes in the inner store, then evicts `name`.
    async fn delete(&self, name: &str) -> Result<(), Error> {
        let res = self.inner.delete(name).await;
        self.evict(name);
        res
    }

    /// Passes through to the inner store (never cached).
    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        self.inner.list(prefix, continue_at, limit).await
    }
}

/// Gives each caller of a shared read its own copy of the error.
fn share_error(err: &Arc<Error>) -> Error {
    match err.as_ref() {
        Error::KeyExists => Error::KeyExists,
        Error::NotFound => Error::NotFound,
        Error::InvalidName => Error::InvalidName,
        Error::Conflict => Error::Conflict,
        Error::Unsupported(msg) => Error::Unsupported(msg.clone()),
        Error::Unreachable(_) => Error::Unreachable(Box::new(SharedError(Arc::clone(err)))),
        Error::Backend(_) => Error::Backend(Box::new(SharedError(Arc::clone(err)))),
    }
}

/// The source of an [`Error::Unreachable`] or [`Error::Backend`] shared
/// between callers; displays (and chains to) the original source.
#[derive(Debug)]
struct SharedError(Arc<Error>);

impl SharedError {
    fn original(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self.0.as_ref() {
            Error::Unreachable(src) | Error::Backend(src) => Some(src.as_ref()),
            Error::KeyExists
            | Error::NotFound
            | Error::InvalidName
            | Error::Conflict
            | Error::Unsupported(_) => None,
        }
    }
}

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.original() {
            Some(src) => std::fmt::Display::fmt(src, f),
            None => std::fmt::Display::fmt(&self.0, f),
        }
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.original().and_then(|src| src.source())
    }
}

/// A ticker whose first tick is one `period` from now; `None` if disabled.
fn ticker(period: Duration) -> Option<Interval> {
    if period.is_zero() {
        return None;
    }
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Some(interval)
}

/// Waits for the next tick, or forever if the ticker is disabled.
async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The background task: sweeps and health probe. Returns when the
/// [`Cache`] is dropped (the stop sender closes) or shut down.
async fn run(
    shared: Arc<Shared>,
    inner: Arc<dyn Keystore>,
    cfg: CacheConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut any = ticker(cfg.any);
    let half_unused = if cfg.unused.is_zero() {
        Duration::ZERO
    } else {
        (cfg.unused / 2).max(Duration::from_millis(1))
    };
    let mut unused = ticker(half_unused);
    let mut offline = ticker(cfg.offline);
    let mut probe = (!cfg.probe_interval.is_zero()).then(|| {
        // First probe immediately.
        let mut interval = tokio::time::interval(cfg.probe_interval);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval
    });
    loop {
        tokio::select! {
            // Ok: `shutdown` was called; Err: the `Cache` was dropped.
            _ = stop.changed() => return,
            () = tick(&mut any) => {
                if !shared.sweeps_suspended(&cfg) {
                    shared.flush();
                }
            }
            () = tick(&mut unused) => {
                if !shared.sweeps_suspended(&cfg) {
                    shared.sweep_unused();
                }
            }
            () = tick(&mut offline) => {
                if shared.offline.load(Ordering::Acquire) {
                    shared.flush();
                }
            }
            () = tick(&mut probe) => {
                let healthy = tokio::select! {
                    _ = stop.changed() => return,
                    res = tokio::time::timeout(cfg.probe_interval, inner.status()) => matches!(res, Ok(Ok(_))),
                };
                let was_offline = shared.offline.swap(!healthy, Ordering::AcqRel);
                match (was_offline, healthy) {
                    (false, false) => {
                        tracing::warn!("keystore unreachable: key cache is offline");
                        // The first offline flush comes one full `offline` from now.
                        if let Some(offline) = offline.as_mut() {
                            offline.reset();
                        }
                    }
                    (true, true) => tracing::info!("keystore reachable again: key cache is online"),
                    (false, true) | (true, false) => {}
                }
            }
        }
    }
}
