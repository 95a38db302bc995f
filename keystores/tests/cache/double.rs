//! The test double of the cache tests and their shared helpers.
#![allow(
    unreachable_pub,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support shared by test binaries: `pub` is for them, a panic is the failure report"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use keystores::{
    Cache, CacheConfig, Error, Keystore, MemKeystore, Page, Revision, Status, Versioned,
};
use tokio::time::{Instant, sleep_until};
use zeroize::Zeroizing;

/// A keystore whose availability the test controls and which counts calls.
#[derive(Default)]
pub struct Double {
    pub mem: MemKeystore,
    up: AtomicBool,
    gets: AtomicUsize,
    versioned: AtomicUsize,
    probes: AtomicUsize,
    /// Delay of `get`, after reading the value (so a slow read returns what
    /// was stored when it started).
    get_delay: Duration,
}

impl Double {
    pub fn new() -> Arc<Self> {
        Self::with_delay(Duration::ZERO)
    }

    pub fn with_delay(get_delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            up: AtomicBool::new(true),
            get_delay,
            ..Self::default()
        })
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    pub fn versioned(&self) -> usize {
        self.versioned.load(Ordering::SeqCst)
    }

    pub fn probes(&self) -> usize {
        self.probes.load(Ordering::SeqCst)
    }

    pub fn check(&self) -> Result<(), Error> {
        if self.up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Error::unreachable("test double is down"))
        }
    }
}

#[async_trait]
impl Keystore for Double {
    async fn status(&self) -> Result<Status, Error> {
        self.probes.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        Ok(Status {
            latency: Duration::from_millis(1),
        })
    }

    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        self.check()?;
        self.mem.create(name, value).await
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let res = match self.check() {
            Ok(()) => self.mem.get(name).await,
            Err(err) => Err(err),
        };
        if !self.get_delay.is_zero() {
            tokio::time::sleep(self.get_delay).await;
        }
        res
    }

    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        self.versioned.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.mem.get_versioned(name).await
    }

    async fn update(
        &self,
        name: &str,
        expected: &Revision,
        value: &[u8],
    ) -> Result<Revision, Error> {
        self.check()?;
        self.mem.update(name, expected, value).await
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        self.check()?;
        self.mem.delete(name).await
    }

    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        self.check()?;
        self.mem.list(prefix, continue_at, limit).await
    }
}

pub fn cfg(any: u64, unused: u64, offline: u64) -> CacheConfig {
    CacheConfig {
        any: Duration::from_secs(any),
        unused: Duration::from_secs(unused),
        offline: Duration::from_secs(offline),
        probe_interval: Duration::from_secs(10),
    }
}

/// Advances the paused clock to `start + secs`.
pub async fn at(start: Instant, secs: u64) {
    sleep_until(start + Duration::from_secs(secs)).await;
}

pub async fn value(cache: &Cache, name: &str) -> Vec<u8> {
    cache.get(name).await.unwrap().to_vec()
}

/// Changes `name` in the store behind the cache's back.
pub async fn change_behind(double: &Double, name: &str, value: &[u8]) -> Revision {
    let read = double.mem.get_versioned(name).await.unwrap();
    double
        .mem
        .update(name, &read.revision, value)
        .await
        .unwrap()
}
