//! Object operations: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject.

use std::collections::BTreeMap;

use rand::RngCore;
use s3s::S3Request;
use s3s::dto::*;

use super::io::{self, Decode};
use super::ssec::{self, WriteOp};
use super::{
    MAX_OBJECT_SIZE, ObjectServer, client_etag, format_http_date, layout, metadata_out,
    parse_content_md5, parse_http_date, ssec_echo, timestamp, unix_seconds, unquote, user_metadata,
};
use crate::error::{Error, Result};
use crate::sse::keys::{Key32, ObjectKey};
use crate::sse::params::{CustomerKey, Encryption, SseCHeaders};
use crate::sse::range::encrypted_size;
use crate::sse::{SealedObjectKey, StoredEncryption};
use crate::storage::now_ns;
use crate::storage::{ObjectHandle, ObjectMeta};

/// Content headers stored with an object.
#[derive(Debug, Default, Clone)]
pub(super) struct ContentHeaders {
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
    }
}

/// The stored ETag of a new encrypted single part / part: the client's Content-MD5 or 16 random
/// bytes, sealed under the OEK's ETag key (96 hex).
pub(super) fn sealed_etag(oek: &ObjectKey, content_md5: Option<[u8; 16]>) -> Result<String> {
    let value = content_md5.unwrap_or_else(|| {
        let mut r = [0u8; 16];
        rand::rng().fill_bytes(&mut r);
        r
    });
    oek.seal_etag(&value).map_err(Error::internal)
}

/// One key per DARE stream of the object.
pub(super) fn stream_keys(meta: &ObjectMeta, oek: &ObjectKey) -> Vec<Key32> {
    if meta.parts.is_empty() {
        vec![oek.0.clone()]
    } else {
        meta.parts.iter().map(|p| oek.part_key(p.number)).collect()
    }
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

/// Resolved read of an object: the plaintext span and how to decode it.
struct ReadSetup {
    handle: ObjectHandle,
    opened: Option<(ObjectKey, CustomerKey)>,
    etag: String,
    offset: u64,
    len: u64,
    content_range: Option<String>,
    parts_count: Option<i32>,
}

impl ReadSetup {
    fn decode(&self) -> Decode {
        match &self.opened {
            Some((oek, _)) => Decode::Dare(stream_keys(&self.handle.meta, oek)),
            None => Decode::Plain,
        }
    }
}

/// Inputs common to GET and HEAD.
struct ReadRequest<'a> {
    bucket: &'a str,
    key: &'a str,
    ssec: SseCHeaders<'a>,
    if_match: Option<&'a ETagCondition>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
    if_unmodified_since: Option<&'a Timestamp>,
    range: Option<&'a Range>,
    part_number: Option<i32>,
}

impl ObjectServer {
    async fn setup_read(&self, headers: &http::HeaderMap, r: ReadRequest<'_>) -> Result<ReadSetup> {
        self.check_read_headers(headers)?;
        let handle = self.store.open_object(r.bucket, r.key).await?;
        let stored = StoredEncryption::from_metadata(&handle.meta.internal)?;
        let opened = ssec::open_for_read(&stored, r.ssec, r.bucket, r.key, Error::ObjectEncrypted)?;
        check_sizes(&handle.meta, opened.is_some())?;
        let etag = client_etag(&handle.meta);
        check_conditions(
            &etag,
            handle.meta.last_modified_ns,
            r.if_match,
            r.if_none_match,
            r.if_modified_since,
            r.if_unmodified_since,
            Error::NotModified,
        )?;
        let size = handle.meta.size;
        let (mut offset, mut len, mut content_range, mut parts_count) = (0, size, None, None);
        if let Some(n) = r.part_number {
            let parts = &handle.meta.parts;
            let count = parts.len().max(1);
            let idx = usize::try_from(n)
                .ok()
                .filter(|n| (1..=count).contains(n))
                .ok_or(Error::InvalidRange)?;
            if !parts.is_empty() {
                offset = parts[..idx - 1].iter().map(|p| p.size).sum();
                len = parts[idx - 1].size;
                content_range = Some(format!(
                    "bytes {}-{}/{}",
                    offset,
                    (offset + len).saturating_sub(1),
                    size
                ));
            }
            parts_count = i32::try_from(count).ok();
        } else if let Some(range) = r.range {
            let span = range.check(size).map_err(|_| Error::InvalidRange)?;
            offset = span.start;
            len = span.end - span.start;
            content_range = Some(format!("bytes {}-{}/{}", span.start, span.end - 1, size));
        }
        Ok(ReadSetup {
            handle,
            opened,
            etag,
            offset,
            len,
            content_range,
            parts_count,
        })
    }

