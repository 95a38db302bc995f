//! [`KeyVersion`]: one secret key, its optional HMAC key and metadata, and the stored value.
//!
//! Stored value (kes-api.md §6.1):
//! * written: `base64-std(protobuf miniohq.kms.KeyVersion)` —
//!   `1: SecretKey{1: bytes key, 2: uint32 type}`, `2: HMACKey{1: bytes key, 2: uint32 hash}`,
//!   `3: google.protobuf.Timestamp{1: int64 seconds, 2: int32 nanos}`, `4: string created_by`;
//! * read: valid JSON → legacy `{"bytes","algorithm"?,"created_at"?,"created_by"?,"version"?}`
//!   (no HMAC key); anything else → base64 → protobuf.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use prost::Message as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::ciphertext::{self, GO_STD_B64};
use super::pb;
use super::{Cipher, Error, KEY_LEN, fill_random};

/// Protobuf `SecretKey.Type` values.
const TYPE_AES256: u32 = 1;
const TYPE_CHACHA20: u32 = 2;
/// Protobuf `HMACKey.Hash` value for SHA-256.
const HASH_SHA256: u32 = 1;

/// One version of a named key: the 32-byte secret key, the cipher it is used with, an optional
/// independent 32-byte HMAC key and creation metadata.
///
/// All key bytes are held in [`Zeroizing`] buffers and wiped on drop. `Debug` prints the cipher
/// and metadata only.
pub struct KeyVersion {
    /// `None` only for a legacy JSON key that recorded no algorithm.
    cipher: Option<Cipher>,
    key: Zeroizing<[u8; KEY_LEN]>,
    /// `None` for legacy JSON keys.
    hmac_key: Option<Zeroizing<[u8; KEY_LEN]>>,
    created_at: Option<OffsetDateTime>,
    created_by: String,
}

impl fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVersion")
            .field("cipher", &self.cipher)
            .field("key", &"[REDACTED]")
            .field("hmac", &self.hmac_key.is_some())
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .finish()
    }
}

fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    fill_random(k.as_mut_slice())?;
    Ok(k)
}

/// Copies exactly [`KEY_LEN`] bytes into a zeroizing array; `None` for any other length.
fn key_from_slice(bytes: &[u8]) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    if bytes.len() != KEY_LEN {
        return None;
    }
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    k.copy_from_slice(bytes);
    Some(k)
}

/// Decodes base64 like Go's `StdEncoding.DecodeString` (which skips `\r` and `\n`) into a
/// zeroizing buffer.
fn decode_b64_secret(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut clean = Zeroizing::new(Vec::with_capacity(text.len()));
    clean.extend(text.iter().copied().filter(|b| *b != b'\r' && *b != b'\n'));
    let mut out = Zeroizing::new(vec![0u8; clean.len().div_ceil(4) * 3]);
    let n = GO_STD_B64
        .decode_slice(clean.as_slice(), out.as_mut_slice())
        .ok()?;
    out.truncate(n);
    Some(out)
}

impl KeyVersion {
    /// A new AES256 key with an independent random HMAC key; `created_at` = now (UTC).
    ///
    /// # Errors
    /// [`Error::Random`] if the system random number generator fails.
    pub fn generate(created_by: &str) -> Result<KeyVersion, Error> {
        Ok(KeyVersion {
            cipher: Some(Cipher::Aes256),
            key: random_key()?,
            hmac_key: Some(random_key()?),
            created_at: Some(OffsetDateTime::now_utc()),
            created_by: created_by.to_owned(),
        })
    }

    /// A key from imported material with a fresh random HMAC key; `created_at` = now (UTC).
    ///
    /// # Errors
    /// [`Error::InvalidKeySize`] unless `key` is exactly 32 bytes; [`Error::Random`] if the RNG fails.
    pub fn import(cipher: Cipher, key: &[u8], created_by: &str) -> Result<KeyVersion, Error> {
        let key = key_from_slice(key).ok_or(Error::InvalidKeySize)?;
        Ok(KeyVersion {
            cipher: Some(cipher),
            key,
            hmac_key: Some(random_key()?),
            created_at: Some(OffsetDateTime::now_utc()),
            created_by: created_by.to_owned(),
        })
    }

    /// The next version of this key for rotation: a fresh random AES256 key that keeps this
    /// version's HMAC key (none for a legacy key), so `/v1/key/hmac` answers the same after a
    /// rotation (MinIO derives its root credentials from it). `created_at` = now (UTC).
    ///
    /// # Errors
    /// [`Error::Random`] if the system random number generator fails.
    pub fn rotated(&self, created_by: &str) -> Result<KeyVersion, Error> {
        Ok(KeyVersion {
            cipher: Some(Cipher::Aes256),
            key: random_key()?,
            hmac_key: self.hmac_key.clone(),
            created_at: Some(OffsetDateTime::now_utc()),
            created_by: created_by.to_owned(),
        })
    }

