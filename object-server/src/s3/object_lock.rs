//! S3 Object Lock (WORM): the bucket's object-lock configuration, the lock state of each object
//! version (retention mode and retain-until date, legal hold) and the rules that keep a locked
//! version from being deleted or its retention weakened. The S3 operations are in
//! [`super::lock_ops`].
//!
//! * A bucket has object lock when it was created with `x-amz-bucket-object-lock-enabled: true`
//!   or when PutObjectLockConfiguration enabled it on a bucket whose versioning is `Enabled`
//!   (as S3 allows since 2023). The configuration is the bucket configuration document
//!   [`CONFIG`]; it can never be removed, and versioning can no longer be suspended
//!   (409 `InvalidBucketState`).
//! * A version's lock state lives in its own metadata record, internal entries [`META_MODE`],
//!   [`META_UNTIL`] (Unix nanoseconds) and [`META_HOLD`] (`ON`/`OFF`): it is published with
//!   the version in the same rename, older metadata files simply have none, and changing it
//!   rewrites the version's file with its data copied verbatim (nothing is decrypted).
//! * New versions (PUT, copy, multipart completion) take the `x-amz-object-lock-*` request
//!   headers, else the bucket's default retention; a copy never inherits its source's lock.
//! * A version is *locked* ([`version_is_locked`]) while its legal hold is `ON` or its
//!   retain-until date is in the future. Deleting a locked version by id is 403
//!   `AccessDenied`, except a `GOVERNANCE` retention (without legal hold) with
//!   `x-amz-bypass-governance-retention: true` and the `s3:BypassGovernanceRetention`
//!   permission ([`BypassGrant`], granted by the policy gate). `COMPLIANCE` retention can only
//!   be extended. A DELETE without version id only adds a delete marker and is always allowed.
//! * A stored value that does not parse counts as locked for ever (fail closed).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use s3s::dto::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ObjectServer;
use crate::error::{Error, Result};
use crate::storage::ObjectMeta;

/// Bucket configuration document holding the object-lock configuration.
pub(crate) const CONFIG: &str = "object-lock";
/// Internal metadata entry: the retention mode (`GOVERNANCE` / `COMPLIANCE`).
pub(crate) const META_MODE: &str = "X-Amz-Object-Lock-Mode";
/// Internal metadata entry: the retain-until date, Unix nanoseconds.
pub(crate) const META_UNTIL: &str = "X-Amz-Object-Lock-Retain-Until-Date";
/// Internal metadata entry: the legal hold (`ON` / `OFF`).
pub(crate) const META_HOLD: &str = "X-Amz-Object-Lock-Legal-Hold";
/// Longest default retention accepted, in days (and in years).
const MAX_DAYS: i32 = 36_500;
const MAX_YEARS: i32 = 100;

/// `Bucket is missing Object Lock Configuration` (400 `InvalidRequest`), as S3.
pub(super) fn missing_config() -> Error {
    Error::InvalidRequest("Bucket is missing Object Lock Configuration".to_owned())
}

/// A retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Can be shortened or removed (and the version deleted) with the governance bypass.
    Governance,
    /// Can only be extended, by anyone.
    Compliance,
}

impl Mode {
    /// `GOVERNANCE` / `COMPLIANCE` (exact, as S3).
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "GOVERNANCE" => Some(Mode::Governance),
            "COMPLIANCE" => Some(Mode::Compliance),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Governance => "GOVERNANCE",
            Mode::Compliance => "COMPLIANCE",
        }
    }
}

/// A version's retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The mode.
    pub mode: Mode,
    /// Retained until this instant.
    pub until: OffsetDateTime,
}

/// The lock state of one version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockState {
    /// Its retention, if any.
    pub retention: Option<Retention>,
    /// Its legal hold, `None` when never set.
    pub legal_hold: Option<bool>,
}

/// The far future a damaged entry is retained until.
fn forever() -> OffsetDateTime {
    time::PrimitiveDateTime::MAX.assume_utc()
}

fn unix_nanos(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos()
}

impl LockState {
    /// The state recorded in `meta` (none for versions written before object lock existed).
    pub fn of(meta: &ObjectMeta) -> LockState {
        LockState::from_internal(&meta.internal)
    }

