//! ListObjectVersions: every version and delete marker by key (UTF-8 byte order), newest
//! first within a key; prefix, delimiter, `key-marker` / `version-id-marker` pagination,
//! `max-keys`, `encoding-type=url`. Buckets that were never versioned list their objects as
//! `null` versions, as S3 does.

use std::ops::Bound;

use s3s::S3Request;
use s3s::dto::*;

use super::list::{encoder, max_keys};
use super::versioning::check_version_id;
use super::{ObjectServer, timestamp};
use crate::error::{Error, Result};
use crate::storage::versions::{VersionEntry, shown_version_id};

/// One page of a version listing.
#[derive(Debug, Default)]
pub(super) struct VersionPage<'a> {
    /// Versions and delete markers on this page.
    pub entries: Vec<&'a VersionEntry>,
    /// Common prefixes on this page.
    pub prefixes: Vec<String>,
    /// More entries follow.
    pub truncated: bool,
    /// Resume point: `(key-marker, version-id-marker)`; a common prefix has no version id.
    pub next: Option<(String, Option<String>)>,
}

/// Paginates `all` (as [`crate::storage::FsStore::list_versions`] orders it, filtered by
/// `prefix`) after the marker `(key, version)`: without a version id the page starts after
/// every version of `key`; with one, after that version.
pub(super) fn version_page<'a>(
    all: &'a [VersionEntry],
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: Option<&str>,
    version_marker: Option<&str>,
    max: usize,
) -> VersionPage<'a> {
    let mut p = VersionPage::default();
    let delimiter = delimiter.filter(|d| !d.is_empty());
    // With a version marker, entries of the marker key are skipped up to and including it.
    let mut skipping_marker_key = version_marker.is_some();
    for e in all {
        let key = e.meta.key.as_str();
        if let Some(km) = key_marker {
            if key < km {
                continue;
            }
            if key == km {
                if !skipping_marker_key {
                    if version_marker.is_none() {
                        continue;
                    }
                } else {
                    if version_marker == Some(shown_version_id(&e.meta)) {
                        skipping_marker_key = false;
                    }
                    continue;
                }
            }
        }
        let common = delimiter.and_then(|d| {
            let rest = key.get(prefix.len()..)?;
            rest.find(d)
                .map(|i| key[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(cp) = &common
            && (p.prefixes.last() == Some(cp)
                || key_marker.is_some_and(|m| m.starts_with(cp.as_str())))
        {
            continue;
        }
        if p.entries.len() + p.prefixes.len() >= max {
            p.truncated = max > 0;
            break;
        }
        match common {
            Some(cp) => {
                p.next = Some((cp.clone(), None));
                p.prefixes.push(cp);
            }
            None => {
                p.next = Some((key.to_owned(), Some(shown_version_id(&e.meta).to_owned())));
                p.entries.push(e);
            }
        }
    }
    p
}

impl ObjectServer {
    /// The versions one page needs, read from the key index in batches from the marker key
    /// until [`version_page`] can fill `max` entries and tell whether more follow.
    async fn version_source(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        key_marker: Option<&str>,
        version_marker: Option<&str>,
        max: usize,
    ) -> Result<Vec<VersionEntry>> {
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        let mut from = match (key_marker, version_marker) {
            (Some(k), Some(_)) => Bound::Included(k.to_owned()),
            (Some(k), None) => Bound::Excluded(k.to_owned()),
            (None, _) => Bound::Unbounded,
        };
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
            out.extend(self.store.versions_of(bucket, keys).await?);
            let p = version_page(&out, prefix, delimiter, key_marker, version_marker, max);
            if done || p.truncated {
                return Ok(out);
            }
            from = Bound::Excluded(last);
        }
    }

    pub(super) async fn do_list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> Result<ListObjectVersionsOutput> {
        let input = req.input;
        let enc = encoder(input.encoding_type.as_ref())?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let max = max_keys(input.max_keys)?;
        let key_marker = input.key_marker.as_deref().filter(|m| !m.is_empty());
        let version_marker = input.version_id_marker.as_deref().filter(|m| !m.is_empty());
        if let Some(v) = version_marker {
            if key_marker.is_none() {
                return Err(Error::InvalidArgument(
                    "A version-id marker cannot be specified without a key marker.".to_owned(),
                ));
            }
            check_version_id(v)?;
        }
        let all = self
            .version_source(
                &input.bucket,
                &prefix,
                input.delimiter.as_deref(),
                key_marker,
                version_marker,
                max,
            )
            .await?;
        let p = version_page(
            &all,
            &prefix,
            input.delimiter.as_deref(),
            key_marker,
            version_marker,
            max,
        );
        let objects: Vec<_> = p
            .entries
            .iter()
            .filter(|e| !e.meta.delete_marker)
            .map(|e| &e.meta)
            .collect();
        let etags = self.page_etags(&input.bucket, &objects).await;
        let owner = super::bucket::owner();
        let mut etags = etags.into_iter();
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for e in &p.entries {
            let m = &e.meta;
            if m.delete_marker {
                markers.push(DeleteMarkerEntry {
                    is_latest: Some(e.latest),
                    key: Some(enc(&m.key)),
                    last_modified: Some(timestamp(m.last_modified_ns)),
                    owner: Some(owner.clone()),
                    version_id: Some(shown_version_id(m).to_owned()),
                });
            } else {
                versions.push(ObjectVersion {
                    e_tag: etags.next().map(ETag::Strong),
                    is_latest: Some(e.latest),
                    key: Some(enc(&m.key)),
                    last_modified: Some(timestamp(m.last_modified_ns)),
                    owner: Some(owner.clone()),
                    size: i64::try_from(m.size).ok(),
                    storage_class: Some(ObjectVersionStorageClass::from_static(
                        ObjectVersionStorageClass::STANDARD,
                    )),
                    version_id: Some(shown_version_id(m).to_owned()),
                    ..Default::default()
                });
            }
        }
        let (next_key, next_version) = match (&p.next, p.truncated) {
            (Some((k, v)), true) => (Some(enc(k)), v.clone()),
            _ => (None, None),
        };
        Ok(ListObjectVersionsOutput {
            name: Some(input.bucket.clone()),
            prefix: Some(enc(&prefix)),
            key_marker: Some(input.key_marker.as_deref().map(&enc).unwrap_or_default()),
            version_id_marker: Some(input.version_id_marker.clone().unwrap_or_default()),
            max_keys: i32::try_from(max).ok(),
            is_truncated: Some(p.truncated),
            next_key_marker: next_key,
            next_version_id_marker: next_version,
            versions: Some(versions),
            delete_markers: Some(markers),
            common_prefixes: Some(
                p.prefixes
                    .iter()
                    .map(|c| CommonPrefix {
                        prefix: Some(enc(c)),
                    })
                    .collect(),
            ),
            delimiter: input.delimiter.as_deref().map(&enc),
            encoding_type: input.encoding_type.clone(),
            request_charged: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, vid: Option<&str>, latest: bool) -> VersionEntry {
        let mut meta = super::super::object::tests_meta();
        meta.key = key.to_owned();
        meta.version_id = vid.map(str::to_owned);
        VersionEntry { meta, latest }
    }

    fn ids(p: &VersionPage<'_>) -> Vec<String> {
        p.entries
            .iter()
            .map(|e| format!("{}@{}", e.meta.key, shown_version_id(&e.meta)))
            .collect()
    }

    #[test]
    fn markers_and_prefixes() {
        let v = |n: u8| format!("{:032x}", n);
        let all = vec![
            entry("a", Some(&v(3)), true),
            entry("a", Some(&v(2)), false),
            entry("a", None, false),
            entry("b/1", Some(&v(1)), true),
            entry("b/2", None, true),
            entry("c", Some(&v(4)), true),
        ];
        let p = version_page(&all, "", None, None, None, 2);
        assert_eq!(ids(&p), [format!("a@{}", v(3)), format!("a@{}", v(2))]);
        assert!(p.truncated);
        let (k, vm) = p.next.clone().unwrap();
        let p2 = version_page(&all, "", None, Some(&k), vm.as_deref(), 2);
        assert_eq!(ids(&p2), ["a@null".to_owned(), format!("b/1@{}", v(1))]);
        // key marker alone: after every version of that key
        let p3 = version_page(&all, "", None, Some("a"), None, 1000);
        assert_eq!(ids(&p3)[0], format!("b/1@{}", v(1)));
        // delimiter folds b/ into one prefix, counted once
        let p4 = version_page(&all, "", Some("/"), None, None, 4);
        assert_eq!(p4.prefixes, ["b/"]);
        assert_eq!(ids(&p4).len(), 3);
        assert!(p4.truncated);
        let (k, vm) = p4.next.clone().unwrap();
        assert_eq!((k.as_str(), vm), ("b/", None));
        let p5 = version_page(&all, "", Some("/"), Some("b/"), None, 4);
        assert_eq!(ids(&p5), [format!("c@{}", v(4))]);
        assert!(!p5.truncated);
    }
}
