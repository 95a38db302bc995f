//! K/V v1: `<engine>/<prefix>/<name>`, no versions, no check-and-set.
//!
//! # Atomicity (best effort, documented)
//! K/V v1 has no conditional write, so every write reads first and then
//! writes, as KES's create does. The caller holds the name's lock
//! (`locks::NameLocks`) around each write, which makes them atomic among
//! the writers of this process. Two processes on one Vault can still race:
//! two creates of one name may both succeed (the later write wins), and an
//! update may overwrite a concurrent update or re-create a key deleted in
//! between. Use K/V v2 when several servers share one Vault.
//!
//! # Revisions
//! SHA-256 of the stored text (and whether it is base64), like the fs
//! backend's digest of the value: equal exactly when the stored secret is
//! unchanged.

use aws_lc_rs::digest;

use super::error::Failure;
use super::kv::{Ctx, Fields};
use zeroize::Zeroizing;

use crate::{Error, Revision};

/// The revision of stored fields.
fn revision(fields: &Fields) -> Revision {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[u8::from(fields.is_base64())]);
    ctx.update(fields.text().as_bytes());
    Revision::from_bytes(ctx.finish().as_ref())
}

/// The fields stored for `name`, `None` if there is no secret.
async fn read(cx: &Ctx<'_>, name: &str) -> Result<Option<Fields>, Error> {
    let location = cx.kv.location("", name);
    match vaultrs::kv1::get_raw(&*cx.client, &cx.kv.engine, &cx.kv.path(name)).await {
        Ok(res) => cx.kv.fields(&res.data, name, &location).map(Some),
        Err(err) => match cx.failure(&err) {
            Failure::Missing => Ok(None),
            other => Err(other.into_error("read", &location)),
        },
    }
}

/// Writes `fields` as the whole secret of `name`.
async fn write(cx: &Ctx<'_>, name: &str, fields: &Fields, op: &str) -> Result<(), Error> {
    vaultrs::kv1::set(
        &*cx.client,
        &cx.kv.engine,
        &cx.kv.path(name),
        &fields.map(name),
    )
    .await
    .map_err(|e| cx.error(&e, op, &cx.kv.location("", name)))
}

pub(super) async fn get(cx: &Ctx<'_>, name: &str) -> Result<(Zeroizing<Vec<u8>>, Revision), Error> {
    let fields = read(cx, name).await?.ok_or(Error::NotFound)?;
    let value = cx.open(&fields, &cx.kv.location("", name)).await?;
    Ok((value, revision(&fields)))
}

/// Create: read, then write if absent. The caller holds the name's lock.
pub(super) async fn create(cx: &Ctx<'_>, name: &str, value: &[u8]) -> Result<(), Error> {
    if read(cx, name).await?.is_some() {
        return Err(Error::KeyExists);
    }
    let fields = cx.seal(value).await?;
    write(cx, name, &fields, "create").await
}

/// Update: read, compare the revision, write. The caller holds the lock.
pub(super) async fn update(
    cx: &Ctx<'_>,
    name: &str,
    expected: &Revision,
    value: &[u8],
) -> Result<Revision, Error> {
    let current = read(cx, name).await?.ok_or(Error::NotFound)?;
    if revision(&current) != *expected {
        return Err(Error::Conflict);
    }
    let fields = cx.seal(value).await?;
    write(cx, name, &fields, "update").await?;
    Ok(revision(&fields))
}

/// Delete: `NotFound` if there is no secret, else remove it. The caller
/// holds the lock.
pub(super) async fn delete(cx: &Ctx<'_>, name: &str) -> Result<(), Error> {
    let location = cx.kv.location("", name);
    if let Err(err) = vaultrs::kv1::get_raw(&*cx.client, &cx.kv.engine, &cx.kv.path(name)).await {
        return Err(cx.missing_on_delete(&err, &location));
    }
    vaultrs::kv1::delete(&*cx.client, &cx.kv.engine, &cx.kv.path(name))
        .await
        .map_err(|e| cx.error(&e, "delete", &location))
}
