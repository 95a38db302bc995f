//! Bucket operations.

use s3s::S3Request;
use s3s::dto::*;

use super::{ObjectServer, timestamp};
use crate::error::Result;

/// Owner reported in listings (single-tenant server).
pub(super) fn owner() -> Owner {
    Owner {
        display_name: Some("minio".to_owned()),
        id: Some("02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4".to_owned()),
    }
}

impl ObjectServer {
    pub(super) async fn do_create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> Result<CreateBucketOutput> {
        let bucket = &req.input.bucket;
        let acl = self.create_bucket_acl(&req.input).await?;
        self.store.create_bucket(bucket).await?;
        self.store_bucket_acl(bucket, acl).await?;
        self.create_bucket_lock(
            bucket,
            req.input.object_lock_enabled_for_bucket == Some(true),
        )
        .await?;
        Ok(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        })
    }

    pub(super) async fn do_head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> Result<HeadBucketOutput> {
        self.store.head_bucket(&req.input.bucket).await?;
        Ok(HeadBucketOutput {
            bucket_region: Some("us-east-1".to_owned()),
            ..Default::default()
        })
    }

    pub(super) async fn do_delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> Result<DeleteBucketOutput> {
        self.store.delete_bucket(&req.input.bucket).await?;
        Ok(DeleteBucketOutput::default())
    }

    pub(super) async fn do_list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> Result<ListBucketsOutput> {
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let buckets = self
            .store
            .list_buckets()
            .await?
            .into_iter()
            .filter(|b| b.name.starts_with(&prefix))
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(timestamp(b.created_ns)),
                bucket_region: None,
            })
            .collect();
        Ok(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            prefix: req.input.prefix,
            continuation_token: None,
        })
    }
}
