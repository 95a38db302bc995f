//! Helpers shared by the object operations (content headers, new metadata, size and
//! precondition checks); DeleteObject(s) are in [`super::versioning`].

use std::collections::BTreeMap;

use s3s::dto::*;

use super::{format_http_date, unix_seconds, unquote};
use crate::error::{Error, Result};
use crate::sse::range::encrypted_size;
use crate::sse::{Keyed, ResponseSse};
use crate::storage::ObjectMeta;
use crate::storage::now_ns;

/// Content headers stored with an object.
#[derive(Debug, Default, Clone)]
pub(super) struct ContentHeaders {
    /// `Content-Type`.
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<Timestamp>,
}

/// `Content-Encoding` without the transport-only `aws-chunked` token (S3 never stores it).
pub(super) fn stored_content_encoding(v: Option<&String>) -> Option<String> {
    let kept: Vec<&str> = v?
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// A new object's metadata skeleton.
pub(super) fn new_meta(
    key: &str,
    content: ContentHeaders,
    user: BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        format: crate::storage::file::FORMAT,
        key: key.to_owned(),
        size: 0,
        stored_size: 0,
        etag: String::new(),
        last_modified_ns: now_ns(),
        content_type: content.content_type,
        content_encoding: content.content_encoding,
        content_disposition: content.content_disposition,
        content_language: content.content_language,
        cache_control: content.cache_control,
        expires: content.expires.as_ref().and_then(format_http_date),
        user_metadata: user,
        internal: BTreeMap::new(),
        parts: Vec::new(),
        version_id: None,
        delete_marker: false,
    }
}

/// A bare metadata record for unit tests.
#[cfg(test)]
pub(crate) fn tests_meta() -> ObjectMeta {
    new_meta("k", ContentHeaders::default(), BTreeMap::new())
}

/// Checks stored sizes against the encryption state (tampering → `ObjectTampered`).
pub(super) fn check_sizes(meta: &ObjectMeta, encrypted: bool) -> Result<()> {
    let expect = |plain: u64| {
        if encrypted {
            encrypted_size(plain)
        } else {
            plain
        }
    };
    let consistent = if meta.parts.is_empty() {
        expect(meta.size) == meta.stored_size
    } else {
        meta.parts.iter().all(|p| expect(p.size) == p.stored_size)
            && meta.parts.iter().map(|p| p.size).sum::<u64>() == meta.size
            && meta.parts.iter().map(|p| p.stored_size).sum::<u64>() == meta.stored_size
    };
    if consistent {
        Ok(())
    } else if encrypted {
        Err(Error::ObjectTampered)
    } else {
        Err(Error::Internal(format!(
            "object {:?}: size mismatch",
            meta.key
        )))
    }
}

/// The [`ContentHeaders`] a PutObject, CreateMultipartUpload or CopyObject (with the
/// `REPLACE` directive) input sets (the three DTOs name these fields alike).
macro_rules! content_headers {
    ($input:expr) => {
        super::object::ContentHeaders {
            content_type: $input.content_type.clone(),
            content_encoding: super::object::stored_content_encoding(
                $input.content_encoding.as_ref(),
            ),
            content_disposition: $input.content_disposition.clone(),
            content_language: $input.content_language.clone(),
            cache_control: $input.cache_control.clone(),
            expires: $input.expires.clone(),
        }
    };
}
pub(super) use content_headers;

/// Records a new single-part object's encryption and ETag in `meta` from the MD5 of its
/// plaintext (`keyed`: the object's fresh key, `None` for a plain object); returns the ETag
/// the client sees and the SSE response headers.
pub(super) fn seal_object_meta(
    meta: &mut ObjectMeta,
    keyed: Option<&Keyed>,
    md5: [u8; 16],
    content_md5: Option<[u8; 16]>,
) -> Result<(String, ResponseSse)> {
    Ok(match keyed {
        Some(k) => {
            k.state().write_metadata(&mut meta.internal, false);
            meta.etag = k.seal_etag(md5, content_md5)?;
            (k.client_etag(&meta.etag), k.response())
        }
        None => {
            meta.etag = hex::encode(md5);
            (meta.etag.clone(), ResponseSse::default())
        }
    })
}

/// Part `number`'s ETags and SSE response headers from the MD5 of its plaintext: `(stored,
/// visible, sse)`, where `stored` is kept in the part file and `visible` is sent (the same
/// bytes under the same upload and number always get the same ETag).
pub(super) fn part_etags(
    keyed: Option<&Keyed>,
    number: u32,
    md5: [u8; 16],
) -> Result<(String, String, ResponseSse)> {
    Ok(match keyed {
        Some(k) => {
            let stored = k.part_etag(number, md5)?;
            let visible = k.client_etag(&stored);
            (stored, visible, k.response())
        }
        None => (hex::encode(md5), hex::encode(md5), ResponseSse::default()),
    })
}

/// Checks a copy source: its stored sizes against its encryption, then the
/// `x-amz-copy-source-if-*` conditions against the ETag the client sees (412 on a miss).
/// `$input` is a CopyObject or UploadPartCopy input (they name the conditions alike).
macro_rules! check_copy_source {
    ($input:expr, $src:expr, $src_keyed:expr, $encrypted:expr) => {{
        super::object::check_sizes(&$src.meta, $encrypted)?;
        let src_etag = match &$src_keyed {
            Some(k) => k.client_etag(&$src.meta.etag),
            None => $src.meta.etag.clone(),
        };
        super::object::check_conditions(
            &src_etag,
            $src.meta.last_modified_ns,
            $input.copy_source_if_match.as_ref(),
            $input.copy_source_if_none_match.as_ref(),
            $input.copy_source_if_modified_since.as_ref(),
            $input.copy_source_if_unmodified_since.as_ref(),
            Error::PreconditionFailed,
        )?;
    }};
}
pub(super) use check_copy_source;

/// Evaluates If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304).
pub(super) fn check_conditions(
    etag: &str,
    last_modified_ns: u64,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
    not_modified: Error,
) -> Result<()> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => unquote(e.value()) == etag,
    };
    let modified_secs = i64::try_from(last_modified_ns / 1_000_000_000).unwrap_or(i64::MAX);
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(Error::PreconditionFailed);
        }
    } else if let Some(t) = if_unmodified_since
        && modified_secs > unix_seconds(t)
    {
        return Err(Error::PreconditionFailed);
    }
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(not_modified);
        }
    } else if let Some(t) = if_modified_since
        && modified_secs <= unix_seconds(t)
    {
        return Err(not_modified);
    }
    Ok(())
}
