//! Object and bucket tagging: Put/Get/DeleteObjectTagging, `x-amz-tagging` on PutObject,
//! CreateMultipartUpload and CopyObject (`x-amz-tagging-directive` COPY/REPLACE),
//! `x-amz-tagging-count` on GET/HEAD, Put/Get/DeleteBucketTagging.
//!
//! An object's tags live in its metadata record (internal entry [`META_TAGS`], the
//! URL-encoded `k=v&…` form S3 and MinIO use), so they are published with the object in the
//! same rename and a new object (or version) has its own. Changing them rewrites the object
//! file with the data region copied verbatim (nothing is decrypted) and publishes it only if
//! the object was not replaced meanwhile. Limits are S3's: 10 tags per object (50 per
//! bucket), keys 1–128 and values 0–256 Unicode characters, no duplicate keys, no `aws:`
//! prefix → 400 `InvalidTag`.

use std::collections::BTreeMap;

use s3s::S3Request;
use s3s::dto::*;
use serde::{Deserialize, Serialize};

use super::versioning::response_version_id;
use super::{ObjectServer, io};
use crate::error::{Error, Result};
use crate::storage::ObjectMeta;

/// Internal metadata entry holding an object's tags (URL-encoded).
pub(crate) const META_TAGS: &str = "X-Amz-Tagging";
/// Bucket configuration document of the bucket's tags.
const BUCKET_DOC: &str = "tagging";
/// Most tags on an object.
pub(crate) const MAX_OBJECT_TAGS: usize = 10;
/// Most tags on a bucket.
pub(crate) const MAX_BUCKET_TAGS: usize = 50;

/// One tag set, in the client's order.
pub(crate) type Tags = Vec<(String, String)>;

fn invalid(msg: &str) -> Error {
    Error::InvalidTag(msg.to_owned())
}

/// Checks S3's limits (`max` tags).
pub(crate) fn validate(tags: &Tags, max: usize) -> Result<()> {
    if tags.len() > max {
        return Err(invalid(if max == MAX_OBJECT_TAGS {
            "Object tags cannot be greater than 10"
        } else {
            "Bucket tag count cannot be greater than 50"
        }));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        let klen = k.chars().count();
        if klen == 0 || klen > 128 {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
        if k.starts_with("aws:") {
            return Err(invalid("Your TagKey cannot be prefixed with aws:"));
        }
        if !seen.insert(k.as_str()) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn dec(s: &str) -> Result<String> {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| invalid("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."))
}

/// Parses an `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded) and checks the limits.
pub(crate) fn parse_header(value: &str) -> Result<Tags> {
    let tags = value
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((dec(k)?, dec(v)?))
        })
        .collect::<Result<Tags>>()?;
    validate(&tags, MAX_OBJECT_TAGS)?;
    Ok(tags)
}

/// The URL-encoded form stored in the metadata.
pub(crate) fn encode(tags: &Tags) -> String {
    tags.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The tags of a stored object.
pub(crate) fn of(meta: &ObjectMeta) -> Tags {
    meta.internal
        .get(META_TAGS)
        .and_then(|t| parse_stored(t).ok())
        .unwrap_or_default()
}

fn parse_stored(t: &str) -> Result<Tags> {
    t.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((dec(k)?, dec(v)?))
        })
        .collect()
}

/// `x-amz-tagging-count` of a stored object (`None` without tags).
pub(crate) fn count(meta: &ObjectMeta) -> Option<i32> {
    let n = of(meta).len();
    (n > 0).then(|| i32::try_from(n).unwrap_or(i32::MAX))
}

/// Adds `x-amz-tagging-count` to a HEAD response (s3s's HeadObject output has no field).
pub(crate) fn count_header(headers: &mut http::HeaderMap, meta: &ObjectMeta) {
    if let Some(n) = count(meta) {
        headers.insert("x-amz-tagging-count", http::HeaderValue::from(n));
    }
}

