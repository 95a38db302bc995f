//! Rule evaluation: S3's age arithmetic and the plan for one key's versions. Pure functions of
//! the versions, the rules and the current time (`now`, Unix nanoseconds), so tests move the
//! clock instead of waiting.
//!
//! * Age: an object created at `t` with a `Days = N` rule is due at the first midnight UTC
//!   after `t + N` days (S3: "rounds the resulting time to the next day midnight UTC"); a
//!   noncurrent version with `NoncurrentDays = N` counts from the moment it became noncurrent
//!   (the creation of its successor); an upload with `DaysAfterInitiation = N` from its
//!   initiation.
//! * `Date` rules apply to every matching current version once `now` ≥ the date.
//! * Delete markers match on the prefix only (they have no tags and no size). A delete marker
//!   without older versions is removed by `ExpiredObjectDeleteMarker`, or by a `Days` rule
//!   once the marker itself is old enough (S3 does this cleanup for `Days` rules too).

use super::config::{Expiration, Filter, Rule};
use crate::storage::ObjectMeta;

const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// When an object created at `created_ns` is due under a `days` rule: the first midnight UTC
/// strictly after `created + days`.
pub fn due_after_days(created_ns: u64, days: u32) -> u64 {
    let shifted = created_ns.saturating_add(DAY_NS.saturating_mul(u64::from(days)));
    (shifted / DAY_NS).saturating_add(1).saturating_mul(DAY_NS)
}

impl Filter {
    /// Whether an object with `key`, `tags` and plaintext `size` is selected.
    pub fn matches(&self, key: &str, tags: &[(String, String)], size: u64) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.iter().all(|t| tags.contains(t))
            && self.size_greater_than.is_none_or(|gt| size > gt)
            && self.size_less_than.is_none_or(|lt| size < lt)
    }

    /// Whether a delete marker of `key` is selected (prefix only).
    pub fn matches_marker(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
            && self.tags.is_empty()
            && self.size_greater_than.is_none()
            && self.size_less_than.is_none()
    }
}

/// One version of a key as the planner sees it.
#[derive(Debug, Clone)]
pub struct Version {
    /// Its metadata.
    pub meta: ObjectMeta,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// What to do with one key (applied in this order).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Noncurrent versions to delete permanently: `(version id as shown, rule id)`.
    pub noncurrent: Vec<(String, String)>,
    /// Expire the current version (delete it, or cover it with a delete marker): rule id.
    pub current: Option<String>,
    /// Remove the current delete marker (it has no older versions left): rule id.
    pub lone_marker: Option<String>,
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.noncurrent.is_empty() && self.current.is_none() && self.lone_marker.is_none()
    }
}

/// Whether the current object version `v` of `key` is expired by `rule` at `now`.
pub fn current_expired(rule: &Rule, key: &str, v: &Version, now: u64) -> bool {
    if !rule.enabled || v.meta.delete_marker || !rule.filter.matches(key, &v.tags, v.meta.size) {
        return false;
    }
    match rule.expiration {
        Some(Expiration::Days(d)) => due_after_days(v.meta.last_modified_ns, d) <= now,
        Some(Expiration::Date(secs)) => {
            // A date before 1970 has passed for every object.
            u64::try_from(secs).map_or(true, |s| s.saturating_mul(1_000_000_000) <= now)
        }
        Some(Expiration::DeleteMarker) | None => false,
    }
}

/// Whether the noncurrent version `v` of `key` — `position` newer noncurrent versions exist, it
/// became noncurrent at `since_ns` — is expired by `rule` at `now`.
pub fn noncurrent_expired(
    rule: &Rule,
    key: &str,
    v: &Version,
    position: usize,
    since_ns: u64,
    now: u64,
) -> bool {
    let Some(n) = rule.noncurrent.filter(|_| rule.enabled) else {
        return false;
    };
    let selected = if v.meta.delete_marker {
        rule.filter.matches_marker(key)
    } else {
        rule.filter.matches(key, &v.tags, v.meta.size)
    };
    selected
        && position >= usize::try_from(n.keep_newer).unwrap_or(usize::MAX)
        && due_after_days(since_ns, n.days) <= now
}

/// Whether `rule` removes the delete marker `marker` of `key` once it has no older versions:
/// `ExpiredObjectDeleteMarker`, or — as S3 does — a `Days` expiration the marker is old enough
/// for.
fn marker_expired(rule: &Rule, key: &str, marker: &ObjectMeta, now: u64) -> bool {
    rule.filter.matches_marker(key)
        && match rule.expiration {
            Some(Expiration::DeleteMarker) => true,
            Some(Expiration::Days(d)) => due_after_days(marker.last_modified_ns, d) <= now,
            Some(Expiration::Date(_)) | None => false,
        }
}

/// The plan for `key` whose versions are `versions` (current first, then noncurrent newest
/// first; an unversioned key has just the current one).
pub fn plan(rules: &[Rule], key: &str, versions: &[Version], now: u64) -> Plan {
    let mut out = Plan::default();
    let Some((current, older)) = versions.split_first() else {
        return out;
    };
    let mut kept = 0usize;
    for (i, v) in older.iter().enumerate() {
        // It became noncurrent when the next newer version was written.
        let since = versions
            .get(i)
            .map_or(v.meta.last_modified_ns, |newer| newer.meta.last_modified_ns);
        let hit = rules
            .iter()
            .find(|r| noncurrent_expired(r, key, v, i, since, now));
        match hit {
            Some(r) => out.noncurrent.push((
                crate::storage::versions::shown_version_id(&v.meta).to_owned(),
                r.id.clone(),
            )),
            None => kept += 1,
        }
    }
    if current.meta.delete_marker {
        if kept == 0 {
            out.lone_marker = rules
                .iter()
                .find(|r| r.enabled && marker_expired(r, key, &current.meta, now))
                .map(|r| r.id.clone());
        }
    } else {
        out.current = rules
            .iter()
            .find(|r| current_expired(r, key, current, now))
            .map(|r| r.id.clone());
    }
    out
}

#[cfg(test)]
mod tests;
