//! S3's integrity rule for Object Lock uploads: a PutObject or UploadPart that writes a
//! version with a retention or legal hold (from its headers, from its multipart upload, or
//! from the bucket's default retention) must carry `Content-MD5` or a flexible checksum
//! (`x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm`, or a checksum trailer), else 400
//! `InvalidRequest` `Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object
//! requests with Object Lock parameters`.
//!
//! POST form uploads (which have no such header in S3's form) are marked with
//! [`FormUpload`] by the POST path and not checked.

use super::ObjectServer;
use super::object_lock::LockState;
use crate::error::{Error, Result};
use crate::storage::ObjectMeta;

/// Request extension: this PutObject stands for a POST form upload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FormUpload;

/// The refusal S3 answers.
fn required() -> Error {
    Error::InvalidRequest(
        "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"
            .to_owned(),
    )
}

/// Whether the request names an integrity check S3 accepts for Object Lock uploads.
fn has_integrity_header(headers: &http::HeaderMap) -> bool {
    headers.contains_key("content-md5")
        || headers.contains_key("x-amz-sdk-checksum-algorithm")
        || headers
            .keys()
            .any(|k| k.as_str().starts_with("x-amz-checksum-"))
        || headers
            .get_all("x-amz-trailer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.trim().to_ascii_lowercase().starts_with("x-amz-checksum-"))
}

/// PutObject: refuses a new version with lock state `lock` without an integrity header.
pub(super) fn check_put(
    headers: &http::HeaderMap,
    ext: &http::Extensions,
    lock: &LockState,
) -> Result<()> {
    let locked = lock.retention.is_some() || lock.legal_hold.is_some();
    if locked && ext.get::<FormUpload>().is_none() && !has_integrity_header(headers) {
        return Err(required());
    }
    Ok(())
}

impl ObjectServer {
    /// UploadPart: refuses a part without an integrity header when its upload carries lock
    /// headers or its bucket has a default retention.
    pub(super) async fn check_part_integrity(
        &self,
        bucket: &str,
        template: &ObjectMeta,
        headers: &http::HeaderMap,
    ) -> Result<()> {
        if has_integrity_header(headers) {
            return Ok(());
        }
        let own = LockState::of(template);
        let locked = own.retention.is_some()
            || own.legal_hold.is_some()
            || self
                .bucket_lock(bucket)
                .await?
                .is_some_and(|c| c.rule.is_some());
        if locked { Err(required()) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: &'static str, value: &'static str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(name, http::HeaderValue::from_static(value));
        h
    }

    #[test]
    fn integrity_headers() {
        assert!(has_integrity_header(&with("content-md5", "x")));
        assert!(has_integrity_header(&with("x-amz-checksum-crc32", "x")));
        assert!(has_integrity_header(&with(
            "x-amz-sdk-checksum-algorithm",
            "CRC32"
        )));
        assert!(has_integrity_header(&with(
            "x-amz-trailer",
            "x-amz-checksum-crc64nvme"
        )));
        assert!(!has_integrity_header(&with(
            "x-amz-trailer",
            "x-amz-meta-a"
        )));
        assert!(!has_integrity_header(&with(
            "x-amz-content-sha256",
            "UNSIGNED-PAYLOAD"
        )));
        let hold = LockState {
            retention: None,
            legal_hold: Some(false),
        };
        let ext = http::Extensions::new();
        assert!(check_put(&http::HeaderMap::new(), &ext, &hold).is_err());
        assert!(check_put(&http::HeaderMap::new(), &ext, &LockState::default()).is_ok());
        let mut form = http::Extensions::new();
        form.insert(FormUpload);
        assert!(check_put(&http::HeaderMap::new(), &form, &hold).is_ok());
    }
}
