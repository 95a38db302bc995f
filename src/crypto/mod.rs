//! Key material and AEAD: the only module that touches master-key bytes (kes-api.md §6).
//!
//! Layout:
//! * `mod.rs` (this file): the public surface — [`Cipher`], [`Error`], [`generate_dek`], re-export of
//!   [`KeyVersion`].
//! * `key.rs`: [`KeyVersion`] — one secret key with its HMAC key and metadata; the stored value in
//!   both formats (current `base64(protobuf KeyVersion)` and legacy JSON, §6.1); encrypt, decrypt
//!   and HMAC entry points (§6.2, §6.4).
//! * `ciphertext.rs`: ciphertext framing — the current raw layout `sealed ‖ iv(16) ‖ nonce(12)` and
//!   the two legacy layouts decrypt accepts (msgpack and JSON, §6.3), plus per-message key
//!   derivation and the AEAD seal/open calls (aws-lc-rs; HChaCha20 from `chacha20`).
//! * `ring.rs`: [`KeyRing`] (every version of a key and its disabled flag, decoded) and
//!   [`StoredRing`] (the same, stored values verbatim, for read-modify-write); the stored
//!   `kes:ring:v1:` envelope and why it cannot be confused with upstream's values.
//! * `framing.rs`: the framing of ciphertexts made with versions ≥ 1 (magic, version, raw format)
//!   and why it cannot be confused with the three upstream formats.
//! * `pb.rs`: the stored `KeyVersion` protobuf schema and the project's `KeyRing` envelope as
//!   `prost` messages (derived, no build script).
//! * `tests.rs`: unit tests, including every known-answer vector of `testdata/kes-vectors.json`
//!   (a verbatim copy of the spec file so tests never read outside the repository).
//!
//! Secrets: every master key, HMAC key, per-message key and decrypted plaintext lives in
//! [`zeroize::Zeroizing`] buffers; `Debug` output never contains key bytes.

use zeroize::Zeroizing;

mod ciphertext;
pub mod framing;
mod key;
mod pb;
mod ring;
#[cfg(test)]
mod ring_tests;
#[cfg(test)]
mod tests;

pub use key::KeyVersion;
pub use ring::{KeyRing, RING_PREFIX, StoredRing};

/// Length in bytes of every secret key, HMAC key and data encryption key.
pub const KEY_LEN: usize = 32;

/// Bytes a current-format ciphertext adds to the plaintext: 16-byte tag, 16-byte iv, 12-byte nonce.
pub const CIPHERTEXT_OVERHEAD: usize = 44;

/// The AEAD family of a secret key.
///
/// `Aes256`: per-message key `HMAC-SHA256(master, iv)`, AES-256-GCM.
/// `ChaCha20`: per-message key `HChaCha20(master, iv)`, ChaCha20-Poly1305 (IETF).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Cipher {
    /// AES-256-GCM with an HMAC-SHA256-derived per-message key.
    Aes256,
    /// ChaCha20-Poly1305 with an HChaCha20-derived per-message key.
    ChaCha20,
}

impl Cipher {
    /// The name reported as `algorithm` by `/v1/key/describe`: `"AES256"` or `"ChaCha20"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cipher::Aes256 => "AES256",
            Cipher::ChaCha20 => "ChaCha20",
        }
    }

    /// Parses an import `cipher` / `algorithm` name (case-sensitive, as upstream):
    /// `AES256`, `AES256-GCM_SHA256` → [`Cipher::Aes256`]; `ChaCha20`, `XCHACHA20-POLY1305` →
    /// [`Cipher::ChaCha20`]. Anything else → `None` (the handler answers 406).
    pub fn parse(s: &str) -> Option<Cipher> {
        match s {
            "AES256" | "AES256-GCM_SHA256" => Some(Cipher::Aes256),
            "ChaCha20" | "XCHACHA20-POLY1305" => Some(Cipher::ChaCha20),
            _ => None,
        }
    }

    /// Parses an algorithm name recorded inside a legacy (msgpack or JSON) ciphertext. Accepts the
    /// import names plus the 2021-era JSON names `AES-256-GCM-HMAC-SHA-256` and `ChaCha20Poly1305`.
    pub(crate) fn parse_legacy_ciphertext(s: &str) -> Option<Cipher> {
        match s {
            "AES-256-GCM-HMAC-SHA-256" => Some(Cipher::Aes256),
            "ChaCha20Poly1305" => Some(Cipher::ChaCha20),
            other => Cipher::parse(other),
        }
    }
}

/// Errors of the crypto module. Handlers map them to wire errors; none carries secret data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Decryption failed for any reason: malformed or truncated ciphertext, wrong key, wrong
    /// context, tampered bytes, or a legacy ciphertext naming a different algorithm than the key.
    /// Handlers answer 400 `decryption failed: ciphertext is not authentic`.
    #[error("ciphertext is not authentic")]
    NotAuthentic,
    /// The key was stored in the legacy JSON format and has no HMAC key (handlers: 409
    /// `key does not support HMAC`).
    #[error("key does not support HMAC")]
    NoHmacKey,
    /// Imported key material is not exactly [`KEY_LEN`] bytes.
    #[error("invalid key size")]
    InvalidKeySize,
    /// A stored key value is neither a valid legacy JSON key nor valid base64 protobuf.
    #[error("stored key value is malformed")]
    InvalidStoredKey,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// An AEAD or HMAC primitive failed where it cannot fail for valid arguments.
    #[error("internal crypto error: {0}")]
    Internal(&'static str),
}

/// Fills `buf` from the system CSPRNG (aws-lc-rs).
///
/// # Errors
/// [`Error::Random`] if the generator fails.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    aws_lc_rs::rand::fill(buf).map_err(|_| Error::Random)
}

/// Draws a fresh 32-byte data encryption key (the `plaintext` of `/v1/key/generate`).
///
/// # Errors
/// [`Error::Random`] if the system random number generator fails.
pub fn generate_dek() -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    let mut dek = Zeroizing::new([0u8; KEY_LEN]);
    fill_random(dek.as_mut_slice())?;
    Ok(dek)
}
