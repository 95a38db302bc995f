//! Tests of the [`Cache`] decorator: single flight, sweeps, offline mode,
//! eviction, error handling, task lifetime, and the conformance suite.
//!
//! Time-dependent tests run on a paused Tokio clock (`start_paused`): a
//! `sleep_until` in the test advances virtual time, firing the cache's timers
//! in order, and returns only after every task woken earlier has run.
//!
//! `double`: the test double (a [`MemKeystore`] whose availability the test
//! controls and which counts calls) and shared helpers.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod double;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keystores::{
    Cache, CacheConfig, Error, Keystore, MemKeystore, Page, Status, conformance::run_suite,
};
use tokio::time::Instant;
use zeroize::Zeroizing;

use double::{Double, at, cfg, change_behind, value};

#[test]
fn defaults_are_the_documented_ones() {
    let d = CacheConfig::default();
    assert_eq!(d.any, Duration::from_secs(300));
    assert_eq!(d.unused, Duration::from_secs(30));
    assert_eq!(d.offline, Duration::ZERO);
    assert_eq!(d.probe_interval, Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_gets_make_one_inner_get() {
    let double = Double::with_delay(Duration::from_secs(1));
    double.mem.create("k", b"v").await.unwrap();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let cache = Arc::clone(&cache);
        tasks.spawn(async move { cache.get("k").await.map(|v| v.to_vec()) });
    }
    while let Some(res) = tasks.join_next().await {
        assert_eq!(res.unwrap().unwrap(), b"v");
    }
    assert_eq!(
        double.gets(),
        1,
        "100 concurrent misses must make exactly one inner get"
    );
    assert_eq!(value(&cache, "k").await, b"v");
    assert_eq!(
        double.gets(),
        1,
        "a later get must be served from the cache"
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_failing_gets_share_one_error_which_is_not_cached() {
    let double = Double::with_delay(Duration::from_secs(1));
    double.mem.create("k", b"v").await.unwrap();
    double.set_up(false);
    let cache = Cache::new(double.clone(), CacheConfig::default());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let cache = Arc::clone(&cache);
        tasks.spawn(async move { cache.get("k").await.map(|v| v.to_vec()) });
    }
    while let Some(res) = tasks.join_next().await {
        let err = res.unwrap().unwrap_err();
        assert!(matches!(err, Error::Unreachable(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "keystore is unreachable: test double is down"
        );
    }
    assert_eq!(double.gets(), 1, "waiters must share the in-flight error");
    double.set_up(true);
    assert_eq!(value(&cache, "k").await, b"v");
    assert_eq!(double.gets(), 2, "an error must not be cached");
    assert!(matches!(cache.get("missing").await, Err(Error::NotFound)));
    assert!(matches!(cache.get("missing").await, Err(Error::NotFound)));
    assert_eq!(double.gets(), 4, "NotFound must not be cached");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_reader_hands_over_to_a_waiting_one() {
    let double = Double::with_delay(Duration::from_secs(1));
    double.mem.create("k", b"v").await.unwrap();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    let leader = tokio::spawn({
        let cache = Arc::clone(&cache);
        async move { cache.get("k").await.map(|v| v.to_vec()) }
    });
    while double.gets() == 0 {
        tokio::task::yield_now().await;
    }
    let waiter = tokio::spawn({
        let cache = Arc::clone(&cache);
        async move { cache.get("k").await.map(|v| v.to_vec()) }
    });
    tokio::task::yield_now().await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    assert_eq!(
        waiter.await.unwrap().unwrap(),
        b"v",
        "the waiter must not hang"
    );
    assert_eq!(double.gets(), 2, "the waiter re-runs the read");
    assert_eq!(value(&cache, "k").await, b"v");
    assert_eq!(double.gets(), 2);
}

#[tokio::test(start_paused = true)]
async fn unused_entries_are_dropped_and_used_ones_survive() {
    let double = Double::new();
    double.mem.create("a", b"A").await.unwrap();
    double.mem.create("b", b"B").await.unwrap();
    let start = Instant::now();
    // unused = 20 s: sweeps at 10, 20, 30, 40 s.
    let cache = Cache::new(double.clone(), cfg(3600, 20, 0));
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(value(&cache, "b").await, b"B");
    assert_eq!(double.gets(), 2);
    at(start, 5).await;
    assert_eq!(value(&cache, "a").await, b"A");
    at(start, 15).await; // sweep at 10 cleared both flags
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(
        double.gets(),
        2,
        "entries read before the first sweep survive it"
    );
    at(start, 25).await; // sweep at 20: a was read at 15, b was not
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(
        double.gets(),
        2,
        "an entry read since the previous sweep survives"
    );
    assert_eq!(value(&cache, "b").await, b"B");
    assert_eq!(double.gets(), 3, "an idle entry is dropped");
    at(start, 45).await; // sweep at 30 cleared, sweep at 40 dropped both
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(value(&cache, "b").await, b"B");
    assert_eq!(double.gets(), 5);
}

#[tokio::test(start_paused = true)]
async fn any_drops_the_whole_cache_even_when_used() {
    let double = Double::new();
    double.mem.create("a", b"A").await.unwrap();
    let start = Instant::now();
    let cache = Cache::new(double.clone(), cfg(60, 0, 0));
    assert_eq!(value(&cache, "a").await, b"A");
    for t in [15, 30, 45, 59] {
        at(start, t).await;
        assert_eq!(value(&cache, "a").await, b"A");
    }
    assert_eq!(double.gets(), 1, "served from the cache before `any`");
    at(start, 61).await;
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(
        double.gets(),
        2,
        "`any` must drop even frequently used entries"
    );
    at(start, 119).await;
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(double.gets(), 2);
    at(start, 121).await;
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(double.gets(), 3);
}

#[tokio::test(start_paused = true)]
async fn offline_cache_serves_within_the_window_and_fails_after() {
    let double = Double::new();
    double.mem.create("a", b"A").await.unwrap();
    double.mem.create("c", b"C").await.unwrap();
    let start = Instant::now();
    // Probes at 0, 10, 20, ...; `any` would flush at 30 and 60; offline 60 s.
    let cache = Cache::new(double.clone(), cfg(30, 0, 60));
    assert_eq!(value(&cache, "a").await, b"A");
    assert!(!cache.is_offline());
    at(start, 5).await;
    double.set_up(false);
    assert!(!cache.is_offline(), "offline only after a failed probe");
    at(start, 12).await; // probe at 10 failed
    assert!(cache.is_offline());
    assert_eq!(value(&cache, "a").await, b"A");
    assert!(
        matches!(cache.get("c").await, Err(Error::Unreachable(_))),
        "a miss goes to the store"
    );
    assert_eq!(double.gets(), 2);
    for t in [35, 65, 69] {
        at(start, t).await; // `any` at 30 and 60 is suspended
        assert_eq!(
            value(&cache, "a").await,
            b"A",
            "cached key must be served at {t} s while offline"
        );
    }
    assert_eq!(double.gets(), 2, "served from the cache while offline");
    at(start, 71).await; // offline flush at 10 + 60
    assert!(
        matches!(cache.get("a").await, Err(Error::Unreachable(_))),
        "after the offline window"
    );
    assert_eq!(double.gets(), 3);
    double.set_up(true);
    at(start, 81).await; // probe at 80 succeeded
    assert!(!cache.is_offline());
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(double.gets(), 4);
    at(start, 95).await; // online again: `any` at 90 flushes
    assert_eq!(value(&cache, "a").await, b"A");
    assert_eq!(double.gets(), 5, "sweeps resume once online");
}

#[tokio::test(start_paused = true)]
async fn offline_disabled_keeps_the_normal_sweeps() {
    let double = Double::new();
    double.mem.create("a", b"A").await.unwrap();
    let start = Instant::now();
    let cache = Cache::new(double.clone(), cfg(30, 0, 0));
    assert_eq!(value(&cache, "a").await, b"A");
    double.set_up(false);
    at(start, 12).await;
    assert!(
        cache.is_offline(),
        "is_offline reflects the probe even without an offline cache"
    );
    assert_eq!(
        value(&cache, "a").await,
        b"A",
        "entries stay until the next sweep"
    );
    at(start, 31).await; // `any` at 30 still runs
    assert!(matches!(cache.get("a").await, Err(Error::Unreachable(_))));
    assert_eq!(double.gets(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_probe_counts_as_offline() {
    struct Hangs;
    #[async_trait]
    impl Keystore for Hangs {
        async fn status(&self) -> Result<Status, Error> {
            std::future::pending().await
        }
        async fn create(&self, _: &str, _: &[u8]) -> Result<(), Error> {
            Ok(())
        }
        async fn get(&self, _: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
            Err(Error::NotFound)
        }
        async fn delete(&self, _: &str) -> Result<(), Error> {
            Ok(())
        }
        async fn list(&self, _: &str, _: &str, _: usize) -> Result<Page, Error> {
            Ok(Page::default())
        }
    }
    let start = Instant::now();
    let cache = Cache::new(Arc::new(Hangs), CacheConfig::default());
    at(start, 9).await;
    assert!(!cache.is_offline());
    at(start, 11).await; // the probe started at 0 timed out at 10
    assert!(cache.is_offline());
}

#[tokio::test(start_paused = true)]
async fn create_and_delete_evict() {
    let double = Double::new();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    cache.create("k", b"one").await.unwrap();
    assert_eq!(double.gets(), 0, "create does not cache");
    assert_eq!(value(&cache, "k").await, b"one");
    assert!(matches!(
        cache.create("k", b"two").await,
        Err(Error::KeyExists)
    ));
    assert_eq!(value(&cache, "k").await, b"one");

    cache.delete("k").await.unwrap();
    assert!(
        matches!(cache.get("k").await, Err(Error::NotFound)),
        "delete must evict"
    );
    cache.create("k", b"three").await.unwrap();
    assert_eq!(value(&cache, "k").await, b"three");

    // Deleted behind the cache's back, then re-created through it.
    double.mem.delete("k").await.unwrap();
    assert_eq!(value(&cache, "k").await, b"three", "still cached");
    cache.create("k", b"four").await.unwrap();
    assert_eq!(
        value(&cache, "k").await,
        b"four",
        "a successful create must evict"
    );
}

#[tokio::test(start_paused = true)]
async fn a_read_in_flight_during_delete_is_not_cached() {
    let double = Double::with_delay(Duration::from_secs(1));
    double.mem.create("k", b"old").await.unwrap();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    let reader = tokio::spawn({
        let cache = Arc::clone(&cache);
        async move { cache.get("k").await.map(|v| v.to_vec()) }
    });
    while double.gets() == 0 {
        tokio::task::yield_now().await;
    }
    cache.delete("k").await.unwrap();
    assert_eq!(
        reader.await.unwrap().unwrap(),
        b"old",
        "the read started before the delete"
    );
    assert!(
        matches!(cache.get("k").await, Err(Error::NotFound)),
        "its value must not be cached"
    );
}

#[tokio::test(start_paused = true)]
async fn update_evicts_and_get_versioned_reads_the_store() {
    let double = Double::new();
    double.mem.create("k", b"one").await.unwrap();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    assert_eq!(value(&cache, "k").await, b"one");
    let two = change_behind(&double, "k", b"two").await;
    assert_eq!(value(&cache, "k").await, b"one", "still cached");

    let read = cache.get_versioned("k").await.unwrap();
    assert_eq!(
        read.value.as_slice(),
        b"two",
        "get_versioned is never cached"
    );
    assert_eq!(read.revision, two);
    assert_eq!(double.versioned(), 1);
    assert_eq!(value(&cache, "k").await, b"one", "and caches nothing");
    assert_eq!(double.gets(), 1);

    let three = cache.update("k", &read.revision, b"three").await.unwrap();
    assert_eq!(value(&cache, "k").await, b"three", "update must evict");
    assert_eq!(double.gets(), 2);

    // A failed update evicts too: the conflict says the cache may be stale.
    change_behind(&double, "k", b"four").await;
    assert_eq!(value(&cache, "k").await, b"three", "still cached");
    assert!(matches!(
        cache.update("k", &three, b"x").await,
        Err(Error::Conflict)
    ));
    assert_eq!(value(&cache, "k").await, b"four");

    double.set_up(false);
    assert!(matches!(
        cache.update("k", &three, b"x").await,
        Err(Error::Unreachable(_))
    ));
    assert!(matches!(
        cache.get_versioned("k").await,
        Err(Error::Unreachable(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_read_in_flight_during_update_is_not_cached() {
    let double = Double::with_delay(Duration::from_secs(1));
    double.mem.create("k", b"old").await.unwrap();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    let reader = tokio::spawn({
        let cache = Arc::clone(&cache);
        async move { cache.get("k").await.map(|v| v.to_vec()) }
    });
    while double.gets() == 0 {
        tokio::task::yield_now().await;
    }
    let read = cache.get_versioned("k").await.unwrap();
    cache.update("k", &read.revision, b"new").await.unwrap();
    assert_eq!(
        reader.await.unwrap().unwrap(),
        b"old",
        "the read started before the update"
    );
    assert_eq!(
        value(&cache, "k").await,
        b"new",
        "its value must not be cached"
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_names_never_reach_the_store_through_get() {
    let double = Double::new();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    assert!(matches!(cache.get("../x").await, Err(Error::InvalidName)));
    assert_eq!(double.gets(), 0);
}

#[tokio::test(start_paused = true)]
async fn list_and_status_pass_through() {
    let double = Double::new();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    cache.create("k1", b"v").await.unwrap();
    double.mem.create("k2", b"v").await.unwrap();
    assert_eq!(cache.list("k", "", 0).await.unwrap().names, ["k1", "k2"]);
    let probes = double.probes();
    assert_eq!(
        cache.status().await.unwrap().latency,
        Duration::from_millis(1)
    );
    assert_eq!(double.probes(), probes + 1);
    double.set_up(false);
    assert!(matches!(cache.status().await, Err(Error::Unreachable(_))));
    assert!(matches!(
        cache.list("", "", 0).await,
        Err(Error::Unreachable(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn the_task_stops_when_the_cache_is_dropped() {
    let double = Double::new();
    let start = Instant::now();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    at(start, 25).await;
    assert_eq!(double.probes(), 3, "probes at 0, 10 and 20 s");
    drop(cache);
    at(start, 100).await;
    assert_eq!(double.probes(), 3, "no probe after the cache is dropped");
    assert_eq!(Arc::strong_count(&double), 1, "the task released the store");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_task_and_turns_caching_off() {
    let double = Double::new();
    double.mem.create("k", b"v").await.unwrap();
    let start = Instant::now();
    let cache = Cache::new(double.clone(), CacheConfig::default());
    assert_eq!(value(&cache, "k").await, b"v");
    at(start, 5).await;
    cache.shutdown().await;
    cache.shutdown().await;
    let probes = double.probes();
    at(start, 100).await;
    assert_eq!(double.probes(), probes, "no probe after shutdown");
    assert_eq!(
        Arc::strong_count(&double),
        2,
        "only the test and the cache hold the store"
    );
    assert_eq!(value(&cache, "k").await, b"v");
    assert_eq!(value(&cache, "k").await, b"v");
    assert_eq!(
        double.gets(),
        3,
        "after shutdown every get goes to the store"
    );
}

#[tokio::test]
async fn debug_shows_no_values() {
    let double = Double::new();
    double.mem.create("k", b"secret-value").await.unwrap();
    let cache = Cache::new(double, CacheConfig::default());
    cache.get("k").await.unwrap();
    let debug = format!("{cache:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(debug.contains("cached: 1"), "{debug}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cache_over_mem_conforms() {
    let cache = Cache::new(Arc::new(MemKeystore::new()), CacheConfig::default());
    run_suite(cache.clone()).await;
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cache_over_mem_conforms_with_short_sweeps() {
    let cfg = CacheConfig {
        any: Duration::from_millis(7),
        unused: Duration::from_millis(4),
        offline: Duration::from_millis(5),
        probe_interval: Duration::from_millis(3),
    };
    run_suite(Cache::new(Arc::new(MemKeystore::new()), cfg)).await;
}
