//! Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus and Put/Get/DeletePublicAccessBlock
//! (the language and the evaluation are in [`crate::policy`]).

use s3s::S3Request;
use s3s::dto::*;

use super::ObjectServer;
use crate::error::{Error, Result};
use crate::policy::config::{PAB_DOC, POLICY_DOC, PublicAccessBlock, load_pab, load_policy};
use crate::policy::{Policy, PolicyError};

impl From<PolicyError> for Error {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Malformed(m) => Error::MalformedPolicy(m),
            PolicyError::TooLarge => Error::PolicyTooLarge,
        }
    }
}

impl ObjectServer {
    /// Validates and stores a policy verbatim; a public one is refused (403) while the bucket's
    /// Public Access Block has `BlockPublicPolicy`.
    pub(super) async fn do_put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> Result<PutBucketPolicyOutput> {
        let input = req.input;
        self.store.head_bucket(&input.bucket).await?;
        let policy = Policy::parse(&input.policy, &input.bucket)?;
        let pab = load_pab(&self.store, &input.bucket).await?;
        if pab.is_some_and(|p| p.block_public_policy) && policy.is_public() {
            return Err(Error::AccessDenied);
        }
        self.store
            .set_bucket_config(&input.bucket, POLICY_DOC, Some(input.policy.into_bytes()))
            .await?;
        Ok(PutBucketPolicyOutput::default())
    }

    pub(super) async fn do_get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> Result<GetBucketPolicyOutput> {
        let doc = load_policy(&self.store, &req.input.bucket)
            .await?
            .ok_or(Error::NoSuchBucketPolicy)?;
        Ok(GetBucketPolicyOutput {
            policy: Some(doc.0.clone()),
        })
    }

    pub(super) async fn do_delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> Result<DeleteBucketPolicyOutput> {
        self.store
            .set_bucket_config(&req.input.bucket, POLICY_DOC, None)
            .await?;
        Ok(DeleteBucketPolicyOutput::default())
    }

    /// `IsPublic` of the stored policy (`NoSuchBucketPolicy` without one, as S3).
    pub(super) async fn do_get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> Result<GetBucketPolicyStatusOutput> {
        let doc = load_policy(&self.store, &req.input.bucket)
            .await?
            .ok_or(Error::NoSuchBucketPolicy)?;
        let policy = &doc.1;
        Ok(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus {
                is_public: Some(policy.is_public()),
            }),
        })
    }

    pub(super) async fn do_put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> Result<PutPublicAccessBlockOutput> {
        let input = req.input;
        let c = input.public_access_block_configuration;
        let pab = PublicAccessBlock {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        };
        let doc = serde_json::to_vec(&pab).map_err(Error::internal)?;
        self.store
            .set_bucket_config(&input.bucket, PAB_DOC, Some(doc))
            .await?;
        Ok(PutPublicAccessBlockOutput::default())
    }

    pub(super) async fn do_get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> Result<GetPublicAccessBlockOutput> {
        let pab = load_pab(&self.store, &req.input.bucket)
            .await?
            .ok_or(Error::NoSuchPublicAccessBlock)?;
        Ok(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(pab.block_public_acls),
                ignore_public_acls: Some(pab.ignore_public_acls),
                block_public_policy: Some(pab.block_public_policy),
                restrict_public_buckets: Some(pab.restrict_public_buckets),
            }),
        })
    }

    pub(super) async fn do_delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> Result<DeletePublicAccessBlockOutput> {
        self.store
            .set_bucket_config(&req.input.bucket, PAB_DOC, None)
            .await?;
        Ok(DeletePublicAccessBlockOutput::default())
    }
}
