//! [`KeyCache`]: the server's cache of **decoded** keys (kes-api.md §8 plus the lifecycle
//! extension), so a request decodes nothing: it finds the key's [`KeyRing`] (every version's
//! secret key, the HMAC key, the disabled flag, creation metadata) by name in O(1).
//!
//! # Layout
//! - this file: [`KeyCache`], [`CachedKey`], [`KeyCacheConfig`], single-flight reads and
//!   state re-validation, eviction, the per-name write locks;
//! - `expiry`: [`Health`] (the keystore's reachability, exposed separately for `/v1/ready` and
//!   `/v1/status`) and the background task (sweeps and health probe);
//! - `tests`: unit tests on a counting keystore double with paused time.
//!
//! # Semantics (those of KES's key cache, plus state re-validation)
//! - Concurrent misses for one name make exactly one keystore read (single flight); every
//!   caller gets its result, including an error. Errors are never cached. A caller cancelled
//!   while running the read hands it over to a waiting caller.
//! - Expiry by periodic sweeps: every `any` the whole cache is dropped; every `unused / 2` the
//!   entries not read since the previous sweep are dropped.
//! - Health: every `probe_interval` the keystore's `status` is called (bounded by one interval).
//!   While it fails the keystore is *offline*; with `offline > 0` the any/unused sweeps are
//!   suspended and the whole cache is dropped `offline` after going offline and every `offline`
//!   thereafter. A miss always goes to the keystore.
//! - **State re-validation** (`cache.expiry.state`, default 5 s, 0 = off): a cached key is
//!   served without touching the keystore for at most `state` after the read it came from
//!   started. The first request after that re-reads the stored value (single flight: concurrent
//!   requests wait for the same read); an unchanged value (same SHA-256 digest) keeps the decoded
//!   key, a changed one is decoded again (another server disabled, enabled or rotated it), a
//!   deleted one is evicted (404). So a change made through any server sharing the keystore is
//!   seen by every server within `state` plus one keystore read. If the re-read fails with
//!   *unreachable* and offline mode is on (`offline > 0`), the cached key and its state stand
//!   (until the offline window drops them); any other failure evicts the key and the request
//!   fails (502), so a key disabled elsewhere is not served on stale state.
//! - [`KeyCache::evict`] removes a name, including a read in flight, whose result is then not
//!   cached: a value read before a write is never served after it. Handlers evict after every
//!   create, import, delete, disable, enable and rotate (whatever its result).
//!
//! # Security
//! Key bytes live in the decoded [`KeyRing`] (zeroizing buffers, wiped when the last request
//! using an entry drops it). `Debug` shows counts only.
//!
//! # Lifetime
//! [`KeyCache::new`] spawns one Tokio task; it ends when the [`KeyCache`] is dropped.

mod expiry;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_lc_rs::digest;
use keystores::{Keystore, validate_name};
use subtle::ConstantTimeEq as _;
use tokio::sync::{OnceCell, watch};
use tokio::time::Instant;

use crate::crypto::KeyRing;
pub(crate) use expiry::Health;

/// The cache settings: `cache.expiry.{any,unused,offline,state}` and the probe interval.
/// A zero duration turns that setting off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCacheConfig {
    /// Drop the whole cache every `any`. Default 5 min.
    pub any: Duration,
    /// Every `unused / 2` (at least 1 ms), drop keys not read since the previous sweep.
    /// Default 30 s.
    pub unused: Duration,
    /// While the keystore is unreachable, keep serving cached keys and drop the whole cache every
    /// `offline` instead of sweeping. Default 0 (off).
    pub offline: Duration,
    /// Re-read a cached key's stored value (its state) at most this long after the last read.
    /// Default 5 s; 0 = never (state then changes only when the entry expires).
    pub state: Duration,
    /// How often the keystore's health is probed. Default 10 s; 0 = never (never offline).
    pub probe_interval: Duration,
}

impl Default for KeyCacheConfig {
    /// 5 min / 30 s / off / 5 s, probe every 10 s.
    fn default() -> Self {
        KeyCacheConfig {
            any: Duration::from_secs(300),
            unused: Duration::from_secs(30),
            offline: Duration::ZERO,
            state: Duration::from_secs(5),
            probe_interval: Duration::from_secs(10),
        }
    }
}

/// One decoded key as the cache holds it.
pub struct CachedKey {
    /// Every version and the disabled flag.
    pub ring: KeyRing,
    /// SHA-256 of the stored value it was decoded from (tells a changed value on re-read).
    digest: [u8; 32],
}

impl fmt::Debug for CachedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedKey")
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