    /// The stored value: ASCII `base64-std(protobuf KeyVersion)`, fields in number order, proto3
    /// defaults omitted. A legacy key without a recorded algorithm is written without
    /// `SecretKey.type`, and one without an HMAC key without field 2; [`KeyVersion::decode`] reads
    /// both back unchanged.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let key_type = match self.cipher {
            Some(Cipher::Aes256) => TYPE_AES256,
            Some(Cipher::ChaCha20) => TYPE_CHACHA20,
            None => 0,
        };
        // The message's key copies are wiped when it drops (`pb::SecretKey` is `ZeroizeOnDrop`).
        let message = pb::KeyVersion {
            key: Some(pb::SecretKey {
                key: self.key.to_vec(),
                r#type: key_type,
            }),
            hmac_key: self.hmac_key.as_ref().map(|hk| pb::HmacKey {
                key: hk.to_vec(),
                hash: HASH_SHA256,
            }),
            created_at: self.created_at.map(|t| pb::Timestamp {
                seconds: t.unix_timestamp(),
                // Always below 10^9, so it fits.
                nanos: i32::try_from(t.nanosecond()).unwrap_or(0),
            }),
            created_by: self.created_by.clone(),
        };
        // Exact capacity: encoding never reallocates, so no unwiped copy is left behind.
        let mut msg = Zeroizing::new(Vec::with_capacity(message.encoded_len()));
        message.encode_raw(&mut *msg);

        let mut out = Zeroizing::new(vec![0u8; base64::encoded_len(msg.len(), true).unwrap_or(0)]);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(msg.as_slice(), out.as_mut_slice())
            .unwrap_or(0);
        out.truncate(n);
        out
    }

    /// Parses a stored value: valid JSON → legacy key (no HMAC key); otherwise base64 (std,
    /// `\r`/`\n` ignored) → protobuf. Unknown protobuf fields are skipped (well-formed groups
    /// too, as protobuf-go does); unknown JSON fields are ignored.
    ///
    /// # Errors
    /// [`Error::InvalidStoredKey`] for anything malformed: bad base64, truncated or malformed
    /// protobuf, missing secret key, key or HMAC key not 32 bytes, unknown key type or hash,
    /// invalid timestamp, non-UTF-8 `created_by`, unknown legacy algorithm.
    pub fn decode(stored: &[u8]) -> Result<KeyVersion, Error> {
        match serde_json::from_slice::<serde_json::Value>(stored) {
            Ok(value) => decode_legacy(value),
            Err(_) => {
                let raw = decode_b64_secret(stored).ok_or(Error::InvalidStoredKey)?;
                decode_protobuf(&raw)
            }
        }
    }

    /// The key's cipher; `None` for a legacy key that recorded no algorithm (decrypt then uses
    /// the algorithm a legacy ciphertext records, else AES256).
    pub fn algorithm(&self) -> Option<Cipher> {
        self.cipher
    }

    /// Creation time, if recorded.
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        self.created_at
    }

    /// The identity that created the key; empty if not recorded.
    pub fn created_by(&self) -> &str {
        &self.created_by
    }

    /// Encrypts in the current raw format (§6.2): `sealed ‖ iv(16) ‖ nonce(12)`, length
    /// `plaintext.len() + 44`, AAD = `context`. A legacy key without algorithm encrypts as AES256.
    ///
    /// # Errors
    /// [`Error::Random`] if the RNG fails; [`Error::Internal`] if the AEAD fails.
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, Error> {
        let cipher = self.cipher.unwrap_or(Cipher::Aes256);
        ciphertext::seal(cipher, &self.key, plaintext, context)
    }

    /// Decrypts a ciphertext in the raw, msgpack or JSON format (§6.2, §6.3) with AAD = `context`.
    ///
    /// The cipher is the key's; a key without one uses the algorithm recorded in a legacy
    /// ciphertext, else AES256.
    ///
    /// # Errors
    /// [`Error::NotAuthentic`] for every failure, including a legacy ciphertext whose recorded
    /// algorithm differs from the key's.
    pub fn decrypt(&self, ciphertext: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let parsed = ciphertext::parse(ciphertext).ok_or(Error::NotAuthentic)?;
        let cipher = match (self.cipher, parsed.recorded) {
            (Some(key), Some(recorded)) => {
                if key != recorded {
                    return Err(Error::NotAuthentic);
                }
                key
            }
            (Some(key), None) => key,
            (None, Some(recorded)) => recorded,
            (None, None) => Cipher::Aes256,
        };
        ciphertext::open(cipher, &self.key, &parsed, context)
    }

    /// Decrypts a ciphertext in the current raw format only (`sealed ‖ iv ‖ nonce`, §6.2): the
    /// body of a versioned ciphertext (`ring.rs`). A key without a recorded cipher uses AES256.
    ///
    /// # Errors
    /// [`Error::NotAuthentic`] for every failure.
    pub fn decrypt_raw(
        &self,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let parsed = ciphertext::parse_raw(ciphertext).ok_or(Error::NotAuthentic)?;
        let cipher = self.cipher.unwrap_or(Cipher::Aes256);
        ciphertext::open(cipher, &self.key, &parsed, context)
    }

    /// HMAC-SHA256 of `message` under the key's HMAC key (§6.4). Deterministic.
    ///
    /// # Errors
    /// [`Error::NoHmacKey`] for legacy keys; [`Error::Internal`] if the primitive fails.
    pub fn hmac(&self, message: &[u8]) -> Result<[u8; 32], Error> {
        let hk = self.hmac_key.as_ref().ok_or(Error::NoHmacKey)?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, hk.as_slice());
        let mut out = [0u8; 32];
        let written = hmac::sign_to_buffer(&key, message, &mut out)
            .map_err(|_| Error::Internal("HMAC-SHA256 failed"))?;
        if written.len() != out.len() {
            return Err(Error::Internal("HMAC-SHA256 output has the wrong length"));
        }
        Ok(out)
    }
}

