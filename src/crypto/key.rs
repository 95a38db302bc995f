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
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use super::ciphertext::{self, GO_STD_B64};
use super::pb::{self, Value};
use super::{Cipher, Error, KEY_LEN, fill_random};

/// Protobuf `SecretKey.Type` values.
const TYPE_AES256: u64 = 1;
const TYPE_CHACHA20: u64 = 2;
/// Protobuf `HMACKey.Hash` value for SHA-256.
const HASH_SHA256: u64 = 1;

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
        let timestamp = self.created_at.map(|t| {
            let mut ts = Vec::with_capacity(24);
            let seconds = t.unix_timestamp();
            let nanos = t.nanosecond();
            if seconds != 0 {
                // int64: two's complement as a 64-bit varint.
                pb::put_varint_field(&mut ts, 1, seconds as u64);
            }
            if nanos != 0 {
                pb::put_varint_field(&mut ts, 2, u64::from(nanos));
            }
            ts
        });

        let secret_len = pb::len_field_size(KEY_LEN) + if key_type != 0 { 2 } else { 0 };
        let hmac_len = pb::len_field_size(KEY_LEN) + 2;
        let total = pb::len_field_size(secret_len)
            + self
                .hmac_key
                .as_ref()
                .map_or(0, |_| pb::len_field_size(hmac_len))
            + timestamp
                .as_ref()
                .map_or(0, |t| pb::len_field_size(t.len()))
            + if self.created_by.is_empty() {
                0
            } else {
                pb::len_field_size(self.created_by.len())
            };

        let mut msg = Zeroizing::new(Vec::with_capacity(total));
        let mut secret = Zeroizing::new(Vec::with_capacity(secret_len));
        pb::put_len_field(&mut secret, 1, self.key.as_slice());
        if key_type != 0 {
            pb::put_varint_field(&mut secret, 2, key_type);
        }
        pb::put_len_field(&mut msg, 1, &secret);
        if let Some(hk) = &self.hmac_key {
            let mut hm = Zeroizing::new(Vec::with_capacity(hmac_len));
            pb::put_len_field(&mut hm, 1, hk.as_slice());
            pb::put_varint_field(&mut hm, 2, HASH_SHA256);
            pb::put_len_field(&mut msg, 2, &hm);
        }
        if let Some(ts) = &timestamp {
            pb::put_len_field(&mut msg, 3, ts);
        }
        if !self.created_by.is_empty() {
            pb::put_len_field(&mut msg, 4, self.created_by.as_bytes());
        }

        let mut out = Zeroizing::new(vec![0u8; base64::encoded_len(msg.len(), true).unwrap_or(0)]);
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(msg.as_slice(), out.as_mut_slice())
            .unwrap_or(0);
        out.truncate(n);
        out
    }

    /// Parses a stored value: valid JSON → legacy key (no HMAC key); otherwise base64 (std,
    /// `\r`/`\n` ignored) → protobuf. Unknown protobuf fields of known wire types are skipped;
    /// unknown JSON fields are ignored.
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

/// Parses a `SecretKey` message into `key`/`key_type` (merging, last value wins).
fn decode_secret_key(
    buf: &[u8],
    key: &mut Option<Zeroizing<[u8; KEY_LEN]>>,
    key_type: &mut u64,
) -> Result<(), Error> {
    let mut r = pb::Reader::new(buf);
    while let Some((number, value)) = r.next_field()? {
        match (number, value) {
            (1, Value::Len(bytes)) => {
                *key = Some(key_from_slice(bytes).ok_or(Error::InvalidStoredKey)?);
            }
            (2, Value::Varint(v)) => *key_type = v,
            (1 | 2, _) => return Err(Error::InvalidStoredKey),
            (_, Value::Varint(_) | Value::I64(_) | Value::Len(_) | Value::I32(_)) => {}
        }
    }
    Ok(())
}

/// Parses an `HMACKey` message into `key`/`hash` (merging, last value wins).
fn decode_hmac_key(
    buf: &[u8],
    key: &mut Option<Zeroizing<[u8; KEY_LEN]>>,
    hash: &mut u64,
) -> Result<(), Error> {
    // Same wire shape as SecretKey: 1 = bytes, 2 = uint32.
    decode_secret_key(buf, key, hash)
}

/// Parses a `google.protobuf.Timestamp` into `seconds`/`nanos` (merging, last value wins).
fn decode_timestamp(buf: &[u8], seconds: &mut i64, nanos: &mut i32) -> Result<(), Error> {
    let mut r = pb::Reader::new(buf);
    while let Some((number, value)) = r.next_field()? {
        match (number, value) {
            // int64 / int32 varints are two's complement; int32 keeps the low 32 bits.
            (1, Value::Varint(v)) => *seconds = v as i64,
            (2, Value::Varint(v)) => *nanos = v as i64 as i32,
            (1 | 2, _) => return Err(Error::InvalidStoredKey),
            (_, Value::Varint(_) | Value::I64(_) | Value::Len(_) | Value::I32(_)) => {}
        }
    }
    Ok(())
}

fn decode_protobuf(buf: &[u8]) -> Result<KeyVersion, Error> {
    let mut key = None;
    let mut key_type = 0u64;
    let mut hmac_key = None;
    let mut hash = 0u64;
    let mut has_hmac = false;
    let mut timestamp: Option<(i64, i32)> = None;
    let mut created_by = String::new();

    let mut r = pb::Reader::new(buf);
    while let Some((number, value)) = r.next_field()? {
        match (number, value) {
            (1, Value::Len(m)) => decode_secret_key(m, &mut key, &mut key_type)?,
            (2, Value::Len(m)) => {
                has_hmac = true;
                decode_hmac_key(m, &mut hmac_key, &mut hash)?;
            }
            (3, Value::Len(m)) => {
                let (mut s, mut n) = timestamp.unwrap_or((0, 0));
                decode_timestamp(m, &mut s, &mut n)?;
                timestamp = Some((s, n));
            }
            (4, Value::Len(s)) => {
                created_by = std::str::from_utf8(s)
                    .map_err(|_| Error::InvalidStoredKey)?
                    .to_owned();
            }
            (1..=4, _) => return Err(Error::InvalidStoredKey),
            (_, Value::Varint(_) | Value::I64(_) | Value::Len(_) | Value::I32(_)) => {}
        }
    }

    let key = key.ok_or(Error::InvalidStoredKey)?;
    let cipher = match key_type {
        0 => None,
        TYPE_AES256 => Some(Cipher::Aes256),
        TYPE_CHACHA20 => Some(Cipher::ChaCha20),
        _ => return Err(Error::InvalidStoredKey),
    };
    let hmac_key = if has_hmac {
        if hash != HASH_SHA256 {
            return Err(Error::InvalidStoredKey);
        }
        Some(hmac_key.ok_or(Error::InvalidStoredKey)?)
    } else {
        None
    };
    let created_at = match timestamp {
        None => None,
        Some((seconds, nanos)) => {
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
        created_by,
    })
}
