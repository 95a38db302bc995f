//! The key lifecycle extension (kes-api.md "Extension: key disable/enable" and "Extension: key
//! versions, rotation, rewrap"): `/v1/ext/key/{disable,enable,rotate,rewrap,describe}/{name}`.
//!
//! Disable, enable and rotate change the stored value with a read-modify-write loop over the
//! keystore's compare-and-swap ([`keystores::Keystore::get_versioned`] /
//! [`keystores::Keystore::update`]): read the value and its revision, change it, write it back
//! only if the revision is unchanged, and on [`keystores::Error::Conflict`] (another writer, on
//! this server or another one sharing the keystore, got there first) read again and retry, at
//! most [`MAX_ATTEMPTS`] times (then 502 `failed to update key`). On this server, writers of one
//! name also queue on a lock first, so they rarely conflict. Whatever the outcome, the name is
//! then evicted from the key cache, so this server's next request reads the new state; other
//! servers see it within `cache.expiry.state`. A change that changes nothing (disabling a
//! disabled key) writes nothing.
//!
//! The stored value of a key that is only disabled and enabled again is byte-identical to the
//! original (see `crypto::ring`).

use std::time::Duration;

use client::wire::{
    Base64, DescribeKeyExtResponse, KeyVersionInfo, RewrapRequest, RewrapResponse,
    RotateKeyResponse,
};
use http::Response;

use super::key::{GO_ZERO_TIME, created_by, crypto_error, key_name, load, usable};
use super::{ApiError, Body, KeystoreOp, Request, empty, json};
use crate::crypto::{self, Cipher, StoredRing};
use crate::state::State;

/// Most compare-and-swap attempts of one disable, enable or rotate.
pub(super) const MAX_ATTEMPTS: u32 = 32;

/// `PUT|POST /v1/ext/key/disable/{name}`: generate, encrypt, decrypt, bulk decrypt, HMAC and
/// rewrap answer 403 `key is disabled` until the key is enabled again.
pub(super) async fn disable(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    mutate(state, name, |ring| Ok(((), ring.set_disabled(true)))).await?;
    tracing::info!(key = name, "secret key disabled");
    empty()
}

/// `PUT|POST /v1/ext/key/enable/{name}`: clears the disabled mark.
pub(super) async fn enable(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    mutate(state, name, |ring| Ok(((), ring.set_disabled(false)))).await?;
    tracing::info!(key = name, "secret key enabled");
    empty()
}

/// `PUT|POST /v1/ext/key/rotate/{name}`: adds a version (allowed while disabled; the key stays
/// disabled) and answers `{"version": <its number>}`.
pub(super) async fn rotate(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let by = created_by(&req);
    let version = mutate(state, name, |ring| {
        let n = ring.rotate(&by).map_err(|e| match e {
            crypto::Error::InvalidStoredKey => invalid(name, e),
            other => crypto_error(other, "failed to generate encryption key"),
        })?;
        Ok((n, true))
    })
    .await?;
    tracing::info!(key = name, version, "secret key rotated");
    json(&RotateKeyResponse { version })
}

/// `PUT|POST /v1/ext/key/rewrap/{name}`: `{"ciphertext","context"?}` of any version →
/// `{"ciphertext"}` of the same plaintext under the newest version, same context. The plaintext
/// never leaves the server.
pub(super) async fn rewrap(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let body: RewrapRequest = req.json(ApiError::InvalidBody)?;
    let key = usable(state, name).await?;
    let plaintext = key
        .ring
        .decrypt(body.ciphertext.as_bytes(), body.context_bytes())
        .map_err(|e| crypto_error(e, "failed to decrypt ciphertext"))?;
    let ciphertext = key
        .ring
        .encrypt(&plaintext, body.context_bytes())
        .map_err(|e| crypto_error(e, "failed to encrypt plaintext"))?;
    json(&RewrapResponse {
        ciphertext: Base64(ciphertext),
    })
}

/// `GET /v1/ext/key/describe/{name}`: version 0's metadata (as `/v1/key/describe`), whether the
/// key is enabled, and every version, newest last. Works while disabled.
pub(super) async fn describe(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let key = load(state, name).await?;
    let first = key.ring.first();
    json(&DescribeKeyExtResponse {
        name: name.to_owned(),
        algorithm: first
            .algorithm()
            .unwrap_or(Cipher::Aes256)
            .as_str()
            .to_owned(),
        created_at: first.created_at().unwrap_or(GO_ZERO_TIME),
        created_by: first.created_by().to_owned(),
        enabled: !key.ring.is_disabled(),
        versions: key
            .ring
            .versions()
            .map(|(version, v)| KeyVersionInfo {
                version,
                created_at: v.created_at().unwrap_or(GO_ZERO_TIME),
                created_by: v.created_by().to_owned(),
            })
            .collect(),
    })
}

/// A stored value that does not decode: 502 `failed to read key`, cause logged (never the value).
fn invalid(name: &str, err: crypto::Error) -> ApiError {
    ApiError::Keystore {
        op: KeystoreOp::Read,
        source: keystores::Error::backend(format!(
            "stored value of key '{name}' is invalid: {err}"
        )),
    }
}

/// Applies `change` to the stored key `name` atomically (module docs) and returns its output.
/// `change` returns its output and whether it changed the ring; it may run several times (once
/// per attempt), each time on the freshly read value.
async fn mutate<T>(
    state: &State,
    name: &str,
    mut change: impl FnMut(&mut StoredRing) -> Result<(T, bool), ApiError>,
) -> Result<T, ApiError> {
    let guard = state.cache.write_lock(name).await;
    let result = write_loop(state, name, &mut change).await;
    state.cache.evict(name);
    drop(guard);
    result
}

async fn write_loop<T>(
    state: &State,
    name: &str,
    change: &mut impl FnMut(&mut StoredRing) -> Result<(T, bool), ApiError>,
) -> Result<T, ApiError> {
    let failed = |e| ApiError::keystore(KeystoreOp::Update, e);
    for attempt in 1..=MAX_ATTEMPTS {
        let current = state.keystore.get_versioned(name).await.map_err(failed)?;
        let mut ring = StoredRing::parse(&current.value).map_err(|e| invalid(name, e))?;
        // Never rewrite a value this server could not read.
        ring.decode().map_err(|e| invalid(name, e))?;
        let (out, changed) = change(&mut ring)?;
        if !changed {
            return Ok(out);
        }
        match state
            .keystore
            .update(name, &current.revision, &ring.encode())
            .await
        {
            Ok(_) => return Ok(out),
            Err(keystores::Error::Conflict) => {
                // Another writer won this round: back off a little (randomised, growing) so
                // contending servers do not retry in lockstep, then read again.
                let max_ms = u64::from(attempt.min(8)) * 2;
                let pause = Duration::from_millis(rand::random_range(1..=max_ms));
                tokio::time::sleep(pause).await;
            }
            Err(e) => return Err(failed(e)),
        }
    }
    Err(failed(keystores::Error::Conflict))
}
