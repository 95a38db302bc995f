//! Multipart uploads (object-sse.md §4.6 for SSE-C): the encryption is chosen at
//! CreateMultipartUpload; every UploadPart of an SSE-C upload carries the SSE-C headers and is
//! encrypted with `HMAC-SHA256(OEK, LE32(part))` under a random stream nonce; Complete
//! concatenates the part streams into one object file (atomic commit).

use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3Request, S3Response};

use super::io::{self, Decode};
use super::object::{
    ContentHeaders, check_conditions, check_sizes, new_meta, sealed_etag, stream_keys,
};
use super::ssec::{self, WriteOp};
use super::{
    MAX_OBJECT_SIZE, MIN_PART_SIZE, ObjectServer, client_etag, layout, parse_content_md5,
    ssec_echo, timestamp, unquote, user_metadata,
};
use crate::error::{Error, Result};
use crate::sse::keys::ObjectKey;
use crate::sse::params::{CustomerKey, Encryption, SseCHeaders};
use crate::sse::{SealedObjectKey, StoredEncryption};
use crate::storage::{PartFileMeta, PartMeta, UploadHandle, now_ns};

const MAX_PART_NUMBER: i32 = 10_000;

fn part_number(n: i32) -> Result<u32> {
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
    /// The upload's OEK for a part request: SSE-C uploads need the SSE-C headers (wrong key →
    /// 403); plain uploads refuse them.
    fn part_key(
        &self,
        upload: &UploadHandle,
        ssec_hdrs: SseCHeaders<'_>,
        required: bool,
    ) -> Result<Option<(ObjectKey, CustomerKey)>> {
        let stored = StoredEncryption::from_metadata(&upload.meta.template.internal)?;
        match stored {
            StoredEncryption::SseC(sealed) => {
                if !ssec_hdrs.requested() {
                    return if required {
                        Err(Error::MultipartEncryptionMismatch)
                    } else {
                        Ok(None)
                    };
                }
                let ck = ssec_hdrs
                    .parse()
                    .map_err(ssec::ssec_error)?
                    .ok_or(Error::MultipartEncryptionMismatch)?;
                let oek = sealed
                    .open(ck.key(), &upload.meta.bucket, &upload.meta.key)
                    .map_err(|_| Error::AccessDenied)?;
                Ok(Some((oek, ck)))
            }
            StoredEncryption::None => {
                if ssec_hdrs.requested() {
                    Err(Error::EncryptionNotApplicable)
                } else {
                    Ok(None)
                }
            }
            StoredEncryption::Kms => Err(Error::KmsNotConfigured),
        }
    }

    pub(super) async fn do_create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> Result<CreateMultipartUploadOutput> {
        let S3Request { input, headers, .. } = req;
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let ssec_hdrs = SseCHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        );
        let enc = self.write_encryption(&headers, ssec_hdrs, WriteOp::Other, false)?;
        let user = user_metadata(input.metadata.as_ref())?;
        let content = ContentHeaders {
            content_type: input.content_type.clone(),
            content_encoding: super::object::stored_content_encoding(
                input.content_encoding.as_ref(),
            ),
            content_disposition: input.content_disposition.clone(),
            content_language: input.content_language.clone(),
            cache_control: input.cache_control.clone(),
            expires: input.expires.clone(),
        };
        let mut template = new_meta(key, content, user);
        let ck = match &enc {
            Encryption::SseC(ck) => {
                let (sealed, _oek) = SealedObjectKey::create(ck.key(), bucket, key)?;
                sealed.write_metadata(&mut template.internal, true);
                Some(ck)
            }
            Encryption::None => None,
        };
        let upload = self.store.create_upload(bucket, key, template).await?;
        let (alg, md5) = ssec_echo(ck);
        Ok(CreateMultipartUploadOutput {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
            upload_id: Some(upload.upload_id),
            sse_customer_algorithm: alg,
            sse_customer_key_md5: md5,
            ..Default::default()
        })
    }

    pub(super) async fn do_upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> Result<UploadPartOutput> {
        let S3Request { input, headers, .. } = req;
        self.check_tls(&headers)?;
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
        let ssec_hdrs = SseCHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        );
        let opened = self.part_key(&upload, ssec_hdrs, true)?;
        let key = opened.as_ref().map(|(oek, _)| oek.part_key(number));
        let mut temp = self.store.temp_file().await?;
        let out = match input.body {
            Some(body) => io::write_body(&mut temp, body, key.as_ref(), MAX_OBJECT_SIZE).await?,
            None => {
                io::write_body(
                    &mut temp,
                    futures_util::stream::empty::<std::io::Result<bytes::Bytes>>(),
                    key.as_ref(),
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
        let etag = match &opened {
            Some((oek, _)) => crate::sse::keys::formatted_etag(&sealed_etag(oek, content_md5)?),
            None => hex::encode(out.md5),
        };
        let meta = PartFileMeta {
            format: crate::storage::file::FORMAT,
            number,
            size: out.size,
            stored_size: out.stored_size,
            etag: etag.clone(),
            last_modified_ns: now_ns(),
        };
        temp.finish(&meta).await?;
        self.store.commit_part(&upload, number, temp).await?;
        let (alg, md5) = ssec_echo(opened.as_ref().map(|(_, ck)| ck));
        Ok(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            sse_customer_algorithm: alg,
            sse_customer_key_md5: md5,
            ..Default::default()
        })
    }

    pub(super) async fn do_upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> Result<UploadPartCopyOutput> {
        let S3Request { input, headers, .. } = req;
        self.check_tls(&headers)?;
        if [
            "x-amz-server-side-encryption",
            "x-amz-server-side-encryption-aws-kms-key-id",
        ]
        .iter()
        .any(|h| headers.contains_key(*h))
        {
            return Err(Error::NotImplemented(
                "UploadPartCopy with SSE-KMS is not implemented",
            ));
        }
        let number = part_number(input.part_number)?;
        let (src_bucket, src_key) = match &input.copy_source {
            CopySource::Bucket { bucket, key, .. } => (bucket.to_string(), key.to_string()),
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
        let src = self.store.open_object(&src_bucket, &src_key).await?;
        let src_stored = StoredEncryption::from_metadata(&src.meta.internal)?;
        let src_hdrs = SseCHeaders::new(
            input.copy_source_sse_customer_algorithm.as_ref(),
            input.copy_source_sse_customer_key.as_ref(),
            input.copy_source_sse_customer_key_md5.as_ref(),
        );
        let src_open = ssec::open_for_read(
            &src_stored,
            src_hdrs,
            &src_bucket,
            &src_key,
            Error::SseCAlgorithm,
        )?;
        check_sizes(&src.meta, src_open.is_some())?;
        check_conditions(
            &client_etag(&src.meta),
            src.meta.last_modified_ns,
            input.copy_source_if_match.as_ref(),
            input.copy_source_if_none_match.as_ref(),
            input.copy_source_if_modified_since.as_ref(),
            input.copy_source_if_unmodified_since.as_ref(),
            Error::PreconditionFailed,
        )?;
        let dest_hdrs = SseCHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        );
        let opened = self.part_key(&upload, dest_hdrs, true)?;
        let (offset, len) = copy_source_range(input.copy_source_range.as_ref(), src.meta.size)?;
        let decode = match &src_open {
            Some((oek, _)) => Decode::Dare(stream_keys(&src.meta, oek)),
            None => Decode::Plain,
        };
        let plaintext =
            io::read_plaintext(src.file.clone(), 0, layout(&src.meta), decode, offset, len);
        let key = opened.as_ref().map(|(oek, _)| oek.part_key(number));
        let mut temp = self.store.temp_file().await?;
        let out = io::write_body(&mut temp, plaintext, key.as_ref(), MAX_OBJECT_SIZE)
            .await
            .map_err(io::stored_source_error)?;
        if out.size != len {
            return Err(Error::Internal("copy source ended early".to_owned()));
        }
        let etag = match &opened {
            Some((oek, _)) => crate::sse::keys::formatted_etag(&sealed_etag(oek, None)?),
            None => hex::encode(out.md5),
        };
        let last_modified_ns = now_ns();
        let meta = PartFileMeta {
            format: crate::storage::file::FORMAT,
            number,
            size: out.size,
            stored_size: out.stored_size,
            etag: etag.clone(),
            last_modified_ns,
        };
        temp.finish(&meta).await?;
        self.store.commit_part(&upload, number, temp).await?;
        let (alg, md5) = ssec_echo(opened.as_ref().map(|(_, ck)| ck));
        Ok(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(timestamp(last_modified_ns)),
                ..Default::default()
            }),
            sse_customer_algorithm: alg,
            sse_customer_key_md5: md5,
            ..Default::default()
        })
    }

    pub(super) async fn do_complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> Result<S3Response<CompleteMultipartUploadOutput>> {
        let S3Request { input, headers, .. } = req;
        self.check_tls(&headers)?;
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let upload = self
            .store
            .open_upload(bucket, key, &input.upload_id)
            .await?;
        let ssec_hdrs = SseCHeaders::new(
            input.sse_customer_algorithm.as_ref(),
            input.sse_customer_key.as_ref(),
            input.sse_customer_key_md5.as_ref(),
        );
        // Optional SSE-C headers, validated when present (project decision, §10).
        let opened = self.part_key(&upload, ssec_hdrs, false)?;
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
            let sent = p
                .e_tag
                .as_ref()
                .map(|e| unquote(e.value()).to_owned())
                .ok_or(Error::InvalidPart)?;
            if sent != have.etag {
                return Err(Error::InvalidPart);
            }
            if i + 1 < requested.len() && have.size < MIN_PART_SIZE {
                return Err(Error::EntityTooSmall);
            }
            md5.update(hex::decode(&have.etag).map_err(|_| Error::InvalidPart)?);
            parts.push(PartMeta {
                number,
                size: have.size,
                stored_size: have.stored_size,
                etag: have.etag.clone(),
            });
        }
        let mut meta = upload.meta.template.clone();
        meta.key = key.to_owned();
        meta.last_modified_ns = now_ns();
        meta.size = parts.iter().map(|p| p.size).sum();
        meta.stored_size = parts.iter().map(|p| p.stored_size).sum();
        meta.etag = format!("{}-{}", hex::encode(md5.finalize()), parts.len());
        let mut temp = self.store.temp_file().await?;
        for p in &parts {
            let (part_meta, file) = self.store.open_part(&upload, p.number).await?;
            if part_meta.stored_size != p.stored_size {
                return Err(Error::InvalidPart);
            }
            io::copy_raw(&mut temp, file, 0, part_meta.stored_size).await?;
        }
        meta.parts = parts;
        temp.finish(&meta).await?;
        self.store.commit_object(bucket, key, temp).await?;
        if let Err(e) = self.store.remove_upload(&upload).await {
            tracing::warn!(error = %e, "completed upload could not be removed");
        }
        let mut resp = S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(bucket.to_owned()),
            key: Some(key.to_owned()),
            e_tag: Some(ETag::Strong(meta.etag.clone())),
            location: Some(format!("/{bucket}/{key}")),
            ..Default::default()
        });
        // Destination SSE headers (project decision §10): the algorithm always for SSE-C
        // uploads, the key MD5 when the client sent the key.
        let ssec_upload = matches!(
            StoredEncryption::from_metadata(&upload.meta.template.internal)?,
            StoredEncryption::SseC(_)
        );
        let (alg, md5) = match &opened {
            Some((_, ck)) => ssec_echo(Some(ck)),
            None if ssec_upload => (Some(crate::sse::params::SSE_C_ALGORITHM.to_owned()), None),
            None => (None, None),
        };
        for (name, value) in [
            ("x-amz-server-side-encryption-customer-algorithm", alg),
            ("x-amz-server-side-encryption-customer-key-md5", md5),
        ] {
            if let Some(v) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
                resp.headers.insert(name, v);
            }
        }
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

    pub(super) async fn do_list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> Result<ListPartsOutput> {
        let input = req.input;
        let upload = self
            .store
            .open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let max = usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
        let marker = u32::try_from(input.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
        let all = self.store.list_parts(&upload).await?;
        let mut rest = all.values().filter(|p| p.number > marker);
        let page: Vec<&PartFileMeta> = rest.by_ref().take(max).collect();
        let truncated = rest.next().is_some();
        Ok(ListPartsOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            upload_id: Some(input.upload_id.clone()),
            max_parts: i32::try_from(max).ok(),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: if truncated {
                page.last().and_then(|p| i32::try_from(p.number).ok())
            } else {
                None
            },
            is_truncated: Some(truncated),
            owner: Some(super::bucket::owner()),
            initiator: Some(Initiator {
                display_name: Some("minio".to_owned()),
                id: super::bucket::owner().id,
            }),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            parts: Some(
                page.iter()
                    .map(|p| Part {
                        part_number: i32::try_from(p.number).ok(),
                        e_tag: Some(ETag::Strong(p.etag.clone())),
                        size: i64::try_from(p.size).ok(),
                        last_modified: Some(timestamp(p.last_modified_ns)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        })
    }

    pub(super) async fn do_list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> Result<ListMultipartUploadsOutput> {
        let input = req.input;
        self.store.head_bucket(&input.bucket).await?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = usize::try_from(input.max_uploads.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let id_marker = input.upload_id_marker.clone().unwrap_or_default();
        let uploads = self.store.list_uploads(&input.bucket).await?;
        let mut rest = uploads.iter().filter(|u| {
            u.key.starts_with(&prefix)
                && (key_marker.is_empty()
                    || u.key > key_marker
                    || (u.key == key_marker && !id_marker.is_empty() && u.upload_id > id_marker))
        });
        let page: Vec<_> = rest.by_ref().take(max).collect();
        let truncated = rest.next().is_some();
        Ok(ListMultipartUploadsOutput {
            bucket: Some(input.bucket.clone()),
            prefix: input.prefix.clone(),
            key_marker: input.key_marker.clone(),
            upload_id_marker: input.upload_id_marker.clone(),
            max_uploads: i32::try_from(max).ok(),
            is_truncated: Some(truncated),
            next_key_marker: if truncated {
                page.last().map(|u| u.key.clone())
            } else {
                None
            },
            next_upload_id_marker: if truncated {
                page.last().map(|u| u.upload_id.clone())
            } else {
                None
            },
            uploads: Some(
                page.iter()
                    .map(|u| MultipartUpload {
                        key: Some(u.key.clone()),
                        upload_id: Some(u.upload_id.clone()),
                        initiated: Some(timestamp(u.initiated_ns)),
                        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                        owner: Some(super::bucket::owner()),
                        initiator: Some(Initiator {
                            display_name: Some("minio".to_owned()),
                            id: super::bucket::owner().id,
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        })
    }
}
