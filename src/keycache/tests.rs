//! Unit tests of the decoded-key cache on a counting keystore double, with Tokio's clock paused
//! (time only moves when the test advances it or every task is idle).
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use keystores::{Error, MemKeystore, Page, Status};
use zeroize::Zeroizing;

use super::*;
use crate::crypto::{KeyVersion, StoredRing};

struct Double {
    inner: MemKeystore,
    gets: AtomicUsize,
    up: AtomicBool,
    /// While `false`, reads wait.
    gate: watch::Sender<bool>,
}

impl Double {
    fn new() -> Arc<Double> {
        Arc::new(Double {
            inner: MemKeystore::new(),
            gets: AtomicUsize::new(0),
            up: AtomicBool::new(true),
            gate: watch::channel(true).0,
        })
    }
    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
    async fn put_new(&self, name: &str) {
        let key = KeyVersion::generate("t").unwrap();
        self.inner.create(name, &key.encode()).await.unwrap();
    }
    /// Read-modify-write of the stored ring, as the API's mutations do.
    async fn change(&self, name: &str, f: impl FnOnce(&mut StoredRing)) {
        let v = self.inner.get_versioned(name).await.unwrap();
        let mut ring = StoredRing::parse(&v.value).unwrap();
        f(&mut ring);
        self.inner
            .update(name, &v.revision, &ring.encode())
            .await
            .unwrap();
    }
}

#[async_trait]
impl Keystore for Double {
    async fn status(&self) -> Result<Status, Error> {
        if self.up.load(Ordering::SeqCst) {
            self.inner.status().await
        } else {
            Err(Error::unreachable("down"))
        }
    }
    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        self.inner.create(name, value).await
    }
    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        // Read first, then wait: a gated read returns the value from before the gate opened.
        let value = if self.up.load(Ordering::SeqCst) {
            self.inner.get(name).await
        } else {
            Err(Error::unreachable("down"))
        };
        let _ = self.gate.subscribe().wait_for(|open| *open).await;
        value
    }
    async fn delete(&self, name: &str) -> Result<(), Error> {
        self.inner.delete(name).await
    }
    async fn list(&self, p: &str, c: &str, l: usize) -> Result<Page, Error> {
        self.inner.list(p, c, l).await
    }
}

fn config(state: u64, offline: u64) -> KeyCacheConfig {
    KeyCacheConfig {
        any: Duration::from_secs(3600),
        unused: Duration::from_secs(3600),
        offline: Duration::from_secs(offline),
        state: Duration::from_secs(state),
        probe_interval: Duration::ZERO,
    }
}

async fn cache_on(state: u64, offline: u64) -> (Arc<Double>, Arc<KeyCache>) {
    let double = Double::new();
    double.put_new("k").await;
    let cache = KeyCache::new(double.clone(), config(state, offline));
    (double, cache)
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_make_one_read() {
    let (double, cache) = cache_on(5, 0).await;
    double.gate.send_replace(false);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get("k").await.map(|_| ()) })
        })
        .collect();
    // Every task is parked on the gate or on the flight.
    while double.gets() == 0 {
        tokio::task::yield_now().await;
    }
    double.gate.send_replace(true);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(double.gets(), 1);
    cache.get("k").await.unwrap();
    assert_eq!(double.gets(), 1, "served from memory");
}

