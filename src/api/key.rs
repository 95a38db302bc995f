//! Key handlers: create, import, describe, list, delete, encrypt, generate,
//! decrypt, bulk decrypt and HMAC (kes-api.md §1.2, §6).
//!
//! Keys are read through the decoded-key cache ([`crate::keycache`]); the
//! cryptographic operations refuse a disabled key (403 `key is disabled`,
//! admin included), describe and list do not. Writes go to the keystore and
//! then evict the name from the cache.

use std::sync::Arc;

use client::wire::{
    Base64, BulkDecryptItem, DecryptRequest, DecryptResponse, DescribeKeyResponse, EncryptRequest,
    EncryptResponse, GenerateRequest, GenerateResponse, HmacRequest, HmacResponse,
    ImportKeyRequest, ListKeysResponse, SecretBase64,
};
use http::Response;
use time::OffsetDateTime;
use time::macros::datetime;
use zeroize::Zeroizing;

use super::{ApiError, Body, KeystoreOp, Request, empty, json};
use crate::crypto::{self, Cipher, KeyVersion};
use crate::keycache::CachedKey;
use crate::names::{pattern_prefix, valid_name, valid_pattern};
use crate::state::State;

/// Go's zero `time.Time`, what KES reports for keys stored without a date.
pub(super) const GO_ZERO_TIME: OffsetDateTime = datetime!(0001-01-01 0:00 UTC);

/// Most ciphertexts in one bulk decrypt request.
pub(super) const MAX_BULK: usize = 1000;

pub(super) fn key_name(req: &Request) -> Result<&str, ApiError> {
    let name = req.resource.as_str();
    if valid_name(name) {
        Ok(name)
    } else {
        Err(ApiError::InvalidKeyName(name.to_owned()))
    }
}

pub(super) fn created_by(req: &Request) -> String {
    req.identity
        .as_ref()
        .map(|i| i.as_str().to_owned())
        .unwrap_or_default()
}

/// The decoded key from the cache, whatever its state; a stored value that
/// does not decode is a 502 read failure.
pub(super) async fn load(state: &State, name: &str) -> Result<Arc<CachedKey>, ApiError> {
    state
        .cache
        .get(name)
        .await
        .map_err(|e| ApiError::keystore(KeystoreOp::Read, e))
}

/// [`load`] for a cryptographic operation: 403 `key is disabled` unless enabled.
pub(super) async fn usable(state: &State, name: &str) -> Result<Arc<CachedKey>, ApiError> {
    let key = load(state, name).await?;
    if key.ring.is_disabled() {
        return Err(ApiError::KeyDisabled);
    }
    Ok(key)
}

async fn store(state: &State, name: &str, key: &KeyVersion) -> Result<(), ApiError> {
    let res = state.keystore.create(name, &key.encode()).await;
    state.cache.evict(name);
    res.map_err(|e| ApiError::keystore(KeystoreOp::Create, e))
}

pub(super) fn crypto_error(err: crypto::Error, internal: &'static str) -> ApiError {
    match err {
        crypto::Error::NotAuthentic => ApiError::NotAuthentic,
        crypto::Error::NoHmacKey => ApiError::NoHmac,
        crypto::Error::InvalidKeySize
        | crypto::Error::InvalidStoredKey
        | crypto::Error::Random
        | crypto::Error::Internal(_) => ApiError::Internal(internal),
    }
}

/// `PUT|POST /v1/key/create/{name}`: a new AES256 key with its own HMAC key.
pub(super) async fn create(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let key = KeyVersion::generate(&created_by(&req))
        .map_err(|e| crypto_error(e, "failed to generate encryption key"))?;
    store(state, name, &key).await?;
    tracing::info!(key = name, "secret key created");
    empty()
}

/// `PUT|POST /v1/key/import/{name}`: `{"key","cipher"}` or legacy `{"bytes","algorithm"}`.
pub(super) async fn import(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let body: ImportKeyRequest = req.json(ApiError::InvalidImportBody)?;
    let cipher_name = if body.cipher.is_empty() {
        "AES256"
    } else {
        body.cipher.as_str()
    };
    let cipher = Cipher::parse(cipher_name)
        .ok_or_else(|| ApiError::UnsupportedAlgorithm(body.cipher.clone()))?;
    let key =
        KeyVersion::import(cipher, body.key.as_bytes(), &created_by(&req)).map_err(
            |e| match e {
                crypto::Error::InvalidKeySize => ApiError::InvalidKeySize(cipher_name.to_owned()),
                other => crypto_error(other, "failed to create key"),
            },
        )?;
    store(state, name, &key).await?;
    tracing::info!(key = name, "secret key imported");
    empty()
}

