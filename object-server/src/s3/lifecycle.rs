//! Put/Get/DeleteBucketLifecycleConfiguration. The validated document (rule IDs filled in) is
//! the bucket configuration document `lifecycle`, stored as S3 XML; the sweep that applies it
//! is [`super::lifecycle_sweep`]. Validation and its errors: [`crate::lifecycle::config`].
//! The deprecated PutBucketLifecycle shares the request (`PUT /bucket?lifecycle`, rules with a
//! top-level `Prefix`), so s3s routes it here too.

use s3s::S3Request;
use s3s::dto::*;

use super::ObjectServer;
use crate::error::{Error, Result};
use crate::lifecycle::config::{self, Rule};

/// Bucket configuration document holding the lifecycle configuration.
pub(crate) const DOC: &str = "lifecycle";

impl ObjectServer {
    /// The bucket's stored lifecycle configuration, if any.
    pub(super) async fn lifecycle_document(
        &self,
        bucket: &str,
    ) -> Result<Option<BucketLifecycleConfiguration>> {
        match self.store.bucket_config(bucket, DOC).await? {
            Some(bytes) => Ok(Some(config::from_xml(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The bucket's lifecycle rules (empty without a configuration).
    pub(super) async fn lifecycle_rules(&self, bucket: &str) -> Result<Vec<Rule>> {
        match self.lifecycle_document(bucket).await? {
            Some(mut doc) => config::validate(&mut doc),
            None => Ok(Vec::new()),
        }
    }

    pub(super) async fn do_put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> Result<PutBucketLifecycleConfigurationOutput> {
        let input = req.input;
        self.store.head_bucket(&input.bucket).await?;
        let mut doc = input.lifecycle_configuration.ok_or(Error::MalformedXml)?;
        config::validate(&mut doc)?;
        self.store
            .set_bucket_config(&input.bucket, DOC, Some(config::to_xml(&doc)?))
            .await?;
        Ok(PutBucketLifecycleConfigurationOutput::default())
    }

    pub(super) async fn do_get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> Result<GetBucketLifecycleConfigurationOutput> {
        let doc = self
            .lifecycle_document(&req.input.bucket)
            .await?
            .ok_or(Error::NoSuchLifecycleConfiguration)?;
        Ok(GetBucketLifecycleConfigurationOutput {
            rules: Some(doc.rules),
            transition_default_minimum_object_size: None,
        })
    }

    /// Deleting a missing configuration succeeds (204), as S3.
    pub(super) async fn do_delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> Result<DeleteBucketLifecycleOutput> {
        self.store
            .set_bucket_config(&req.input.bucket, DOC, None)
            .await?;
        Ok(DeleteBucketLifecycleOutput::default())
    }
}
