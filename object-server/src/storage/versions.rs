//! Object versions on disk (S3 versioning).
//!
//! ```text
//! <data>/<bucket>/obj/<h>                      the current version (object or delete marker)
//! <data>/<bucket>/ver/<h>/<seq>-<version id>   noncurrent versions (`null` for the null version)
//! ```
//!
//! `<h>` is the SHA-256 of the key as for unversioned objects; `<seq>` is the 20-digit archive
//! time in nanoseconds, so names sort oldest → newest. Each version is a complete object file
//! (its own data, metadata and — for encrypted objects — its own sealed object key).
//!
//! * Versioned writes ([`FsStore::commit_version`], [`FsStore::delete_version`]) hold the
//!   bucket's `obj/` directory `flock` **exclusively** (the lock shared by unversioned commits
//!   and by `admin rekey`'s replace), so concurrent writers to one key each publish their own
//!   version, in turn.
//! * Crash safety: a new version first **hard-links** the current file into `ver/<h>/`, then
//!   renames the new file over `obj/<h>` (the commit point). A crash between the two leaves the
//!   current version also present as a noncurrent duplicate with the same version id; readers
//!   ignore a noncurrent entry whose id equals the current one, and deleting that id removes
//!   both. Deleting the current version renames the newest noncurrent one over it (atomic).
//! * Invariant: `ver/<h>/` is only non-empty while `obj/<h>` exists; emptied directories are
//!   removed.

use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::file::{self, ObjectMeta};
use super::fs::{blocking, random_hex, sync_dir};
use super::{FsStore, ObjectHandle, StorageError, TempFile, now_ns, perms};

type Result<T, E = StorageError> = std::result::Result<T, E>;

const VER_DIR: &str = "ver";
/// The version id S3 shows for the null version.
pub const NULL_VERSION: &str = "null";

/// A fresh version id: 32 lowercase hex characters (128 random bits; opaque, URL-safe).
pub fn new_version_id() -> String {
    random_hex(16)
}

/// `null` or a version id this server issues (32 lowercase hex characters).
pub fn valid_version_id(v: &str) -> bool {
    v == NULL_VERSION
        || (v.len() == 32
            && v.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
}

/// The version id as shown to clients (`null` for the null version).
pub fn shown_version_id(meta: &ObjectMeta) -> &str {
    meta.version_id.as_deref().unwrap_or(NULL_VERSION)
}

/// One entry of a version listing.
#[derive(Debug, Clone)]
pub struct VersionEntry {
    /// The version's metadata (`delete_marker` set for delete markers).
    pub meta: ObjectMeta,
    /// The current version of its key.
    pub latest: bool,
}

/// Outcome of [`FsStore::delete_version_unless`].
#[derive(Debug)]
pub enum Removal {
    /// Deleted: the version's metadata, `None` when there was no such version.
    Done(Option<Box<ObjectMeta>>),
    /// The check refused the deletion; nothing changed.
    Refused,
}

/// Paths of one key: its object directory, current file and noncurrent directory.
pub(super) struct KeyPaths {
    pub(super) obj_dir: PathBuf,
    pub(super) current: PathBuf,
    pub(super) ver_dir: PathBuf,
}

pub(super) fn read_meta_at(path: &Path) -> Result<Option<ObjectMeta>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(file::read_meta::<ObjectMeta>(&f)?.0))
}

/// Noncurrent entry names of a key, newest first, as `(name, version id)`.
pub(super) fn noncurrent(ver_dir: &Path) -> Result<Vec<(String, String)>> {
    let entries = match std::fs::read_dir(ver_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((_, vid)) = name.split_once('-') {
            out.push((name.to_owned(), vid.to_owned()));
        }
    }
    out.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(out)
}

/// Runs `f` holding the exclusive lock of the bucket's object directory.
pub(super) fn exclusive<T>(obj_dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let lock = match File::open(obj_dir) {
        Ok(l) => l,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(StorageError::NoSuchBucket),
        Err(e) => return Err(e.into()),
    };
    lock.lock()?;
    let out = f();
    drop(lock);
    out
}

