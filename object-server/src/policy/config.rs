//! The stored policy and Public Access Block of a bucket (bucket configuration documents
//! `policy` — the policy text exactly as the client sent it, S3 returns it verbatim — and
//! `public-access-block`, JSON).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Policy;
use crate::error::Result;
use crate::storage::FsStore;

/// Bucket configuration document names.
pub(crate) const POLICY_DOC: &str = "policy";
pub(crate) const PAB_DOC: &str = "public-access-block";

/// A bucket's Public Access Block (all `false` when none is set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    /// Refuse ACLs that grant public access (PutBucketAcl, PutObjectAcl, `x-amz-acl`).
    pub block_public_acls: bool,
    /// Ignore public ACL grants when deciding anonymous access.
    pub ignore_public_acls: bool,
    /// Refuse PutBucketPolicy with a public policy (403 `AccessDenied`).
    pub block_public_policy: bool,
    /// A public policy grants nothing to anonymous requests.
    pub restrict_public_buckets: bool,
}

/// The stored policy text of `bucket` and its parsed form (through the bucket config cache).
pub async fn load_policy(store: &FsStore, bucket: &str) -> Result<Option<Arc<(String, Policy)>>> {
    Ok(store
        .bucket_config_parsed(bucket, POLICY_DOC, |bytes| {
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| "stored policy is not UTF-8".to_owned())?;
            let policy = Policy::parse(&text, bucket).map_err(|e| format!("stored policy: {e}"))?;
            Ok((text, policy))
        })
        .await?)
}

/// The Public Access Block of `bucket`, `None` when not set (through the bucket config cache).
pub async fn load_pab(store: &FsStore, bucket: &str) -> Result<Option<PublicAccessBlock>> {
    Ok(store
        .bucket_config_parsed(bucket, PAB_DOC, |bytes| {
            serde_json::from_slice::<PublicAccessBlock>(bytes).map_err(|e| e.to_string())
        })
        .await?
        .map(|p| *p))
}
