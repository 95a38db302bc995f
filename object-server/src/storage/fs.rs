//! [`FsStore`]: buckets, objects and multipart uploads on the local filesystem.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config_cache::ConfigCache;
use super::file::{self, FORMAT, ObjectMeta, PartFileMeta, UploadMeta};
use super::index::{KeyIndex, Saved};
use super::index_store;
use super::{StorageError, TempFile, perms, replace};

mod uploads;
pub use uploads::UploadHandle;

type Result<T, E = StorageError> = std::result::Result<T, E>;

const SYS_DIR: &str = ".objsrv";
const BUCKET_RECORD: &str = ".bucket.json";
const OBJ_DIR: &str = "obj";
const UPLOAD_RECORD: &str = "upload.json";

/// Current time in Unix nanoseconds.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(super) fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
}

pub(super) fn sync_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// S3 bucket-name rules (3–63 chars of `a-z 0-9 . -`, alphanumeric at both ends, no `..`).
/// Guarantees the name is a single safe path component.
pub(super) fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && !name.contains("..")
}

fn valid_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Information about a bucket.
#[derive(Debug, Clone)]
pub struct BucketInfo {
    /// Name.
    pub name: String,
    /// Creation time, Unix nanoseconds.
    pub created_ns: u64,
}

#[derive(Serialize, Deserialize)]
struct BucketRecord {
    format: u32,
    created_ns: u64,
}

/// An open object: metadata plus a file handle that stays valid if the object is replaced.
#[derive(Debug, Clone)]
pub struct ObjectHandle {
    /// Metadata.
    pub meta: ObjectMeta,
    /// The object file (read with positional reads).
    pub file: Arc<std::fs::File>,
    /// Length of the data region (== `meta.stored_size`).
    pub data_len: u64,
}

/// The filesystem store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct FsStore {
    pub(super) root: PathBuf,
    pub(super) tmp: PathBuf,
    uploads: PathBuf,
    /// Object commits take it shared; bucket creation/deletion exclusively, so an object can
    /// never be published into a bucket that is being deleted.
    pub(super) bucket_lock: tokio::sync::RwLock<()>,
    /// Sorted keys per bucket for listings ([`super::index`]).
    pub(super) index: Arc<KeyIndex>,
    /// Parsed bucket configuration documents ([`super::config_cache`]).
    pub(super) config_cache: ConfigCache,
}

impl FsStore {
    /// Opens (creating if needed, mode 0700) a store rooted at `root`, removes leftover temp
    /// files, and warns about each of its directories open to group or others. Takes the
    /// clean-shutdown marker of the saved key indexes (`index_store`): they are loaded only if
    /// it was there, and a crash from now on leaves none.
    pub async fn open(root: &Path) -> Result<Self> {
        let root = root.to_path_buf();
        let sys = root.join(SYS_DIR);
        let tmp = sys.join("tmp");
        let uploads = sys.join("uploads");
        let saved_dir = sys.join("index");
        let (r, s, t, u) = (root.clone(), sys, tmp, uploads);
        let d = saved_dir.clone();
        let trusted = blocking(move || {
            perms::create_dir_all(&r)?;
            if t.exists() {
                std::fs::remove_dir_all(&t)?;
            }
            perms::create_dir_all(&t)?;
            perms::create_dir_all(&u)?;
            for (dir, mode) in perms::audit(&r, &s, valid_bucket_name) {
                let what = if dir == r {
                    "data directory"
                } else {
                    "directory"
                };
                tracing::warn!(
                    "{what} {} has mode {mode:04o}: group or others can access it \
                     (object-server creates its directories 0700; `chmod go= {}` restricts it)",
                    dir.display(),
                    dir.display()
                );
            }
            Ok(index_store::take_clean(&d)?)
        })
        .await?;
        let mut store = Self::layout(&root);
        store.index = Arc::new(KeyIndex::persisted(Saved {
            dir: saved_dir,
            trusted,
        }));
        Ok(store)
    }

