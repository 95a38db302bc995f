//! [`MemKeystore`]: an in-memory keystore (used by `kes server --dev` and tests).
//!
//! All entries live in one `RwLock<Entries>`; every operation takes the lock
//! once, so `create` (check and insert) and `update` (compare and replace) are
//! atomic under one write lock. Values are held in [`Zeroizing`] buffers and
//! wiped when replaced, removed or when the store is dropped. Nothing survives
//! a restart.
//!
//! Revisions come from one store-wide counter that every write advances, so
//! a revision is never reused, not even by a key deleted and created again.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::{Error, Keystore, Page, Revision, Status, Versioned, list_page, validate_name};

/// A keystore that keeps its entries in process memory.
///
/// Cheap to create; never fails except for [`Error::InvalidName`],
/// [`Error::KeyExists`], [`Error::NotFound`] and [`Error::Conflict`]. `Debug`
/// shows the number of entries only, never names or values.
#[derive(Default)]
pub struct MemKeystore {
    entries: RwLock<Entries>,
}

/// The map and the revision counter, guarded together.
#[derive(Default)]
struct Entries {
    map: BTreeMap<String, Entry>,
    /// The revision the last write got (0 = none yet).
    last: u64,
}

impl Entries {
    /// Advances the counter and returns the new revision.
    fn next(&mut self) -> u64 {
        self.last += 1;
        self.last
    }
}

struct Entry {
    value: Zeroizing<Vec<u8>>,
    revision: u64,
}

fn revision(n: u64) -> Revision {
    Revision::from_bytes(n.to_be_bytes().to_vec())
}

impl std::fmt::Debug for MemKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .map
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
        if entries.map.contains_key(name) {
            return Err(Error::KeyExists);
        }
        let revision = entries.next();
        let value = Zeroizing::new(value.to_vec());
        entries
            .map
            .insert(name.to_owned(), Entry { value, revision });
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        validate_name(name)?;
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.map.get(name).ok_or(Error::NotFound)?;
        Ok(entry.value.clone())
    }

    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        validate_name(name)?;
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.map.get(name).ok_or(Error::NotFound)?;
        Ok(Versioned {
            value: entry.value.clone(),
            revision: revision(entry.revision),
        })
    }

    /// Compares and replaces under one write lock.
    async fn update(&self, name: &str, old: &Revision, new: &[u8]) -> Result<Revision, Error> {
        validate_name(name)?;
        let value = Zeroizing::new(new.to_vec());
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let current = entries.map.get(name).ok_or(Error::NotFound)?.revision;
        if revision(current) != *old {
            return Err(Error::Conflict);
        }
        let next = entries.next();
        // The replaced value is a `Zeroizing` and is wiped as it drops here.
        entries.map.insert(
            name.to_owned(),
            Entry {
                value,
                revision: next,
            },
        );
        Ok(revision(next))
    }

    async fn delete(&self, name: &str) -> Result<(), Error> {
        validate_name(name)?;
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        // The removed value is a `Zeroizing` and is wiped as it drops here.
        entries.map.remove(name).map(drop).ok_or(Error::NotFound)
    }

    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        let names: Vec<String> = {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            entries
                .map
                .keys()
                .filter(|n| n.starts_with(prefix))
                .cloned()
                .collect()
        };
        Ok(list_page(names, prefix, continue_at, limit))
    }
}