/// Removes `dir` if it is empty (best effort).
pub(super) fn remove_if_empty(dir: &Path) {
    let _ignored = std::fs::remove_dir(dir);
}

/// The body of [`FsStore::commit_version`], run under the exclusive lock of `paths.obj_dir`:
/// archives the current version (unless both are the null version), drops a noncurrent null
/// version when `new` is one, and renames `src` (whose metadata is `new`) over the current
/// file. The caller updates the index and syncs `obj_dir`.
pub(super) fn publish_locked(paths: &KeyPaths, src: &Path, new: &ObjectMeta) -> Result<()> {
    if let Some(cur) = read_meta_at(&paths.current)?
        && (cur.version_id.is_some() || new.version_id.is_some())
    {
        perms::create_dir_all(&paths.ver_dir)?;
        let name = format!("{:020}-{}", now_ns(), shown_version_id(&cur));
        std::fs::hard_link(&paths.current, paths.ver_dir.join(name))?;
        sync_dir(&paths.ver_dir)?;
    }
    if new.version_id.is_none() {
        for (name, vid) in noncurrent(&paths.ver_dir)? {
            if vid == NULL_VERSION {
                std::fs::remove_file(paths.ver_dir.join(name))?;
            }
        }
    }
    std::fs::rename(src, &paths.current)?;
    Ok(())
}

