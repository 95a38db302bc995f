//! The S3 protocol layer: `impl s3s::S3` on [`ObjectServer`].
//!
//! * [`bucket`] — create/head/delete/list buckets.
//! * [`object`] — put/get/head/delete/delete-multiple/copy, conditional requests, ranges.
//! * [`list`] — ListObjects v1/v2 (prefix, delimiter, pagination, `encoding-type=url`).
//! * [`multipart`] — create/upload part/upload part copy/complete/abort/list parts/list uploads.
//! * [`ssec`] — SSE request classification and SSE-C checks shared by the operations.
//! * [`io`] — body ingestion (MD5, DARE encryption) and plaintext read streams.

mod bucket;
pub mod io;
mod list;
mod multipart;
mod object;
mod ssec;

use std::collections::BTreeMap;
use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use crate::error::{Error, Result};
use crate::sse::keys::formatted_etag;
use crate::sse::range::StreamLayout;
use crate::sse::{META_SSEC_SEALED_KEY, params::CustomerKey};
use crate::storage::{FsStore, ObjectMeta};

/// Largest single PUT / part (5 GiB).
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest non-final multipart part (5 MiB).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest total user metadata (names + values), as AWS.
pub const MAX_USER_METADATA: usize = 2048;

/// The S3 service. `tls` states whether the server serves HTTPS (SSE-C is refused otherwise).
#[derive(Debug, Clone)]
pub struct ObjectServer {
    store: Arc<FsStore>,
    tls: bool,
}

impl ObjectServer {
    /// A service over `store`.
    pub fn new(store: Arc<FsStore>, tls: bool) -> Self {
        Self { store, tls }
    }
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

/// The ETag clients see for a stored object (without quotes).
fn client_etag(meta: &ObjectMeta) -> String {
    if meta.parts.is_empty() && meta.internal.contains_key(META_SSEC_SEALED_KEY) {
        formatted_etag(&meta.etag)
    } else {
        meta.etag.clone()
    }
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

/// SSE-C response echo (algorithm, key MD5).
fn ssec_echo(ck: Option<&CustomerKey>) -> (Option<String>, Option<String>) {
    match ck {
        Some(ck) => (
            Some(crate::sse::params::SSE_C_ALGORITHM.to_owned()),
            Some(ck.key_md5().to_owned()),
        ),
        None => (None, None),
    }
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
        ok(self.do_get_object(req).await?)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        ok(self.do_head_object(req).await?)
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
        ok(self.do_upload_part(req).await?)
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        ok(self.do_upload_part_copy(req).await?)
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

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        ok(self.do_list_multipart_uploads(req).await?)
    }
}