/// Stores `tags` in `internal` (removes the entry for an empty set).
pub(crate) fn store(internal: &mut BTreeMap<String, String>, tags: &Tags) {
    if tags.is_empty() {
        internal.remove(META_TAGS);
    } else {
        internal.insert(META_TAGS.to_owned(), encode(tags));
    }
}

/// Applies an `x-amz-tagging` header (PutObject, CreateMultipartUpload) to new metadata.
pub(crate) fn apply_header(
    internal: &mut BTreeMap<String, String>,
    header: Option<&String>,
) -> Result<()> {
    if let Some(h) = header {
        store(internal, &parse_header(h)?);
    }
    Ok(())
}

/// CopyObject: the source's tags (`COPY`, the default) or the request's (`REPLACE`).
pub(crate) fn apply_copy(
    internal: &mut BTreeMap<String, String>,
    source: &ObjectMeta,
    directive: Option<&TaggingDirective>,
    header: Option<&String>,
) -> Result<()> {
    match directive.map(TaggingDirective::as_str) {
        None | Some(TaggingDirective::COPY) => {
            store(internal, &of(source));
            Ok(())
        }
        Some(TaggingDirective::REPLACE) => {
            store(
                internal,
                &header
                    .map(|h| parse_header(h))
                    .transpose()?
                    .unwrap_or_default(),
            );
            Ok(())
        }
        Some(_) => Err(Error::InvalidArgument(
            "Unknown tagging directive.".to_owned(),
        )),
    }
}

