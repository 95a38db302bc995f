//! CopyObject between every pair of {plain, SSE-C, SSE-S3, SSE-KMS}: the source is opened with
//! the copy-source SSE-C headers (or through KES), the destination is sealed per the request's
//! SSE headers or the destination bucket's default. An in-place copy of an SSE-C object with
//! both header sets is a key rotation (only the sealed OEK changes).

use s3s::S3Request;
use s3s::dto::*;

use super::checksum::Algo;
use super::checksum_ops::{self, WritePlan};
use super::io::{self, Decode};
use super::object::{ContentHeaders, content_headers, new_meta};
use super::object::{check_copy_source, seal_object_meta};
use super::{
    MAX_OBJECT_SIZE, ObjectServer, layout, parse_http_date, part_numbers, set_sse, timestamp,
    user_metadata,
};
use crate::error::{Error, Result};
use crate::sse::request::{self, ssec_headers};
use crate::sse::{ObjectEncryption, Requested, ResponseSse, WriteOp};
use crate::storage::ObjectMeta;
use crate::storage::versions::shown_version_id;

/// Version ids of a copy response: the new version's (`x-amz-version-id`) and the source's
/// when the copy source named one (`x-amz-copy-source-version-id`).
struct Versions {
    dest: Option<String>,
    source: Option<String>,
}

fn copy_output(
    meta: &ObjectMeta,
    etag: String,
    sse: &ResponseSse,
    versions: Versions,
) -> CopyObjectOutput {
    let mut out = CopyObjectOutput {
        version_id: versions.dest,
        copy_source_version_id: versions.source,
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(ETag::Strong(etag)),
            last_modified: Some(timestamp(meta.last_modified_ns)),
            ..Default::default()
        }),
        ssekms_encryption_context: sse.context.clone(),
        ..Default::default()
    };
    set_sse!(out, *sse);
    out
}

fn content_of(input: &CopyObjectInput, src: &ObjectMeta, replace: bool) -> ContentHeaders {
    if replace {
        content_headers!(input)
    } else {
        ContentHeaders {
            content_type: src.content_type.clone(),
            content_encoding: src.content_encoding.clone(),
            content_disposition: src.content_disposition.clone(),
            content_language: src.content_language.clone(),
            cache_control: src.cache_control.clone(),
            expires: src.expires.as_deref().and_then(parse_http_date),
        }
    }
}

