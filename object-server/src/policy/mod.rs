//! Bucket policies (the IAM policy language subset S3 users write), Public Access Block and
//! the access check s3s runs before every operation.
//!
//! * [`document`] — parse/validate a policy (S3's `MalformedPolicy` messages, 20 KB limit),
//!   evaluate a request against it (explicit `Deny` wins, then `Allow`), "is it public".
//! * [`condition`] — `Condition` operators and keys; [`wildcard`] — `*`/`?` globs and CIDRs.
//! * [`actions`] — known S3 actions, their resource level, the action of each operation.
//! * [`config`] — the stored policy and Public Access Block of a bucket.
//! * [`access`] — `impl s3s::access::S3Access`: who is asking (root or anonymous), the request's
//!   condition keys, the decision.
//!
//! Decision rules (documented in the README, "Bucket policies"):
//! * The root user may do everything **except** what a bucket policy explicitly denies; the
//!   policy-management calls (Get/Put/DeleteBucketPolicy) are never denied to it, so a policy
//!   cannot lock the owner out.
//! * An anonymous (unsigned) request is allowed only when the bucket policy allows it (and
//!   `RestrictPublicBuckets` does not void a public policy) or a public ACL grants it (unless
//!   `IgnorePublicAcls`), and no statement denies it.

pub mod access;
pub mod actions;
pub mod condition;
pub mod config;
pub mod document;
pub mod wildcard;

pub use access::{ClientAddr, PolicyGate};
pub use document::{Decision, MAX_POLICY_BYTES, Policy, Request};

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An unsigned request.
    Anonymous,
    /// The root account (the only signing identity this server has).
    Root {
        /// Its access key.
        access_key: String,
    },
}

/// A refused policy document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// 400 `MalformedPolicy` with S3's message.
    #[error("{0}")]
    Malformed(String),
    /// 400 `PolicyTooLarge`: over [`MAX_POLICY_BYTES`].
    #[error("Policy exceeds the maximum allowed document size.")]
    TooLarge,
}
