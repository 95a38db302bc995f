//! One pass of the lifecycle sweep over the store ([`ObjectServer::lifecycle_pass`]; the
//! task that runs it periodically is [`crate::lifecycle`]).
//!
//! * Buckets with enabled rules are walked key by key through the listing index, a page of
//!   [`PAGE`] keys at a time (their versions read per page), so a pass costs O(objects) and
//!   holds one page in memory; requests are served meanwhile (every step is a short blocking
//!   task under the same per-bucket lock as client writes).
//! * Per key, [`crate::lifecycle::rules::plan`] decides; each action is a conditional storage
//!   operation ([`crate::storage::Still`]) that re-checks the version under the lock: current
//!   versions are deleted (unversioned bucket) or covered by a delete marker (versioning
//!   enabled: a new version id; suspended: the `null` marker, replacing a `null` version, as
//!   S3); noncurrent versions are deleted; a delete marker left without older versions is
//!   removed. Then incomplete multipart uploads past `DaysAfterInitiation` are aborted.
//! * Versions under object lock are never removed: [`is_protected`].
//! * Every action is logged at `info` (bucket, key, version, rule id).

use std::ops::Bound;

use super::ObjectServer;
use super::object::{ContentHeaders, new_meta};
use super::tagging;
use super::versioning::Versioning;
use crate::error::Result;
use crate::lifecycle::config::Rule;
use crate::lifecycle::rules::{self, Version, current_expired, due_after_days};
use crate::storage::versions::{VersionEntry, shown_version_id};
use crate::storage::{ObjectMeta, StorageError};

/// Keys read per listing page.
pub const PAGE: usize = 1000;

/// Whether the version `meta` of a key in `bucket` is protected by an object-lock retention
/// period or a legal hold and must not be removed. The sweep asks it under the storage lock
/// before every permanent removal (unversioned expiration, noncurrent versions); covering a
/// locked current version with a delete marker leaves that version intact and is allowed, as in
/// S3. Judged on the real clock, never the sweep's test offset, so a retention is never cut short.
pub(crate) fn is_protected(_bucket: &str, meta: &ObjectMeta) -> bool {
    crate::s3::object_lock::version_is_locked(meta, std::time::SystemTime::now())
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    /// Buckets with at least one enabled rule.
    pub buckets: usize,
    /// Current versions expired (deleted or covered by a delete marker).
    pub expired: usize,
    /// Noncurrent versions deleted.
    pub noncurrent_deleted: usize,
    /// Lone delete markers removed.
    pub markers_removed: usize,
    /// Incomplete multipart uploads aborted.
    pub uploads_aborted: usize,
    /// Buckets whose pass failed (logged).
    pub failed: usize,
}

fn same_version(a: &ObjectMeta, b: &ObjectMeta) -> bool {
    a.version_id == b.version_id
        && a.last_modified_ns == b.last_modified_ns
        && a.etag == b.etag
        && a.delete_marker == b.delete_marker
}

fn version(meta: ObjectMeta) -> Version {
    let tags = tagging::of(&meta);
    Version { meta, tags }
}

/// Splits a version listing (current first per key) into per-key groups.
fn by_key(entries: Vec<VersionEntry>) -> Vec<Vec<Version>> {
    let mut out: Vec<Vec<Version>> = Vec::new();
    for e in entries {
        match out.last_mut() {
            Some(group) if !e.latest => group.push(version(e.meta)),
            _ => out.push(vec![version(e.meta)]),
        }
    }
    out
}