impl FsStore {
    pub(super) fn key_paths(&self, bucket: &str, key: &str) -> Result<KeyPaths> {
        let current = self.object_path(bucket, key)?;
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        let ver_dir = self.bucket_dir(bucket)?.join(VER_DIR).join(name);
        let obj_dir = current
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| StorageError::Corrupt("object path".into()))?;
        Ok(KeyPaths {
            obj_dir,
            current,
            ver_dir,
        })
    }

    /// Publishes the finished `temp` as the new current version of `bucket/key` in a bucket
    /// whose versioning is (or was) enabled; the version id is the one in `temp`'s metadata
    /// (`None`: the null version). The previous current version is kept as a noncurrent
    /// version unless both are the null version (then it is replaced, as S3 does); a new null
    /// version also replaces a noncurrent null version.
    pub async fn commit_version(&self, bucket: &str, key: &str, mut temp: TempFile) -> Result<()> {
        if temp.writer.is_some() {
            return Err(StorageError::Corrupt("temp file not finished".into()));
        }
        let paths = self.key_paths(bucket, key)?;
        let _guard = self.bucket_lock.read().await;
        self.head_bucket(bucket).await?;
        let src = temp.path.clone();
        let (index, b, k) = (self.index.clone(), bucket.to_owned(), key.to_owned());
        blocking(move || {
            let new = read_meta_at(&src)?
                .ok_or_else(|| StorageError::Corrupt("temp file vanished".into()))?;
            exclusive(&paths.obj_dir, || {
                publish_locked(&paths, &src, &new)?;
                index.inserted(&b, &k);
                sync_dir(&paths.obj_dir)?;
                Ok(())
            })
        })
        .await?;
        temp.committed = true;
        Ok(())
    }

    /// Opens version `version` (`null` for the null version) of `bucket/key`, or the current
    /// version when `None` — which may be a delete marker (`meta.delete_marker`). A key with no
    /// such version is `NoSuchVersion` (`NoSuchKey` when the key has no versions at all and no
    /// version was named).
    pub async fn open_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectHandle> {
        self.head_bucket(bucket).await?;
        let paths = self.key_paths(bucket, key)?;
        let key = key.to_owned();
        let version = version.map(str::to_owned);
        blocking(move || {
            let open = |path: &Path| -> Result<Option<ObjectHandle>> {
                let f = match File::open(path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let (meta, data_len): (ObjectMeta, u64) = file::read_meta(&f)?;
                if meta.key != key {
                    return Ok(None);
                }
                if meta.stored_size != data_len {
                    return Err(StorageError::Corrupt("data length mismatch".into()));
                }
                Ok(Some(ObjectHandle {
                    meta,
                    file: Arc::new(f),
                    data_len,
                }))
            };
            let current = open(&paths.current)?;
            let Some(version) = version else {
                return current.ok_or(StorageError::NoSuchKey);
            };
            if let Some(h) = current.filter(|h| shown_version_id(&h.meta) == version) {
                return Ok(h);
            }
            for (name, vid) in noncurrent(&paths.ver_dir)? {
                if vid == version
                    && let Some(h) = open(&paths.ver_dir.join(name))?
                {
                    return Ok(h);
                }
            }
            Err(StorageError::NoSuchVersion)
        })
        .await
    }

    /// Permanently deletes version `version` (`null` for the null version) of `bucket/key`;
    /// returns its metadata, `None` when there was no such version (S3 answers success). When
    /// it was the current version, the newest noncurrent one becomes current.
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
    ) -> Result<Option<ObjectMeta>> {
        match self
            .delete_version_unless(bucket, key, version, |_| false)
            .await?
        {
            Removal::Done(meta) => Ok(meta.map(|m| *m)),
            Removal::Refused => Ok(None),
        }
    }

    /// [`FsStore::delete_version`], unless `refuse` returns true for the version's metadata:
    /// it is asked under the key's exclusive lock (the one every versioned write and
    /// metadata rewrite takes), so no concurrent change slips between the check and the
    /// removal (object lock: a retention set meanwhile is always seen).
    pub async fn delete_version_unless(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        refuse: impl FnOnce(&ObjectMeta) -> bool + Send + 'static,
    ) -> Result<Removal> {
        let paths = self.key_paths(bucket, key)?;
        let _guard = self.bucket_lock.read().await;
        self.head_bucket(bucket).await?;
        let (index, bucket) = (self.index.clone(), bucket.to_owned());
        let key = key.to_owned();
        let version = version.to_owned();
        blocking(move || {
            exclusive(&paths.obj_dir, || {
                let current = read_meta_at(&paths.current)?.filter(|m| m.key == key);
                let versions = noncurrent(&paths.ver_dir)?;
                let target = match current.as_ref().filter(|c| shown_version_id(c) == version) {
                    Some(c) => Some(c.clone()),
                    None => match versions.iter().find(|(_, vid)| *vid == version) {
                        Some((name, _)) => read_meta_at(&paths.ver_dir.join(name))?,
                        None => None,
                    },
                };
                if target.as_ref().is_some_and(refuse) {
                    return Ok(Removal::Refused);
                }
                let mut removed = None;
                let mut rest = Vec::new();
                for (name, vid) in versions {
                    if vid == version {
                        let path = paths.ver_dir.join(&name);
                        if removed.is_none() {
                            removed = read_meta_at(&path)?.filter(|m| m.key == key);
                        }
                        std::fs::remove_file(path)?;
                    } else {
                        rest.push(name);
                    }
                }
                if let Some(cur) = current.filter(|c| shown_version_id(c) == version) {
                    match rest.first() {
                        Some(newest) => {
                            std::fs::rename(paths.ver_dir.join(newest), &paths.current)?;
                        }
                        None => {
                            std::fs::remove_file(&paths.current)?;
                            index.removed(&bucket, &paths.obj_dir, &key);
                        }
                    }
                    sync_dir(&paths.obj_dir)?;
                    removed = Some(cur);
                }
                if paths.ver_dir.exists() {
                    sync_dir(&paths.ver_dir)?;
                    remove_if_empty(&paths.ver_dir);
                }
                Ok(Removal::Done(removed.map(Box::new)))
            })
        })
        .await
    }

    /// Every version of every key starting with `prefix` (see [`FsStore::versions_of`]).
    pub async fn list_versions(&self, bucket: &str, prefix: &str) -> Result<Vec<VersionEntry>> {
        let keys = self
            .list_keys(bucket, prefix, std::ops::Bound::Unbounded, None, usize::MAX)
            .await?;
        self.versions_of(bucket, keys).await
    }

    /// Every version of `keys` (sorted): by key, the current version first, then noncurrent
    /// ones newest first. Keys without a current file are left out; unreadable files are
    /// skipped with a warning.
    pub async fn versions_of(&self, bucket: &str, keys: Vec<String>) -> Result<Vec<VersionEntry>> {
        let bucket_dir = self.bucket_dir(bucket)?;
        blocking(move || {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let name = hex::encode(Sha256::digest(key.as_bytes()));
                let path = bucket_dir.join("obj").join(&name);
                let current = match read_meta_at(&path) {
                    Ok(Some(meta)) if meta.key == key => meta,
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "skipping unreadable object");
                        continue;
                    }
                };
                let ver_dir = bucket_dir.join(VER_DIR).join(&name);
                let mut seen = vec![shown_version_id(&current).to_owned()];
                out.push(VersionEntry {
                    meta: current,
                    latest: true,
                });
                for (name, vid) in noncurrent(&ver_dir)? {
                    if seen.contains(&vid) {
                        continue;
                    }
                    match read_meta_at(&ver_dir.join(&name)) {
                        Ok(Some(meta)) if meta.key == key => {
                            seen.push(vid);
                            out.push(VersionEntry {
                                meta,
                                latest: false,
                            });
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(%name, error = %e, "skipping unreadable version"),
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// Publishes the finished `temp` in place of version `version` of `bucket/key` only if
    /// that version's file is still the one `read` was opened from (same device and inode),
    /// as [`FsStore::replace_object_if_unchanged`] does for current objects (`admin rekey`).
    /// `Ok(false)` (and `temp` discarded) when the version is gone or was replaced.
    pub async fn replace_version_if_unchanged(
        &self,
        bucket: &str,
        key: &str,
        version: &str,
        mut temp: TempFile,
        read: &ObjectHandle,
    ) -> Result<bool> {
        use std::os::unix::fs::MetadataExt as _;
        if temp.writer.is_some() {
            return Err(StorageError::Corrupt("temp file not finished".into()));
        }
        let paths = self.key_paths(bucket, key)?;
        let src = temp.path.clone();
        let file = read.file.clone();
        let version = version.to_owned();
        let replaced = blocking(move || {
            let ours = file.metadata()?;
            let same = |path: &Path| {
                std::fs::metadata(path)
                    .is_ok_and(|m| (m.dev(), m.ino()) == (ours.dev(), ours.ino()))
            };
            let found = exclusive(&paths.obj_dir, || {
                let mut candidates = vec![paths.current.clone()];
                for (name, vid) in noncurrent(&paths.ver_dir)? {
                    if vid == version {
                        candidates.push(paths.ver_dir.join(name));
                    }
                }
                match candidates.into_iter().find(|p| same(p)) {
                    Some(dest) => {
                        std::fs::rename(&src, &dest)?;
                        Ok(dest.parent().map(Path::to_path_buf))
                    }
                    None => Ok(None),
                }
            });
            match found {
                Ok(Some(dir)) => {
                    sync_dir(&dir)?;
                    Ok(true)
                }
                Ok(None) | Err(StorageError::NoSuchBucket) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await?;
        temp.committed = replaced;
        Ok(replaced)
    }

    /// True when the bucket directory `dir` holds noncurrent versions.
    pub(super) fn has_noncurrent(dir: &Path) -> Result<bool> {
        let entries = match std::fs::read_dir(dir.join(VER_DIR)) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            if std::fs::read_dir(entry?.path())?.next().is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, vid: Option<&str>, len: usize) -> ObjectMeta {
        let mut m: ObjectMeta = serde_json::from_value(serde_json::json!({
            "format": 1, "key": key, "size": len, "stored_size": len, "etag": "e",
            "last_modified_ns": 0,
        }))
        .unwrap();
        m.version_id = vid.map(str::to_owned);
        m
    }

    async fn put(store: &FsStore, key: &str, vid: Option<&str>, body: &[u8]) {
        let mut t = store.temp_file().await.unwrap();
        t.write(body).await.unwrap();
        t.finish(&meta(key, vid, body.len())).await.unwrap();
        store.commit_version("bkt", key, t).await.unwrap();
    }

    fn ids(list: &[VersionEntry]) -> Vec<(String, bool)> {
        list.iter()
            .map(|e| (shown_version_id(&e.meta).to_owned(), e.latest))
            .collect()
    }

    #[tokio::test]
    async fn versions_stack_and_unstack() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        store.create_bucket("bkt").await.unwrap();
        let (a, b) = (new_version_id(), new_version_id());
        assert!(valid_version_id(&a) && valid_version_id("null") && !valid_version_id("../x"));
        put(&store, "k", None, b"zero").await;
        put(&store, "k", Some(&a), b"one").await;
        put(&store, "k", Some(&b), b"two").await;
        let list = store.list_versions("bkt", "").await.unwrap();
        assert_eq!(
            ids(&list),
            [
                (b.clone(), true),
                (a.clone(), false),
                ("null".into(), false)
            ]
        );
        let h = store.open_version("bkt", "k", Some(&a)).await.unwrap();
        assert_eq!(h.data_len, 3);
        assert!(matches!(
            store.open_version("bkt", "k", Some(&"0".repeat(32))).await,
            Err(StorageError::NoSuchVersion)
        ));
        // A suspended-style null write replaces the noncurrent null version.
        put(&store, "k", None, b"null again").await;
        let list = store.list_versions("bkt", "").await.unwrap();
        assert_eq!(
            ids(&list),
            [
                ("null".into(), true),
                (b.clone(), false),
                (a.clone(), false)
            ]
        );
        // Deleting the current version promotes the newest noncurrent one.
        let gone = store.delete_version("bkt", "k", "null").await.unwrap();
        assert!(gone.is_some());
        let cur = store.open_version("bkt", "k", None).await.unwrap();
        assert_eq!(cur.meta.version_id.as_deref(), Some(b.as_str()));
        assert!(
            store
                .delete_version("bkt", "k", "null")
                .await
                .unwrap()
                .is_none()
        );
        store.delete_version("bkt", "k", &a).await.unwrap();
        assert!(!FsStore::has_noncurrent(&dir.path().join("bkt")).unwrap());
        store.delete_version("bkt", "k", &b).await.unwrap();
        assert!(store.list_versions("bkt", "").await.unwrap().is_empty());
        assert!(!dir.path().join("bkt/ver").read_dir().unwrap().any(|_| true));
    }

    #[tokio::test]
    async fn refused_deletes_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        store.create_bucket("bkt").await.unwrap();
        let (a, b) = (new_version_id(), new_version_id());
        put(&store, "k", Some(&a), b"one").await;
        put(&store, "k", Some(&b), b"two").await;
        for v in [&a, &b] {
            let asked = v.clone();
            let r = store
                .delete_version_unless("bkt", "k", v, move |m| {
                    assert_eq!(m.version_id.as_deref(), Some(asked.as_str()));
                    true
                })
                .await
                .unwrap();
            assert!(matches!(r, Removal::Refused));
        }
        let list = store.list_versions("bkt", "").await.unwrap();
        assert_eq!(ids(&list), [(b.clone(), true), (a.clone(), false)]);
        let r = store
            .delete_version_unless("bkt", "k", &b, |_| false)
            .await
            .unwrap();
        assert!(matches!(r, Removal::Done(Some(_))));
        let list = store.list_versions("bkt", "").await.unwrap();
        assert_eq!(ids(&list), [(a.clone(), true)]);
    }

    #[tokio::test]
    async fn crash_duplicate_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::open(dir.path()).await.unwrap();
        store.create_bucket("bkt").await.unwrap();
        let a = new_version_id();
        put(&store, "k", Some(&a), b"one").await;
        // What a crash between the hard link and the rename leaves behind.
        let paths = store.key_paths("bkt", "k").unwrap();
        std::fs::create_dir_all(&paths.ver_dir).unwrap();
        std::fs::hard_link(&paths.current, paths.ver_dir.join(format!("{:020}-{a}", 1))).unwrap();
        assert_eq!(
            ids(&store.list_versions("bkt", "").await.unwrap()),
            [(a.clone(), true)]
        );
        store.delete_version("bkt", "k", &a).await.unwrap();
        assert!(store.list_versions("bkt", "").await.unwrap().is_empty());
    }
}