    /// The state recorded in a version's internal metadata entries.
    pub fn from_internal(internal: &BTreeMap<String, String>) -> LockState {
        let retention = internal.get(META_MODE).map(|m| {
            let until = internal
                .get(META_UNTIL)
                .and_then(|u| u.parse::<i128>().ok())
                .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok());
            match (Mode::parse(m), until) {
                (Some(mode), Some(until)) => Retention { mode, until },
                _ => Retention {
                    mode: Mode::Compliance,
                    until: forever(),
                },
            }
        });
        let legal_hold = internal.get(META_HOLD).map(|h| h != "OFF");
        LockState {
            retention,
            legal_hold,
        }
    }

    /// Records this state in `internal` (replacing whatever was there).
    pub fn store(&self, internal: &mut BTreeMap<String, String>) {
        internal.remove(META_MODE);
        internal.remove(META_UNTIL);
        internal.remove(META_HOLD);
        if let Some(r) = self.retention {
            internal.insert(META_MODE.to_owned(), r.mode.as_str().to_owned());
            internal.insert(META_UNTIL.to_owned(), unix_nanos(r.until).to_string());
        }
        if let Some(h) = self.legal_hold {
            internal.insert(
                META_HOLD.to_owned(),
                if h { "ON" } else { "OFF" }.to_owned(),
            );
        }
    }

    /// The retention still in force at `now`.
    pub fn active(&self, now: OffsetDateTime) -> Option<Retention> {
        self.retention.filter(|r| r.until > now)
    }

    /// Whether deleting the version (or shortening/removing its retention) at `now` is
    /// refused; `bypass`: the request may bypass `GOVERNANCE` retention.
    pub fn protects(&self, now: OffsetDateTime, bypass: bool) -> bool {
        if self.legal_hold == Some(true) {
            return true;
        }
        match self.active(now) {
            Some(r) => r.mode == Mode::Compliance || !bypass,
            None => false,
        }
    }
}

/// Whether the version `meta` may not be deleted at `now` by anyone (legal hold `ON`, or a
/// retain-until date still in the future whatever its mode). Lifecycle expiration uses this
/// to leave locked versions alone; delete markers are never locked.
pub fn version_is_locked(meta: &ObjectMeta, now: SystemTime) -> bool {
    let now = OffsetDateTime::from(now);
    !meta.delete_marker && LockState::of(meta).protects(now, false)
}

/// The governance bypass the policy gate granted a request: the keys for which
/// `x-amz-bypass-governance-retention: true` was sent and `s3:BypassGovernanceRetention` is
/// allowed (request extension).
#[derive(Debug, Clone, Default)]
pub(crate) struct BypassGrant {
    keys: HashSet<String>,
}

impl BypassGrant {
    /// A grant for `keys`.
    pub(crate) fn new(keys: impl IntoIterator<Item = String>) -> Self {
        BypassGrant {
            keys: keys.into_iter().collect(),
        }
    }

    /// Whether the request asks for the bypass (the header is `true`).
    pub(crate) fn requested(headers: &http::HeaderMap) -> bool {
        headers
            .get("x-amz-bypass-governance-retention")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Whether the request in `ext` may bypass governance retention on `key`.
    pub(super) fn allows(ext: &http::Extensions, key: &str) -> bool {
        ext.get::<BypassGrant>()
            .is_some_and(|g| g.keys.contains(key))
    }
}

/// The stored object-lock configuration of a bucket.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct BucketLock {
    /// The default retention of new versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<DefaultRule>,
}

/// A default retention rule (days xor years).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct DefaultRule {
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i32>,
}

impl DefaultRule {
    /// The retention a version written at `now` gets.
    fn retention(self, now: OffsetDateTime) -> Retention {
        let until = match (self.days, self.years) {
            (Some(d), _) => now.checked_add(time::Duration::days(i64::from(d))),
            (None, Some(y)) => {
                let year = now.year() + y;
                now.replace_year(year)
                    .ok()
                    .or_else(|| now.checked_add(time::Duration::days(365 * i64::from(y))))
            }
            (None, None) => Some(now),
        };
        Retention {
            mode: self.mode,
            until: until.unwrap_or_else(forever),
        }
    }
}

