//! Reading and rewriting the metadata of one named object version, for the sub-resources that
//! take `versionId` (tagging, ACL, retention, legal hold).
//!
//! * Without `versionId` the current version is used; a delete marker there is 404
//!   `NoSuchKey` (with the marker headers), a delete marker named by id is 405
//!   `MethodNotAllowed`, as for GET.
//! * A rewrite copies the version's data region verbatim (nothing is decrypted) with the
//!   changed metadata and publishes it only if the version's file is still the one read
//!   ([`crate::storage::FsStore::replace_version_if_unchanged`]); it is retried a few times
//!   when the version keeps changing.

use std::collections::BTreeMap;

use super::versioning::check_version_id;
use super::{ObjectServer, io};
use crate::error::{Error, Result};
use crate::storage::ObjectHandle;
use crate::storage::versions::shown_version_id;

/// How many times a rewrite is retried when the version keeps changing under it.
const ATTEMPTS: usize = 5;

impl ObjectServer {
    /// Opens version `version` of `bucket/key` (the current one when `None`) for a
    /// sub-resource read or change.
    pub(super) async fn open_subject(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectHandle> {
        if let Some(v) = version {
            check_version_id(v)?;
        }
        let h = self.store.open_version(bucket, key, version).await?;
        if h.meta.delete_marker {
            return Err(Error::DeleteMarker {
                version_id: shown_version_id(&h.meta).to_owned(),
                named: version.is_some(),
            });
        }
        Ok(h)
    }

    /// Rewrites the internal metadata of version `version` of `bucket/key` (the current one
    /// when `None`) with `change`; `change` returning `Ok(false)` means "nothing to change"
    /// and writes nothing. Returns the handle of the version as read last.
    pub(super) async fn rewrite_version_internal(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        change: impl Fn(&mut BTreeMap<String, String>) -> Result<bool>,
    ) -> Result<ObjectHandle> {
        for _ in 0..ATTEMPTS {
            let src = self.open_subject(bucket, key, version).await?;
            let mut meta = src.meta.clone();
            if !change(&mut meta.internal)? {
                return Ok(src);
            }
            let mut temp = self.store.temp_file().await?;
            io::copy_raw(&mut temp, src.file.clone(), 0, src.data_len).await?;
            temp.finish(&meta).await?;
            let id = shown_version_id(&src.meta).to_owned();
            if self
                .store
                .replace_version_if_unchanged(bucket, key, &id, temp, &src)
                .await?
            {
                return Ok(src);
            }
        }
        Err(Error::Internal(format!(
            "{bucket}/{key}: metadata not changed: the version kept changing"
        )))
    }
}