/// The outcome of one keystore read, shared by every caller waiting for it, and when the read
/// started (the time the state it found was current at the latest).
type Loaded = (Result<Arc<CachedKey>, Arc<keystores::Error>>, Instant);

/// One read in flight; its pointer identity tells whether the map entry is still its own.
type Flight = Arc<OnceCell<Loaded>>;

enum Slot {
    /// A decoded key; whether it was read since the last unused-sweep; when the read it came
    /// from started.
    Ready {
        key: Arc<CachedKey>,
        used: bool,
        read_at: Instant,
    },
    /// A read in flight: a first read (`stale: None`) or the re-validation of `stale`.
    Loading {
        flight: Flight,
        stale: Option<Arc<CachedKey>>,
    },
}

/// State shared between the [`KeyCache`] and its background task.
struct Shared {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Shared {
    // Lock poisoning: no critical section panics half-way (map operations only), so a poisoned
    // map is still consistent.
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops every cached key and every re-validation in flight (first reads in flight stay).
    fn flush(&self) {
        self.slots()
            .retain(|_, slot| matches!(slot, Slot::Loading { stale: None, .. }));
    }

    /// Drops keys not read since the previous sweep and clears the flags.
    fn sweep_unused(&self) {
        self.slots().retain(|_, slot| match slot {
            Slot::Ready { used, .. } => std::mem::replace(used, false),
            Slot::Loading { .. } => true,
        });
    }
}

/// Number of write-lock stripes (see [`KeyCache::write_lock`]).
const STRIPES: usize = 64;

/// The decoded-key cache in front of a keystore; see the module docs.
pub struct KeyCache {
    store: Arc<dyn Keystore>,
    shared: Arc<Shared>,
    health: Arc<Health>,
    cfg: KeyCacheConfig,
    locks: [tokio::sync::Mutex<()>; STRIPES],
    hasher: std::collections::hash_map::RandomState,
    /// Dropping it stops the background task.
    _stop: watch::Sender<()>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = self.shared.slots();
        let cached = slots
            .values()
            .filter(|s| matches!(s, Slot::Ready { .. }))
            .count();
        let loading = slots.len() - cached;
        drop(slots);
        f.debug_struct("KeyCache")
            .field("cached", &cached)
            .field("loading", &loading)
            .field("offline", &self.health.is_offline())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache over `store`, with its background sweep/probe task started (the first health
    /// probe runs at once).
    ///
    /// # Panics
    /// If called outside a Tokio runtime (it spawns a task).
    pub fn new(store: Arc<dyn Keystore>, cfg: KeyCacheConfig) -> Arc<KeyCache> {
        let shared = Arc::new(Shared {
            slots: Mutex::new(HashMap::new()),
        });
        let health = Arc::new(Health::default());
        let (stop, stopped) = watch::channel(());
        tokio::spawn(expiry::run(
            Arc::clone(&shared),
            Arc::clone(&health),
            Arc::clone(&store),
            cfg,
            stopped,
        ));
        Arc::new(KeyCache {
            store,
            shared,
            health,
            cfg,
            locks: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            hasher: std::collections::hash_map::RandomState::new(),
            _stop: stop,
        })
    }

    /// The keystore's health as the probe last saw it.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The settings this cache runs with.
    pub fn config(&self) -> &KeyCacheConfig {
        &self.cfg
    }

    /// The decoded key `name`: from the cache, or read and decoded once for all concurrent
    /// callers, re-validated against the keystore when its state check is due (module docs).
    ///
    /// # Errors
    /// [`keystores::Error::InvalidName`] for a name failing [`validate_name`]; the keystore's
    /// error (not cached; `NotFound` for a missing or deleted key); a stored value that does not
    /// decode is a [`keystores::Error::Backend`] naming the key (never its bytes).
    pub async fn get(&self, name: &str) -> Result<Arc<CachedKey>, keystores::Error> {
        validate_name(name)?;
        let (flight, stale) = {
            let mut slots = self.shared.slots();
            match slots.get_mut(name) {
                Some(Slot::Ready { key, used, read_at }) => {
                    *used = true;
                    if !self.recheck_due(*read_at) {
                        return Ok(Arc::clone(key));
                    }
                    let stale = Some(Arc::clone(key));
                    let flight = Flight::default();
                    let slot = Slot::Loading {
                        flight: Arc::clone(&flight),
                        stale: stale.clone(),
                    };
                    slots.insert(name.to_owned(), slot);
                    (flight, stale)
                }
                // Join the read in flight.
                Some(Slot::Loading { flight, stale }) => (Arc::clone(flight), stale.clone()),
                None => {
                    let flight = Flight::default();
                    let slot = Slot::Loading {
                        flight: Arc::clone(&flight),
                        stale: None,
                    };
                    slots.insert(name.to_owned(), slot);
                    (flight, None)
                }
            }
        };
        self.finish(name, flight, stale).await
    }

    /// Runs (or waits for) `flight`, then caches its result if the slot is still its own.
    async fn finish(
        &self,
        name: &str,
        flight: Flight,
        stale: Option<Arc<CachedKey>>,
    ) -> Result<Arc<CachedKey>, keystores::Error> {
        let (loaded, read_at) = flight.get_or_init(|| self.fetch(name, stale)).await;
        {
            let mut slots = self.shared.slots();
            let ours = matches!(
                slots.get(name),
                Some(Slot::Loading { flight: f, .. }) if Arc::ptr_eq(f, &flight)
            );
            if ours {
                match loaded {
                    Ok(key) => {
                        slots.insert(
                            name.to_owned(),
                            Slot::Ready {
                                key: Arc::clone(key),
                                used: true,
                                read_at: *read_at,
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
            Ok(key) => Ok(Arc::clone(key)),
            Err(err) => Err(share_error(err)),
        }
    }

    /// One keystore read: decodes a new or changed value, keeps `stale` when the value is
    /// unchanged (or, in offline mode, when the keystore is unreachable).
    async fn fetch(&self, name: &str, stale: Option<Arc<CachedKey>>) -> Loaded {
        let started = Instant::now();
        let result = match self.store.get(name).await {
            Ok(bytes) => {
                let digest = sha256(&bytes);
                match stale {
                    Some(old) if bool::from(old.digest.ct_eq(&digest)) => Ok(old),
                    Some(_) | None => match KeyRing::decode(&bytes) {
                        Ok(ring) => Ok(Arc::new(CachedKey { ring, digest })),
                        Err(err) => Err(Arc::new(keystores::Error::backend(format!(
                            "stored value of key '{name}' is invalid: {err}"
                        )))),
                    },
                }
            }
            Err(err) => match stale {
                Some(old)
                    if !self.cfg.offline.is_zero()
                        && matches!(err, keystores::Error::Unreachable(_)) =>
                {
                    tracing::debug!(key = name, "keystore unreachable: cached key state stands");
                    Ok(old)
                }
                Some(_) | None => Err(Arc::new(err)),
            },
        };
        (result, started)
    }

    /// Whether a key read at `read_at` must be re-validated before it is served.
    fn recheck_due(&self, read_at: Instant) -> bool {
        !self.cfg.state.is_zero() && read_at.elapsed() >= self.cfg.state
    }

    /// Removes `name`, including a read in flight (whose result will then not be cached).
    pub fn evict(&self, name: &str) {
        self.shared.slots().remove(name);
    }

    /// An exclusive lock for read-modify-write of `name` on this server (one of [`STRIPES`]
    /// locks, chosen by a keyed hash of the name). It only saves wasted retries: correctness
    /// between servers comes from the keystore's compare-and-swap.
    pub async fn write_lock(&self, name: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let mut h = self.hasher.build_hasher();
        h.write(name.as_bytes());
        // `as usize` after the modulo: the value is below STRIPES, so nothing is truncated.
        let stripe = (h.finish() % STRIPES as u64) as usize;
        #[allow(
            clippy::indexing_slicing,
            reason = "stripe < STRIPES, the length of locks, by the modulo above"
        )]
        let lock = &self.locks[stripe];
        lock.lock().await
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Gives each caller of a shared read its own copy of the error.
fn share_error(err: &Arc<keystores::Error>) -> keystores::Error {
    use keystores::Error as E;
    match err.as_ref() {
        E::KeyExists => E::KeyExists,
        E::NotFound => E::NotFound,
        E::InvalidName => E::InvalidName,
        E::Conflict => E::Conflict,
        E::Unsupported(msg) => E::Unsupported(msg.clone()),
        E::Unreachable(_) => E::Unreachable(Box::new(SharedError(Arc::clone(err)))),
        E::Backend(_) => E::Backend(Box::new(SharedError(Arc::clone(err)))),
    }
}

/// The source of a shared [`keystores::Error::Unreachable`] or [`keystores::Error::Backend`];
/// displays (and chains to) the original source.
#[derive(Debug)]
struct SharedError(Arc<keystores::Error>);

impl SharedError {
    fn original(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        use keystores::Error as E;
        match self.0.as_ref() {
            E::Unreachable(src) | E::Backend(src) => Some(src.as_ref()),
            E::KeyExists | E::NotFound | E::InvalidName | E::Conflict | E::Unsupported(_) => None,
        }
    }
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.original() {
            Some(src) => fmt::Display::fmt(src, f),
            None => fmt::Display::fmt(&self.0, f),
        }
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.original().and_then(|src| src.source())
    }
}
