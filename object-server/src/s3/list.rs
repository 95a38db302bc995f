//! ListObjects (v1) and ListObjectsV2: prefix, delimiter, max-keys pagination with marker /
//! continuation token / start-after, keys in UTF-8 byte order, `encoding-type=url`.

use std::ops::Bound;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::S3Request;
use s3s::dto::*;

use super::{ObjectServer, timestamp};
use crate::error::{Error, Result};
use crate::storage::ObjectMeta;

/// Default and maximum page size.
pub(super) const MAX_KEYS: usize = 1000;

/// Characters left unescaped by `encoding-type=url` (RFC 3986 unreserved plus `/`).
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// One page of a listing.
#[derive(Debug, Default)]
pub(super) struct Page<'a> {
    /// Objects on this page.
    pub contents: Vec<&'a ObjectMeta>,
    /// Common prefixes on this page.
    pub prefixes: Vec<String>,
    /// More entries follow.
    pub truncated: bool,
    /// Last key or prefix returned (resume point).
    pub last: Option<String>,
}

/// Paginates `all` (sorted by key, already filtered by `prefix`) after `after`.
pub(super) fn page<'a>(
    all: &'a [ObjectMeta],
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max_keys: usize,
) -> Page<'a> {
    let mut p = Page::default();
    let delimiter = delimiter.filter(|d| !d.is_empty());
    for meta in all {
        if after.is_some_and(|a| meta.key.as_str() <= a) {
            continue;
        }
        let common = delimiter.and_then(|d| {
            let rest = meta.key.get(prefix.len()..)?;
            rest.find(d)
                .map(|i| meta.key[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(cp) = &common {
            // Already returned (on this page, or it is the marker itself).
            if p.prefixes.last() == Some(cp) || after.is_some_and(|a| a.starts_with(cp.as_str())) {
                continue;
            }
        }
        if p.contents.len() + p.prefixes.len() >= max_keys {
            // With max-keys 0 nothing can be resumed from: report not truncated.
            p.truncated = max_keys > 0;
            break;
        }
        match common {
            Some(cp) => {
                p.last = Some(cp.clone());
                p.prefixes.push(cp);
            }
            None => {
                p.last = Some(meta.key.clone());
                p.contents.push(meta);
            }
        }
    }
    p
}

pub(super) fn max_keys(v: Option<i32>) -> Result<usize> {
    match v {
        None => Ok(MAX_KEYS),
        Some(n) if n < 0 => Err(Error::InvalidArgument(
            "max-keys cannot be negative".to_owned(),
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS)),
    }
}

pub(super) fn encoder(encoding: Option<&EncodingType>) -> Result<impl Fn(&str) -> String + use<>> {
    let url = match encoding.map(EncodingType::as_str) {
        None => false,
        Some(EncodingType::URL) => true,
        Some(_) => {
            return Err(Error::InvalidArgument(
                "Invalid Encoding Method specified in Request".to_owned(),
            ));
        }
    };
    Ok(move |s: &str| {
        if url {
            utf8_percent_encode(s, URL_ENCODE).to_string()
        } else {
            s.to_owned()
        }
    })
}

fn object_entry(meta: &ObjectMeta, etag: String, enc: &impl Fn(&str) -> String) -> Object {
    Object {
        key: Some(enc(&meta.key)),
        e_tag: Some(ETag::Strong(etag)),
        last_modified: Some(timestamp(meta.last_modified_ns)),
        size: i64::try_from(meta.size).ok(),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

/// At most this many KES decrypts run at once for the ETags of one listing page.
const ETAG_CONCURRENCY: usize = 8;

impl ObjectServer {
    /// The objects one listing page needs, in key order: current objects (delete markers left
    /// out) read from the key index after `after` in batches until [`page`] can fill `max`
    /// entries and tell whether more follow — O(page size + log n) file reads and seeks, never
    /// the whole bucket (a common prefix is one index seek).
    pub(super) async fn page_source(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<ObjectMeta>> {
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        let mut from = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_owned()));
        let batch = max + 2;
        loop {
            let keys = self
                .store
                .list_keys(bucket, prefix, from, delimiter, batch)
                .await?;
            let done = keys.len() < batch;
            let Some(last) = keys.last().cloned() else {
                return Ok(out);
            };
            let metas = self.store.current_metas(bucket, keys).await?;
            out.extend(metas.into_iter().filter(|m| !m.delete_marker));
            if done || page(&out, prefix, delimiter, after, max).truncated {
                return Ok(out);
            }
            from = Bound::Excluded(last);
        }
    }

    /// The visible ETags of a page, in order. SSE-S3 single-part objects cost one KES decrypt
    /// each; when that fails their ETag is the formatted 32-hex form (the listing never fails
    /// because of the KMS — project decision, object-sse.md §7).
    pub(super) async fn page_etags(&self, bucket: &str, contents: &[&ObjectMeta]) -> Vec<String> {
        let mut out = Vec::with_capacity(contents.len());
        for chunk in contents.chunks(ETAG_CONCURRENCY) {
            let mut batch = Vec::with_capacity(chunk.len());
            for m in chunk {
                batch.push(self.visible_etag(bucket, m));
            }
            out.extend(futures_util::future::join_all(batch).await);
        }
        out
    }

    pub(super) async fn do_list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> Result<ListObjectsOutput> {
        let input = req.input;
        let enc = encoder(input.encoding_type.as_ref())?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = max_keys(input.max_keys)?;
        let marker = input.marker.as_deref().filter(|m| !m.is_empty());
        let all = self
            .page_source(
                &input.bucket,
                &prefix,
                input.delimiter.as_deref(),
                marker,
                max,
            )
            .await?;
        let p = page(&all, &prefix, input.delimiter.as_deref(), marker, max);
        let etags = self.page_etags(&input.bucket, &p.contents).await;
        Ok(ListObjectsOutput {
            name: Some(input.bucket.clone()),
            prefix: Some(enc(&prefix)),
            marker: Some(input.marker.as_deref().map(&enc).unwrap_or_default()),
            max_keys: i32::try_from(max).ok(),
            is_truncated: Some(p.truncated),
            next_marker: if p.truncated {
                p.last.as_deref().map(&enc)
            } else {
                None
            },
            contents: Some(
                p.contents
                    .iter()
                    .zip(etags)
                    .map(|(m, e)| object_entry(m, e, &enc))
                    .collect(),
            ),
            common_prefixes: Some(common_prefixes(&p.prefixes, &enc)),
            delimiter: input.delimiter.as_deref().map(&enc),
            encoding_type: input.encoding_type.clone(),
            request_charged: None,
        })
    }

    pub(super) async fn do_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> Result<ListObjectsV2Output> {
        let input = req.input;
        let enc = encoder(input.encoding_type.as_ref())?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = max_keys(input.max_keys)?;
        let after = match input.continuation_token.as_deref() {
            Some(token) => {
                let raw = URL_SAFE_NO_PAD
                    .decode(token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        Error::InvalidArgument(
                            "The continuation token provided is incorrect".to_owned(),
                        )
                    })?;
                Some(raw)
            }
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let all = self
            .page_source(
                &input.bucket,
                &prefix,
                input.delimiter.as_deref(),
                after.as_deref(),
                max,
            )
            .await?;
        let p = page(
            &all,
            &prefix,
            input.delimiter.as_deref(),
            after.as_deref(),
            max,
        );
        let owner = input
            .fetch_owner
            .unwrap_or(false)
            .then(super::bucket::owner);
        let etags = self.page_etags(&input.bucket, &p.contents).await;
        let contents: Vec<Object> = p
            .contents
            .iter()
            .zip(etags)
            .map(|(m, e)| Object {
                owner: owner.clone(),
                ..object_entry(m, e, &enc)
            })
            .collect();
        Ok(ListObjectsV2Output {
            name: Some(input.bucket.clone()),
            prefix: Some(enc(&prefix)),
            max_keys: i32::try_from(max).ok(),
            key_count: i32::try_from(p.contents.len() + p.prefixes.len()).ok(),
            continuation_token: input.continuation_token.clone(),
            is_truncated: Some(p.truncated),
            next_continuation_token: if p.truncated {
                p.last.as_deref().map(|l| URL_SAFE_NO_PAD.encode(l))
            } else {
                None
            },
            contents: Some(contents),
            common_prefixes: Some(common_prefixes(&p.prefixes, &enc)),
            delimiter: input.delimiter.as_deref().map(&enc),
            encoding_type: input.encoding_type.clone(),
            start_after: input.start_after.as_deref().map(&enc),
            request_charged: None,
        })
    }
}

/// The `CommonPrefixes` of a listing page, each encoded by `enc` (the `encoding-type`).
fn common_prefixes(prefixes: &[String], enc: &impl Fn(&str) -> String) -> Vec<CommonPrefix> {
    prefixes
        .iter()
        .map(|c| CommonPrefix {
            prefix: Some(enc(c)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str) -> ObjectMeta {
        let mut m = super::super::object::new_meta(key, Default::default(), Default::default());
        m.size = 1;
        m
    }

    fn keys(p: &Page<'_>) -> Vec<String> {
        p.contents.iter().map(|m| m.key.clone()).collect()
    }

    #[test]
    fn pagination_and_delimiter() {
        let mut all: Vec<ObjectMeta> = ["a/1", "a/2", "b", "c/x/y", "c/z", "d", "é"]
            .iter()
            .map(|k| meta(k))
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        let p = page(&all, "", Some("/"), None, 1000);
        assert_eq!(keys(&p), ["b", "d", "é"]);
        assert_eq!(p.prefixes, ["a/", "c/"]);
        assert!(!p.truncated);
        // pages of two, resuming after the last entry
        let p1 = page(&all, "", Some("/"), None, 2);
        assert_eq!(p1.prefixes, ["a/"]);
        assert_eq!(keys(&p1), ["b"]);
        assert!(p1.truncated);
        let p2 = page(&all, "", Some("/"), p1.last.as_deref(), 2);
        assert_eq!(p2.prefixes, ["c/"]);
        assert_eq!(keys(&p2), ["d"]);
        let p3 = page(&all, "", Some("/"), p2.last.as_deref(), 2);
        assert_eq!(keys(&p3), ["é"]);
        assert!(!p3.truncated);
        // resuming after a common prefix skips its members
        let p = page(&all, "", Some("/"), Some("a/"), 1000);
        assert_eq!(keys(&p), ["b", "d", "é"]);
        // prefix + delimiter
        let sub: Vec<ObjectMeta> = all
            .iter()
            .filter(|m| m.key.starts_with("c/"))
            .cloned()
            .collect();
        let p = page(&sub, "c/", Some("/"), None, 1000);
        assert_eq!(p.prefixes, ["c/x/"]);
        assert_eq!(keys(&p), ["c/z"]);
        // no delimiter, max-keys 0
        assert!(!page(&all, "", None, None, 0).truncated);
        assert!(page(&all, "", None, None, 0).contents.is_empty());
        assert_eq!(page(&all, "", None, Some("c/z"), 1000).contents.len(), 2);
    }

    #[test]
    fn url_encoding() {
        let enc = encoder(Some(&EncodingType::from_static(EncodingType::URL))).unwrap();
        assert_eq!(enc("a b+c/é"), "a%20b%2Bc/%C3%A9");
    }
}
