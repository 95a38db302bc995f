//! S3 versioning: Put/GetBucketVersioning, the version id of every new write, delete markers,
//! DeleteObject(s) by version and version-aware copy sources. Listing versions is
//! [`super::list_versions`]; storage is [`crate::storage::versions`].
//!
//! * A bucket is *unversioned* until versioning is first set; then it is `Enabled` or
//!   `Suspended` for good (as S3: it never returns to unversioned). The state is the bucket
//!   configuration document `versioning`.
//! * Enabled: every write (PUT, copy, multipart completion, delete without `versionId`) makes a
//!   new version with a fresh id; Suspended: writes make the `null` version, replacing an
//!   earlier `null` version; unversioned buckets keep the plain replace/unlink path.
//! * Every version is a complete object with its own object key (each PUT seals a fresh OEK),
//!   so an SSE-C version opens only with the customer key it was written with.
//! * MFA delete is refused (501): this server has no MFA devices.

use s3s::S3Request;
use s3s::dto::*;

use super::ObjectServer;
use super::object::{ContentHeaders, new_meta};
use crate::error::{Error, Result};
use crate::storage::versions::{NULL_VERSION, new_version_id, shown_version_id, valid_version_id};
use crate::storage::{ObjectHandle, ObjectMeta, TempFile};

/// Name of the bucket configuration document holding the versioning state.
const CONFIG: &str = "versioning";

/// A bucket's versioning state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Versioning {
    /// Never configured: objects are replaced and deleted in place.
    Unversioned,
    /// Every write is a new version.
    Enabled,
    /// Writes make (and replace) the `null` version; older versions stay.
    Suspended,
}

impl Versioning {
    /// The version id of a new write in this state (`None`: the null version).
    pub(super) fn new_version_id(self) -> Option<String> {
        (self == Versioning::Enabled).then(new_version_id)
    }
}

/// Checks a client-sent `versionId` (`null` or an id this server issues).
pub(super) fn check_version_id(v: &str) -> Result<()> {
    if valid_version_id(v) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "Invalid version id specified".to_owned(),
        ))
    }
}

/// The `x-amz-version-id` to answer for a written or read object: its id; `null` for a null
/// version only when the bucket is versioned (`shown`), as S3.
pub(super) fn response_version_id(meta: &ObjectMeta, shown: bool) -> Option<String> {
    match &meta.version_id {
        Some(v) => Some(v.clone()),
        None => shown.then(|| NULL_VERSION.to_owned()),
    }
}

impl ObjectServer {
    /// The versioning state of `bucket`.
    pub(super) async fn versioning(&self, bucket: &str) -> Result<Versioning> {
        Ok(
            match self
                .store
                .bucket_config_parsed(bucket, CONFIG, |b| Ok(b == b"Enabled"))
                .await?
                .as_deref()
            {
                None => Versioning::Unversioned,
                Some(true) => Versioning::Enabled,
                Some(false) => Versioning::Suspended,
            },
        )
    }

    /// Publishes a finished object file (its metadata already carries the version id from
    /// [`Versioning::new_version_id`]) as the current version of `bucket/key`.
    pub(super) async fn publish(
        &self,
        bucket: &str,
        key: &str,
        temp: TempFile,
        versioning: Versioning,
    ) -> Result<()> {
        match versioning {
            Versioning::Unversioned => self.store.commit_object(bucket, key, temp).await?,
            Versioning::Enabled | Versioning::Suspended => {
                self.store.commit_version(bucket, key, temp).await?;
            }
        }
        Ok(())
    }