#[tokio::test(start_paused = true)]
async fn state_is_revalidated_after_the_interval_only() {
    let (double, cache) = cache_on(5, 0).await;
    let first = cache.get("k").await.unwrap();
    tokio::time::advance(Duration::from_millis(4900)).await;
    assert!(Arc::ptr_eq(&first, &cache.get("k").await.unwrap()));
    assert_eq!(double.gets(), 1, "not due yet");
    tokio::time::advance(Duration::from_millis(100)).await;
    let same = cache.get("k").await.unwrap();
    assert_eq!(double.gets(), 2, "due: re-read");
    assert!(
        Arc::ptr_eq(&first, &same),
        "unchanged value: same decoded key"
    );

    // Another server disables the key: seen at the next check, not before.
    double.change("k", |r| _ = r.set_disabled(true)).await;
    assert!(!cache.get("k").await.unwrap().ring.is_disabled());
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(cache.get("k").await.unwrap().ring.is_disabled());
    // ... and rotates it.
    double.change("k", |r| _ = r.rotate("x").unwrap()).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(cache.get("k").await.unwrap().ring.newest(), 1);
    // ... and deletes it: evicted, 404.
    double.inner.delete("k").await.unwrap();
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(matches!(cache.get("k").await, Err(Error::NotFound)));
    let reads = double.gets();
    assert!(matches!(cache.get("k").await, Err(Error::NotFound)));
    assert_eq!(double.gets(), reads + 1, "errors are not cached");
}

#[tokio::test(start_paused = true)]
async fn zero_state_interval_never_revalidates() {
    let (double, cache) = cache_on(0, 0).await;
    cache.get("k").await.unwrap();
    double.change("k", |r| _ = r.set_disabled(true)).await;
    tokio::time::advance(Duration::from_secs(600)).await;
    assert!(!cache.get("k").await.unwrap().ring.is_disabled());
    assert_eq!(double.gets(), 1);
}

#[tokio::test(start_paused = true)]
async fn unreachable_keystore_state_stands_only_in_offline_mode() {
    for (offline, stands) in [(60, true), (0, false)] {
        let (double, cache) = cache_on(5, offline).await;
        cache.get("k").await.unwrap();
        double.up.store(false, Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(5)).await;
        let res = cache.get("k").await;
        if stands {
            assert!(res.is_ok(), "offline mode: the cached state stands");
            assert_eq!(double.gets(), 2);
            assert!(cache.get("k").await.is_ok());
            assert_eq!(double.gets(), 2, "checked again only after the interval");
        } else {
            assert!(matches!(res, Err(Error::Unreachable(_))), "{res:?}");
            double.up.store(true, Ordering::SeqCst);
            cache.get("k").await.unwrap();
            assert_eq!(double.gets(), 3, "evicted, read again");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_eviction_during_a_read_keeps_its_result_out_of_the_cache() {
    let (double, cache) = cache_on(5, 0).await;
    double.gate.send_replace(false);
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get("k").await.map(|k| k.ring.is_disabled()) })
    };
    while double.gets() == 0 {
        tokio::task::yield_now().await;
    }
    // A write on this server lands while the read is in flight, then evicts.
    double.change("k", |r| _ = r.set_disabled(true)).await;
    cache.evict("k");
    double.gate.send_replace(true);
    let _ = reader.await.unwrap();
    assert!(
        cache.get("k").await.unwrap().ring.is_disabled(),
        "the value read before the write is not served after it"
    );
    assert_eq!(double.gets(), 2);
}

#[tokio::test(start_paused = true)]
async fn invalid_stored_values_are_errors_without_bytes() {
    let double = Double::new();
    double
        .inner
        .create("bad", b"kes:ring:v9:xyz")
        .await
        .unwrap();
    let cache = KeyCache::new(double.clone(), config(5, 0));
    match cache.get("bad").await {
        Err(Error::Backend(e)) => {
            let text = e.to_string();
            assert!(
                text.contains("stored value of key 'bad' is invalid"),
                "{text}"
            );
            assert!(!text.contains("xyz"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(cache.get("../x").await, Err(Error::InvalidName)));
}

#[tokio::test(start_paused = true)]
async fn write_locks_serialise_one_name() {
    let (_double, cache) = cache_on(5, 0).await;
    let guard = cache.write_lock("k").await;
    let second = {
        let cache = cache.clone();
        tokio::spawn(async move {
            let _g = cache.write_lock("k").await;
        })
    };
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(!second.is_finished(), "waits for the first holder");
    drop(guard);
    second.await.unwrap();
}
