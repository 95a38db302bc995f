//! Multipart uploads: the encryption is chosen at CreateMultipartUpload (headers or bucket
//! default; SSE-S3/SSE-KMS get a fresh DEK from KES for the upload); every UploadPart opens the
//! upload's OEK (SSE-C: from the part's SSE-C headers; SSE-S3/SSE-KMS: one KES decrypt) and seals
//! the part with `HMAC-SHA256(OEK, LE32(part))` under a random stream nonce; Complete
//! concatenates the part streams into one object file (atomic commit).

use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3Request, S3Response};

use super::checksum::set_checksum;
use super::checksum_ops::{self, CompletingPart, META_UPLOAD_CHECKSUM, UploadConfig, WritePlan};
use super::io::{self, Decode};
use super::object::{check_copy_source, part_etags};
use super::object::{content_headers, new_meta};
use super::{
    MAX_OBJECT_SIZE, MIN_PART_SIZE, ObjectServer, layout, parse_content_md5, part_numbers, set_sse,
    timestamp, unquote, user_metadata, with_context,
};
use crate::error::{Error, Result};
use crate::sse::request::{H_KMS_KEY_ID, H_SSE, ssec_headers};
use crate::sse::{Keyed, ObjectEncryption, ResponseSse, WriteOp};
use crate::storage::{PartFileMeta, PartMeta, UploadHandle, now_ns};

const MAX_PART_NUMBER: i32 = 10_000;

pub(super) fn part_number(n: i32) -> Result<u32> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        u32::try_from(n).map_err(Error::internal)
    } else {
        Err(Error::InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive".to_owned(),
        ))
    }
}

/// Parses `x-amz-copy-source-range: bytes=first-last` against the source size.
fn copy_source_range(v: Option<&String>, size: u64) -> Result<(u64, u64)> {
    let Some(v) = v else { return Ok((0, size)) };
    let bad = || {
        Error::InvalidArgument(format!(
            "Range specified is not valid for source object of size: {size}"
        ))
    };
    let spec = v.strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let first: u64 = a.parse().map_err(|_| bad())?;
    let last: u64 = b.parse().map_err(|_| bad())?;
    if first > last || last >= size {
        return Err(bad());
    }
    Ok((first, last - first + 1))
}

impl ObjectServer {
    /// The upload's OEK for a part request (see [`crate::sse::Sse::open_upload`]).
    pub(super) async fn upload_key(
        &self,
        upload: &UploadHandle,
        headers: &http::HeaderMap,
        required: bool,
    ) -> Result<(ObjectEncryption, Option<Keyed>)> {
        let state = ObjectEncryption::from_metadata(&upload.meta.template.internal)?;
        let keyed = self
            .sse
            .open_upload(
                &state,
                ssec_headers(headers, false),
                &upload.meta.bucket,
                &upload.meta.key,
                required,
            )
            .await?;
        Ok((state, keyed))
    }

    pub(super) async fn do_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> Result<CreateMultipartUploadOutput> {
        let S3Request { input, headers, .. } = req;
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let default = self.bucket_default(bucket).await?;
        let requested = self
            .sse
            .requested(&headers, WriteOp::Other, false, default.as_ref())?;
        let user = user_metadata(input.metadata.as_ref())?;
        let config = UploadConfig::new(
            input.checksum_algorithm.as_ref(),
            input.checksum_type.as_ref(),
        )?;
        let content = content_headers!(input);
        let mut template = new_meta(key, content, user);
        super::tagging::apply_header(&mut template.internal, input.tagging.as_ref())?;
        super::acl::apply_new_object(
            &self.store,
            bucket,
            input.acl.as_ref(),
            super::acl_grants::object_header_grants!(input),
            &mut template.internal,
        )
        .await?;
        self.new_object_lock(bucket, super::object_lock::lock_headers!(input), false)
            .await?
            .store(&mut template.internal);
        template
            .internal
            .insert(META_UPLOAD_CHECKSUM.to_owned(), config.encode());
        let keyed = self.sse.seal_new(&requested, bucket, key).await?;
        let sse = match &keyed {
            Some(k) => {
                k.state().write_metadata(&mut template.internal, true);
                k.response()
            }
            None => ResponseSse::default(),
        };
        let upload = self.store.create_upload(bucket, key, template).await?;
        let mut out = CreateMultipartUploadOutput {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
            upload_id: Some(upload.upload_id),
            ssekms_encryption_context: sse.context.clone(),
            ..Default::default()
        };
        (out.checksum_algorithm, out.checksum_type) = config.echoed();
        set_sse!(out, sse);
        Ok(out)
    }

