//! Object key hierarchy (object-sse.md §3.1, §4.4): KEK/OEK derivation, OEK sealing, sub-keys.
//!
//! * `KEK = HMAC-SHA256(external, IV ‖ domain ‖ "DAREv2-HMAC-SHA256" ‖ path.Join(bucket, object))`
//! * `OEK = HMAC-SHA256(external, "object-encryption-key generation" ‖ random32)`
//! * sealed OEK = one final DARE 2.0 package of the OEK under the KEK = exactly 64 bytes
//! * part key = `HMAC-SHA256(OEK, LE32(part))`, ETag key = `HMAC-SHA256(OEK, "SSE-etag")`
//!
//! Every key lives in [`Key32`], which zeroizes on drop and never prints its bytes.

use aws_lc_rs::hmac;
use rand::RngCore;
use zeroize::Zeroizing;

use super::dare::{self, CipherSuite, DareError, Encryptor};

/// Seal algorithm identifier stored in the object metadata.
pub const SEAL_ALGORITHM: &str = "DAREv2-HMAC-SHA256";
/// Length of the sealed OEK.
pub const SEALED_KEY_LEN: usize = 64;
/// Length of the KEK derivation IV.
pub const IV_LEN: usize = 32;

/// A 32-byte secret (client key, KEK, OEK or sub-key). Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct Key32(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key32([REDACTED])")
    }
}

impl Key32 {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies a 32-byte slice; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return None;
        }
        k.copy_from_slice(bytes);
        Some(Self(k))
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Key32) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }

    fn hmac(&self, parts: &[&[u8]]) -> Key32 {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0[..]);
        let mut ctx = hmac::Context::with_key(&key);
        for p in parts {
            ctx.update(p);
        }
        let tag = ctx.sign();
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(tag.as_ref());
        Key32(out)
    }
}

/// The SSE domain bound into the KEK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// `SSE-C`
    SseC,
    /// `SSE-S3` (the root key is a DEK of the default KES key)
    SseS3,
    /// `SSE-KMS` (the root key is a DEK of a named KES key)
    SseKms,
}

impl Domain {
    /// Exact ASCII domain string.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::SseC => "SSE-C",
            Domain::SseS3 => "SSE-S3",
            Domain::SseKms => "SSE-KMS",
        }
    }
}

/// Go's `path.Clean`: collapses `//`, removes `.` and resolves `..`; `""` becomes `"."`.
pub fn go_path_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Go's `path.Join(bucket, object)` (empty elements skipped, result cleaned).
pub fn path_join(bucket: &str, object: &str) -> String {
    let parts: Vec<&str> = [bucket, object]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    go_path_clean(&parts.join("/"))
}

/// Derives the key-encryption key for one object path.
pub fn kek(
    external: &Key32,
    iv: &[u8; IV_LEN],
    domain: Domain,
    bucket: &str,
    object: &str,
) -> Key32 {
    let path = path_join(bucket, object);
    external.hmac(&[
        iv,
        domain.as_str().as_bytes(),
        SEAL_ALGORITHM.as_bytes(),
        path.as_bytes(),
    ])
}

/// A fresh random IV for KEK derivation.
pub fn random_iv() -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    rand::rng().fill_bytes(&mut iv);
    iv
}

/// Sealing or unsealing failed: the key (or path, or IV) does not match, or the sealed value
/// is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("The secret key does not match the secret key used during upload")]
pub struct SecretKeyMismatch;

/// The object encryption key.
#[derive(Debug, Clone)]
pub struct ObjectKey(pub Key32);

impl ObjectKey {
    /// `OEK = HMAC-SHA256(external, "object-encryption-key generation" ‖ random32)`.
    pub fn derive(external: &Key32, random32: &[u8; 32]) -> Self {
        ObjectKey(external.hmac(&[b"object-encryption-key generation", random32]))
    }

