//! The Secrets Manager calls behind create, read, delete, list and status.
//!
//! # Layout (KES's)
//! One secret per key: the secret's name is the key name, its current
//! version (`AWSCURRENT`) holds the value. Values that are UTF-8 — every
//! value the server writes (`base64(protobuf)` or legacy JSON) — go into
//! `SecretString`, as KES writes them; other bytes into `SecretBinary`. A
//! read takes `SecretString` if present, else `SecretBinary`.
//!
//! # Calls
//! | operation | call |
//! |---|---|
//! | create | `CreateSecret` (name, value, `KmsKeyId` if configured, a random `ClientRequestToken`) |
//! | read | `GetSecretValue` (current version: value and `VersionId`) |
//! | delete | `GetSecretValue` (existence), then `DeleteSecret` with `ForceDeleteWithoutRecovery` |
//! | list | `ListSecrets` pages of 100, filtered and sorted here |
//! | status | `ListSecrets` with `MaxResults = 1` |

use std::time::Instant;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
use aws_sdk_secretsmanager::primitives::Blob;
use zeroize::Zeroizing;

use super::error::{Failure, classify, to_error};
use crate::paging::ListBudget;
use crate::{Error, Page, Revision, Status, list_page, validate_name};

/// `ListSecrets` page size (the service's maximum).
const LIST_PAGE: i32 = 100;

/// A value as the request wants it: `SecretString` or `SecretBinary`.
pub(super) enum Payload {
    Text(String),
    Binary(Blob),
}

impl Payload {
    /// UTF-8 values as text (KES's layout), anything else as binary.
    pub(super) fn of(value: &[u8]) -> Payload {
        match std::str::from_utf8(value) {
            Ok(s) => Payload::Text(s.to_owned()),
            Err(_) => Payload::Binary(Blob::new(value.to_vec())),
        }
    }
}

/// Lower-case hex of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A random `ClientRequestToken` (32 hex characters, the minimum length).
fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    hex(&bytes)
}

/// `CreateSecret`, never overwriting.
///
/// The request carries a fresh random `ClientRequestToken`, which becomes
/// the first version's ID. If the SDK retries a create whose first attempt
/// did succeed, the service finds that token with the same value and
/// answers success instead of `ResourceExistsException`; any other existing
/// secret gives `ResourceExistsException`, i.e. [`Error::KeyExists`].
pub(super) async fn create(
    client: &Client,
    kms_key: Option<&str>,
    name: &str,
    value: &[u8],
) -> Result<(), Error> {
    validate_name(name)?;
    let req = client
        .create_secret()
        .name(name)
        .client_request_token(random_token())
        .set_kms_key_id(kms_key.map(str::to_owned));
    let req = match Payload::of(value) {
        Payload::Text(s) => req.secret_string(s),
        Payload::Binary(b) => req.secret_binary(b),
    };
    match req.send().await {
        Ok(_) => Ok(()),
        Err(err) => match classify(&err) {
            Failure::Exists => Err(Error::KeyExists),
            other => Err(other.into_error("create", name)),
        },
    }
}

/// The value of the current version.
fn take_value(out: &mut GetSecretValueOutput) -> Option<Zeroizing<Vec<u8>>> {
    if let Some(s) = out.secret_string.take() {
        return Some(Zeroizing::new(s.into_bytes()));
    }
    out.secret_binary
        .take()
        .map(|b| Zeroizing::new(b.into_inner()))
}

/// `GetSecretValue` of the current version: its value and `VersionId` as
/// the [`Revision`].
pub(super) async fn read(
    client: &Client,
    name: &str,
) -> Result<(Zeroizing<Vec<u8>>, Revision), Error> {
    validate_name(name)?;
    let mut out = client
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| to_error(&e, "read", name))?;
    let value = take_value(&mut out)
        .ok_or_else(|| Error::backend(format!("aws: secret '{name}' has no value")))?;
    let version = out
        .version_id
        .take()
        .ok_or_else(|| Error::backend(format!("aws: secret '{name}' has no version ID")))?;
    Ok((value, Revision::from_bytes(version.into_bytes())))
}

/// `DeleteSecret` with `ForceDeleteWithoutRecovery` (as KES does), after a
/// read that turns a missing secret into [`Error::NotFound`]: a forced
/// delete of a missing secret succeeds at the service.
///
/// Two deletes racing each other may both succeed.
pub(super) async fn delete(client: &Client, name: &str) -> Result<(), Error> {
    read(client, name).await?;
    client
        .delete_secret()
        .secret_id(name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .map_err(|e| to_error(&e, "delete", name))?;
    Ok(())
}

/// All secret names (every page of `ListSecrets`), then one page of those
/// that are key names starting with `prefix` ([`list_page`]).
///
/// Secrets whose names are not valid key names (`kes/x`, another
/// application's `db.password`) cannot be addressed through the API and are
/// left out.
pub(super) async fn list(
    client: &Client,
    prefix: &str,
    continue_at: &str,
    limit: usize,
) -> Result<Page, Error> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut budget = ListBudget::new("aws");
    loop {
        let out = client
            .list_secrets()
            .max_results(LIST_PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| to_error(&e, "list", prefix))?;
        budget.charge(out.secret_list().len())?;
        names.extend(
            out.secret_list()
                .iter()
                .filter_map(|s| s.name())
                .filter(|n| n.starts_with(prefix) && validate_name(n).is_ok())
                .map(str::to_owned),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    Ok(list_page(names, prefix, continue_at, limit))
}

/// `ListSecrets` with one result: reachable and allowed ([`Status`]),
/// unreachable ([`Error::Unreachable`]), or reachable but refused
/// ([`Error::Backend`] saying "access denied").
pub(super) async fn status(client: &Client) -> Result<Status, Error> {
    let start = Instant::now();
    client
        .list_secrets()
        .max_results(1)
        .send()
        .await
        .map_err(|e| to_error(&e, "check", "status"))?;
    Ok(Status {
        latency: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_are_secret_strings_and_others_binary() {
        assert!(matches!(Payload::of(b"c2VjcmV0"), Payload::Text(s) if s == "c2VjcmV0"));
        assert!(matches!(
            Payload::of(b"{\"bytes\":\"x\"}"),
            Payload::Text(_)
        ));
        assert!(
            matches!(Payload::of(&[0xff, 0x00]), Payload::Binary(b) if b.as_ref() == [0xff, 0x00])
        );
        let token = random_token();
        assert_eq!(token.len(), 32);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(token, random_token());
    }
}