/// Moves a JSON string into a zeroizing buffer (the `bytes` field holds the key in base64).
fn secret_string(value: serde_json::Value) -> Option<Zeroizing<String>> {
    match value {
        serde_json::Value::String(s) => Some(Zeroizing::new(s)),
        _ => None,
    }
}

/// A legacy string field: absent and `null` → `None`; a string → `Some`; anything else → error.
fn opt_string(value: Option<serde_json::Value>) -> Result<Option<String>, Error> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::InvalidStoredKey),
    }
}

fn decode_legacy(value: serde_json::Value) -> Result<KeyVersion, Error> {
    let serde_json::Value::Object(map) = value else {
        return Err(Error::InvalidStoredKey);
    };
    let mut bytes: Option<Option<Zeroizing<String>>> = None;
    let (mut algorithm, mut created_at, mut created_by) = (None, None, None);
    // Go matches field names case-insensitively; every entry is consumed so the key text is
    // always moved into a zeroizing buffer before any error return.
    for (name, value) in map {
        match name.to_ascii_lowercase().as_str() {
            "bytes" => bytes = Some(secret_string(value)),
            "algorithm" => algorithm = Some(value),
            "created_at" => created_at = Some(value),
            "created_by" => created_by = Some(value),
            _ => {} // "version" and unknown fields
        }
    }
    let text = bytes.flatten().ok_or(Error::InvalidStoredKey)?;
    let raw = decode_b64_secret(text.as_bytes()).ok_or(Error::InvalidStoredKey)?;
    let key = key_from_slice(&raw).ok_or(Error::InvalidStoredKey)?;

    let cipher = match opt_string(algorithm)?.as_deref() {
        None | Some("") => None,
        Some(name) => Some(Cipher::parse(name).ok_or(Error::InvalidStoredKey)?),
    };
    let created_at = match opt_string(created_at)?.as_deref() {
        None | Some("") => None,
        Some(text) => {
            Some(OffsetDateTime::parse(text, &Rfc3339).map_err(|_| Error::InvalidStoredKey)?)
        }
    };
    Ok(KeyVersion {
        cipher,
        key,
        hmac_key: None,
        created_at,
        created_by: opt_string(created_by)?.unwrap_or_default(),
    })
}

/// Decodes the protobuf message and checks it: a 32-byte secret key of a known type (or none),
/// an HMAC key (if present) of 32 bytes with hash SHA-256, a timestamp with nanos in `0..10^9`.
fn decode_protobuf(buf: &[u8]) -> Result<KeyVersion, Error> {
    // prost decodes `bytes` into plain `Vec`s: they live in `message` only until it drops at the
    // end of this function, which wipes them (`pb::SecretKey`/`pb::HmacKey` are `ZeroizeOnDrop`).
    let message = pb::KeyVersion::decode(buf).map_err(|_| Error::InvalidStoredKey)?;
    let secret = message.key.as_ref().ok_or(Error::InvalidStoredKey)?;
    let key = key_from_slice(&secret.key).ok_or(Error::InvalidStoredKey)?;
    let cipher = match secret.r#type {
        0 => None,
        TYPE_AES256 => Some(Cipher::Aes256),
        TYPE_CHACHA20 => Some(Cipher::ChaCha20),
        _ => return Err(Error::InvalidStoredKey),
    };
    let hmac_key = match &message.hmac_key {
        None => None,
        Some(hk) if hk.hash == HASH_SHA256 => {
            Some(key_from_slice(&hk.key).ok_or(Error::InvalidStoredKey)?)
        }
        Some(_) => return Err(Error::InvalidStoredKey),
    };
    let created_at = match message.created_at {
        None => None,
        Some(pb::Timestamp { seconds, nanos }) => {
            let nanos = u32::try_from(nanos)
                .ok()
                .filter(|n| *n < 1_000_000_000)
                .ok_or(Error::InvalidStoredKey)?;
            let t = OffsetDateTime::from_unix_timestamp(seconds)
                .map_err(|_| Error::InvalidStoredKey)?
                .replace_nanosecond(nanos)
                .map_err(|_| Error::InvalidStoredKey)?;
            Some(t)
        }
    };
    Ok(KeyVersion {
        cipher,
        key,
        hmac_key,
        created_at,
        created_by: message.created_by.clone(),
    })
}