/// `GET /v1/key/describe/{name}`: metadata only, never key material; upstream's
/// shape, describing version 0 (the key as created or imported).
pub(super) async fn describe(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let cached = load(state, name).await?;
    let key = cached.ring.first();
    json(&DescribeKeyResponse {
        name: name.to_owned(),
        algorithm: key
            .algorithm()
            .unwrap_or(Cipher::Aes256)
            .as_str()
            .to_owned(),
        // Legacy keys without metadata: Go's zero time, as KES reports it.
        created_at: key.created_at().unwrap_or(GO_ZERO_TIME),
        created_by: key.created_by().to_owned(),
    })
}

/// `GET /v1/key/list/{pattern}`: all names with the pattern's prefix, one page.
pub(super) async fn list(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    if !valid_pattern(&req.resource) {
        return Err(ApiError::InvalidPattern(req.resource.clone()));
    }
    let page = state
        .keystore
        .list(pattern_prefix(&req.resource), "", 0)
        .await
        .map_err(|e| ApiError::keystore(KeystoreOp::List, e))?;
    json(&ListKeysResponse {
        names: page.names,
        continue_at: page.next.unwrap_or_default(),
    })
}

/// `DELETE /v1/key/delete/{name}`.
pub(super) async fn delete(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let res = state.keystore.delete(name).await;
    state.cache.evict(name);
    res.map_err(|e| ApiError::keystore(KeystoreOp::Delete, e))?;
    tracing::info!(key = name, "secret key deleted");
    empty()
}

/// `PUT|POST /v1/key/encrypt/{name}`.
pub(super) async fn encrypt(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let body: EncryptRequest = req.json(ApiError::InvalidBody)?;
    let key = usable(state, name).await?;
    let ciphertext = key
        .ring
        .encrypt(body.plaintext.as_bytes(), body.context_bytes())
        .map_err(|e| crypto_error(e, "failed to encrypt plaintext"))?;
    json(&EncryptResponse {
        ciphertext: Base64(ciphertext),
    })
}

/// `PUT|POST /v1/key/generate/{name}`: a fresh 32-byte data key, in plain and sealed.
pub(super) async fn generate(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let body: GenerateRequest = if req.body.is_empty() {
        GenerateRequest::default()
    } else {
        req.json(ApiError::InvalidBody)?
    };
    let key = usable(state, name).await?;
    let dek =
        crypto::generate_dek().map_err(|e| crypto_error(e, "failed to generate encryption key"))?;
    let ciphertext = key
        .ring
        .encrypt(dek.as_ref(), body.context_bytes())
        .map_err(|e| crypto_error(e, "failed to generate encryption key"))?;
    json(&GenerateResponse {
        plaintext: SecretBase64(Zeroizing::new(dek.to_vec())),
        ciphertext: Base64(ciphertext),
    })
}

/// `PUT|POST /v1/key/decrypt/{name}`: current, msgpack and JSON ciphertexts.
pub(super) async fn decrypt(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let body: DecryptRequest = req.json(ApiError::InvalidBody)?;
    let key = usable(state, name).await?;
    let plaintext = key
        .ring
        .decrypt(body.ciphertext.as_bytes(), body.context_bytes())
        .map_err(|e| crypto_error(e, "failed to decrypt ciphertext"))?;
    json(&DecryptResponse {
        plaintext: SecretBase64(plaintext),
    })
}

/// `POST /v1/key/bulk/decrypt/{name}` (legacy): at most [`MAX_BULK`] items;
/// any failing item fails the whole call.
pub(super) async fn bulk_decrypt(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let items: Vec<BulkDecryptItem> = req.json(ApiError::InvalidBody)?;
    if items.len() > MAX_BULK {
        return Err(ApiError::TooManyCiphertexts);
    }
    let key = usable(state, name).await?;
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let plaintext = key
            .ring
            .decrypt(item.ciphertext.as_bytes(), item.context_bytes())
            .map_err(|e| crypto_error(e, "failed to decrypt ciphertext"))?;
        out.push(DecryptResponse {
            plaintext: SecretBase64(plaintext),
        });
    }
    json(&out)
}

/// `PUT|POST /v1/key/hmac/{name}`: HMAC-SHA256 with the key's own HMAC key.
pub(super) async fn hmac(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let name = key_name(&req)?;
    let body: HmacRequest = req.json(ApiError::InvalidBody)?;
    let key = usable(state, name).await?;
    let mac = key
        .ring
        .hmac(body.message.as_bytes())
        .map_err(|e| crypto_error(e, "failed to compute HMAC"))?;
    json(&HmacResponse {
        hmac: Base64(mac.to_vec()),
    })
}
