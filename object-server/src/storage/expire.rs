//! Conditional removals for the lifecycle sweep. Each one runs under the **exclusive** `flock`
//! of the bucket's `obj/` directory — the lock every client commit and delete of the bucket
//! takes (shared for unversioned writes, exclusive for versioned ones) — and first re-reads
//! the version it acts on and asks the caller's `still` predicate about that fresh metadata
//! (same version, still selected, not protected). So a PUT, DELETE or retention change that
//! ran after the sweep looked is never undone: the action is skipped instead (`Ok(false)`).
//! Every action is one rename or unlink, so it is atomic per object.

use std::path::Path;

use super::fs::{blocking, sync_dir};
use super::versions::{
    KeyPaths, exclusive, noncurrent, publish_locked, read_meta_at, remove_if_empty,
    shown_version_id,
};
use super::{FsStore, ObjectMeta, StorageError, TempFile};

type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Asked, under the lock, whether the action still applies to this version.
pub type Still = Box<dyn Fn(&ObjectMeta) -> bool + Send + 'static>;

/// The current version of `key` at `paths`, if its file is there and names `key`.
fn current(paths: &KeyPaths, key: &str) -> Result<Option<ObjectMeta>> {
    Ok(read_meta_at(&paths.current)?.filter(|m| m.key == key))
}

