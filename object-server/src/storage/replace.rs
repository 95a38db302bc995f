//! Conditional replacement of an object file, for tools that rewrite metadata next to a
//! running server (`object-server admin rekey`).
//!
//! * Every publication into or removal from a bucket's `obj/` directory
//!   ([`FsStore::commit_object`], [`FsStore::delete_object`]) holds a **shared** `flock` on that
//!   directory for the rename/unlink; [`FsStore::replace_object_if_unchanged`] holds it
//!   **exclusively** while it checks that the file at the object's path is still the inode it
//!   read (same device and inode number) and renames its new file over it. `flock` works
//!   across processes, so a PUT, copy, multipart completion or DELETE that ran after the read —
//!   in this process or in a server sharing the data directory — is never overwritten: the
//!   replacement is skipped instead. The read handle keeps the old inode alive, so its number
//!   cannot be reused by a newer file meanwhile.
//! * [`FsStore::attach`] opens an existing store without the start-up cleanup of
//!   [`FsStore::open`] (which empties the temp directory a running server is using).

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use super::fs::{blocking, sync_dir};
use super::{FsStore, ObjectHandle, StorageError, TempFile};

type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Runs `f` (a rename into or an unlink from the object directory `dir`) under a shared lock
/// on `dir`. A missing `dir` (bucket deleted) is `NoSuchBucket`.
pub(super) fn shared<T>(dir: &Path, f: impl FnOnce() -> std::io::Result<T>) -> Result<T> {
    let lock = match File::open(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(StorageError::NoSuchBucket),
        Err(e) => return Err(e.into()),
    };
    lock.lock_shared()?;
    let out = f();
    drop(lock); // closing the descriptor releases the lock
    Ok(out?)
}

impl FsStore {
    /// Opens the existing store at `root` for a tool running next to (or instead of) the
    /// server: nothing is created or cleaned up. Fails unless `root` holds a store.
    pub async fn attach(root: &Path) -> Result<Self> {
        let store = Self::layout(root);
        let tmp = store.tmp.clone();
        blocking(move || {
            if !tmp.is_dir() {
                return Err(StorageError::Corrupt(format!(
                    "{} is not an object-server data directory",
                    tmp.parent()
                        .and_then(Path::parent)
                        .unwrap_or(&tmp)
                        .display()
                )));
            }
            Ok(())
        })
        .await?;
        Ok(store)
    }

    /// Publishes the finished `temp` as `bucket/key` only if that key's file is still the one
    /// `read` was opened from. `Ok(false)` (and `temp` discarded) when the object was
    /// overwritten or deleted since, or its bucket is gone.
    pub async fn replace_object_if_unchanged(
        &self,
        bucket: &str,
        key: &str,
        mut temp: TempFile,
        read: &ObjectHandle,
    ) -> Result<bool> {
        if temp.writer.is_some() {
            return Err(StorageError::Corrupt("temp file not finished".into()));
        }
        let dest = self.object_path(bucket, key)?;
        let src = temp.path.clone();
        let file = read.file.clone();
        let replaced = blocking(move || {
            let dir: PathBuf = dest.parent().map(Path::to_path_buf).unwrap_or_default();
            let lock = match File::open(&dir) {
                Ok(l) => l,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            lock.lock()?;
            let current = match std::fs::metadata(&dest) {
                Ok(m) => m,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            let ours = file.metadata()?;
            if (current.dev(), current.ino()) != (ours.dev(), ours.ino()) {
                return Ok(false);
            }
            std::fs::rename(&src, &dest)?;
            drop(lock);
            sync_dir(&dir)?;
            Ok(true)
        })
        .await?;
        temp.committed = replaced;
        Ok(replaced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, len: usize) -> crate::storage::ObjectMeta {
        serde_json::from_value(serde_json::json!({
            "format": 1, "key": key, "size": len, "stored_size": len, "etag": "e",
            "last_modified_ns": 0,
        }))
        .unwrap()
    }

    async fn temp(store: &FsStore, key: &str, body: &[u8]) -> TempFile {
        let mut t = store.temp_file().await.unwrap();
        t.write(body).await.unwrap();
        t.finish(&meta(key, body.len())).await.unwrap();
        t
    }

    async fn put(store: &FsStore, key: &str, body: &[u8]) {
        let t = temp(store, key, body).await;
        store.commit_object("bkt", key, t).await.unwrap();
    }

    async fn body(store: &FsStore, key: &str) -> Vec<u8> {
        let h = store.open_object("bkt", key).await.unwrap();
        let mut buf = vec![0u8; usize::try_from(h.data_len).unwrap()];
        std::os::unix::fs::FileExt::read_exact_at(&*h.file, &mut buf, 0).unwrap();
        buf
    }

    #[tokio::test]
    async fn replaces_only_the_file_it_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            FsStore::attach(dir.path()).await.is_err(),
            "not a store yet"
        );
        let store = FsStore::open(dir.path()).await.unwrap();
        store.create_bucket("bkt").await.unwrap();
        put(&store, "a", b"one").await;

        // Unchanged since the read: replaced.
        let read = store.open_object("bkt", "a").await.unwrap();
        let t = temp(&store, "a", b"two").await;
        assert!(
            store
                .replace_object_if_unchanged("bkt", "a", t, &read)
                .await
                .unwrap()
        );
        assert_eq!(body(&store, "a").await, b"two");

        // The same (now stale) read again: skipped.
        let t = temp(&store, "a", b"stale").await;
        assert!(
            !store
                .replace_object_if_unchanged("bkt", "a", t, &read)
                .await
                .unwrap()
        );
        assert_eq!(body(&store, "a").await, b"two");

        // Overwritten after the read (a PUT from the server): skipped, the PUT survives.
        let read = store.open_object("bkt", "a").await.unwrap();
        put(&store, "a", b"newer put").await;
        let t = temp(&store, "a", b"lost").await;
        assert!(
            !store
                .replace_object_if_unchanged("bkt", "a", t, &read)
                .await
                .unwrap()
        );
        assert_eq!(body(&store, "a").await, b"newer put");

        // Deleted after the read: skipped, stays deleted.
        let read = store.open_object("bkt", "a").await.unwrap();
        store.delete_object("bkt", "a").await.unwrap();
        let t = temp(&store, "a", b"resurrected").await;
        assert!(
            !store
                .replace_object_if_unchanged("bkt", "a", t, &read)
                .await
                .unwrap()
        );
        assert!(matches!(
            store.open_object("bkt", "a").await,
            Err(StorageError::NoSuchKey)
        ));

        // A second handle on the store (a tool next to the server) sees and respects the same
        // files; discarded replacements leave no temp file behind.
        put(&store, "b", b"bee").await;
        let tool = FsStore::attach(dir.path()).await.unwrap();
        let read = tool.open_object("bkt", "b").await.unwrap();
        let t = temp(&tool, "b", b"bee2").await;
        assert!(
            tool.replace_object_if_unchanged("bkt", "b", t, &read)
                .await
                .unwrap()
        );
        assert_eq!(body(&store, "b").await, b"bee2");
        let leftovers = std::fs::read_dir(dir.path().join(".objsrv/tmp"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 0);
    }
}
