//! The key index: per bucket, the sorted set of keys that have a current object file (objects
//! and delete markers), kept in memory so a listing page seeks to its marker in O(log n) and
//! reads only the files it returns — O(page size + log n) instead of reading the whole bucket.
//!
//! * The filesystem stays the only source of truth: the index is built from a bucket's `obj/`
//!   directory once per bucket and process — by the background build the server starts
//!   ([`FsStore::build_indexes`]) or by the bucket's first listing, whichever comes first — and
//!   is then kept up to date by every commit and delete of this process.
//! * A clean shutdown saves every built index ([`FsStore::save_indexes`], format and trust
//!   rules in `index_store`); the build then loads the saved keys instead of scanning, unless
//!   the server crashed since or the bucket's `obj/` directory changed since the save.
//! * Updates happen after the filesystem change: a commit inserts its key; a delete removes it
//!   only if, checked under the index lock, the key's file no longer exists (so a concurrent
//!   PUT that won the race is never dropped). Keys committed or deleted while a build scans
//!   the directory are re-checked against the filesystem when the build finishes.
//! * An index entry whose file is gone (e.g. removed behind the server's back) is skipped by the
//!   listing that reads it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::ErrorKind;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

use super::file::{self, ObjectMeta};
use super::fs::blocking;
use super::index_store::{self, DirStamp};
use super::{FsStore, StorageError};

/// One bucket's keys.
#[derive(Debug, Default)]
struct BucketKeys {
    keys: BTreeSet<String>,
    /// `Some` while a build scans the directory: keys changed meanwhile, re-checked at the end.
    building: Option<HashSet<String>>,
    /// Tells this entry from an earlier one of a deleted bucket of the same name.
    generation: u64,
}

/// Where saved indexes live and whether they may be loaded.
#[derive(Debug)]
pub(super) struct Saved {
    /// `<data>/.objsrv/index`.
    pub(super) dir: std::path::PathBuf,
    /// The previous run shut down cleanly (its marker was found at start).
    pub(super) trusted: bool,
}

/// The in-memory key index of all buckets (see the module docs).
#[derive(Debug, Default)]
pub(super) struct KeyIndex {
    buckets: Mutex<HashMap<String, BucketKeys>>,
    built: Condvar,
    generations: std::sync::atomic::AtomicU64,
    /// `None` for a store opened without persistence (tools, tests of the layout).
    saved: Option<Saved>,
}

fn file_exists(obj_dir: &Path, key: &str) -> bool {
    obj_dir
        .join(hex::encode(Sha256::digest(key.as_bytes())))
        .exists()
}

