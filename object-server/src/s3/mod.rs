//! The S3 protocol layer: `impl s3s::S3` on [`ObjectServer`].
//!
//! The handlers ask [`crate::sse::Sse`] about every encryption matter and move bytes.
//!
//! * [`bucket`] — create/head/delete/list buckets; [`encryption`] — Put/Get/Delete
//!   BucketEncryption.
//! * [`put`] — PutObject; [`get`] — GetObject, HeadObject (conditions, ranges, `partNumber`);
//!   [`copy`] — CopyObject (every pair of plain/SSE-C/SSE-S3/SSE-KMS, SSE-C key rotation);
//!   [`object`] — shared object helpers.
//! * [`list`] — ListObjects v1/v2 (prefix, delimiter, pagination, `encoding-type=url`).
//! * [`multipart`] — create/upload part/upload part copy/complete/abort; [`parts`] — list parts
//!   and uploads.
//! * [`io`] — body ingestion (MD5, checksums, DARE sealing via `sse::stream`) and plaintext
//!   read streams.
//! * [`versioning`] — Put/GetBucketVersioning, version ids of writes, delete markers,
//!   DeleteObject(s) by version; [`list_versions`] — ListObjectVersions.
//! * [`attributes`] — GetObjectAttributes.
//! * [`checksum`] — flexible checksums (algorithms, request headers and trailers, stored form);
//!   [`checksum_ops`] — how PUT, parts, Complete, GET/HEAD, ListParts and GetObjectAttributes
//!   use them.
//! * [`policy`] — Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus, Put/Get/Delete
//!   PublicAccessBlock (evaluation: [`crate::policy`]); [`acl`] — canned ACLs;
//!   [`tagging`] — object and bucket tagging.
//! * [`object_lock`] — Object Lock rules and stored state ([`object_lock::version_is_locked`]);
//!   [`lock_ops`] — Put/GetObjectLockConfiguration, Put/GetObjectRetention,
//!   Put/GetObjectLegalHold, the lock check of deletes by version id; [`version_meta`] —
//!   reads and rewrites of one named version's metadata (tagging, ACL, lock with `versionId`).
//! * [`post`] — POST object (browser forms) as a PutObject (the form: `crate::server`).
//! * [`lifecycle`] — Put/Get/DeleteBucketLifecycleConfiguration; [`lifecycle_sweep`] — one
//!   pass applying the rules; [`logging`] — Put/GetBucketLogging (stored only).
//! * [`acl_grants`] — `x-amz-grant-*` headers; [`gate_facts`] — what the policy gate leaves
//!   for handlers (lock-header visibility, DeleteObjects entries denied per key);
//!   [`lock_integrity`] — the `Content-MD5`/checksum rule for Object Lock uploads.

pub(crate) mod acl;
pub(crate) mod acl_grants;
mod attributes;
mod bucket;
pub mod checksum;
mod checksum_ops;
mod copy;
mod encryption;
pub(crate) mod gate_facts;
mod get;
pub mod io;
mod lifecycle;
pub mod lifecycle_sweep;
mod list;
mod list_versions;
mod lock_integrity;
mod lock_ops;
mod logging;
mod multipart;
mod object;
pub mod object_lock;
mod parts;
mod policy;
pub(crate) mod post;
mod put;
mod tagging;
mod version_meta;
mod versioning;

use std::collections::BTreeMap;
use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use crate::error::{Error, Result};
use crate::sse::range::StreamLayout;
use crate::sse::{BucketDefault, ObjectEncryption, ResponseSse, Sse};
use crate::storage::{FsStore, ObjectMeta};

/// Largest single PUT / part (5 GiB).
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest non-final multipart part (5 MiB).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest total user metadata (names + values), as AWS.
pub const MAX_USER_METADATA: usize = 2048;

/// The S3 service: the store and the SSE front door.
#[derive(Debug, Clone)]
pub struct ObjectServer {
    store: Arc<FsStore>,
    sse: Sse,
}

impl ObjectServer {
    /// A service over `store` with `sse` (TLS state, KMS).
    pub fn new(store: Arc<FsStore>, sse: Sse) -> Self {
        Self { store, sse }
    }

