//! Server-side encryption: the only place that touches object keys or AEADs.
//!
//! * [`params`] — SSE request headers → [`params::Encryption`] (SSE-C today; SSE-S3/SSE-KMS later).
//! * [`keys`] — KEK/OEK derivation, 64-byte OEK sealing, part and ETag keys.
//! * [`dare`] — DARE 2.0 packages (64 KiB, AES-256-GCM via aws-lc-rs; ChaCha20 readable).
//! * [`range`] — plaintext ↔ encrypted size arithmetic and range read plans.
//! * this module — internal metadata (object-sse.md §3.2) and [`StoredEncryption`], the
//!   encryption state parsed back from an object's metadata.

pub mod dare;
pub mod keys;
pub mod params;
pub mod range;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::Error;
use keys::{Domain, IV_LEN, Key32, ObjectKey, SEAL_ALGORITHM, SEALED_KEY_LEN, SecretKeyMismatch};

/// `X-Minio-Internal-Server-Side-Encryption-Seal-Algorithm`
pub const META_SEAL_ALGORITHM: &str = "X-Minio-Internal-Server-Side-Encryption-Seal-Algorithm";
/// `X-Minio-Internal-Server-Side-Encryption-Iv`
pub const META_IV: &str = "X-Minio-Internal-Server-Side-Encryption-Iv";
/// `X-Minio-Internal-Server-Side-Encryption-Sealed-Key` (SSE-C)
pub const META_SSEC_SEALED_KEY: &str = "X-Minio-Internal-Server-Side-Encryption-Sealed-Key";
/// `X-Minio-Internal-Server-Side-Encryption-S3-Sealed-Key` (SSE-S3)
pub const META_S3_SEALED_KEY: &str = "X-Minio-Internal-Server-Side-Encryption-S3-Sealed-Key";
/// `X-Minio-Internal-Server-Side-Encryption-Kms-Sealed-Key` (SSE-KMS)
pub const META_KMS_SEALED_KEY: &str = "X-Minio-Internal-Server-Side-Encryption-Kms-Sealed-Key";
/// `X-Minio-Internal-Server-Side-Encryption-S3-Kms-Key-Id`
pub const META_KMS_KEY_ID: &str = "X-Minio-Internal-Server-Side-Encryption-S3-Kms-Key-Id";
/// `X-Minio-Internal-Server-Side-Encryption-S3-Kms-Sealed-Key`
pub const META_KMS_DEK: &str = "X-Minio-Internal-Server-Side-Encryption-S3-Kms-Sealed-Key";
/// `X-Minio-Internal-Server-Side-Encryption-Context`
pub const META_CONTEXT: &str = "X-Minio-Internal-Server-Side-Encryption-Context";
/// `X-Minio-Internal-Encrypted-Multipart`
pub const META_ENCRYPTED_MULTIPART: &str = "X-Minio-Internal-Encrypted-Multipart";

/// The sealed OEK of an SSE-C object or upload, plus the IV of its KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedObjectKey {
    /// KEK derivation IV.
    pub iv: [u8; IV_LEN],
    /// 64-byte sealed OEK.
    pub sealed: Vec<u8>,
}

impl SealedObjectKey {
    /// Generates a fresh OEK for `bucket/object` under the client key and seals it.
    pub fn create(client: &Key32, bucket: &str, object: &str) -> Result<(Self, ObjectKey), Error> {
        let oek = ObjectKey::generate(client);
        let iv = keys::random_iv();
        let kek = keys::kek(client, &iv, Domain::SseC, bucket, object);
        let sealed = oek.seal(&kek).map_err(Error::internal)?;
        Ok((Self { iv, sealed }, oek))
    }

    /// Opens the OEK with the client key; fails when the key (or path) is not the one used.
    pub fn open(
        &self,
        client: &Key32,
        bucket: &str,
        object: &str,
    ) -> Result<ObjectKey, SecretKeyMismatch> {
        let kek = keys::kek(client, &self.iv, Domain::SseC, bucket, object);
        ObjectKey::unseal(&self.sealed, &kek)
    }

    /// Reseals `oek` under a new client key, keeping the IV (SSE-C key rotation).
    pub fn reseal(
        &self,
        oek: &ObjectKey,
        client: &Key32,
        bucket: &str,
        object: &str,
    ) -> Result<Self, Error> {
        let kek = keys::kek(client, &self.iv, Domain::SseC, bucket, object);
        Ok(Self {
            iv: self.iv,
            sealed: oek.seal(&kek).map_err(Error::internal)?,
        })
    }