impl ObjectServer {
    /// Applies every bucket's enabled lifecycle rules once, as if the time were `now_ns`
    /// (Unix nanoseconds). Failures are logged per bucket and never stop the pass.
    pub async fn lifecycle_pass(&self, now_ns: u64) -> PassStats {
        let mut stats = PassStats::default();
        let buckets = match self.store.list_buckets().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "lifecycle: cannot list buckets");
                stats.failed += 1;
                return stats;
            }
        };
        for b in buckets {
            if let Err(e) = self.lifecycle_bucket(&b.name, now_ns, &mut stats).await {
                match e {
                    crate::error::Error::NoSuchBucket => {} // deleted meanwhile
                    e => {
                        tracing::warn!(bucket = %b.name, error = %e, "lifecycle: bucket pass failed");
                        stats.failed += 1;
                    }
                }
            }
        }
        stats
    }

    async fn lifecycle_bucket(&self, bucket: &str, now: u64, stats: &mut PassStats) -> Result<()> {
        let rules: Vec<Rule> = self
            .lifecycle_rules(bucket)
            .await?
            .into_iter()
            .filter(|r| r.enabled)
            .collect();
        if rules.is_empty() {
            return Ok(());
        }
        stats.buckets += 1;
        if rules
            .iter()
            .any(|r| r.expiration.is_some() || r.noncurrent.is_some())
        {
            let mut from = Bound::Unbounded;
            loop {
                // Re-read per page: versioning may be enabled while a pass runs.
                let versioning = self.versioning(bucket).await?;
                let keys = self
                    .store
                    .list_keys(bucket, "", from.clone(), None, PAGE)
                    .await?;
                let full = keys.len() >= PAGE;
                let Some(last) = keys.last().cloned() else {
                    break;
                };
                let entries = self.store.versions_of(bucket, keys).await?;
                for versions in by_key(entries) {
                    self.lifecycle_key(bucket, &rules, versioning, &versions, now, stats)
                        .await?;
                }
                if !full {
                    break;
                }
                from = Bound::Excluded(last);
            }
        }
        if rules.iter().any(|r| r.abort_after_days.is_some()) {
            self.lifecycle_uploads(bucket, &rules, now, stats).await?;
        }
        Ok(())
    }

    async fn lifecycle_key(
        &self,
        bucket: &str,
        rules: &[Rule],
        versioning: Versioning,
        versions: &[Version],
        now: u64,
        stats: &mut PassStats,
    ) -> Result<()> {
        let Some(current) = versions.first() else {
            return Ok(());
        };
        let key = current.meta.key.clone();
        let plan = rules::plan(rules, &key, versions, now);
        if plan.is_empty() {
            return Ok(());
        }
        for (vid, rule) in &plan.noncurrent {
            let b = bucket.to_owned();
            let still = Box::new(move |m: &ObjectMeta| !is_protected(&b, m));
            if self
                .store
                .expire_noncurrent(bucket, &key, vid, still)
                .await?
            {
                stats.noncurrent_deleted += 1;
                tracing::info!(%bucket, %key, version = %vid, %rule, "lifecycle: noncurrent version expired");
            }
        }
        if let Some(rule_id) = &plan.current {
            let Some(rule) = rules.iter().find(|r| &r.id == rule_id).cloned() else {
                return Ok(());
            };
            let seen = current.meta.clone();
            let (b, k) = (bucket.to_owned(), key.clone());
            let unversioned = versioning == Versioning::Unversioned;
            let still = Box::new(move |m: &ObjectMeta| {
                same_version(m, &seen)
                    && (!unversioned || !is_protected(&b, m))
                    && current_expired(&rule, &k, &version(m.clone()), now)
            });
            let done = if unversioned {
                self.store.expire_object(bucket, &key, still).await?
            } else {
                let mut marker = new_meta(&key, ContentHeaders::default(), Default::default());
                marker.delete_marker = true;
                marker.version_id = versioning.new_version_id();
                let mut temp = self.store.temp_file().await?;
                temp.finish(&marker).await?;
                self.store
                    .expire_with_marker(bucket, &key, temp, still)
                    .await?
            };
            if done {
                stats.expired += 1;
                tracing::info!(
                    %bucket, %key, version = %shown_version_id(&current.meta), rule = %rule_id,
                    delete_marker = !unversioned, "lifecycle: current version expired"
                );
            }
        }
        if let Some(rule) = &plan.lone_marker {
            let seen = current.meta.clone();
            let still = Box::new(move |m: &ObjectMeta| same_version(m, &seen));
            if self.store.remove_lone_marker(bucket, &key, still).await? {
                stats.markers_removed += 1;
                tracing::info!(
                    %bucket, %key, version = %shown_version_id(&current.meta), %rule,
                    "lifecycle: expired delete marker removed"
                );
            }
        }
        Ok(())
    }

    async fn lifecycle_uploads(
        &self,
        bucket: &str,
        rules: &[Rule],
        now: u64,
        stats: &mut PassStats,
    ) -> Result<()> {
        for u in self.store.list_uploads(bucket).await? {
            let Some(rule) = rules.iter().find(|r| {
                r.abort_after_days
                    .is_some_and(|d| due_after_days(u.initiated_ns, d) <= now)
                    && u.key.starts_with(&r.filter.prefix)
            }) else {
                continue;
            };
            let removed = match self.store.open_upload(bucket, &u.key, &u.upload_id).await {
                Ok(handle) => self.store.remove_upload(&handle).await,
                Err(e) => Err(e),
            };
            match removed {
                Ok(()) => {
                    stats.uploads_aborted += 1;
                    tracing::info!(%bucket, key = %u.key, upload_id = %u.upload_id, rule = %rule.id,
                        "lifecycle: incomplete multipart upload aborted");
                }
                Err(StorageError::NoSuchUpload) => {} // completed or aborted meanwhile
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