    /// The ETag clients see for a stored object (without quotes); SSE-S3 single-part objects
    /// cost one KES decrypt (see [`Sse::visible_etag`]).
    async fn visible_etag(&self, bucket: &str, meta: &ObjectMeta) -> String {
        match ObjectEncryption::from_metadata(&meta.internal) {
            Ok(state) => {
                self.sse
                    .visible_etag(
                        &meta.etag,
                        &state,
                        !meta.parts.is_empty(),
                        bucket,
                        &meta.key,
                    )
                    .await
            }
            Err(_) => meta.etag.clone(),
        }
    }

    /// The bucket's default encryption, if configured.
    async fn bucket_default(&self, bucket: &str) -> Result<Option<BucketDefault>> {
        encryption::bucket_default(&self.store, bucket).await
    }
}

/// Sets the SSE response fields every output type has (algorithm, KMS key id, SSE-C echo).
macro_rules! set_sse {
    ($out:expr, $r:expr) => {{
        let r: &$crate::sse::ResponseSse = &$r;
        $out.server_side_encryption = r
            .algorithm
            .map(|a| s3s::dto::ServerSideEncryption::from(a.to_owned()));
        $out.ssekms_key_id = r.kms_key_id.clone();
        $out.sse_customer_algorithm = r.customer_algorithm.clone();
        $out.sse_customer_key_md5 = r.customer_key_md5.clone();
    }};
}
pub(crate) use set_sse;

/// A response with the SSE-KMS context header added (for outputs without a typed field).
fn with_context<T>(output: T, sse: &ResponseSse) -> S3Response<T> {
    let mut resp = S3Response::new(output);
    if let Some(v) = sse
        .context
        .as_deref()
        .and_then(|c| http::HeaderValue::from_str(c).ok())
    {
        resp.headers.insert(crate::sse::request::H_CONTEXT, v);
    }
    resp
}

fn timestamp(ns: u64) -> Timestamp {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(dt)
}

fn unix_seconds(ts: &Timestamp) -> i64 {
    time::OffsetDateTime::from(ts.clone()).unix_timestamp()
}

/// Strips surrounding quotes (and a weak prefix) from a client-sent ETag.
fn unquote(etag: &str) -> &str {
    let e = etag.strip_prefix("W/").unwrap_or(etag);
    e.strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(e)
}

/// Part numbers of a multipart object (empty for single-part objects).
fn part_numbers(meta: &ObjectMeta) -> Vec<u32> {
    meta.parts.iter().map(|p| p.number).collect()
}

/// The DARE/plain stream layout of an object's data region.
fn layout(meta: &ObjectMeta) -> Vec<StreamLayout> {
    if meta.parts.is_empty() {
        vec![StreamLayout {
            part_number: None,
            plain_size: meta.size,
        }]
    } else {
        meta.parts
            .iter()
            .map(|p| StreamLayout {
                part_number: Some(p.number),
                plain_size: p.size,
            })
            .collect()
    }
}

/// Validates `Content-MD5` (base64 of 16 bytes) → the expected digest.
fn parse_content_md5(v: Option<&String>) -> Result<Option<[u8; 16]>> {
    use base64::Engine as _;
    let Some(v) = v else { return Ok(None) };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| Error::InvalidDigest)?;
    let digest: [u8; 16] = raw.try_into().map_err(|_| Error::InvalidDigest)?;
    Ok(Some(digest))
}

