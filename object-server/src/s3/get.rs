//! GetObject and HeadObject: preconditions, ranges and `partNumber` on plaintext sizes; the
//! object key comes from [`crate::sse::Sse::open`] (a GET of an SSE-S3/SSE-KMS object costs one
//! KES decrypt and nothing more). HEAD opens SSE-C objects (to check the key) but never asks KES
//! for SSE-KMS objects; for SSE-S3 it asks once for the ETag, falling back to the formatted
//! ETag when KES cannot answer. With `ChecksumMode=ENABLED` a whole-object read returns the
//! stored checksum (HEAD then opens the object key of an encrypted object: one KES decrypt for
//! SSE-S3/SSE-KMS).

use s3s::dto::*;
use s3s::{S3Request, S3Response};

use super::checksum::{Checksum, set_checksum};
use super::checksum_ops;
use super::io::{self, Decode};
use super::object::{check_conditions, check_sizes};
use super::versioning::{Versioning, check_version_id, response_version_id};
use super::{
    ObjectServer, layout, metadata_out, parse_http_date, part_numbers, set_sse, timestamp,
    with_context,
};
use crate::error::{Error, Result};
use crate::sse::request::ssec_headers;
use crate::sse::{Keyed, ObjectEncryption, ResponseSse};
use crate::storage::ObjectHandle;
use crate::storage::versions::shown_version_id;

/// Resolved read of an object: the plaintext span and how to decode it.
struct ReadSetup {
    handle: ObjectHandle,
    keyed: Option<Keyed>,
    sse: ResponseSse,
    etag: String,
    offset: u64,
    len: u64,
    content_range: Option<String>,
    parts_count: Option<i32>,
    /// The object checksum, when asked for and the read is the whole object.
    checksum: Option<Checksum>,
    /// `x-amz-version-id`.
    version_id: Option<String>,
}

impl ReadSetup {
    fn decode(&self) -> Decode {
        match &self.keyed {
            Some(k) => Decode::Dare(k.stream_keys(&part_numbers(&self.handle.meta))),
            None => Decode::Plain,
        }
    }
}

/// The [`ReadRequest`] of a `GetObject` or `HeadObject` input (the two DTOs name these
/// fields alike); `$data` is true for GET.
macro_rules! read_request {
    ($input:expr, $data:expr) => {
        ReadRequest {
            bucket: &$input.bucket,
            key: &$input.key,
            if_match: $input.if_match.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
            range: $input.range.as_ref(),
            part_number: $input.part_number,
            version_id: $input.version_id.as_deref(),
            data: $data,
            checksum: checksum_ops::enabled($input.checksum_mode.as_ref()),
        }
    };
}

/// A `GetObject` or `HeadObject` output carrying the object's headers, checksum and SSE
/// headers from a [`ReadSetup`] (the two DTOs name these fields alike), plus `extra` fields.
macro_rules! object_output {
    ($ty:ident, $setup:expr, { $($field:ident: $value:expr),* $(,)? }) => {{
        let meta = &$setup.handle.meta;
        let mut output = $ty {
            $($field: $value,)*
            accept_ranges: Some("bytes".to_owned()),
            content_length: i64::try_from($setup.len).ok(),
            content_range: $setup.content_range.clone(),
            content_type: meta.content_type.clone(),
            content_encoding: meta.content_encoding.clone(),
            content_disposition: meta.content_disposition.clone(),
            content_language: meta.content_language.clone(),
            cache_control: meta.cache_control.clone(),
            expires: meta.expires.as_deref().and_then(parse_http_date),
            e_tag: Some(ETag::Strong($setup.etag.clone())),
            last_modified: Some(timestamp(meta.last_modified_ns)),
            metadata: metadata_out(&meta.user_metadata),
            parts_count: $setup.parts_count,
            version_id: $setup.version_id.clone(),
            checksum_type: $setup.checksum.as_ref().map(|c| c.kind.dto()),
            ..Default::default()
        };
        set_checksum!(output, $setup.checksum.as_ref());
        set_sse!(output, $setup.sse);
        with_context(output, &$setup.sse)
    }};
}

/// Inputs common to GET and HEAD.
struct ReadRequest<'a> {
    bucket: &'a str,
    key: &'a str,
    if_match: Option<&'a ETagCondition>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
    if_unmodified_since: Option<&'a Timestamp>,
    range: Option<&'a Range>,
    part_number: Option<i32>,
    /// `versionId` (`None`: the current version).
    version_id: Option<&'a str>,
    /// GET (the data is read) rather than HEAD.
    data: bool,
    /// `ChecksumMode=ENABLED`.
    checksum: bool,
}