/// Validates an `ObjectLockConfiguration` document → the configuration to store.
pub(super) fn parse_config(cfg: Option<&ObjectLockConfiguration>) -> Result<BucketLock> {
    let cfg = cfg.ok_or(Error::MalformedXml)?;
    if cfg
        .object_lock_enabled
        .as_ref()
        .map(ObjectLockEnabled::as_str)
        != Some(ObjectLockEnabled::ENABLED)
    {
        return Err(Error::MalformedXml);
    }
    let Some(rule) = &cfg.rule else {
        return Ok(BucketLock::default());
    };
    let d = rule.default_retention.as_ref().ok_or(Error::MalformedXml)?;
    let mode = d
        .mode
        .as_ref()
        .and_then(|m| Mode::parse(m.as_str()))
        .ok_or(Error::MalformedXml)?;
    let positive = || {
        Error::InvalidArgument(
            "Default retention period must be a positive integer value".to_owned(),
        )
    };
    match (d.days, d.years) {
        (Some(n), None) if n <= 0 => return Err(positive()),
        (None, Some(n)) if n <= 0 => return Err(positive()),
        (Some(n), None) if n > MAX_DAYS => {
            return Err(Error::InvalidArgument(format!(
                "Default retention period cannot exceed {MAX_DAYS} days"
            )));
        }
        (None, Some(n)) if n > MAX_YEARS => {
            return Err(Error::InvalidArgument(format!(
                "Default retention period cannot exceed {MAX_YEARS} years"
            )));
        }
        (Some(_), None) | (None, Some(_)) => {}
        _ => return Err(Error::MalformedXml),
    }
    Ok(BucketLock {
        rule: Some(DefaultRule {
            mode,
            days: d.days,
            years: d.years,
        }),
    })
}

/// The `ObjectLockConfiguration` answered for a stored configuration.
pub(super) fn config_out(lock: &BucketLock) -> ObjectLockConfiguration {
    ObjectLockConfiguration {
        object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
        rule: lock.rule.map(|r| ObjectLockRule {
            default_retention: Some(DefaultRetention {
                mode: Some(ObjectLockRetentionMode::from_static(r.mode.as_str())),
                days: r.days,
                years: r.years,
            }),
        }),
    }
}

/// A retain-until date that must lie in the future.
pub(super) fn future_date(ts: &Timestamp, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let until = OffsetDateTime::from(ts.clone());
    if until <= now {
        return Err(Error::InvalidArgument(
            "The retain until date must be in the future!".to_owned(),
        ));
    }
    Ok(until)
}

/// Sets the `x-amz-object-lock-*` response fields of a GET or HEAD output from `$meta`, keeping
/// only those the policy gate let the caller see (`$extensions`).
macro_rules! set_lock {
    ($out:expr, $meta:expr, $extensions:expr) => {{
        let state = super::object_lock::LockState::of($meta);
        if let Some(r) = state.retention {
            $out.object_lock_mode = Some(ObjectLockMode::from_static(r.mode.as_str()));
            $out.object_lock_retain_until_date = Some(Timestamp::from(r.until));
        }
        if let Some(h) = state.legal_hold {
            $out.object_lock_legal_hold_status =
                Some(ObjectLockLegalHoldStatus::from_static(if h {
                    ObjectLockLegalHoldStatus::ON
                } else {
                    ObjectLockLegalHoldStatus::OFF
                }));
        }
        // Only what the caller may see (s3:GetObjectRetention / s3:GetObjectLegalHold).
        super::gate_facts::LockVisibility::filter(
            $extensions,
            &mut $out.object_lock_mode,
            &mut $out.object_lock_retain_until_date,
            &mut $out.object_lock_legal_hold_status,
        );
    }};
}
pub(super) use set_lock;

/// The lock request headers of a PUT, copy or CreateMultipartUpload.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LockHeaders<'a> {
    pub mode: Option<&'a ObjectLockMode>,
    pub until: Option<&'a Timestamp>,
    pub hold: Option<&'a ObjectLockLegalHoldStatus>,
}

/// The [`LockHeaders`] of an input (PutObject, CopyObject and CreateMultipartUpload name them
/// alike).
macro_rules! lock_headers {
    ($input:expr) => {
        super::object_lock::LockHeaders {
            mode: $input.object_lock_mode.as_ref(),
            until: $input.object_lock_retain_until_date.as_ref(),
            hold: $input.object_lock_legal_hold_status.as_ref(),
        }
    };
}
pub(super) use lock_headers;

impl LockHeaders<'_> {
    fn any(&self) -> bool {
        self.mode.is_some() || self.until.is_some() || self.hold.is_some()
    }
}

