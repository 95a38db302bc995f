//! ListParts and ListMultipartUploads. ListParts shows each part's checksum; those of an
//! encrypted upload are sealed and shown when the upload key opens (SSE-C: with the SSE-C
//! headers on the request; SSE-S3/SSE-KMS: one KES decrypt).

use s3s::S3Request;
use s3s::dto::*;

use super::checksum::{Checksum, set_checksum};
use super::checksum_ops::UploadConfig;
use super::{ObjectServer, timestamp};
use crate::error::Result;
use crate::sse::ObjectEncryption;
use crate::storage::PartFileMeta;

impl ObjectServer {
    pub(super) async fn do_list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> Result<ListPartsOutput> {
        let S3Request { input, headers, .. } = req;
        let upload = self
            .store
            .open_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let max = usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
        let marker = u32::try_from(input.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
        let all = self.store.list_parts(&upload).await?;
        // SSE-S3 part ETags are sealed MD5s: shown decrypted (one KES decrypt), or formatted
        // when KES cannot answer.
        let state = ObjectEncryption::from_metadata(&upload.meta.template.internal)?;
        let keyed = match state {
            ObjectEncryption::None => None,
            _ => self
                .upload_key(&upload, &headers, false)
                .await
                .ok()
                .and_then(|(_, k)| k),
        };
        let config = UploadConfig::of(&upload.meta.template);
        let (checksum_algorithm, checksum_type) = config.echoed();
        let part_checksum = |p: &PartFileMeta| {
            p.checksum
                .as_deref()
                .and_then(|s| Checksum::decode(s, keyed.as_ref()))
        };
        let visible = |stored: &str| match &keyed {
            Some(k) => k.client_etag(stored),
            None => crate::sse::keys::formatted_etag(stored),
        };
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
            checksum_algorithm,
            checksum_type,
            parts: Some(
                page.iter()
                    .map(|p| {
                        let mut part = Part {
                            part_number: i32::try_from(p.number).ok(),
                            e_tag: Some(ETag::Strong(visible(&p.etag))),
                            size: i64::try_from(p.size).ok(),
                            last_modified: Some(timestamp(p.last_modified_ns)),
                            ..Default::default()
                        };
                        set_checksum!(part, part_checksum(p).as_ref());
                        part
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
