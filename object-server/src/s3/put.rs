//! PutObject: SSE chosen by [`crate::sse::Sse::requested`] (headers, else the bucket default),
//! a fresh OEK from [`crate::sse::Sse::seal_new`] (SSE-S3/SSE-KMS: one KES generate), the body
//! streamed through DARE into a temp file, published atomically.

use s3s::S3Request;
use s3s::dto::*;

use super::checksum::set_checksum;
use super::checksum_ops::{self, DEFAULT_ALGO, WritePlan};
use super::object::seal_object_meta;
use super::object::{content_headers, new_meta};
use super::{
    MAX_OBJECT_SIZE, ObjectServer, io, parse_content_md5, set_sse, unquote, user_metadata,
};
use crate::error::{Error, Result};
use crate::sse::WriteOp;

impl ObjectServer {
    /// If-Match / If-None-Match on PUT against the current object's visible ETag.
    async fn check_put_conditions(&self, input: &PutObjectInput) -> Result<()> {
        if input.if_match.is_none() && input.if_none_match.is_none() {
            return Ok(());
        }
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let current = match self.store.open_object(bucket, key).await {
            Ok(h) => Some(self.visible_etag(bucket, &h.meta).await),
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
        Ok(())
    }

    pub(super) async fn do_put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> Result<PutObjectOutput> {
        let S3Request {
            input,
            headers,
            trailing_headers,
            extensions,
            ..
        } = req;
        let (bucket, key) = (input.bucket.as_str(), input.key.as_str());
        let default = self.bucket_default(bucket).await?;
        let requested = self.sse.requested(
            &headers,
            WriteOp::PutObject { bucket, key },
            false,
            default.as_ref(),
        )?;
        let content_md5 = parse_content_md5(input.content_md5.as_ref())?;
        let plan = WritePlan::new(&headers, DEFAULT_ALGO)?;
        let algos = plan.algos();
        let user = user_metadata(input.metadata.as_ref())?;
        if input
            .content_length
            .is_some_and(|l| u64::try_from(l).unwrap_or(0) > MAX_OBJECT_SIZE)
        {
            return Err(Error::EntityTooLarge);
        }
        self.check_put_conditions(&input).await?;
        let content = content_headers!(input);
        let mut meta = new_meta(key, content, user);
        let versioning = self.versioning(bucket).await?;
        meta.version_id = versioning.new_version_id();
        super::tagging::apply_header(&mut meta.internal, input.tagging.as_ref())?;
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
        super::lock_integrity::check_put(&headers, &extensions, &lock)?;
        lock.store(&mut meta.internal);
        let keyed = self.sse.seal_new(&requested, bucket, key).await?;
        let mut temp = self.store.temp_file().await?;
        let stream_key = keyed.as_ref().map(|k| k.object_key());
        let out =
            io::write_request_body(&mut temp, input.body, stream_key, &algos, content_md5).await?;
        let sum = plan.finish(&out.digests, trailing_headers.as_ref())?;
        checksum_ops::store(&mut meta, &sum, keyed.as_ref())?;
        meta.size = out.size;
        meta.stored_size = out.stored_size;
        let (etag, sse) = seal_object_meta(&mut meta, keyed.as_ref(), out.md5, content_md5)?;
        temp.finish(&meta).await?;
        self.publish(bucket, key, temp, versioning).await?;
        let mut output = PutObjectOutput {
            e_tag: Some(ETag::Strong(etag)),
            version_id: meta.version_id.clone(),
            ssekms_encryption_context: sse.context.clone(),
            checksum_type: Some(sum.kind.dto()),
            ..Default::default()
        };
        set_checksum!(output, Some(&sum));
        set_sse!(output, sse);
        Ok(output)
    }
}