    pub(super) async fn do_put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> Result<PutObjectOutput> {
        let S3Request { input, headers, .. } = req;
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let ssec = SseCHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        );
        let enc =
            self.write_encryption(&headers, ssec, WriteOp::PutObject { bucket, key }, false)?;
        let content_md5 = parse_content_md5(input.content_md5.as_ref())?;
        let user = user_metadata(input.metadata.as_ref())?;
        if input
            .content_length
            .is_some_and(|l| u64::try_from(l).unwrap_or(0) > MAX_OBJECT_SIZE)
        {
            return Err(Error::EntityTooLarge);
        }
        self.store.head_bucket(bucket).await?;
        if input.if_match.is_some() || input.if_none_match.is_some() {
            let current = match self.store.open_object(bucket, key).await {
                Ok(h) => Some(client_etag(&h.meta)),
                Err(crate::storage::StorageError::NoSuchKey) => None,
                Err(e) => return Err(e.into()),
            };
            let hit = |c: &ETagCondition, cur: &str| match c {
                ETagCondition::Any => true,
                ETagCondition::ETag(e) => unquote(e.value()) == cur,
            };
            if let Some(c) = &input.if_none_match
                && current.as_deref().is_some_and(|cur| hit(c, cur))
            {
                return Err(Error::PreconditionFailed);
            }
            if let Some(c) = &input.if_match {
                match current.as_deref() {
                    Some(cur) if hit(c, cur) => {}
                    Some(_) => return Err(Error::PreconditionFailed),
                    None => return Err(Error::NoSuchKey),
                }
            }
        }
        let content = ContentHeaders {
            content_type: input.content_type.clone(),
            content_encoding: stored_content_encoding(input.content_encoding.as_ref()),
            content_disposition: input.content_disposition.clone(),
            content_language: input.content_language.clone(),
            cache_control: input.cache_control.clone(),
            expires: input.expires.clone(),
        };
        let mut meta = new_meta(key, content, user);
        let ssec_state = match &enc {
            Encryption::SseC(ck) => Some((SealedObjectKey::create(ck.key(), bucket, key)?, ck)),
            Encryption::None => None,
        };
        let mut temp = self.store.temp_file().await?;
        let oek = ssec_state.as_ref().map(|((_, oek), _)| &oek.0);
        let out = match input.body {
            Some(body) => io::write_body(&mut temp, body, oek, MAX_OBJECT_SIZE).await?,
            None => {
                io::write_body(
                    &mut temp,
                    futures_util::stream::empty::<std::io::Result<bytes::Bytes>>(),
                    oek,
                    0,
                )
                .await?
            }
        };
        if let Some(expected) = content_md5
            && expected != out.md5
        {
            return Err(Error::BadDigest);
        }
        meta.size = out.size;
        meta.stored_size = out.stored_size;
        meta.etag = match &ssec_state {
            Some(((sealed, oek), _)) => {
                sealed.write_metadata(&mut meta.internal, false);
                sealed_etag(oek, content_md5)?
            }
            None => hex::encode(out.md5),
        };
        temp.finish(&meta).await?;
        self.store.commit_object(bucket, key, temp).await?;
        let (alg, md5) = ssec_echo(ssec_state.as_ref().map(|(_, ck)| *ck));
        Ok(PutObjectOutput {
            e_tag: Some(ETag::Strong(client_etag(&meta))),
            sse_customer_algorithm: alg,
            sse_customer_key_md5: md5,
            ..Default::default()
        })
    }

    pub(super) async fn do_get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> Result<GetObjectOutput> {
        let S3Request { input, headers, .. } = req;
        let setup = self
            .setup_read(
                &headers,
                ReadRequest {
                    bucket: &input.bucket,
                    key: &input.key,
                    ssec: SseCHeaders::new(
                        input.sse_customer_algorithm.as_ref(),
                        input.sse_customer_key.as_ref(),
                        input.sse_customer_key_md5.as_ref(),
                    ),
                    if_match: input.if_match.as_ref(),
                    if_none_match: input.if_none_match.as_ref(),
                    if_modified_since: input.if_modified_since.as_ref(),
                    if_unmodified_since: input.if_unmodified_since.as_ref(),
                    range: input.range.as_ref(),
                    part_number: input.part_number,
                },
            )
            .await?;
        let body = io::read_plaintext(
            setup.handle.file.clone(),
            0,
            layout(&setup.handle.meta),
            setup.decode(),
            setup.offset,
            setup.len,
        );
        let meta = &setup.handle.meta;
        let (alg, md5) = ssec_echo(setup.opened.as_ref().map(|(_, ck)| ck));
        Ok(GetObjectOutput {
            body: Some(body.into_blob()),
            accept_ranges: Some("bytes".to_owned()),
            content_length: i64::try_from(setup.len).ok(),
            content_range: setup.content_range.clone(),
            content_type: meta.content_type.clone(),
            content_encoding: meta.content_encoding.clone(),
            content_disposition: meta.content_disposition.clone(),
            content_language: meta.content_language.clone(),
            cache_control: meta.cache_control.clone(),
            expires: meta.expires.as_deref().and_then(parse_http_date),
            e_tag: Some(ETag::Strong(setup.etag.clone())),
            last_modified: Some(timestamp(meta.last_modified_ns)),
            metadata: metadata_out(&meta.user_metadata),
            parts_count: setup.parts_count,
            sse_customer_algorithm: alg,
            sse_customer_key_md5: md5,
            ..Default::default()
        })
    }

    pub(super) async fn do_head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> Result<HeadObjectOutput> {
        let S3Request { input, headers, .. } = req;
        let setup = self
            .setup_read(
                &headers,
                ReadRequest {
                    bucket: &input.bucket,
                    key: &input.key,
                    ssec: SseCHeaders::new(
                        input.sse_customer_algorithm.as_ref(),
                        input.sse_customer_key.as_ref(),
                        input.sse_customer_key_md5.as_ref(),
                    ),
                    if_match: input.if_match.as_ref(),
                    if_none_match: input.if_none_match.as_ref(),
                    if_modified_since: input.if_modified_since.as_ref(),
                    if_unmodified_since: input.if_unmodified_since.as_ref(),
                    range: input.range.as_ref(),
                    part_number: input.part_number,
                },
            )
            .await?;
        let meta = &setup.handle.meta;
        let (alg, md5) = ssec_echo(setup.opened.as_ref().map(|(_, ck)| ck));
        Ok(HeadObjectOutput {
            accept_ranges: Some("bytes".to_owned()),
            content_length: i64::try_from(setup.len).ok(),
            content_range: setup.content_range.clone(),
            content_type: meta.content_type.clone(),
            content_encoding: meta.content_encoding.clone(),
            content_disposition: meta.content_disposition.clone(),
            content_language: meta.content_language.clone(),
            cache_control: meta.cache_control.clone(),
            expires: meta.expires.as_deref().and_then(parse_http_date),
            e_tag: Some(ETag::Strong(setup.etag.clone())),
            last_modified: Some(timestamp(meta.last_modified_ns)),
            metadata: metadata_out(&meta.user_metadata),
            parts_count: setup.parts_count,
            sse_customer_algorithm: alg,
            sse_customer_key_md5: md5,
            ..Default::default()
        })
    }

    pub(super) async fn do_delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> Result<DeleteObjectOutput> {
        self.store
            .delete_object(&req.input.bucket, &req.input.key)
            .await?;
        Ok(DeleteObjectOutput::default())
    }

    pub(super) async fn do_delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> Result<DeleteObjectsOutput> {
        let input = req.input;
        if input.delete.objects.len() > 1000 {
            return Err(Error::MalformedXml);
        }
        self.store.head_bucket(&input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for obj in input.delete.objects {
            match self.store.delete_object(&input.bucket, &obj.key).await {
                Ok(()) => {
                    if !quiet {
                        deleted.push(DeletedObject {
                            key: Some(obj.key),
                            ..Default::default()
                        });
                    }
                }
                Err(e) => {
                    let s3: s3s::S3Error = Error::from(e).into();
                    errors.push(s3s::dto::Error {
                        code: Some(s3.code().as_str().to_owned()),
                        key: Some(obj.key),
                        message: s3.message().map(str::to_owned),
                        version_id: None,
                    });
                }
            }
        }
        Ok(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            request_charged: None,
        })
    }

    pub(super) async fn do_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> Result<CopyObjectOutput> {
        let S3Request { input, headers, .. } = req;
        let (src_bucket, src_key) = match &input.copy_source {
            CopySource::Bucket { bucket, key, .. } => (bucket.to_string(), key.to_string()),
            CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => {
                return Err(Error::NotImplemented(
                    "Copy sources other than bucket/key are not supported",
                ));
            }
        };
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let dest_ssec = SseCHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        );
        let src_ssec = SseCHeaders::new(
            input.copy_source_sse_customer_algorithm.as_ref(),
            input.copy_source_sse_customer_key.as_ref(),
            input.copy_source_sse_customer_key_md5.as_ref(),
        );
        self.check_tls(&headers)?;
        let replace = match input
            .metadata_directive
            .as_ref()
            .map(MetadataDirective::as_str)
        {
            None | Some(MetadataDirective::COPY) => false,
            Some(MetadataDirective::REPLACE) => true,
            Some(_) => {
                return Err(Error::InvalidArgument(
                    "Unknown metadata directive.".to_owned(),
                ));
            }
        };
        self.store.head_bucket(bucket).await?;
        let src = self.store.open_object(&src_bucket, &src_key).await?;
        let src_stored = StoredEncryption::from_metadata(&src.meta.internal)?;
        let same_object = src_bucket == bucket && src_key == key;
        // Source key first (MinIO parses the copy source before the destination).
        let rotation = same_object
            && matches!(src_stored, StoredEncryption::SseC(_))
            && src_ssec.requested()
            && dest_ssec.requested();
        let src_open = match ssec::open_for_read(
            &src_stored,
            src_ssec,
            &src_bucket,
            &src_key,
            Error::SseCAlgorithm,
        ) {
            Err(Error::AccessDenied) if rotation => {
                // Same key on both sides that does not open the object → InvalidArgument.
                let old = src_ssec.parse().map_err(ssec::ssec_error)?;
                let new = dest_ssec.parse().map_err(ssec::ssec_error)?;
                if let (Some(old), Some(new)) = (old, new)
                    && old.same_key(&new)
                {
                    return Err(Error::RotationKeyMismatch);
                }
                return Err(Error::AccessDenied);
            }
            other => other?,
        };
        let dest_enc = self.write_encryption(&headers, dest_ssec, WriteOp::Other, true)?;
        check_sizes(&src.meta, src_open.is_some())?;
        let src_etag = client_etag(&src.meta);
        check_conditions(
            &src_etag,
            src.meta.last_modified_ns,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
            Error::PreconditionFailed,
        )?;
        let user = if replace {
            user_metadata(input.metadata.as_ref())?
        } else {
            src.meta.user_metadata.clone()
        };
        let content = if replace {
            ContentHeaders {
                content_type: input.content_type.clone(),
                content_encoding: stored_content_encoding(input.content_encoding.as_ref()),
                content_disposition: input.content_disposition.clone(),
                content_language: input.content_language.clone(),
                cache_control: input.cache_control.clone(),
                expires: input.expires.clone(),
            }
        } else {
            ContentHeaders {
                content_type: src.meta.content_type.clone(),
                content_encoding: src.meta.content_encoding.clone(),
                content_disposition: src.meta.content_disposition.clone(),
                content_language: src.meta.content_language.clone(),
                cache_control: src.meta.cache_control.clone(),
                expires: src.meta.expires.as_deref().and_then(parse_http_date),
            }
        };
        let mut meta = new_meta(key, content, user);

        if rotation
            && let (Some((oek, old_ck)), Encryption::SseC(new_ck), StoredEncryption::SseC(sealed)) =
                (&src_open, &dest_enc, &src_stored)
        {
            // SSE-C key rotation: reseal the OEK under the new key, data untouched.
            let resealed = if old_ck.same_key(new_ck) {
                sealed.clone()
            } else {
                sealed.reseal(oek, new_ck.key(), bucket, key)?
            };
            meta.size = src.meta.size;
            meta.stored_size = src.meta.stored_size;
            meta.etag = src.meta.etag.clone();
            meta.parts = src.meta.parts.clone();
            meta.internal = src.meta.internal.clone();
            resealed.write_metadata(&mut meta.internal, !src.meta.parts.is_empty());
            let mut temp = self.store.temp_file().await?;
            io::copy_raw(&mut temp, src.file.clone(), 0, src.data_len).await?;
            temp.finish(&meta).await?;
            self.store.commit_object(bucket, key, temp).await?;
            let (alg, md5) = ssec_echo(Some(new_ck));
            return Ok(CopyObjectOutput {
                copy_object_result: Some(CopyObjectResult {
                    e_tag: Some(ETag::Strong(client_etag(&meta))),
                    last_modified: Some(timestamp(meta.last_modified_ns)),
                    ..Default::default()
                }),
                sse_customer_algorithm: alg,
                sse_customer_key_md5: md5,
                ..Default::default()
            });
        }

        if same_object && !replace && src_open.is_none() && matches!(dest_enc, Encryption::None) {
            return Err(Error::InvalidCopy);
        }

        let decode = match &src_open {
            Some((oek, _)) => Decode::Dare(stream_keys(&src.meta, oek)),
            None => Decode::Plain,
        };
        let plaintext = io::read_plaintext(
            src.file.clone(),
            0,
            layout(&src.meta),
            decode,
            0,
            src.meta.size,
        );
        let dest_state = match &dest_enc {
            Encryption::SseC(ck) => Some((SealedObjectKey::create(ck.key(), bucket, key)?, ck)),
            Encryption::None => None,
        };
        let mut temp = self.store.temp_file().await?;
        let out = io::write_body(
            &mut temp,
            plaintext,
            dest_state.as_ref().map(|((_, oek), _)| &oek.0),
            MAX_OBJECT_SIZE,
        )
        .await
        .map_err(io::stored_source_error)?;
        if out.size != src.meta.size {
            return Err(Error::Internal("copy source ended early".to_owned()));
        }
        meta.size = out.size;
        meta.stored_size = out.stored_size;
        meta.etag = match &dest_state {
            Some(((sealed, oek), _)) => {
                sealed.write_metadata(&mut meta.internal, false);
                sealed_etag(oek, None)?
            }
            None => hex::encode(out.md5),
        };
        temp.finish(&meta).await?;
        self.store.commit_object(bucket, key, temp).await?;
        let (alg, md5) = ssec_echo(dest_state.as_ref().map(|(_, ck)| *ck));
        Ok(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(client_etag(&meta))),
                last_modified: Some(timestamp(meta.last_modified_ns)),
                ..Default::default()
            }),
            sse_customer_algorithm: alg,
            sse_customer_key_md5: md5,
            ..Default::default()
        })
    }
}
