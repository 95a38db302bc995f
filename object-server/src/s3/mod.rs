//! The S3 protocol layer: `impl s3s::S3` on [`ObjectServer`].
//!
//! [`dispatch`] routes every operation to its handler below. The handlers ask [`crate::sse::Sse`] about every encryption matter and move bytes.
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
mod dispatch;
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

use s3s::S3Response;
use s3s::dto::*;

use crate::error::{Error, Result};
use crate::sse::range::StreamLayout;
use crate::sse::{BucketDefault, ObjectEncryption, ResponseSse, Sse};
use crate::storage::{FsStore, ObjectMeta};

/// Largest single PUT / part (5 GiB).
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest non-final multipart part (5 MiB).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Most keys one DeleteObjects request may name, as S3 (more: `400 MalformedXML`).
pub const MAX_DELETE_OBJECTS: usize = 1000;
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