fn from_dto(set: &TagSet) -> Tags {
    set.iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn to_dto(tags: Tags) -> TagSet {
    tags.into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect()
}

#[derive(Debug, Serialize, Deserialize)]
struct BucketTags {
    tags: Tags,
}

impl ObjectServer {
    /// Rewrites `bucket/key` with `change` applied to its internal metadata (data copied
    /// verbatim); retried when the object is replaced meanwhile.
    pub(super) async fn rewrite_internal(
        &self,
        bucket: &str,
        key: &str,
        change: impl Fn(&mut BTreeMap<String, String>) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..5 {
            let src = self.store.open_object(bucket, key).await?;
            let mut meta = src.meta.clone();
            change(&mut meta.internal)?;
            let mut temp = self.store.temp_file().await?;
            io::copy_raw(&mut temp, src.file.clone(), 0, src.data_len).await?;
            temp.finish(&meta).await?;
            if self
                .store
                .replace_object_if_unchanged(bucket, key, temp, &src)
                .await?
            {
                return Ok(());
            }
        }
        Err(Error::Internal(format!(
            "{bucket}/{key}: metadata not changed: the object kept changing"
        )))
    }

    /// Sets the tags of version `version` (the current object when `None`); returns the
    /// `x-amz-version-id` to answer.
    async fn set_object_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: &Tags,
    ) -> Result<Option<String>> {
        if version.is_none() {
            self.rewrite_internal(bucket, key, |internal| {
                store(internal, tags);
                Ok(())
            })
            .await?;
            return Ok(None);
        }
        let h = self
            .rewrite_version_internal(bucket, key, version, |internal| {
                store(internal, tags);
                Ok(true)
            })
            .await?;
        Ok(response_version_id(&h.meta, true))
    }

    pub(super) async fn do_put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> Result<PutObjectTaggingOutput> {
        let input = req.input;
        let tags = from_dto(&input.tagging.tag_set);
        validate(&tags, MAX_OBJECT_TAGS)?;
        let version_id = self
            .set_object_tags(
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                &tags,
            )
            .await?;
        Ok(PutObjectTaggingOutput { version_id })
    }

    pub(super) async fn do_get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> Result<GetObjectTaggingOutput> {
        let input = req.input;
        let version = input.version_id.as_deref();
        let h = match version {
            None => self.store.open_object(&input.bucket, &input.key).await?,
            Some(_) => {
                self.open_subject(&input.bucket, &input.key, version)
                    .await?
            }
        };
        Ok(GetObjectTaggingOutput {
            tag_set: to_dto(of(&h.meta)),
            version_id: response_version_id(&h.meta, version.is_some()),
        })
    }

    pub(super) async fn do_delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> Result<DeleteObjectTaggingOutput> {
        let (bucket, key) = (&req.input.bucket, &req.input.key);
        let version = req.input.version_id.as_deref();
        let current = match version {
            None => self.store.open_object(bucket, key).await?,
            Some(_) => self.open_subject(bucket, key, version).await?,
        };
        let mut version_id = response_version_id(&current.meta, version.is_some());
        if current.meta.internal.contains_key(META_TAGS) {
            version_id = self
                .set_object_tags(bucket, key, version, &Tags::new())
                .await?
                .or(version_id);
        }
        Ok(DeleteObjectTaggingOutput { version_id })
    }

    pub(super) async fn do_put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> Result<PutBucketTaggingOutput> {
        let input = req.input;
        let tags = from_dto(&input.tagging.tag_set);
        validate(&tags, MAX_BUCKET_TAGS)?;
        let doc = serde_json::to_vec(&BucketTags { tags }).map_err(Error::internal)?;
        self.store
            .set_bucket_config(&input.bucket, BUCKET_DOC, Some(doc))
            .await?;
        Ok(PutBucketTaggingOutput::default())
    }

    pub(super) async fn do_get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> Result<GetBucketTaggingOutput> {
        let bytes = self
            .store
            .bucket_config(&req.input.bucket, BUCKET_DOC)
            .await?
            .ok_or(Error::NoSuchTagSet)?;
        let stored: BucketTags = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Internal(format!("bucket tagging: {e}")))?;
        Ok(GetBucketTaggingOutput {
            tag_set: to_dto(stored.tags),
        })
    }

    pub(super) async fn do_delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> Result<DeleteBucketTaggingOutput> {
        self.store
            .set_bucket_config(&req.input.bucket, BUCKET_DOC, None)
            .await?;
        Ok(DeleteBucketTaggingOutput::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limits_and_messages() {
        let msg = |tags: Tags, max| validate(&tags, max).unwrap_err().to_string();
        let eleven: Tags = (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(
            msg(eleven.clone(), MAX_OBJECT_TAGS),
            "Object tags cannot be greater than 10"
        );
        assert!(validate(&eleven, MAX_BUCKET_TAGS).is_ok());
        assert_eq!(
            msg(t(&[("", "v")]), 10),
            "The TagKey you have provided is invalid"
        );
        assert_eq!(
            msg(vec![("k".repeat(129), String::new())], 10),
            "The TagKey you have provided is invalid"
        );
        assert!(validate(&vec![("é".repeat(128), "ü".repeat(256))], 10).is_ok());
        assert_eq!(
            msg(vec![("k".into(), "v".repeat(257))], 10),
            "The TagValue you have provided is invalid"
        );
        assert_eq!(
            msg(t(&[("a", "1"), ("a", "2")]), 10),
            "Cannot provide multiple Tags with the same key"
        );
        assert_eq!(
            msg(t(&[("aws:x", "1")]), 10),
            "Your TagKey cannot be prefixed with aws:"
        );
    }

    #[test]
    fn header_round_trip() {
        let tags = parse_header("a=1&b%20c=d%26e&empty=&plus+sign=x+y").unwrap();
        assert_eq!(
            tags,
            t(&[
                ("a", "1"),
                ("b c", "d&e"),
                ("empty", ""),
                ("plus sign", "x y")
            ])
        );
        assert_eq!(parse_stored(&encode(&tags)).unwrap(), tags);
        assert!(parse_header("a=1&a=2").is_err());
        assert!(parse_header("%ff=1").is_err());
        assert_eq!(parse_header("").unwrap(), Tags::new());
    }
}