impl ObjectServer {
    pub(super) async fn do_copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> Result<CopyObjectOutput> {
        let S3Request { input, headers, .. } = req;
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
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let dest_ssec = ssec_headers(&headers, false);
        let src_ssec = ssec_headers(&headers, true);
        self.sse.check_tls(&headers)?;
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
        let src = self
            .open_source(&src_bucket, &src_key, src_version.as_deref())
            .await?;
        let src_state = ObjectEncryption::from_metadata(&src.meta.internal)?;
        let same_object = src_bucket == bucket && src_key == key && src_version.is_none();
        let versioning = self.versioning(bucket).await?;
        let versions = Versions {
            dest: versioning.new_version_id(),
            source: src_version
                .is_some()
                .then(|| shown_version_id(&src.meta).to_owned()),
        };
        // Source key first (MinIO parses the copy source before the destination).
        let rotation = same_object
            && matches!(src_state, ObjectEncryption::SseC(_))
            && src_ssec.requested()
            && dest_ssec.requested();
        let src_keyed = match self
            .sse
            .open(
                &src_state,
                src_ssec,
                &src_bucket,
                &src_key,
                Error::SseCAlgorithm,
            )
            .await
        {
            Err(Error::AccessDenied) if rotation => {
                // Same key on both sides that does not open the object → InvalidArgument.
                let old = src_ssec.parse().map_err(request::ssec_error)?;
                let new = dest_ssec.parse().map_err(request::ssec_error)?;
                if let (Some(old), Some(new)) = (old, new)
                    && old.same_key(&new)
                {
                    return Err(Error::RotationKeyMismatch);
                }
                return Err(Error::AccessDenied);
            }
            other => other?,
        };
        let default = self.bucket_default(bucket).await?;
        let requested = self
            .sse
            .requested(&headers, WriteOp::Other, true, default.as_ref())?;
        check_copy_source!(input, src, src_keyed, src_state.is_encrypted());
        let user = if replace {
            user_metadata(input.metadata.as_ref())?
        } else {
            src.meta.user_metadata.clone()
        };
        let mut meta = new_meta(key, content_of(&input, &src.meta, replace), user);
        meta.version_id = versions.dest.clone();
        super::tagging::apply_copy(
            &mut meta.internal,
            &src.meta,
            input.tagging_directive.as_ref(),
            input.tagging.as_ref(),
        )?;
        super::acl::apply_new_object(
            &self.store,
            bucket,
            input.acl.as_ref(),
            super::acl_grants::object_header_grants!(input),
            &mut meta.internal,
        )
        .await?;
        let lock = self
            .new_object_lock(bucket, super::object_lock::lock_headers!(input), true)
            .await?;
        lock.store(&mut meta.internal);

        if rotation && let (Some(src_keyed), Requested::SseC(new_ck)) = (&src_keyed, &requested) {
            // SSE-C key rotation: reseal the OEK under the new key, data untouched.
            let resealed = src_keyed.reseal_customer(new_ck, bucket, key)?;
            meta.size = src.meta.size;
            meta.stored_size = src.meta.stored_size;
            meta.etag = src.meta.etag.clone();
            meta.parts = src.meta.parts.clone();
            // The source's sealing entries, with this request's tags, ACL and lock (never the
            // source's: a copy takes them from the request, as any other copy does).
            let fresh = std::mem::replace(&mut meta.internal, src.meta.internal.clone());
            for entry in [
                super::tagging::META_TAGS,
                super::acl::META_ACL,
                super::object_lock::META_MODE,
                super::object_lock::META_UNTIL,
                super::object_lock::META_HOLD,
            ] {
                match fresh.get(entry) {
                    Some(v) => meta.internal.insert(entry.to_owned(), v.clone()),
                    None => meta.internal.remove(entry),
                };
            }
            resealed.write_metadata(&mut meta.internal, !src.meta.parts.is_empty());
            let mut temp = self.store.temp_file().await?;
            io::copy_raw(&mut temp, src.file.clone(), 0, src.data_len).await?;
            temp.finish(&meta).await?;
            self.publish(bucket, key, temp, versioning).await?;
            let sse = ResponseSse::of(&resealed, Some(new_ck));
            let etag = src_keyed.client_etag(&meta.etag);
            return Ok(copy_output(&meta, etag, &sse, versions));
        }

        if same_object && !replace && src_keyed.is_none() && matches!(requested, Requested::None) {
            return Err(Error::InvalidCopy);
        }

        let decode = match &src_keyed {
            Some(k) => Decode::Dare(k.stream_keys(&part_numbers(&src.meta))),
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
        // The copy's checksum: the algorithm asked for, else the source's, else the default.
        let algo = match &input.checksum_algorithm {
            Some(a) => Algo::of(a)?,
            None => checksum_ops::algo_of(&src.meta).unwrap_or(checksum_ops::DEFAULT_ALGO),
        };
        let plan = WritePlan::new(&http::HeaderMap::new(), algo)?;
        let dest = self.sse.seal_new(&requested, bucket, key).await?;
        let mut temp = self.store.temp_file().await?;
        let out = io::write_body(
            &mut temp,
            plaintext,
            dest.as_ref().map(|k| k.object_key()),
            MAX_OBJECT_SIZE,
            &plan.algos(),
        )
        .await
        .map_err(io::stored_source_error)?;
        let sum = plan.finish(&out.digests, None)?;
        checksum_ops::store(&mut meta, &sum, dest.as_ref())?;
        if out.size != src.meta.size {
            return Err(Error::Internal("copy source ended early".to_owned()));
        }
        meta.size = out.size;
        meta.stored_size = out.stored_size;
        let (etag, sse) = seal_object_meta(&mut meta, dest.as_ref(), out.md5, None)?;
        temp.finish(&meta).await?;
        self.publish(bucket, key, temp, versioning).await?;
        Ok(copy_output(&meta, etag, &sse, versions))
    }
}