    /// A new OEK from fresh randomness.
    pub fn generate(external: &Key32) -> Self {
        let mut r = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut r[..]);
        Self::derive(external, &r)
    }

    /// Seals the OEK under `kek` with a random stream nonce → 64 bytes.
    pub fn seal(&self, kek: &Key32) -> Result<Vec<u8>, DareError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        self.seal_with_nonce(kek, nonce)
    }

    /// Seals with a chosen nonce (known-answer tests).
    pub fn seal_with_nonce(&self, kek: &Key32, nonce: [u8; 12]) -> Result<Vec<u8>, DareError> {
        let mut enc = Encryptor::with_nonce(kek.expose(), CipherSuite::Aes256Gcm, nonce)?;
        let mut out = Vec::with_capacity(SEALED_KEY_LEN);
        enc.seal_package(self.0.expose(), true, &mut out)?;
        Ok(out)
    }

    /// Opens a sealed OEK; it must be exactly 64 bytes and decrypt to 32 bytes.
    pub fn unseal(sealed: &[u8], kek: &Key32) -> Result<Self, SecretKeyMismatch> {
        if sealed.len() != SEALED_KEY_LEN {
            return Err(SecretKeyMismatch);
        }
        let plain =
            Zeroizing::new(dare::decrypt(kek.expose(), sealed).map_err(|_| SecretKeyMismatch)?);
        Key32::from_slice(&plain)
            .map(ObjectKey)
            .ok_or(SecretKeyMismatch)
    }

    /// Key of multipart part `part` (as numbered by the client).
    pub fn part_key(&self, part: u32) -> Key32 {
        self.0.hmac(&[&part.to_le_bytes()])
    }

    /// The ETag value of an SSE-C or SSE-KMS multipart part:
    /// `HMAC-SHA256(HMAC-SHA256(OEK, "SSE-part-etag"), LE32(part) ‖ MD5(plaintext))`, first 16
    /// bytes. Deterministic for the same upload (OEK), part number and bytes, so re-uploading
    /// an identical part keeps the ETag a client already holds; keyed by the OEK, so it never
    /// reveals the plaintext MD5.
    pub fn part_etag_value(&self, part: u32, md5: &[u8; 16]) -> [u8; 16] {
        let sub = self.0.hmac(&[b"SSE-part-etag"]);
        let tag = sub.hmac(&[&part.to_le_bytes(), md5]);
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag.expose()[..16]);
        out
    }

    /// Key sealing the stored ETag.
    pub fn etag_key(&self) -> Key32 {
        self.0.hmac(&[b"SSE-etag"])
    }

    /// Key sealing the stored flexible checksum.
    pub fn checksum_key(&self) -> Key32 {
        self.0.hmac(&[b"SSE-checksum"])
    }

    /// Seals a stored checksum value (DARE under [`ObjectKey::checksum_key`]), hex-encoded.
    pub fn seal_checksum(&self, value: &str) -> Result<String, DareError> {
        let key = self.checksum_key();
        let mut enc = Encryptor::new(key.expose())?;
        let mut out = Vec::with_capacity(value.len() + 32);
        enc.seal_package(value.as_bytes(), true, &mut out)?;
        Ok(hex::encode(out))
    }

    /// Opens a value sealed by [`ObjectKey::seal_checksum`]; `None` if it does not open.
    pub fn open_checksum(&self, sealed_hex: &str) -> Option<String> {
        let raw = hex::decode(sealed_hex).ok()?;
        let key = self.checksum_key();
        String::from_utf8(dare::decrypt(key.expose(), &raw).ok()?).ok()
    }

    /// Seals a 16-byte ETag value (48 bytes, returned hex-encoded: 96 hex chars).
    pub fn seal_etag(&self, etag: &[u8; 16]) -> Result<String, DareError> {
        let key = self.etag_key();
        let mut enc = Encryptor::new(key.expose())?;
        let mut out = Vec::with_capacity(48);
        enc.seal_package(etag, true, &mut out)?;
        Ok(hex::encode(out))
    }
}

impl ObjectKey {
    /// Opens a sealed 96-hex ETag (SSE-S3: the plaintext MD5); `None` if it does not open.
    pub fn open_etag(&self, sealed_hex: &str) -> Option<[u8; 16]> {
        let raw = hex::decode(sealed_hex).ok()?;
        let key = self.etag_key();
        let plain = dare::decrypt(key.expose(), &raw).ok()?;
        plain.try_into().ok()
    }
}

/// The client-visible ("formatted") form of a sealed 96-hex ETag: its last 32 hex characters.
pub fn formatted_etag(sealed_hex: &str) -> String {
    match sealed_hex.get(sealed_hex.len().saturating_sub(32)..) {
        Some(tail) if sealed_hex.len() >= 64 => tail.to_owned(),
        _ => sealed_hex.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_semantics() {
        assert_eq!(
            path_join("mybucket", "my/object.txt"),
            "mybucket/my/object.txt"
        );
        assert_eq!(path_join("b", "a//b/"), "b/a/b");
        assert_eq!(path_join("b", "../x"), "x");
        assert_eq!(path_join("b", "./."), "b");
        assert_eq!(path_join("b", "../../x"), "../x");
        assert_eq!(go_path_clean(""), ".");
        assert_eq!(go_path_clean("/../a"), "/a");
    }

    #[test]
    fn sealed_checksums_open_only_with_their_object_key() {
        let oek = ObjectKey(Key32::from_bytes([1u8; 32]));
        let other = ObjectKey(Key32::from_bytes([2u8; 32]));
        let sealed = oek.seal_checksum("yZRlqg==").unwrap();
        assert!(!sealed.contains("yZRlqg"));
        assert_ne!(
            sealed,
            oek.seal_checksum("yZRlqg==").unwrap(),
            "random nonce"
        );
        assert_eq!(oek.open_checksum(&sealed).as_deref(), Some("yZRlqg=="));
        assert_eq!(other.open_checksum(&sealed), None);
        assert_eq!(oek.open_checksum("zz"), None);
        let mut tampered = hex::decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(oek.open_checksum(&hex::encode(tampered)), None);
    }

    #[test]
    fn redacted_debug() {
        let k = Key32::from_bytes([7u8; 32]);
        assert_eq!(format!("{k:?}"), "Key32([REDACTED])");
        assert!(!format!("{:?}", ObjectKey(k)).contains('7'));
    }
}