impl FsStore {
    /// Runs `f` under the bucket's exclusive object-directory lock (with the bucket lock held
    /// shared, so the bucket cannot be deleted meanwhile).
    async fn locked<T: Send + 'static>(
        &self,
        bucket: &str,
        key: &str,
        f: impl FnOnce(&KeyPaths) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let paths = self.key_paths(bucket, key)?;
        let _guard = self.bucket_lock.read().await;
        self.head_bucket(bucket).await?;
        blocking(move || exclusive(&paths.obj_dir, || f(&paths))).await
    }

    /// Unversioned expiration: removes the current object of `bucket/key` if `still` accepts
    /// it (and it is not a delete marker).
    pub async fn expire_object(&self, bucket: &str, key: &str, still: Still) -> Result<bool> {
        let (index, b, k) = (self.index.clone(), bucket.to_owned(), key.to_owned());
        self.locked(bucket, key, move |paths| {
            match current(paths, &k)? {
                Some(m) if !m.delete_marker && still(&m) => {}
                _ => return Ok(false),
            }
            std::fs::remove_file(&paths.current)?;
            index.removed(&b, &paths.obj_dir, &k);
            sync_dir(&paths.obj_dir)?;
            Ok(true)
        })
        .await
    }

    /// Versioned expiration: publishes the finished delete marker `marker` as the new current
    /// version of `bucket/key` (as [`FsStore::commit_version`]) if `still` accepts the current
    /// version (which must not be a delete marker).
    pub async fn expire_with_marker(
        &self,
        bucket: &str,
        key: &str,
        mut marker: TempFile,
        still: Still,
    ) -> Result<bool> {
        if marker.writer.is_some() {
            return Err(StorageError::Corrupt("temp file not finished".into()));
        }
        let src = marker.path.clone();
        let (index, b, k) = (self.index.clone(), bucket.to_owned(), key.to_owned());
        let done = self
            .locked(bucket, key, move |paths| {
                match current(paths, &k)? {
                    Some(m) if !m.delete_marker && still(&m) => {}
                    _ => return Ok(false),
                }
                let new = read_meta_at(&src)?
                    .ok_or_else(|| StorageError::Corrupt("temp file vanished".into()))?;
                publish_locked(paths, &src, &new)?;
                index.inserted(&b, &k);
                sync_dir(&paths.obj_dir)?;
                Ok(true)
            })
            .await?;
        marker.committed = done;
        Ok(done)
    }

    /// Noncurrent expiration: permanently deletes version `version` of `bucket/key` if it is
    /// (still) noncurrent and `still` accepts it.
    pub async fn expire_noncurrent(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        still: Still,
    ) -> Result<bool> {
        let (k, v) = (key.to_owned(), version.to_owned());
        self.locked(bucket, key, move |paths| {
            if current(paths, &k)?.is_some_and(|c| shown_version_id(&c) == v) {
                return Ok(false);
            }
            let names: Vec<String> = noncurrent(&paths.ver_dir)?
                .into_iter()
                .filter(|(_, vid)| *vid == v)
                .map(|(name, _)| name)
                .collect();
            let Some(first) = names.first() else {
                return Ok(false);
            };
            match read_meta_at(&paths.ver_dir.join(first))? {
                Some(m) if m.key == k && still(&m) => {}
                _ => return Ok(false),
            }
            for name in &names {
                std::fs::remove_file(paths.ver_dir.join(name))?;
            }
            sync_dir(&paths.ver_dir)?;
            remove_if_empty(&paths.ver_dir);
            Ok(true)
        })
        .await
    }

    /// Expired-delete-marker cleanup: removes the current delete marker of `bucket/key` if
    /// `still` accepts it and the key has no other version left.
    pub async fn remove_lone_marker(&self, bucket: &str, key: &str, still: Still) -> Result<bool> {
        let (index, b, k) = (self.index.clone(), bucket.to_owned(), key.to_owned());
        self.locked(bucket, key, move |paths| {
            let marker = match current(paths, &k)? {
                Some(m) if m.delete_marker && still(&m) => m,
                _ => return Ok(false),
            };
            let id = shown_version_id(&marker).to_owned();
            let others = noncurrent(&paths.ver_dir)?;
            if others.iter().any(|(_, vid)| *vid != id) {
                return Ok(false);
            }
            // Only crash duplicates of the marker itself may remain: they go with it.
            for (name, _) in &others {
                std::fs::remove_file(paths.ver_dir.join(name))?;
            }
            std::fs::remove_file(&paths.current)?;
            index.removed(&b, &paths.obj_dir, &k);
            sync_dir(&paths.obj_dir)?;
            if Path::new(&paths.ver_dir).exists() {
                remove_if_empty(&paths.ver_dir);
            }
            Ok(true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::versions::VersionEntry;

    fn meta(key: &str, vid: Option<&str>, marker: bool, at: u64) -> ObjectMeta {
        let mut m: ObjectMeta = serde_json::from_value(serde_json::json!({
            "format": 1, "key": key, "size": 1, "stored_size": 1, "etag": "e",
            "last_modified_ns": at,
        }))
        .unwrap();
        m.version_id = vid.map(str::to_owned);
        m.delete_marker = marker;
        m
    }

    async fn temp(store: &FsStore, m: &ObjectMeta) -> TempFile {
        let mut t = store.temp_file().await.unwrap();
        if !m.delete_marker {
            t.write(b"x").await.unwrap();
        }
        let mut m = m.clone();
        if m.delete_marker {
            m.size = 0;
            m.stored_size = 0;
        }
        t.finish(&m).await.unwrap();
        t
    }

    fn at(seen: u64) -> Still {
        Box::new(move |m: &ObjectMeta| m.last_modified_ns == seen)
    }

    fn ids(list: &[VersionEntry]) -> Vec<(String, bool)> {
        list.iter()
            .map(|e| (shown_version_id(&e.meta).to_owned(), e.meta.delete_marker))
            .collect()
    }

    #[tokio::test]
    async fn unversioned_expiry_skips_a_newer_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        store.create_bucket("bkt").await.unwrap();
        let t = temp(&store, &meta("k", None, false, 1)).await;
        store.commit_object("bkt", "k", t).await.unwrap();
        // A client PUT replaced the object the sweep looked at (time 1): skipped.
        let t = temp(&store, &meta("k", None, false, 2)).await;
        store.commit_object("bkt", "k", t).await.unwrap();
        assert!(!store.expire_object("bkt", "k", at(1)).await.unwrap());
        assert!(store.open_object("bkt", "k").await.is_ok());
        assert!(store.expire_object("bkt", "k", at(2)).await.unwrap());
        assert!(store.open_object("bkt", "k").await.is_err());
        assert!(!store.expire_object("bkt", "k", at(2)).await.unwrap());
    }

    #[tokio::test]
    async fn versioned_marker_noncurrent_and_lone_marker() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        store.create_bucket("bkt").await.unwrap();
        let (v1, dm) = ("1".repeat(32), "2".repeat(32));
        let t = temp(&store, &meta("k", Some(&v1), false, 1)).await;
        store.commit_version("bkt", "k", t).await.unwrap();
        // Stale view: no marker, and its temp file is discarded.
        let marker = temp(&store, &meta("k", Some(&dm), true, 5)).await;
        assert!(
            !store
                .expire_with_marker("bkt", "k", marker, at(0))
                .await
                .unwrap()
        );
        let marker = temp(&store, &meta("k", Some(&dm), true, 5)).await;
        assert!(
            store
                .expire_with_marker("bkt", "k", marker, at(1))
                .await
                .unwrap()
        );
        let list = store.list_versions("bkt", "").await.unwrap();
        assert_eq!(ids(&list), [(dm.clone(), true), (v1.clone(), false)]);
        // The marker is not alone yet; the current version is never taken as noncurrent.
        assert!(!store.remove_lone_marker("bkt", "k", at(5)).await.unwrap());
        assert!(
            !store
                .expire_noncurrent("bkt", "k", &dm, at(5))
                .await
                .unwrap()
        );
        // A protected (refused) version stays.
        assert!(
            !store
                .expire_noncurrent("bkt", "k", &v1, Box::new(|_| false))
                .await
                .unwrap()
        );
        assert!(
            store
                .expire_noncurrent("bkt", "k", &v1, at(1))
                .await
                .unwrap()
        );
        assert!(store.remove_lone_marker("bkt", "k", at(5)).await.unwrap());
        assert!(store.list_versions("bkt", "").await.unwrap().is_empty());
        store.delete_bucket("bkt").await.unwrap();
        let left = std::fs::read_dir(dir.path().join(".objsrv/tmp"))
            .unwrap()
            .count();
        assert_eq!(left, 0);
    }
}
