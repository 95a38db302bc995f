//! The conditional update on Secrets Manager, which has no compare-and-swap.
//!
//! A [`Revision`] is the `VersionId` of the secret's current version
//! (`AWSCURRENT`). [`update`] from revision `old`:
//!
//! 1. reads the current version (`GetSecretValue`): missing →
//!    [`Error::NotFound`], another `VersionId` → [`Error::Conflict`];
//! 2. writes the new value with `PutSecretValue` and a `ClientRequestToken`
//!    **derived from `old`** ([`next_version_id`]: SHA-256 of `old`, 64 hex
//!    characters). The token becomes the new version's `VersionId` and the
//!    service moves `AWSCURRENT` to it.
//!
//! # How atomic it is
//! Within one process, the caller holds the name's lock (`crate::locks`)
//! around both steps, so this process's updates of one name never
//! interleave: the second one from `old` fails step 1.
//!
//! Across processes, step 2 is where the service decides. A version ID can
//! hold only one value: a `PutSecretValue` whose token already names a
//! version with another value fails with `ResourceExistsException`, and one
//! with the same value is accepted without change. So of writers in several
//! processes updating from the same `old` with different values exactly
//! one creates version `next_version_id(old)`; the others get
//! [`Error::Conflict`]. A writer holding a stale `old` is stopped by step 1.
//! The remaining cross-process windows, all between step 1 and step 2 of
//! one writer:
//!
//! - a writer that read `old`, passed step 1, and then waited while **more
//!   than one** other update went through could still put its version on
//!   top — only if `next_version_id(old)` no longer exists, i.e. the service
//!   had already purged that version (it keeps roughly the last 100
//!   unlabelled versions);
//! - the key is deleted and re-created by name in between: the put then
//!   lands on the new secret (a re-created key's first version has a random
//!   ID, so its revision never equals `old`, but step 2 does not re-check);
//! - two processes updating from `old` to byte-identical new values both
//!   succeed (the second is the same request to the service) and return the
//!   same revision. The stored value is exactly what each wrote; only a
//!   caller counting its successes (an increment) would count one too many.
//!   The server's rotations carry fresh random key material, so they never
//!   collide this way;
//! - a delete racing step 2 either comes after it or makes the put fail
//!   with `ResourceNotFoundException` ([`Error::NotFound`]): an update never
//!   re-creates a key.
//!
//! After the put, a response whose version is not `AWSCURRENT` is reported
//! as [`Error::Conflict`].
//!
//! The SDK's retries resend the same token, so a retried update that had in
//! fact succeeded is acknowledged, not refused.

use aws_lc_rs::digest::{SHA256, digest};
use aws_sdk_secretsmanager::Client;
use zeroize::Zeroizing;

use super::error::{Failure, classify};
use super::ops::{self, Payload};
use crate::{Error, Revision, validate_name};

/// The staging label of a secret's current version.
const CURRENT: &str = "AWSCURRENT";

/// Domain separation for [`next_version_id`].
const TOKEN_DOMAIN: &[u8] = b"kes-aws-update-v1\0";

/// The `VersionId` an update from `old` writes: the lower-case hex SHA-256
/// of `old` (64 characters, within Secrets Manager's 32–64).
pub(super) fn next_version_id(old: &Revision) -> String {
    let mut input = TOKEN_DOMAIN.to_vec();
    input.extend_from_slice(old.as_bytes());
    ops::hex(digest(&SHA256, &input).as_ref())
}

/// The current value and its revision.
pub(super) async fn get_versioned(
    client: &Client,
    name: &str,
) -> Result<(Zeroizing<Vec<u8>>, Revision), Error> {
    ops::read(client, name).await
}

/// Replaces the value of `name` if its current version is `old`; see the
/// module documentation for exactly how atomic that is.
pub(super) async fn update(
    client: &Client,
    name: &str,
    old: &Revision,
    new: &[u8],
) -> Result<Revision, Error> {
    validate_name(name)?;
    let (_, current) = ops::read(client, name).await?;
    if current != *old {
        return Err(Error::Conflict);
    }
    let token = next_version_id(old);
    let req = client
        .put_secret_value()
        .secret_id(name)
        .client_request_token(token.clone());
    let req = match Payload::of(new) {
        Payload::Text(s) => req.secret_string(s),
        Payload::Binary(b) => req.secret_binary(b),
    };
    match req.send().await {
        Ok(out) => {
            if !out.version_stages().iter().any(|s| s == CURRENT) {
                return Err(Error::Conflict);
            }
            let version = out.version_id.unwrap_or(token);
            Ok(Revision::from_bytes(version.into_bytes()))
        }
        Err(err) => match classify(&err) {
            Failure::Exists => Err(Error::Conflict),
            other => Err(other.into_error("update", name)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_version_id_is_a_valid_token_fixed_by_the_old_one() {
        let a = Revision::from_bytes(b"a1b2c3d4-0000-4000-8000-000000000001".to_vec());
        let b = Revision::from_bytes(b"a1b2c3d4-0000-4000-8000-000000000002".to_vec());
        let next = next_version_id(&a);
        assert_eq!(next.len(), 64);
        assert!(next.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(next, next_version_id(&a), "racing writers share it");
        assert_ne!(next, next_version_id(&b));
        let chained = Revision::from_bytes(next.clone().into_bytes());
        assert_ne!(next_version_id(&chained), next, "each update moves on");
    }
}
