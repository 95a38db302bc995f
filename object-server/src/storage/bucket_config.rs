//! Per-bucket configuration documents (e.g. the default encryption): small opaque byte blobs
//! stored as `<data>/<bucket>/.config-<name>`, written temp + fsync + rename like objects, and
//! removed with their bucket. Request paths read them through the cache
//! ([`FsStore::bucket_config_parsed`], `config_cache`), which every change here invalidates.

use std::io::ErrorKind;

use super::fs::{blocking, random_hex, sync_dir};
use super::{FsStore, StorageError, perms};

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
}

impl FsStore {
    /// Replaces (`Some`) or removes (`None`) bucket configuration document `name`
    /// (`[a-z-]+`). `NoSuchBucket` if the bucket does not exist.
    pub async fn set_bucket_config(
        &self,
        bucket: &str,
        name: &str,
        value: Option<Vec<u8>>,
    ) -> Result<(), StorageError> {
        if !valid_name(name) {
            return Err(StorageError::Corrupt(format!(
                "invalid config name {name:?}"
            )));
        }
        let dir = self.bucket_dir(bucket)?;
        let dest = dir.join(format!(".config-{name}"));
        let staging = self.tmp.join(random_hex(16));
        let _guard = self.bucket_lock.read().await;
        self.head_bucket(bucket).await?;
        let result = blocking(move || {
            match value {
                Some(bytes) => {
                    perms::write_synced(&staging, &bytes)?;
                    if let Err(e) = std::fs::rename(&staging, &dest) {
                        let _ignored = std::fs::remove_file(&staging);
                        return Err(e.into());
                    }
                }
                None => match std::fs::remove_file(&dest) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e.into()),
                },
            }
            sync_dir(&dir)?;
            Ok(())
        })
        .await;
        self.config_cache.invalidate(bucket);
        result
    }

    /// Bucket configuration document `name`, `None` when not set.
    pub async fn bucket_config(
        &self,
        bucket: &str,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        if !valid_name(name) {
            return Err(StorageError::Corrupt(format!(
                "invalid config name {name:?}"
            )));
        }
        self.head_bucket(bucket).await?;
        let path = self.bucket_dir(bucket)?.join(format!(".config-{name}"));
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