    /// Writes the SSE-C internal metadata entries.
    pub fn write_metadata(&self, internal: &mut BTreeMap<String, String>, multipart: bool) {
        internal.insert(META_SEAL_ALGORITHM.to_owned(), SEAL_ALGORITHM.to_owned());
        internal.insert(META_IV.to_owned(), STANDARD.encode(self.iv));
        internal.insert(
            META_SSEC_SEALED_KEY.to_owned(),
            STANDARD.encode(&self.sealed),
        );
        if multipart {
            internal.insert(META_ENCRYPTED_MULTIPART.to_owned(), String::new());
        }
    }
}

/// Encryption state of a stored object or upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredEncryption {
    /// Plain object.
    None,
    /// SSE-C.
    SseC(SealedObjectKey),
    /// SSE-S3 or SSE-KMS (written by a KMS-enabled server; unreadable without a KMS).
    Kms,
}

impl StoredEncryption {
    /// Parses the internal metadata (type detection and validation of §3.2).
    pub fn from_metadata(internal: &BTreeMap<String, String>) -> Result<Self, Error> {
        if internal.contains_key(META_KMS_SEALED_KEY) || internal.contains_key(META_S3_SEALED_KEY) {
            return Ok(StoredEncryption::Kms);
        }
        let Some(sealed_b64) = internal.get(META_SSEC_SEALED_KEY) else {
            let any_sse = [
                META_SEAL_ALGORITHM,
                META_IV,
                META_KMS_KEY_ID,
                META_KMS_DEK,
                META_CONTEXT,
                META_ENCRYPTED_MULTIPART,
            ]
            .iter()
            .any(|k| internal.contains_key(*k));
            return if any_sse {
                Err(Error::ObjectTampered)
            } else {
                Ok(StoredEncryption::None)
            };
        };
        match internal.get(META_SEAL_ALGORITHM).map(String::as_str) {
            Some(SEAL_ALGORITHM) => {}
            Some(_) => {
                return Err(Error::EncryptionMetadata(
                    "The internal seal algorithm is invalid and not supported",
                ));
            }
            None => {
                return Err(Error::EncryptionMetadata(
                    "The object metadata is missing the internal seal algorithm",
                ));
            }
        }
        let iv_b64 = internal.get(META_IV).ok_or(Error::EncryptionMetadata(
            "The object metadata is missing the internal encryption IV",
        ))?;
        let iv_raw = STANDARD
            .decode(iv_b64)
            .map_err(|_| Error::EncryptionMetadata("The internal encryption IV is malformed"))?;
        let iv: [u8; IV_LEN] = iv_raw
            .try_into()
            .map_err(|_| Error::EncryptionMetadata("The internal encryption IV is malformed"))?;
        let sealed = STANDARD
            .decode(sealed_b64)
            .ok()
            .filter(|s| s.len() == SEALED_KEY_LEN)
            .ok_or(Error::EncryptionMetadata(
                "The internal sealed key for SSE-C is invalid",
            ))?;
        Ok(StoredEncryption::SseC(SealedObjectKey { iv, sealed }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trip_and_tamper() {
        let client = Key32::from_bytes([9u8; 32]);
        let (sealed, oek) = SealedObjectKey::create(&client, "b", "o").unwrap();
        let mut m = BTreeMap::new();
        sealed.write_metadata(&mut m, true);
        assert_eq!(
            m.get(META_ENCRYPTED_MULTIPART).map(String::as_str),
            Some("")
        );
        let parsed = StoredEncryption::from_metadata(&m).unwrap();
        let StoredEncryption::SseC(s) = parsed else {
            panic!("not SSE-C")
        };
        let opened = s.open(&client, "b", "o").unwrap();
        assert!(opened.0.ct_eq(&oek.0));
        assert!(s.open(&client, "b", "other").is_err());
        assert!(s.open(&Key32::from_bytes([8u8; 32]), "b", "o").is_err());
        // rotation keeps the IV and opens with the new key only
        let new_key = Key32::from_bytes([1u8; 32]);
        let rotated = s.reseal(&opened, &new_key, "b", "o").unwrap();
        assert_eq!(rotated.iv, s.iv);
        assert!(rotated.open(&new_key, "b", "o").unwrap().0.ct_eq(&oek.0));
        assert!(rotated.open(&client, "b", "o").is_err());
        // metadata without a sealed key is tampered
        m.remove(META_SSEC_SEALED_KEY);
        assert!(matches!(
            StoredEncryption::from_metadata(&m),
            Err(Error::ObjectTampered)
        ));
        assert_eq!(
            StoredEncryption::from_metadata(&BTreeMap::new()).unwrap(),
            StoredEncryption::None
        );
    }
}