/// Checks user metadata size and copies it into a sorted map.
fn user_metadata(m: Option<&Metadata>) -> Result<BTreeMap<String, String>> {
    let Some(m) = m else {
        return Ok(BTreeMap::new());
    };
    let total: usize = m.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_USER_METADATA {
        return Err(Error::MetadataTooLarge);
    }
    Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn metadata_out(m: &BTreeMap<String, String>) -> Option<Metadata> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn format_http_date(ts: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    ts.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

fn ok<T>(output: T) -> S3Result<S3Response<T>> {
    Ok(S3Response::new(output))
}

#[async_trait::async_trait]
impl S3 for ObjectServer {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        ok(self.do_create_bucket(req).await?)
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        ok(self.do_head_bucket(req).await?)
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        ok(self.do_delete_bucket(req).await?)
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        ok(self.do_list_buckets(req).await?)
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.store
            .head_bucket(&req.input.bucket)
            .await
            .map_err(Error::from)?;
        ok(GetBucketLocationOutput::default())
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        ok(self.do_get_bucket_versioning(req).await?)
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        ok(self.do_put_bucket_versioning(req).await?)
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        ok(self.do_list_object_versions(req).await?)
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        ok(self.do_put_object(req).await?)
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        Ok(self.do_get_object(req).await?)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        Ok(self.do_head_object(req).await?)
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        ok(self.do_get_object_attributes(req).await?)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        ok(self.do_delete_object(req).await?)
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        ok(self.do_delete_objects(req).await?)
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        ok(self.do_copy_object(req).await?)
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        ok(self.do_list_objects(req).await?)
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        ok(self.do_list_objects_v2(req).await?)
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        ok(self.do_create_multipart_upload(req).await?)
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        Ok(self.do_upload_part(req).await?)
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        Ok(self.do_upload_part_copy(req).await?)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        Ok(self.do_complete_multipart_upload(req).await?)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        ok(self.do_abort_multipart_upload(req).await?)
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        ok(self.do_list_parts(req).await?)
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        ok(self.do_put_bucket_encryption(req).await?)
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        ok(self.do_get_bucket_encryption(req).await?)
    }

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        ok(self.do_delete_bucket_encryption(req).await?)
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        ok(self.do_list_multipart_uploads(req).await?)
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        ok(self.do_put_bucket_policy(req).await?)
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        ok(self.do_get_bucket_policy(req).await?)
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        ok(self.do_delete_bucket_policy(req).await?)
    }

    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        ok(self.do_get_bucket_policy_status(req).await?)
    }

    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        ok(self.do_put_public_access_block(req).await?)
    }

    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        ok(self.do_get_public_access_block(req).await?)
    }

    async fn delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        ok(self.do_delete_public_access_block(req).await?)
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        ok(self.do_put_object_tagging(req).await?)
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        ok(self.do_get_object_tagging(req).await?)
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        ok(self.do_delete_object_tagging(req).await?)
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        ok(self.do_put_bucket_tagging(req).await?)
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        ok(self.do_get_bucket_tagging(req).await?)
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        ok(self.do_delete_bucket_tagging(req).await?)
    }

    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        ok(self.do_put_bucket_acl(req).await?)
    }

    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        ok(self.do_get_bucket_acl(req).await?)
    }

    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        ok(self.do_put_object_acl(req).await?)
    }

    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        ok(self.do_get_object_acl(req).await?)
    }

    async fn put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        ok(self.do_put_bucket_ownership_controls(req).await?)
    }

    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        ok(self.do_get_bucket_ownership_controls(req).await?)
    }

    async fn delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        ok(self.do_delete_bucket_ownership_controls(req).await?)
    }

    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        ok(self.do_put_object_lock_configuration(req).await?)
    }

    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        ok(self.do_get_object_lock_configuration(req).await?)
    }

    async fn put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        ok(self.do_put_object_retention(req).await?)
    }

    async fn get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        ok(self.do_get_object_retention(req).await?)
    }

    async fn put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        ok(self.do_put_object_legal_hold(req).await?)
    }

    async fn get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        ok(self.do_get_object_legal_hold(req).await?)
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        ok(self.do_put_bucket_lifecycle_configuration(req).await?)
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        ok(self.do_get_bucket_lifecycle_configuration(req).await?)
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        ok(self.do_delete_bucket_lifecycle(req).await?)
    }

    async fn put_bucket_logging(
        &self,
        req: S3Request<PutBucketLoggingInput>,
    ) -> S3Result<S3Response<PutBucketLoggingOutput>> {
        ok(self.do_put_bucket_logging(req).await?)
    }

    async fn get_bucket_logging(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> S3Result<S3Response<GetBucketLoggingOutput>> {
        ok(self.do_get_bucket_logging(req).await?)
    }
}