/// `(offset, len, Content-Range, parts count)` of a `partNumber` or `Range` read, as S3:
///
/// * `partNumber` and `Range` together → 400 `InvalidRequest`; a number outside 1‥10000 → 400
///   `InvalidArgument`;
/// * a multipart object: part `n` → 206 with its `Content-Range` and `x-amz-mp-parts-count`;
///   a number past the last part → 400 `InvalidPart`;
/// * a single-part object: part 1 is the whole object, answered 206 with a `Content-Range`
///   covering it (an empty object: 200) and no parts count; any other number → 400
///   `InvalidPart`.
fn span(
    meta: &crate::storage::ObjectMeta,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> Result<(u64, u64, Option<String>, Option<i32>)> {
    let size = meta.size;
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(Error::InvalidRequest(
                "Cannot specify both Range header and partNumber query parameter".to_owned(),
            ));
        }
        let n = super::multipart::part_number(n)?;
        let idx = usize::try_from(n).map_err(Error::internal)?;
        let parts = &meta.parts;
        if parts.is_empty() {
            if idx != 1 {
                return Err(Error::InvalidPart);
            }
            let cr = (size > 0).then(|| format!("bytes 0-{}/{}", size - 1, size));
            return Ok((0, size, cr, None));
        }
        let part = parts.get(idx - 1).ok_or(Error::InvalidPart)?;
        let offset: u64 = parts.iter().take(idx - 1).map(|p| p.size).sum();
        let len = part.size;
        let cr = format!(
            "bytes {}-{}/{}",
            offset,
            (offset + len).saturating_sub(1),
            size
        );
        return Ok((offset, len, Some(cr), i32::try_from(parts.len()).ok()));
    }
    if let Some(range) = range {
        let span = range.check(size).map_err(|_| Error::InvalidRange)?;
        let cr = format!("bytes {}-{}/{}", span.start, span.end - 1, size);
        return Ok((span.start, span.end - span.start, Some(cr), None));
    }
    Ok((0, size, None, None))
}

impl ObjectServer {
    async fn setup_read(&self, headers: &http::HeaderMap, r: ReadRequest<'_>) -> Result<ReadSetup> {
        self.sse.check_read_headers(headers)?;
        if let Some(v) = r.version_id {
            check_version_id(v)?;
        }
        let handle = self
            .store
            .open_version(r.bucket, r.key, r.version_id)
            .await?;
        let meta = &handle.meta;
        // The null version shows `x-amz-version-id: null` once the bucket is versioned.
        let shown = r.version_id.is_some()
            || (meta.version_id.is_none()
                && self.versioning(r.bucket).await? != Versioning::Unversioned);
        let version_id = response_version_id(meta, shown);
        if meta.delete_marker {
            return Err(Error::DeleteMarker {
                version_id: shown_version_id(meta).to_owned(),
                named: r.version_id.is_some(),
            });
        }
        let state = ObjectEncryption::from_metadata(&meta.internal)?;
        let ssec = ssec_headers(headers, false);
        let open_now = r.data
            || r.checksum
            || matches!(state, ObjectEncryption::None | ObjectEncryption::SseC(_));
        let keyed = if open_now {
            self.sse
                .open(&state, ssec, r.bucket, r.key, Error::ObjectEncrypted)
                .await?
        } else if ssec.requested() {
            return Err(Error::ObjectEncrypted);
        } else {
            None
        };
        check_sizes(meta, state.is_encrypted())?;
        let etag = match &keyed {
            Some(k) => k.client_etag(&meta.etag),
            None => self.visible_etag(r.bucket, meta).await,
        };
        check_conditions(
            &etag,
            meta.last_modified_ns,
            r.if_match,
            r.if_none_match,
            r.if_modified_since,
            r.if_unmodified_since,
            Error::NotModified,
        )?;
        let (offset, len, content_range, parts_count) = span(meta, r.range, r.part_number)?;
        let sse = match &keyed {
            Some(k) => k.response(),
            None => ResponseSse::of(&state, None),
        };
        let whole = content_range.is_none();
        let checksum = (r.checksum && whole)
            .then(|| checksum_ops::of_object(meta, keyed.as_ref()))
            .flatten();
        Ok(ReadSetup {
            handle,
            keyed,
            sse,
            etag,
            offset,
            len,
            content_range,
            parts_count,
            checksum,
            version_id,
        })
    }

    pub(super) async fn do_get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> Result<S3Response<GetObjectOutput>> {
        let S3Request {
            input,
            headers,
            extensions,
            ..
        } = req;
        let setup = self
            .setup_read(&headers, read_request!(input, true))
            .await?;
        let body = io::read_plaintext(
            setup.handle.file.clone(),
            0,
            layout(&setup.handle.meta),
            setup.decode(),
            setup.offset,
            setup.len,
        );
        let mut resp = object_output!(GetObjectOutput, setup, {
            body: Some(body.into_blob()),
            tag_count: super::tagging::count(&setup.handle.meta)
        });
        super::object_lock::set_lock!(resp.output, &setup.handle.meta, &extensions);
        Ok(resp)
    }

    pub(super) async fn do_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> Result<S3Response<HeadObjectOutput>> {
        let S3Request {
            input,
            headers,
            extensions,
            ..
        } = req;
        let setup = self
            .setup_read(&headers, read_request!(input, false))
            .await?;
        let mut resp = object_output!(HeadObjectOutput, setup, {});
        super::object_lock::set_lock!(resp.output, &setup.handle.meta, &extensions);
        super::tagging::count_header(&mut resp.headers, &setup.handle.meta);
        Ok(resp)
    }
}
