//! [`MemKeystore`]: an in-memory keystore (used by `kes server --dev` and tests).
//!
//! All entries live in one `RwLock<BTreeMap<..>>`; every operation takes the
//! lock once, so `create` is atomic (check and insert under one write lock).
//! Values are held in [`Zeroizing`] buffers and wiped when removed or when the
//! store is dropped. Nothing survives a restart.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::{Error, Keystore, Page, Status, list_page, validate_name};

/// A keystore that keeps its entries in process memory.
///
/// Cheap to create; never fails except for [`Error::InvalidName`],
/// [`Error::KeyExists`] and [`Error::NotFound`]. `Debug` shows the number of
/// entries only, never names or values.
#[derive(Default)]
pub struct MemKeystore {
    entries: RwLock<BTreeMap<String, Zeroizing<Vec<u8>>>>,
}

impl std::fmt::Debug for MemKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("MemKeystore")
            .field("entries", &len)
            .finish()
    }
}

impl MemKeystore {
    /// Returns an empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

// Lock poisoning: no critical section below can panic half-way through an
// update (BTreeMap operations and clones only), so a poisoned lock still guards
// a consistent map and is recovered with `into_inner`.
#[async_trait]
impl Keystore for MemKeystore {
    /// Always `Ok`; the latency is the time to take the read lock.
    async fn status(&self) -> Result<Status, Error> {
        let start = Instant::now();
        drop(self.entries.read().unwrap_or_else(PoisonError::into_inner));
        Ok(Status {
            latency: start.elapsed(),
        })
    }

    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        validate_name(name)?;
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.contains_key(name) {
            return Err(Error::KeyExists);
        }
        entries.insert(name.to_owned(), Zeroizing::new(value.to_vec()));
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        validate_name(name)?;
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.get(name).cloned().ok_or(Error::NotFound)
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        validate_name(name)?;
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        // The removed value is a `Zeroizing` and is wiped as it drops here.
        entries.remove(name).map(drop).ok_or(Error::NotFound)
    }

    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        let names: Vec<String> = {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            entries
                .keys()
                .filter(|n| n.starts_with(prefix))
                .cloned()
                .collect()
        };
        Ok(list_page(names, prefix, continue_at, limit))
    }
}