/// The smallest string greater than every string starting with `s` (`None`: there is none).
pub(super) fn successor(s: &str) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match u32::from(c) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl KeyIndex {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, BucketKeys>> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that `bucket/key` now has a current file (after the rename).
    pub(super) fn inserted(&self, bucket: &str, key: &str) {
        if let Some(b) = self.lock().get_mut(bucket) {
            match &mut b.building {
                Some(touched) => {
                    touched.insert(key.to_owned());
                }
                None => {
                    b.keys.insert(key.to_owned());
                }
            }
        }
    }

    /// Records that `bucket/key`'s current file may be gone (after the unlink); the key leaves
    /// the index only if its file in `obj_dir` does not exist.
    pub(super) fn removed(&self, bucket: &str, obj_dir: &Path, key: &str) {
        if let Some(b) = self.lock().get_mut(bucket) {
            match &mut b.building {
                Some(touched) => {
                    touched.insert(key.to_owned());
                }
                None => {
                    if !file_exists(obj_dir, key) {
                        b.keys.remove(key);
                    }
                }
            }
        }
    }

    /// An empty index that loads and saves under `saved`.
    pub(super) fn persisted(saved: Saved) -> Self {
        Self {
            saved: Some(saved),
            ..Self::default()
        }
    }

    fn next_generation(&self) -> u64 {
        self.generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// A new, empty bucket: its index is complete from the start.
    pub(super) fn created(&self, bucket: &str) {
        let generation = self.next_generation();
        self.lock().insert(
            bucket.to_owned(),
            BucketKeys {
                generation,
                ..BucketKeys::default()
            },
        );
    }

    /// The bucket is gone.
    pub(super) fn dropped(&self, bucket: &str) {
        self.lock().remove(bucket);
    }

    /// Builds `bucket`'s index — from its saved keys when they may be trusted, else by a scan
    /// of `obj_dir` — unless it is built (waits for a build in progress). Blocking.
    pub(super) fn ensure(&self, bucket: &str, obj_dir: &Path) -> Result<(), StorageError> {
        let generation = self.next_generation();
        {
            let mut map = self.lock();
            loop {
                match map.get(bucket) {
                    Some(b) if b.building.is_none() => return Ok(()),
                    Some(_) => {
                        map = self.built.wait(map).unwrap_or_else(PoisonError::into_inner);
                    }
                    None => {
                        map.insert(
                            bucket.to_owned(),
                            BucketKeys {
                                keys: BTreeSet::new(),
                                building: Some(HashSet::new()),
                                generation,
                            },
                        );
                        break;
                    }
                }
            }
        }
        let loaded = self
            .saved
            .as_ref()
            .filter(|s| s.trusted)
            .and_then(|s| index_store::load(&s.dir, bucket, obj_dir));
        let started = std::time::Instant::now();
        let from_saved = loaded.is_some();
        let scanned = match loaded {
            Some(keys) => Ok(keys),
            None => scan(obj_dir),
        };
        if let Ok(keys) = &scanned {
            tracing::info!(
                bucket,
                keys = keys.len(),
                source = if from_saved { "saved" } else { "scan" },
                ms = started.elapsed().as_millis(),
                "key index built"
            );
        }
        let mut map = self.lock();
        match scanned {
            Ok(keys) => {
                if let Some(b) = map.get_mut(bucket).filter(|b| b.generation == generation) {
                    let touched = b.building.take().unwrap_or_default();
                    b.keys = keys;
                    for key in touched {
                        if file_exists(obj_dir, &key) {
                            b.keys.insert(key);
                        } else {
                            b.keys.remove(&key);
                        }
                    }
                }
                drop(map);
                self.built.notify_all();
                Ok(())
            }
            Err(e) => {
                if map.get(bucket).is_some_and(|b| b.generation == generation) {
                    map.remove(bucket);
                }
                drop(map);
                self.built.notify_all();
                Err(e)
            }
        }
    }

    /// Up to `limit` keys of `bucket` starting with `prefix`, in order, from `from` on. With a
    /// `delimiter`, each common prefix contributes only its first key (the listing folds it)
    /// and the walk seeks past it. The index must be built ([`KeyIndex::ensure`]). Each key
    /// costs one O(log n) seek.
    pub(super) fn keys(
        &self,
        bucket: &str,
        prefix: &str,
        from: Bound<&str>,
        delimiter: Option<&str>,
        limit: usize,
    ) -> Vec<String> {
        let map = self.lock();
        let Some(b) = map.get(bucket) else {
            return Vec::new();
        };
        let mut cursor: Bound<String> = match from {
            Bound::Included(f) if f >= prefix => Bound::Included(f.to_owned()),
            Bound::Excluded(f) if f >= prefix => Bound::Excluded(f.to_owned()),
            _ => Bound::Included(prefix.to_owned()),
        };
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(k) = b
                .keys
                .range::<String, _>((cursor.as_ref(), Bound::Unbounded))
                .next()
            else {
                break;
            };
            if !k.starts_with(prefix) {
                break;
            }
            out.push(k.clone());
            let folded = delimiter.and_then(|d| {
                let rest = k.get(prefix.len()..)?;
                rest.find(d).map(|i| &k[..prefix.len() + i + d.len()])
            });
            cursor = match folded {
                Some(cp) => match successor(cp) {
                    Some(s) => Bound::Included(s),
                    None => break,
                },
                None => Bound::Excluded(k.clone()),
            };
        }
        out
    }

    /// Saves every built index under `root/<bucket>/obj` (blocking; the caller holds off
    /// writers), removes other saved files, then writes the clean-shutdown marker.
    fn save_all(&self, root: &Path, tmp: &Path) -> Result<usize, StorageError> {
        let Some(saved) = &self.saved else {
            return Ok(0);
        };
        let built: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, b)| b.building.is_none())
            .map(|(name, _)| name.clone())
            .collect();
        let mut names = Vec::new();
        let mut stamps = Vec::new();
        for bucket in built {
            let obj_dir = root.join(&bucket).join("obj");
            // Under the bucket's exclusive directory lock, the lock every object write holds
            // (shared) from its rename to its index update: the stamp and the keys saved
            // describe the same state. Lock order as the writers: directory, then index.
            let saved_one = super::versions::exclusive(&obj_dir, || {
                let stamp = DirStamp::of(&obj_dir)?;
                let map = self.lock();
                let Some(b) = map.get(&bucket).filter(|b| b.building.is_none()) else {
                    return Ok(None);
                };
                index_store::save(&saved.dir, tmp, &bucket, stamp, &b.keys)?;
                Ok(Some(stamp))
            });
            match saved_one {
                Ok(Some(stamp)) => {
                    names.push(bucket);
                    stamps.push(stamp);
                }
                Ok(None) | Err(StorageError::NoSuchBucket) => {}
                Err(e) => return Err(e),
            }
        }
        index_store::remove_others(&saved.dir, &names)?;
        index_store::mark_clean(&saved.dir, tmp, &stamps)?;
        Ok(names.len())
    }
}

