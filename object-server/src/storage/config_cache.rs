//! The per-bucket configuration cache: parsed bucket configuration documents (policy, Public
//! Access Block, ACL, ownership, versioning, object lock, default encryption), so a request
//! does not open, read and parse each document it consults.
//!
//! * Freshness: a document changed through the server ([`FsStore::set_bucket_config`]) and a
//!   bucket created or deleted through it invalidate that bucket's entries before the call
//!   returns, so the very next request sees the change. A change made behind the server's back
//!   (editing a `.config-*` file, removing a bucket directory) is seen once the entry is older
//!   than [`TTL`] (1 s).
//! * Races: every invalidation bumps an epoch; a reader records the epoch before it reads the
//!   file and stores what it read only if no invalidation happened meanwhile, so a read that
//!   began before a change can never re-insert the old document (nor an old bucket's document
//!   into a recreated bucket of the same name).
//! * A hit also stands for "the bucket existed less than [`TTL`] ago" (the miss path checks it).
//! * Bounded: at most [`MAX_BUCKETS`] buckets are cached (the least recently used is evicted);
//!   each holds one entry per document name (a fixed, small set).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{FsStore, StorageError};

/// How long a cached document is used without re-reading its file.
pub const TTL: Duration = Duration::from_secs(1);
/// At most this many buckets have cached documents.
pub const MAX_BUCKETS: usize = 1024;

type Parsed = Option<Arc<dyn Any + Send + Sync>>;

#[derive(Debug)]
struct BucketEntry {
    docs: HashMap<String, (Instant, Parsed)>,
    /// [`Inner::tick`] of the last use.
    used: u64,
}

#[derive(Debug, Default)]
struct Inner {
    epoch: u64,
    /// Counts uses, for least-recently-used eviction.
    tick: u64,
    buckets: HashMap<String, BucketEntry>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct ConfigCache {
    inner: Mutex<Inner>,
}

impl ConfigCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets `bucket`'s documents (after a change to them or to the bucket).
    pub(super) fn invalidate(&self, bucket: &str) {
        let mut inner = self.lock();
        inner.epoch = inner.epoch.wrapping_add(1);
        inner.buckets.remove(bucket);
    }

    /// The fresh cached document, `Some(None)` when cached as absent, `None` on a miss.
    fn get(&self, bucket: &str, name: &str) -> Option<Parsed> {
        let mut inner = self.lock();
        inner.tick = inner.tick.wrapping_add(1);
        let tick = inner.tick;
        let entry = inner.buckets.get_mut(bucket)?;
        let (at, doc) = entry.docs.get(name)?;
        if at.elapsed() >= TTL {
            return None;
        }
        let doc = doc.clone();
        entry.used = tick;
        Some(doc)
    }

    fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Stores `doc` unless an invalidation happened since `epoch`.
    fn put(&self, epoch: u64, bucket: &str, name: &str, doc: Parsed) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            return;
        }
        let now = Instant::now();
        inner.tick = inner.tick.wrapping_add(1);
        let tick = inner.tick;
        if !inner.buckets.contains_key(bucket) && inner.buckets.len() >= MAX_BUCKETS {
            let oldest = inner
                .buckets
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(b, _)| b.clone());
            if let Some(b) = oldest {
                inner.buckets.remove(&b);
            }
        }
        let entry = inner
            .buckets
            .entry(bucket.to_owned())
            .or_insert_with(|| BucketEntry {
                docs: HashMap::new(),
                used: tick,
            });
        entry.used = tick;
        entry.docs.insert(name.to_owned(), (now, doc));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().buckets.len()
    }
}

impl FsStore {
    /// Bucket configuration document `name` parsed by `parse`, `None` when not set, from the
    /// cache while fresh (see the module docs). `NoSuchBucket` if the bucket does not exist;
    /// a document `parse` rejects is `Corrupt` (and not cached).
    pub async fn bucket_config_parsed<T: Any + Send + Sync>(
        &self,
        bucket: &str,
        name: &str,
        parse: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Result<Option<Arc<T>>, StorageError> {
        if let Some(doc) = self.config_cache.get(bucket, name) {
            match doc.map(Arc::downcast::<T>) {
                None => return Ok(None),
                Some(Ok(t)) => return Ok(Some(t)),
                Some(Err(_)) => {} // cached as another type: read it again
            }
        }
        let epoch = self.config_cache.epoch();
        let parsed = match self.bucket_config(bucket, name).await? {
            None => None,
            Some(bytes) => Some(Arc::new(parse(&bytes).map_err(|e| {
                StorageError::Corrupt(format!("bucket {bucket}: config {name}: {e}"))
            })?)),
        };
        let doc: Parsed = parsed.clone().map(|t| -> Arc<dyn Any + Send + Sync> { t });
        self.config_cache.put(epoch, bucket, name, doc);
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cached_changed_invalidated_and_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        store.create_bucket("bkt").await.unwrap();
        let read = |s: &'static str| {
            let store = &store;
            async move {
                store
                    .bucket_config_parsed("bkt", "doc", |b| {
                        Ok(String::from_utf8_lossy(b).into_owned())
                    })
                    .await
                    .map(|d| d.map(|s| s.as_str().to_owned()))
                    .map_err(|e| format!("{s}: {e}"))
            }
        };
        assert_eq!(read("absent").await.unwrap(), None);
        store
            .set_bucket_config("bkt", "doc", Some(b"one".to_vec()))
            .await
            .unwrap();
        assert_eq!(read("after put").await.unwrap().as_deref(), Some("one"));
        // Behind the server's back: not seen while the entry is fresh.
        std::fs::write(dir.path().join("bkt/.config-doc"), b"two").unwrap();
        assert_eq!(read("cached").await.unwrap().as_deref(), Some("one"));
        store.delete_bucket("bkt").await.unwrap();
        assert!(read("deleted").await.is_err());
        store.create_bucket("bkt").await.unwrap();
        assert_eq!(read("recreated").await.unwrap(), None);
    }

    #[test]
    fn stale_reads_are_not_stored_and_size_is_bounded() {
        let cache = ConfigCache::default();
        let epoch = cache.epoch();
        cache.invalidate("b");
        cache.put(epoch, "b", "doc", None);
        assert!(cache.get("b", "doc").is_none());
        let epoch = cache.epoch();
        for i in 0..MAX_BUCKETS + 10 {
            cache.put(epoch, &format!("b{i}"), "doc", None);
        }
        assert_eq!(cache.len(), MAX_BUCKETS);
        assert!(
            cache.get("b0", "doc").is_none(),
            "least recently used evicted"
        );
        assert!(cache.get(&format!("b{}", MAX_BUCKETS + 9), "doc").is_some());
    }
}