    /// The store rooted at `root` (no I/O).
    pub(super) fn layout(root: &Path) -> Self {
        let sys = root.join(SYS_DIR);
        Self {
            root: root.to_path_buf(),
            tmp: sys.join("tmp"),
            uploads: sys.join("uploads"),
            bucket_lock: tokio::sync::RwLock::new(()),
            index: Arc::new(KeyIndex::default()),
            config_cache: ConfigCache::default(),
        }
    }

    pub(super) fn bucket_dir(&self, bucket: &str) -> Result<PathBuf> {
        if !valid_bucket_name(bucket) {
            return Err(StorageError::NoSuchBucket);
        }
        Ok(self.root.join(bucket))
    }

    pub(super) fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf> {
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        Ok(self.bucket_dir(bucket)?.join(OBJ_DIR).join(name))
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf> {
        if !valid_upload_id(upload_id) {
            return Err(StorageError::NoSuchUpload);
        }
        Ok(self.uploads.join(upload_id))
    }

    /// Creates a bucket; `BucketExists` if present.
    pub async fn create_bucket(&self, bucket: &str) -> Result<()> {
        let dir = self.bucket_dir(bucket)?;
        let staging = self.tmp.join(random_hex(16));
        let root = self.root.clone();
        let _guard = self.bucket_lock.write().await;
        let result = blocking(move || {
            if dir.exists() {
                return Err(StorageError::BucketExists);
            }
            perms::create_dir_all(&staging.join(OBJ_DIR))?;
            let record = serde_json::to_vec(&BucketRecord {
                format: FORMAT,
                created_ns: now_ns(),
            })
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
            perms::write_synced(&staging.join(BUCKET_RECORD), &record)?;
            sync_dir(&staging)?;
            match std::fs::rename(&staging, &dir) {
                Ok(()) => {}
                Err(e) => {
                    let _ignored = std::fs::remove_dir_all(&staging);
                    return Err(if dir.exists() {
                        StorageError::BucketExists
                    } else {
                        e.into()
                    });
                }
            }
            sync_dir(&root)?;
            Ok(())
        })
        .await;
        self.config_cache.invalidate(bucket);
        result?;
        self.index.created(bucket);
        Ok(())
    }

    /// Fails with `NoSuchBucket` unless the bucket exists.
    pub async fn head_bucket(&self, bucket: &str) -> Result<()> {
        let rec = self.bucket_dir(bucket)?.join(BUCKET_RECORD);
        match tokio::fs::metadata(&rec).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(StorageError::NoSuchBucket),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an empty bucket — no objects, delete markers or noncurrent versions (pending
    /// multipart uploads of it are discarded).
    pub async fn delete_bucket(&self, bucket: &str) -> Result<()> {
        let dir = self.bucket_dir(bucket)?;
        let _guard = self.bucket_lock.write().await;
        self.head_bucket(bucket).await?;
        let d = dir.clone();
        let has_objects = blocking(move || {
            Ok(std::fs::read_dir(d.join(OBJ_DIR))?.next().is_some() || Self::has_noncurrent(&d)?)
        })
        .await?;
        if has_objects {
            return Err(StorageError::BucketNotEmpty);
        }
        for upload in self.list_uploads(bucket).await? {
            let handle = UploadHandle {
                dir: self.upload_dir(&upload.upload_id)?,
                meta: upload,
            };
            self.remove_upload(&handle).await?;
        }
        let trash = self.tmp.join(random_hex(16));
        let root = self.root.clone();
        let result = blocking(move || {
            std::fs::rename(&dir, &trash)?;
            sync_dir(&root)?;
            std::fs::remove_dir_all(&trash)?;
            Ok(())
        })
        .await;
        self.config_cache.invalidate(bucket);
        result?;
        self.index.dropped(bucket);
        Ok(())
    }

    /// All buckets, sorted by name.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let root = self.root.clone();
        blocking(move || {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(&root)? {
                let entry = entry?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if !valid_bucket_name(&name) {
                    continue;
                }
                let Ok(bytes) = std::fs::read(entry.path().join(BUCKET_RECORD)) else {
                    continue;
                };
                let Ok(rec) = serde_json::from_slice::<BucketRecord>(&bytes) else {
                    continue;
                };
                out.push(BucketInfo {
                    name,
                    created_ns: rec.created_ns,
                });
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
    }

    /// A new temp file (mode 0600) in the store's temp directory.
    pub async fn temp_file(&self) -> Result<TempFile> {
        TempFile::create(self.tmp.join(random_hex(16))).await
    }

    /// Publishes a finished temp file as object `bucket/key` (atomic replace).
    pub async fn commit_object(&self, bucket: &str, key: &str, mut temp: TempFile) -> Result<()> {
        let dest = self.object_path(bucket, key)?;
        let _guard = self.bucket_lock.read().await;
        self.head_bucket(bucket).await?;
        if temp.writer.is_some() {
            return Err(StorageError::Corrupt("temp file not finished".into()));
        }
        let src = temp.path.clone();
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        let d = dir.clone();
        // The index follows the rename under the same directory lock, in the same blocking
        // task: a request dropped after the rename can no longer leave the key out of the
        // index, and the save at shutdown (exclusive lock) never sees one without the other.
        let (index, b, k) = (self.index.clone(), bucket.to_owned(), key.to_owned());
        let renamed = blocking(move || {
            replace::shared(&d, || {
                std::fs::rename(&src, &dest)?;
                index.inserted(&b, &k);
                Ok(())
            })
        })
        .await;
        match renamed {
            Ok(()) => {}
            Err(StorageError::Io(e)) if e.kind() == ErrorKind::NotFound => {
                return Err(StorageError::NoSuchBucket);
            }
            Err(e) => return Err(e),
        }
        temp.committed = true;
        blocking(move || Ok(sync_dir(&dir)?)).await
    }

    /// Opens the current version of an object for reading (a delete marker is `NoSuchKey`).
    pub async fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectHandle> {
        self.head_bucket(bucket).await?;
        let path = self.object_path(bucket, key)?;
        let key = key.to_owned();
        blocking(move || {
            let f = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::NotFound => return Err(StorageError::NoSuchKey),
                Err(e) => return Err(e.into()),
            };
            let (meta, data_len): (ObjectMeta, u64) = file::read_meta(&f)?;
            if meta.key != key || meta.delete_marker {
                return Err(StorageError::NoSuchKey);
            }
            if meta.stored_size != data_len {
                return Err(StorageError::Corrupt("data length mismatch".into()));
            }
            Ok(ObjectHandle {
                meta,
                file: Arc::new(f),
                data_len,
            })
        })
        .await
    }

    /// Deletes an object; deleting a missing key succeeds (S3 semantics).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let path = self.object_path(bucket, key)?;
        let _guard = self.bucket_lock.read().await;
        self.head_bucket(bucket).await?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let (index, bucket, key) = (self.index.clone(), bucket.to_owned(), key.to_owned());
        // The index follows the removal under the same lock and task (see `commit_object`).
        blocking(move || {
            let removed = replace::shared(&dir, || match std::fs::remove_file(&path) {
                Ok(()) => {
                    index.removed(&bucket, &dir, &key);
                    Ok(true)
                }
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            })?;
            if removed {
                sync_dir(&dir)?;
            }
            Ok(())
        })
        .await
    }

    /// Metadata of every object whose key starts with `prefix`, sorted by key (UTF-8 bytes):
    /// current versions, delete markers left out. Unreadable files are skipped with a warning.
    pub async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.head_bucket(bucket).await?;
        let dir = self.bucket_dir(bucket)?.join(OBJ_DIR);
        let prefix = prefix.to_owned();
        blocking(move || {
            let mut out = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let f = match std::fs::File::open(entry.path()) {
                    Ok(f) => f,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                match file::read_meta::<ObjectMeta>(&f) {
                    Ok((meta, _)) if meta.key.starts_with(&prefix) && !meta.delete_marker => {
                        out.push(meta);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(path = %entry.path().display(), error = %e, "skipping unreadable object"),
                }
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket", "a.b.c", "0bucket"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "..",
            ".objsrv",
            "a..b",
            "-ab",
            "ab-",
            "AB",
            "a/b",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
        assert!(valid_upload_id(&random_hex(16)));
        assert!(!valid_upload_id("../../etc/passwd0000000000000000"));
    }
}