impl FsStore {
    /// Builds the key index of every bucket (loading saved ones where trusted), one bucket
    /// after the other; listings of a bucket whose build is running wait for it. Failures are
    /// logged (the bucket's first listing retries).
    pub async fn build_indexes(&self) {
        let buckets = match self.list_buckets().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "key index build: cannot list buckets");
                return;
            }
        };
        for b in buckets {
            let Ok(dir) = self.bucket_dir(&b.name) else {
                continue;
            };
            let index = self.index.clone();
            let name = b.name.clone();
            if let Err(e) = blocking(move || index.ensure(&name, &dir.join("obj"))).await {
                tracing::warn!(bucket = %b.name, error = %e, "key index build failed");
            }
        }
    }

    /// Saves the built key indexes and marks the shutdown clean (see `index_store`); call
    /// after the last request. Holds off object writes while it runs. Returns how many
    /// buckets were saved.
    pub async fn save_indexes(&self) -> Result<usize, StorageError> {
        let _guard = self.bucket_lock.write().await;
        let (index, root, tmp) = (self.index.clone(), self.root.clone(), self.tmp.clone());
        blocking(move || index.save_all(&root, &tmp)).await
    }

    /// Up to `limit` keys of `bucket` starting with `prefix`, in UTF-8 byte order, from `from`
    /// on; with a `delimiter` each common prefix yields only its first key (see
    /// [`KeyIndex::keys`]). Keys of delete markers are included. The first call for a bucket
    /// after start builds its index (one scan of its `obj/` directory).
    pub async fn list_keys(
        &self,
        bucket: &str,
        prefix: &str,
        from: Bound<String>,
        delimiter: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        self.head_bucket(bucket).await?;
        let obj_dir = self.bucket_dir(bucket)?.join("obj");
        let index = self.index.clone();
        let (bucket, prefix) = (bucket.to_owned(), prefix.to_owned());
        let delimiter = delimiter.map(str::to_owned);
        blocking(move || {
            index.ensure(&bucket, &obj_dir)?;
            let from = match &from {
                Bound::Included(f) => Bound::Included(f.as_str()),
                Bound::Excluded(f) => Bound::Excluded(f.as_str()),
                Bound::Unbounded => Bound::Unbounded,
            };
            Ok(index.keys(&bucket, &prefix, from, delimiter.as_deref(), limit))
        })
        .await
    }

    /// The current metadata (objects and delete markers) of `keys`, in order; keys whose file
    /// is gone are left out, unreadable files skipped with a warning.
    pub async fn current_metas(
        &self,
        bucket: &str,
        keys: Vec<String>,
    ) -> Result<Vec<ObjectMeta>, StorageError> {
        let obj_dir = self.bucket_dir(bucket)?.join("obj");
        blocking(move || {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let path = obj_dir.join(hex::encode(Sha256::digest(key.as_bytes())));
                let f = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                match file::read_meta::<ObjectMeta>(&f) {
                    Ok((meta, _)) if meta.key == key => out.push(meta),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(path = %path.display(), error = %e, "skipping unreadable object"),
                }
            }
            Ok(out)
        })
        .await
    }
}

/// The keys of every readable object file in `obj_dir`.
fn scan(obj_dir: &Path) -> Result<BTreeSet<String>, StorageError> {
    let mut keys = BTreeSet::new();
    for entry in std::fs::read_dir(obj_dir)? {
        let entry = entry?;
        let f = match std::fs::File::open(entry.path()) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        match file::read_meta::<ObjectMeta>(&f) {
            Ok((meta, _)) => {
                keys.insert(meta.key);
            }
            Err(e) => {
                tracing::warn!(path = %entry.path().display(), error = %e, "skipping unreadable object");
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors() {
        assert_eq!(successor("a/").as_deref(), Some("a0"));
        assert_eq!(successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("\u{10FFFF}"), None);
    }

    #[test]
    fn keys_seek_and_fold() {
        let dir = tempfile::tempdir().unwrap();
        let idx = KeyIndex::default();
        idx.created("b");
        for k in ["a/1", "a/2", "b", "c/x/y", "c/z", "d", "é"] {
            idx.inserted("b", k);
        }
        let all = idx.keys("b", "", Bound::Unbounded, None, 100);
        assert_eq!(all.len(), 7);
        assert_eq!(
            idx.keys("b", "", Bound::Unbounded, Some("/"), 100),
            ["a/1", "b", "c/x/y", "d", "é"]
        );
        assert_eq!(
            idx.keys("b", "c/", Bound::Unbounded, Some("/"), 100),
            ["c/x/y", "c/z"]
        );
        assert_eq!(
            idx.keys("b", "", Bound::Excluded("c/z"), None, 2),
            ["d", "é"]
        );
        // A removal only takes effect when the file is gone (here it never existed).
        idx.removed("b", dir.path(), "d");
        assert_eq!(idx.keys("b", "d", Bound::Unbounded, None, 10).len(), 0);
        std::fs::write(dir.path().join(hex::encode(Sha256::digest(b"b"))), b"x").unwrap();
        idx.removed("b", dir.path(), "b");
        assert_eq!(idx.keys("b", "b", Bound::Unbounded, None, 10), ["b"]);
    }
}
