//! On-disk record format: `data ‖ JSON metadata ‖ u64 LE metadata length ‖ "OBJSRV01"`.
//!
//! The metadata is written after the data so a file can be produced in one streaming pass; the
//! trailer is read first. `format` in every metadata record is the version marker (currently 1).

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StorageError;

/// Trailer magic.
pub const MAGIC: &[u8; 8] = b"OBJSRV01";
/// Trailer length.
pub const TRAILER_LEN: u64 = 16;
/// Upper bound for a metadata record (user metadata is limited far below this).
pub const MAX_META_LEN: u64 = 1 << 20;
/// Current metadata format version.
pub const FORMAT: u32 = 1;

/// One part of a completed multipart object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartMeta {
    /// Client part number (also the key derivation input for SSE parts).
    pub number: u32,
    /// Plaintext bytes.
    pub size: u64,
    /// Stored (possibly encrypted) bytes.
    pub stored_size: u64,
    /// Client-visible part ETag (32 hex, no quotes).
    pub etag: String,
    /// The part's flexible checksum, stored form (`s3::checksum::Checksum::encode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Metadata of a stored object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Format version.
    pub format: u32,
    /// Object key.
    pub key: String,
    /// Plaintext size.
    pub size: u64,
    /// Size of the data region.
    pub stored_size: u64,
    /// Stored ETag: plaintext MD5 hex, sealed 96-hex for encrypted single-part objects, or
    /// `<hex>-N` for multipart objects.
    pub etag: String,
    /// Last modification, Unix nanoseconds.
    pub last_modified_ns: u64,
    /// `Content-Type`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    #[serde(default)]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    #[serde(default)]
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    #[serde(default)]
    pub content_language: Option<String>,
    /// `Cache-Control`.
    #[serde(default)]
    pub cache_control: Option<String>,
    /// `Expires` (HTTP date as received).
    #[serde(default)]
    pub expires: Option<String>,
    /// `x-amz-meta-*` (names without the prefix).
    #[serde(default)]
    pub user_metadata: BTreeMap<String, String>,
    /// Internal metadata (`X-Minio-Internal-*`); never returned to clients.
    #[serde(default)]
    pub internal: BTreeMap<String, String>,
    /// Parts of a multipart object (empty for single-part objects).
    #[serde(default)]
    pub parts: Vec<PartMeta>,
    /// Version id (32 lowercase hex); `None` is S3's `null` version (every object of a bucket
    /// that was never versioned, and those written while versioning was suspended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker: no data, hides the older versions from GET and listings.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
}

/// Metadata of an uploaded part file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartFileMeta {
    /// Format version.
    pub format: u32,
    /// Part number.
    pub number: u32,
    /// Plaintext bytes.
    pub size: u64,
    /// Stored bytes.
    pub stored_size: u64,
    /// Client-visible ETag (32 hex).
    pub etag: String,
    /// Upload time, Unix nanoseconds.
    pub last_modified_ns: u64,
    /// The part's flexible checksum, stored form (`s3::checksum::Checksum::encode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Metadata of a multipart upload (stored as `upload.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadMeta {
    /// Format version.
    pub format: u32,
    /// Upload id.
    pub upload_id: String,
    /// Target bucket.
    pub bucket: String,
    /// Target key.
    pub key: String,
    /// Initiation time, Unix nanoseconds.
    pub initiated_ns: u64,
    /// The object metadata template (content headers, user and internal metadata).
    pub template: ObjectMeta,
}

/// Appends `meta` and the trailer to a data region of `data_len` bytes.
pub fn encode_trailer<T: Serialize>(meta: &T) -> Result<Vec<u8>, StorageError> {
    let mut out = serde_json::to_vec(meta).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let len = out.len() as u64;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(MAGIC);
    Ok(out)
}

/// Reads the metadata of a record file; returns it with the data region length.
pub fn read_meta<T: DeserializeOwned>(file: &std::fs::File) -> Result<(T, u64), StorageError> {
    let total = file.metadata()?.len();
    if total < TRAILER_LEN {
        return Err(StorageError::Corrupt("file too short".into()));
    }
    let mut trailer = [0u8; TRAILER_LEN as usize];
    file.read_exact_at(&mut trailer, total - TRAILER_LEN)?;
    if &trailer[8..] != MAGIC {
        return Err(StorageError::Corrupt("bad magic".into()));
    }
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&trailer[..8]);
    let meta_len = u64::from_le_bytes(len_bytes);
    if meta_len > MAX_META_LEN || meta_len > total - TRAILER_LEN {
        return Err(StorageError::Corrupt("bad metadata length".into()));
    }
    let data_len = total - TRAILER_LEN - meta_len;
    let mut buf = vec![0u8; meta_len as usize];
    file.read_exact_at(&mut buf, data_len)?;
    let meta = serde_json::from_slice(&buf).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    Ok((meta, data_len))
}