/// The bucket's parsed object-lock configuration, through the per-bucket config cache.
async fn cached_lock(
    store: &crate::storage::FsStore,
    bucket: &str,
) -> std::result::Result<Option<Arc<BucketLock>>, crate::storage::StorageError> {
    store
        .bucket_config_parsed(bucket, CONFIG, |b| {
            serde_json::from_slice::<BucketLock>(b).map_err(|e| e.to_string())
        })
        .await
}

/// Whether `bucket` has object lock (`false` also when it cannot be read: the caller then
/// shows no lock state, and the request itself reports the bucket's error).
pub(crate) async fn bucket_has_lock(store: &crate::storage::FsStore, bucket: &str) -> bool {
    matches!(cached_lock(store, bucket).await, Ok(Some(_)))
}

impl ObjectServer {
    /// The bucket's object-lock configuration (`None`: the bucket has no object lock).
    pub(super) async fn bucket_lock(&self, bucket: &str) -> Result<Option<BucketLock>> {
        Ok(cached_lock(&self.store, bucket)
            .await?
            .map(|l| (*l).clone()))
    }

    /// Stores `lock` as the bucket's configuration.
    pub(super) async fn set_bucket_lock(&self, bucket: &str, lock: &BucketLock) -> Result<()> {
        let doc = serde_json::to_vec(lock).map_err(Error::internal)?;
        self.store
            .set_bucket_config(bucket, CONFIG, Some(doc))
            .await?;
        Ok(())
    }

    /// The lock state of a new version of `bucket`: the request headers (both mode and date
    /// or neither; 400 `InvalidRequest` on a bucket without object lock), else — with
    /// `default` — the bucket's default retention.
    pub(super) async fn new_object_lock(
        &self,
        bucket: &str,
        h: LockHeaders<'_>,
        default: bool,
    ) -> Result<LockState> {
        if !h.any() && !default {
            return Ok(LockState::default());
        }
        let Some(cfg) = self.bucket_lock(bucket).await? else {
            return if h.any() {
                Err(missing_config())
            } else {
                Ok(LockState::default())
            };
        };
        let now = OffsetDateTime::now_utc();
        let retention = match (h.mode, h.until) {
            (Some(m), Some(u)) => Some(Retention {
                mode: Mode::parse(m.as_str()).ok_or_else(|| {
                    Error::InvalidArgument("Unknown wormMode directive.".to_owned())
                })?,
                until: future_date(u, now)?,
            }),
            (None, None) => default
                .then_some(cfg.rule)
                .flatten()
                .map(|r| r.retention(now)),
            _ => {
                return Err(Error::InvalidArgument(
                    "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
                        .to_owned(),
                ));
            }
        };
        let legal_hold = h.hold.map(|s| parse_hold(s.as_str())).transpose()?;
        Ok(LockState {
            retention,
            legal_hold,
        })
    }

    /// CompleteMultipartUpload: the bucket's default retention for a new version whose upload
    /// named none.
    pub(super) async fn complete_object_lock(
        &self,
        bucket: &str,
        internal: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        if internal.contains_key(META_MODE) {
            return Ok(());
        }
        if let Some(rule) = self.bucket_lock(bucket).await?.and_then(|c| c.rule) {
            let mut state = LockState::from_internal(internal);
            state.retention = Some(rule.retention(OffsetDateTime::now_utc()));
            state.store(internal);
        }
        Ok(())
    }

    /// PutBucketVersioning: a bucket with object lock cannot be suspended (409).
    pub(super) async fn check_versioning_change(&self, bucket: &str, enabled: bool) -> Result<()> {
        if !enabled && self.bucket_lock(bucket).await?.is_some() {
            return Err(Error::InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
            ));
        }
        Ok(())
    }

    /// CreateBucket with `x-amz-bucket-object-lock-enabled: true`: versioning `Enabled` and
    /// object lock without default retention.
    pub(super) async fn create_bucket_lock(&self, bucket: &str, enabled: bool) -> Result<()> {
        if !enabled {
            return Ok(());
        }
        self.store
            .set_bucket_config(bucket, "versioning", Some(b"Enabled".to_vec()))
            .await?;
        self.set_bucket_lock(bucket, &BucketLock::default()).await
    }
}

/// `ON` / `OFF` → the legal hold.
pub(super) fn parse_hold(s: &str) -> Result<bool> {
    match s {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        _ => Err(Error::InvalidArgument(
            "Legal Hold must be either of 'ON' or 'OFF'".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests;