    /// Opens a copy source: the current version (a delete marker is `NoSuchKey`), or the named
    /// one (a delete marker named by id is 400 `InvalidRequest`, as S3).
    pub(super) async fn open_source(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<ObjectHandle> {
        let Some(v) = version else {
            return Ok(self.store.open_object(bucket, key).await?);
        };
        check_version_id(v)?;
        let handle = self.store.open_version(bucket, key, Some(v)).await?;
        if handle.meta.delete_marker {
            return Err(Error::InvalidRequest(
                "The source of a copy request may not specifically refer to a delete marker by version id."
                    .to_owned(),
            ));
        }
        Ok(handle)
    }

    /// Deletes `bucket/key`: the named version permanently, else (versioned bucket) by a new
    /// delete marker, else (unversioned) the object. Returns `(x-amz-version-id,
    /// x-amz-delete-marker)` for the response.
    pub(super) async fn delete_one(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<(Option<String>, bool)> {
        if let Some(v) = version {
            check_version_id(v)?;
            let removed = self.store.delete_version(bucket, key, v).await?;
            return Ok((Some(v.to_owned()), removed.is_some_and(|m| m.delete_marker)));
        }
        let versioning = self.versioning(bucket).await?;
        if versioning == Versioning::Unversioned {
            self.store.delete_object(bucket, key).await?;
            return Ok((None, false));
        }
        let mut marker = new_meta(key, ContentHeaders::default(), Default::default());
        marker.delete_marker = true;
        marker.version_id = versioning.new_version_id();
        let mut temp = self.store.temp_file().await?;
        temp.finish(&marker).await?;
        self.store.commit_version(bucket, key, temp).await?;
        Ok((Some(shown_version_id(&marker).to_owned()), true))
    }

    pub(super) async fn do_put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> Result<PutBucketVersioningOutput> {
        let input = req.input;
        self.store.head_bucket(&input.bucket).await?;
        let config = input.versioning_configuration;
        let mfa_enabled = config
            .mfa_delete
            .as_ref()
            .is_some_and(|m| m.as_str() == MFADelete::ENABLED);
        if mfa_enabled || input.mfa.is_some() {
            return Err(Error::NotImplemented(
                "MFA delete is not supported by this server",
            ));
        }
        let value: &[u8] = match config.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some(BucketVersioningStatus::ENABLED) => b"Enabled",
            Some(BucketVersioningStatus::SUSPENDED) => b"Suspended",
            _ => return Err(Error::MalformedXml),
        };
        self.check_versioning_change(&input.bucket, value == b"Enabled")
            .await?;
        self.store
            .set_bucket_config(&input.bucket, CONFIG, Some(value.to_vec()))
            .await?;
        Ok(PutBucketVersioningOutput::default())
    }

    /// A never-versioned bucket answers an empty `VersioningConfiguration` (no `Status`), as S3.
    pub(super) async fn do_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> Result<GetBucketVersioningOutput> {
        let status = match self.versioning(&req.input.bucket).await? {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some(BucketVersioningStatus::ENABLED),
            Versioning::Suspended => Some(BucketVersioningStatus::SUSPENDED),
        };
        Ok(GetBucketVersioningOutput {
            status: status.map(BucketVersioningStatus::from_static),
            mfa_delete: None,
        })
    }

    pub(super) async fn do_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> Result<DeleteObjectOutput> {
        let ext = req.extensions;
        let input = req.input;
        let bypass =
            super::lock_ops::input_bypass(&ext, &input.key, input.bypass_governance_retention);
        let (version_id, marker) = self
            .delete_checked(
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                bypass,
            )
            .await?;
        Ok(DeleteObjectOutput {
            delete_marker: marker.then_some(true),
            version_id,
            request_charged: None,
        })
    }

    pub(super) async fn do_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> Result<DeleteObjectsOutput> {
        let ext = req.extensions;
        let input = req.input;
        if input.delete.objects.len() > super::MAX_DELETE_OBJECTS {
            return Err(Error::MalformedXml);
        }
        self.store.head_bucket(&input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for obj in input.delete.objects {
            let named = obj.version_id.clone();
            if super::gate_facts::DeniedKeys::denied(&ext, &obj.key, named.as_deref()) {
                errors.push(s3s::dto::Error {
                    code: Some("AccessDenied".to_owned()),
                    key: Some(obj.key),
                    message: Some(Error::AccessDenied.to_string()),
                    version_id: named,
                });
                continue;
            }
            let bypass =
                super::lock_ops::input_bypass(&ext, &obj.key, input.bypass_governance_retention);
            match self
                .delete_checked(&input.bucket, &obj.key, named.as_deref(), bypass)
                .await
            {
                Ok((version_id, marker)) => {
                    if !quiet {
                        let created = named.is_none() && marker;
                        deleted.push(DeletedObject {
                            key: Some(obj.key),
                            version_id: named,
                            delete_marker: marker.then_some(true),
                            delete_marker_version_id: if created || marker {
                                version_id
                            } else {
                                None
                            },
                        });
                    }
                }
                Err(e) => {
                    let s3: s3s::S3Error = e.into();
                    errors.push(s3s::dto::Error {
                        code: Some(s3.code().as_str().to_owned()),
                        key: Some(obj.key),
                        message: s3.message().map(str::to_owned),
                        version_id: named,
                    });
                }
            }
        }
        Ok(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            request_charged: None,
        })
    }
}
