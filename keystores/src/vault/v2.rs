//! K/V v2: `<engine>/data/<prefix>/<name>`, versioned, check-and-set.
//!
//! # Atomicity
//! - create writes with `options.cas = 0`: Vault accepts it only if the
//!   secret has no version, so of concurrent creates (from any number of
//!   processes) exactly one wins; the others get [`Error::KeyExists`].
//! - update reads the current version, compares it with the expected
//!   revision and writes with `cas = <that version>`: Vault rejects the
//!   write if another writer got there first ([`Error::Conflict`]), also
//!   across processes.
//! - delete removes the metadata, i.e. every version (`DELETE
//!   <engine>/metadata/<prefix>/<name>`), after checking that it exists.
//!
//! # Revisions
//! The version number (8 bytes, big-endian) followed by the version's
//! `created_time`. Versions restart at 1 when a key is deleted and created
//! again; the creation time tells the two incarnations apart, so a revision
//! read before a delete never matches the re-created key. Vault's
//! check-and-set itself only compares version numbers: a delete and
//! re-create by another process between our read and our write (a window
//! of one request) would not be noticed. Within one process the caller's
//! name lock (held by update and delete) closes that window.
//!
//! A secret whose newest version was soft-deleted by hand (`DELETE
//! <engine>/data/…`) reads as [`Error::NotFound`] but cannot be created
//! again ([`Error::KeyExists`]) until its metadata is deleted.

use vaultrs::api::kv2::requests::{ReadSecretRequest, SetSecretRequestOptions};

use super::error::Failure;
use super::kv::{Ctx, Fields};
use zeroize::Zeroizing;

use crate::{Error, Revision};

fn revision(version: u64, created_time: &str) -> Revision {
    let mut bytes = version.to_be_bytes().to_vec();
    bytes.extend_from_slice(created_time.as_bytes());
    Revision::from_bytes(bytes)
}

/// The newest version of `name`: its fields, version number and revision;
/// `None` if there is none.
async fn read(cx: &Ctx<'_>, name: &str) -> Result<Option<(Fields, u64, Revision)>, Error> {
    let location = cx.kv.location("data", name);
    let request = ReadSecretRequest::builder()
        .mount(cx.kv.engine.as_str())
        .path(cx.kv.path(name))
        .build()
        .map_err(|e| Error::backend(format!("vault: read request for '{location}': {e}")))?;
    match vaultrs::api::exec_with_result(&*cx.client, request).await {
        Ok(res) => {
            let fields = cx.kv.fields(&res.data, name, &location)?;
            let meta = res.metadata;
            Ok(Some((
                fields,
                meta.version,
                revision(meta.version, &meta.created_time),
            )))
        }
        Err(err) => match cx.failure(&err) {
            Failure::Missing => Ok(None),
            other => Err(other.into_error("read", &location)),
        },
    }
}

/// Writes `fields` as a new version if the current version is `cas`
/// (0 = none yet); `Ok(None)` if it is not.
async fn write(
    cx: &Ctx<'_>,
    name: &str,
    fields: &Fields,
    cas: u64,
    op: &str,
) -> Result<Option<Revision>, Error> {
    let location = cx.kv.location("data", name);
    let cas = u32::try_from(cas).map_err(|_| {
        Error::backend(format!(
            "vault: failed to {op} '{location}': version {cas} too large"
        ))
    })?;
    let result = vaultrs::kv2::set_with_options(
        &*cx.client,
        &cx.kv.engine,
        &cx.kv.path(name),
        &fields.map(name),
        SetSecretRequestOptions { cas },
    )
    .await;
    match result {
        Ok(meta) => Ok(Some(revision(meta.version, &meta.created_time))),
        Err(err) => match cx.failure(&err) {
            Failure::CasMismatch => Ok(None),
            other => Err(other.into_error(op, &location)),
        },
    }
}

pub(super) async fn get(cx: &Ctx<'_>, name: &str) -> Result<(Zeroizing<Vec<u8>>, Revision), Error> {
    let (fields, _, rev) = read(cx, name).await?.ok_or(Error::NotFound)?;
    let value = cx.open(&fields, &cx.kv.location("data", name)).await?;
    Ok((value, rev))
}

/// Create with `cas = 0`.
pub(super) async fn create(cx: &Ctx<'_>, name: &str, value: &[u8]) -> Result<(), Error> {
    let fields = cx.seal(value).await?;
    match write(cx, name, &fields, 0, "create").await? {
        Some(_) => Ok(()),
        None => Err(Error::KeyExists),
    }
}

/// Update with `cas = <current version>`.
pub(super) async fn update(
    cx: &Ctx<'_>,
    name: &str,
    expected: &Revision,
    value: &[u8],
) -> Result<Revision, Error> {
    let (_, version, current) = read(cx, name).await?.ok_or(Error::NotFound)?;
    if current != *expected {
        return Err(Error::Conflict);
    }
    let fields = cx.seal(value).await?;
    match write(cx, name, &fields, version, "update").await? {
        Some(rev) => Ok(rev),
        // Someone else wrote (Conflict), or deleted the key (NotFound).
        None => match read(cx, name).await? {
            Some(_) => Err(Error::Conflict),
            None => Err(Error::NotFound),
        },
    }
}

/// Delete all versions (the metadata), `NotFound` if there is none.
pub(super) async fn delete(cx: &Ctx<'_>, name: &str) -> Result<(), Error> {
    let location = cx.kv.location("metadata", name);
    let path = cx.kv.path(name);
    if let Err(err) = vaultrs::kv2::read_metadata(&*cx.client, &cx.kv.engine, &path).await {
        return Err(cx.missing_on_delete(&err, &location));
    }
    vaultrs::kv2::delete_metadata(&*cx.client, &cx.kv.engine, &path)
        .await
        .map_err(|e| cx.error(&e, "delete", &location))
}