    pub(super) async fn do_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> Result<S3Response<UploadPartOutput>> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            ..
        } = req;
        self.sse.check_tls(&headers)?;
        let number = part_number(input.part_number)?;
        let content_md5 = parse_content_md5(input.content_md5.as_ref())?;
        if input
            .content_length
            .is_some_and(|l| u64::try_from(l).unwrap_or(0) > MAX_OBJECT_SIZE)
        {
            return Err(Error::EntityTooLarge);
        }
        let upload = self
            .store
            .open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        self.check_part_integrity(&input.bucket, &upload.meta.template, &headers)
            .await?;
        let (_, keyed) = self.upload_key(&upload, &headers, true).await?;
        let plan = WritePlan::part(&headers, &UploadConfig::of(&upload.meta.template))?;
        let algos = plan.algos();
        let key = keyed.as_ref().map(|k| k.part_key(number));
        let mut temp = self.store.temp_file().await?;
        let out = io::write_request_body(&mut temp, input.body, key.as_ref(), &algos, content_md5)
            .await?;
        let sum = plan.finish(&out.digests, trailing_headers.as_ref())?;
        let (stored, etag, sse) = part_etags(keyed.as_ref(), number, out.md5)?;
        let meta = PartFileMeta {
            format: crate::storage::file::FORMAT,
            number,
            size: out.size,
            stored_size: out.stored_size,
            etag: stored,
            last_modified_ns: now_ns(),
            checksum: Some(sum.encode(keyed.as_ref())?),
        };
        temp.finish(&meta).await?;
        self.store.commit_part(&upload, number, temp).await?;
        let mut output = UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        };
        set_checksum!(output, Some(&sum));
        set_sse!(output, sse);
        Ok(with_context(output, &sse))
    }

    pub(super) async fn do_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> Result<S3Response<UploadPartCopyOutput>> {
        let S3Request { input, headers, .. } = req;
        self.sse.check_tls(&headers)?;
        if [H_SSE, H_KMS_KEY_ID]
            .iter()
            .any(|h| headers.contains_key(*h))
        {
            return Err(Error::NotImplemented(
                "UploadPartCopy with SSE-KMS is not implemented",
            ));
        }
        let number = part_number(input.part_number)?;
        let (src_bucket, src_key, src_version) = match &input.copy_source {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => (
                bucket.to_string(),
                key.to_string(),
                version_id.as_deref().map(str::to_owned),
            ),
            CopySource::AccessPoint { .. } | CopySource::Outpost { .. } => {
                return Err(Error::NotImplemented(
                    "Copy sources other than bucket/key are not supported",
                ));
            }
        };
        let upload = self
            .store
            .open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let src = self
            .open_source(&src_bucket, &src_key, src_version.as_deref())
            .await?;
        let src_state = ObjectEncryption::from_metadata(&src.meta.internal)?;
        let src_keyed = self
            .sse
            .open(
                &src_state,
                ssec_headers(&headers, true),
                &src_bucket,
                &src_key,
                Error::SseCAlgorithm,
            )
            .await?;
        check_copy_source!(input, src, src_keyed, src_state.is_encrypted());
        let (_, keyed) = self.upload_key(&upload, &headers, true).await?;
        let (offset, len) = copy_source_range(input.copy_source_range.as_ref(), src.meta.size)?;
        let decode = match &src_keyed {
            Some(k) => Decode::Dare(k.stream_keys(&part_numbers(&src.meta))),
            None => Decode::Plain,
        };
        let plaintext =
            io::read_plaintext(src.file.clone(), 0, layout(&src.meta), decode, offset, len);
        let key = keyed.as_ref().map(|k| k.part_key(number));
        let plan = WritePlan::part(
            &http::HeaderMap::new(),
            &UploadConfig::of(&upload.meta.template),
        )?;
        let mut temp = self.store.temp_file().await?;
        let out = io::write_body(
            &mut temp,
            plaintext,
            key.as_ref(),
            MAX_OBJECT_SIZE,
            &plan.algos(),
        )
        .await
        .map_err(io::stored_source_error)?;
        let sum = plan.finish(&out.digests, None)?;
        if out.size != len {
            return Err(Error::Internal("copy source ended early".to_owned()));
        }
        let (stored, etag, sse) = part_etags(keyed.as_ref(), number, out.md5)?;
        let last_modified_ns = now_ns();
        let meta = PartFileMeta {
            format: crate::storage::file::FORMAT,
            number,
            size: out.size,
            stored_size: out.stored_size,
            etag: stored,
            last_modified_ns,
            checksum: Some(sum.encode(keyed.as_ref())?),
        };
        temp.finish(&meta).await?;
        self.store.commit_part(&upload, number, temp).await?;
        let mut output = UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(timestamp(last_modified_ns)),
                ..Default::default()
            }),
            ..Default::default()
        };
        set_sse!(output, sse);
        Ok(with_context(output, &sse))
    }

    pub(super) async fn do_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> Result<S3Response<CompleteMultipartUploadOutput>> {
        let S3Request { input, headers, .. } = req;
        self.sse.check_tls(&headers)?;
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let upload = self
            .store
            .open_upload(bucket, key, &input.upload_id)
            .await?;
        // Optional SSE-C headers, validated when present (project decision, §10).
        let (state, keyed) = self.upload_key(&upload, &headers, false).await?;
        let requested: Vec<CompletedPart> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .filter(|p| !p.is_empty())
            .ok_or(Error::MalformedXml)?;
        let stored = self.store.list_parts(&upload).await?;
        let mut parts: Vec<PartMeta> = Vec::with_capacity(requested.len());
        let mut md5 = Md5::new();
        let mut prev = 0u32;
        for (i, p) in requested.iter().enumerate() {
            let number = p
                .part_number
                .ok_or(Error::MalformedXml)
                .and_then(part_number)?;
            if number <= prev {
                return Err(Error::InvalidPartOrder);
            }
            prev = number;
            let have = stored.get(&number).ok_or(Error::InvalidPart)?;
            let visible = match &keyed {
                Some(k) => k.client_etag(&have.etag),
                None => have.etag.clone(),
            };
            let sent = p
                .e_tag
                .as_ref()
                .map(|e| unquote(e.value()).to_owned())
                .ok_or(Error::InvalidPart)?;
            if sent != visible {
                return Err(Error::InvalidPart);
            }
            if i + 1 < requested.len() && have.size < MIN_PART_SIZE {
                return Err(Error::EntityTooSmall);
            }
            md5.update(hex::decode(&visible).map_err(|_| Error::InvalidPart)?);
            parts.push(PartMeta {
                number,
                size: have.size,
                stored_size: have.stored_size,
                etag: have.etag.clone(),
                checksum: have.checksum.clone(),
            });
        }
        let completing: Vec<CompletingPart<'_>> = requested
            .iter()
            .zip(&parts)
            .map(|(sent, p)| CompletingPart {
                sent,
                stored: p.checksum.as_deref(),
                size: p.size,
            })
            .collect();
        let sum = checksum_ops::complete(
            &UploadConfig::of(&upload.meta.template),
            &completing,
            keyed.as_ref(),
            &headers,
        )?
        .filter(|_| keyed.is_some() || !state.is_encrypted());
        let mut meta = upload.meta.template.clone();
        meta.key = key.to_owned();
        meta.last_modified_ns = now_ns();
        meta.size = parts.iter().map(|p| p.size).sum();
        meta.stored_size = parts.iter().map(|p| p.stored_size).sum();
        meta.etag = format!("{}-{}", hex::encode(md5.finalize()), parts.len());
        meta.internal.remove(META_UPLOAD_CHECKSUM);
        self.complete_object_lock(bucket, &mut meta.internal)
            .await?;
        if let Some(sum) = &sum {
            checksum_ops::store(&mut meta, sum, keyed.as_ref())?;
        }
        let mut temp = self.store.temp_file().await?;
        for p in &parts {
            let (part_meta, file) = self.store.open_part(&upload, p.number).await?;
            if part_meta.stored_size != p.stored_size {
                return Err(Error::InvalidPart);
            }
            io::copy_raw(&mut temp, file, 0, part_meta.stored_size).await?;
        }
        meta.parts = parts;
        let versioning = self.versioning(bucket).await?;
        meta.version_id = versioning.new_version_id();
        temp.finish(&meta).await?;
        self.publish(bucket, key, temp, versioning).await?;
        if let Err(e) = self.store.remove_upload(&upload).await {
            tracing::warn!(error = %e, "completed upload could not be removed");
        }
        // Destination SSE headers (project decision §10): SSE-C uploads always name the
        // algorithm, and echo the key MD5 when the client sent the key.
        let sse = match &keyed {
            Some(k) => k.response(),
            None => ResponseSse::of(&state, None),
        };
        let mut out = CompleteMultipartUploadOutput {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            location: Some(format!("/{bucket}/{key}")),
            version_id: meta.version_id.clone(),
            checksum_type: sum.as_ref().map(|s| s.kind.dto()),
            ..Default::default()
        };
        set_checksum!(out, sum.as_ref());
        out.server_side_encryption = sse
            .algorithm
            .map(|a| ServerSideEncryption::from(a.to_owned()));
        out.ssekms_key_id = sse.kms_key_id.clone();
        let mut resp = S3Response::new(out);
        ResponseSse {
            algorithm: None,
            kms_key_id: None,
            ..sse
        }
        .insert_into(&mut resp.headers);
        Ok(resp)
    }

    pub(super) async fn do_abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> Result<AbortMultipartUploadOutput> {
        let input = req.input;
        let upload = self
            .store
            .open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        self.store.remove_upload(&upload).await?;
        Ok(AbortMultipartUploadOutput::default())
    }
}
