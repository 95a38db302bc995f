//! Per-request facts the policy gate ([`crate::policy::PolicyGate`]) leaves in the request
//! extensions for the operation handlers, where S3 decides part of an answer per permission:
//!
//! * [`LockVisibility`]: GetObject/HeadObject show `x-amz-object-lock-mode` /
//!   `-retain-until-date` only to callers allowed `s3:GetObjectRetention`, and
//!   `x-amz-object-lock-legal-hold` only to callers allowed `s3:GetObjectLegalHold`. Without
//!   the fact (no gate ran) nothing is shown: fail closed.
//! * [`DeniedKeys`]: the DeleteObjects entries the policy refuses; the handler answers each of
//!   them with a per-key `AccessDenied` error and deletes the others, as S3 does.

use std::collections::HashSet;

use s3s::dto::{ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetainUntilDate};

/// Which object-lock headers a GET/HEAD may show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LockVisibility {
    /// `s3:GetObjectRetention` allowed.
    pub retention: bool,
    /// `s3:GetObjectLegalHold` allowed.
    pub legal_hold: bool,
}

impl LockVisibility {
    /// Clears the lock fields of a GET/HEAD answer the caller may not see.
    pub(crate) fn filter(
        ext: &http::Extensions,
        mode: &mut Option<ObjectLockMode>,
        until: &mut Option<ObjectLockRetainUntilDate>,
        hold: &mut Option<ObjectLockLegalHoldStatus>,
    ) {
        let v = ext.get::<LockVisibility>().copied().unwrap_or_default();
        if !v.retention {
            *mode = None;
            *until = None;
        }
        if !v.legal_hold {
            *hold = None;
        }
    }
}

/// DeleteObjects entries (key, version id) the policy denies.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeniedKeys {
    entries: HashSet<(String, Option<String>)>,
}

impl DeniedKeys {
    /// Records `key` (`version`) as denied.
    pub(crate) fn deny(&mut self, key: &str, version: Option<&str>) {
        self.entries
            .insert((key.to_owned(), version.map(str::to_owned)));
    }

    /// Whether the request in `ext` was denied deleting `key` (`version`).
    pub(crate) fn denied(ext: &http::Extensions, key: &str, version: Option<&str>) -> bool {
        ext.get::<DeniedKeys>().is_some_and(|d| {
            d.entries
                .contains(&(key.to_owned(), version.map(str::to_owned)))
        })
    }
}
