//! GetObjectAttributes: ETag, checksum, parts (with their checksums), size and storage class
//! of an object, each only when asked for in `x-amz-object-attributes`. An encrypted object's
//! sealed checksums are shown when its key opens (SSE-C: the SSE-C headers; SSE-S3/SSE-KMS:
//! one KES decrypt).

use s3s::S3Request;
use s3s::dto::*;

use super::checksum::{Checksum, Kind, set_checksum};
use super::checksum_ops;
use super::{ObjectServer, timestamp};
use crate::error::{Error, Result};
use crate::sse::ObjectEncryption;
use crate::sse::request::ssec_headers;

impl ObjectServer {
    pub(super) async fn do_get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> Result<GetObjectAttributesOutput> {
        let S3Request { input, headers, .. } = req;
        // One header may list several attributes, comma-separated.
        let wanted = |name: &str| {
            input
                .object_attributes
                .iter()
                .flat_map(|a| a.as_str().split(','))
                .any(|a| a.trim().eq_ignore_ascii_case(name))
        };
        self.sse.check_read_headers(&headers)?;
        let version = input.version_id.as_deref();
        if let Some(v) = version {
            super::versioning::check_version_id(v)?;
        }
        let handle = self
            .store
            .open_version(&input.bucket, &input.key, version)
            .await?;
        let meta = &handle.meta;
        if meta.delete_marker {
            return Err(Error::DeleteMarker {
                version_id: crate::storage::versions::shown_version_id(meta).to_owned(),
                named: version.is_some(),
            });
        }
        let state = ObjectEncryption::from_metadata(&meta.internal)?;
        let ssec = ssec_headers(&headers, false);
        let keyed = match state {
            ObjectEncryption::None => None,
            ObjectEncryption::SseC(_) if !ssec.requested() => None,
            _ => {
                self.sse
                    .open(
                        &state,
                        ssec,
                        &input.bucket,
                        &input.key,
                        Error::ObjectEncrypted,
                    )
                    .await?
            }
        };
        let mut out = GetObjectAttributesOutput {
            last_modified: Some(timestamp(meta.last_modified_ns)),
            version_id: super::versioning::response_version_id(meta, version.is_some()),
            ..Default::default()
        };
        if wanted(ObjectAttributes::ETAG) {
            let etag = match &keyed {
                Some(k) => k.client_etag(&meta.etag),
                None => self.visible_etag(&input.bucket, meta).await,
            };
            out.e_tag = Some(ETag::Strong(etag));
        }
        if wanted(ObjectAttributes::OBJECT_SIZE) {
            out.object_size = i64::try_from(meta.size).ok();
        }
        if wanted(ObjectAttributes::STORAGE_CLASS) {
            out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
        }
        if wanted(ObjectAttributes::CHECKSUM)
            && let Some(c) = checksum_ops::of_object(meta, keyed.as_ref())
        {
            let mut sum = s3s::dto::Checksum {
                checksum_type: Some(c.kind.dto()),
                ..Default::default()
            };
            set_checksum!(sum, Some(&c));
            out.checksum = Some(sum);
        }
        if wanted(ObjectAttributes::OBJECT_PARTS) && !meta.parts.is_empty() {
            let max =
                usize::try_from(input.max_parts.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
            let marker = u32::try_from(input.part_number_marker.unwrap_or(0).max(0)).unwrap_or(0);
            // Composite objects list their part checksums (S3 lists none for full-object ones).
            let composite = checksum_ops::of_object(meta, keyed.as_ref())
                .is_some_and(|c| c.kind == Kind::Composite);
            let mut rest = meta.parts.iter().filter(|p| p.number > marker);
            let page: Vec<_> = rest.by_ref().take(max).collect();
            let truncated = rest.next().is_some();
            out.object_parts = Some(GetObjectAttributesParts {
                total_parts_count: i32::try_from(meta.parts.len()).ok(),
                part_number_marker: input.part_number_marker,
                next_part_number_marker: page.last().and_then(|p| i32::try_from(p.number).ok()),
                max_parts: i32::try_from(max).ok(),
                is_truncated: Some(truncated),
                parts: Some(
                    page.iter()
                        .map(|p| {
                            let mut part = ObjectPart {
                                part_number: i32::try_from(p.number).ok(),
                                size: i64::try_from(p.size).ok(),
                                ..Default::default()
                            };
                            if composite {
                                let c = p
                                    .checksum
                                    .as_deref()
                                    .and_then(|s| Checksum::decode(s, keyed.as_ref()));
                                set_checksum!(part, c.as_ref());
                            }
                            part
                        })
                        .collect(),
                ),
            });
        }
        Ok(out)
    }
}
