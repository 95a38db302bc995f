//! Internal encryption metadata (object-sse.md §3.2): [`SealedKey`] (IV + 64-byte sealed OEK
//! bound to a domain) and [`ObjectEncryption`], the encryption state of a stored object or
//! upload, parsed from and written to its `X-Minio-Internal-Server-Side-Encryption-*` entries.
//!
//! Type detection on read: `Kms-Sealed-Key` → SSE-KMS, `S3-Sealed-Key` → SSE-S3,
//! `Sealed-Key` → SSE-C; any other encryption entry without a sealed key → tampered.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::context;
use super::keys::{self, Domain, IV_LEN, Key32, ObjectKey, SEAL_ALGORITHM, SEALED_KEY_LEN};
use crate::error::Error;

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
/// `X-Minio-Internal-Server-Side-Encryption-S3-Kms-Sealed-Key` (the KES DEK ciphertext)
pub const META_KMS_DEK: &str = "X-Minio-Internal-Server-Side-Encryption-S3-Kms-Sealed-Key";
/// `X-Minio-Internal-Server-Side-Encryption-Context`
pub const META_CONTEXT: &str = "X-Minio-Internal-Server-Side-Encryption-Context";
/// `X-Minio-Internal-Encrypted-Multipart`
pub const META_ENCRYPTED_MULTIPART: &str = "X-Minio-Internal-Encrypted-Multipart";

/// Every internal encryption entry (none of them is ever returned to clients).
pub const ALL_META: [&str; 9] = [
    META_SEAL_ALGORITHM,
    META_IV,
    META_SSEC_SEALED_KEY,
    META_S3_SEALED_KEY,
    META_KMS_SEALED_KEY,
    META_KMS_KEY_ID,
    META_KMS_DEK,
    META_CONTEXT,
    META_ENCRYPTED_MULTIPART,
];

/// A 64-byte sealed OEK with the IV of its KEK. The domain (`SSE-C`, `SSE-S3`, `SSE-KMS`) is
/// passed to every operation, so an SSE-S3 sealed key never opens as SSE-C.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// KEK derivation IV.
    pub iv: [u8; IV_LEN],
    /// 64-byte sealed OEK.
    pub sealed: Vec<u8>,
}

impl SealedKey {
    /// Generates a fresh OEK from `external` (client key or DEK plaintext) and seals it for
    /// `bucket/object` in `domain` with a fresh IV.
    pub fn create(
        external: &Key32,
        domain: Domain,
        bucket: &str,
        object: &str,
    ) -> Result<(Self, ObjectKey), Error> {
        let oek = ObjectKey::generate(external);
        let iv = keys::random_iv();
        let kek = keys::kek(external, &iv, domain, bucket, object);
        let sealed = oek.seal(&kek).map_err(Error::internal)?;
        Ok((Self { iv, sealed }, oek))
    }

    /// Opens the OEK; fails when the external key, domain or path is not the one used.
    pub fn open(
        &self,
        external: &Key32,
        domain: Domain,
        bucket: &str,
        object: &str,
    ) -> Result<ObjectKey, keys::SecretKeyMismatch> {
        let kek = keys::kek(external, &self.iv, domain, bucket, object);
        ObjectKey::unseal(&self.sealed, &kek)
    }

    /// Reseals `oek` under another external key, keeping the IV (SSE-C key rotation).
    pub fn reseal(
        &self,
        oek: &ObjectKey,
        external: &Key32,
        domain: Domain,
        bucket: &str,
        object: &str,
    ) -> Result<Self, Error> {
        let kek = keys::kek(external, &self.iv, domain, bucket, object);
        Ok(Self {
            iv: self.iv,
            sealed: oek.seal(&kek).map_err(Error::internal)?,
        })
    }
}

/// The KES-wrapped part of an SSE-S3 / SSE-KMS object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsSealed {
    /// The sealed OEK.
    pub key: SealedKey,
    /// KES key name (the EK), without any `arn:aws:kms:` prefix.
    pub key_id: String,
    /// The DEK ciphertext exactly as KES returned it (opaque).
    pub dek: Vec<u8>,
    /// SSE-KMS only: base64 of the canonical JSON of the client's context, when one was given.
    pub context: Option<String>,
}

/// The 4-byte prefix of a DEK ciphertext made with version ≥ 1 of a KES key (our key server's
/// rotation extension, kes-api.md): magic, then the version as a big-endian u32. Upstream
/// formats (version 0) never carry it.
const VERSION_MAGIC: [u8; 4] = [0x00, b'K', b'V', 0x01];

impl KmsSealed {
    /// The KES context (associated data) of this DEK for the object at `bucket/object`: the
    /// stored client context (SSE-KMS) plus `{bucket: bucket/object}` (object-sse.md §2.2).
    pub fn kes_context(&self, bucket: &str, object: &str) -> Result<Vec<u8>, Error> {
        let client_ctx = self
            .context
            .as_deref()
            .map(context::parse_header)
            .transpose()
            .map_err(|_| Error::EncryptionMetadata("The internal encryption context is invalid"))?;
        Ok(context::object_context(client_ctx.as_ref(), bucket, object))
    }

    /// The EK version that sealed the DEK, as its ciphertext names it: the framed version, else
    /// 0. A hint only (a version-0 ciphertext starts with the frame by chance with probability
    /// 2^-32); KES authenticates the ciphertext whatever it says.
    pub fn ek_version(&self) -> u32 {
        self.dek
            .strip_prefix(&VERSION_MAGIC)
            .and_then(<[u8]>::first_chunk::<4>)
            .map_or(0, |v| u32::from_be_bytes(*v))
    }
}

/// Encryption state of a stored object or upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectEncryption {
    /// Plain object.
    None,
    /// SSE-C: the client key opens the OEK.
    SseC(SealedKey),
    /// SSE-S3: a DEK from the default key opens the OEK.
    SseS3(KmsSealed),
    /// SSE-KMS: a DEK from a named key (and context) opens the OEK.
    SseKms(KmsSealed),
}

fn iv_of(internal: &BTreeMap<String, String>) -> Result<[u8; IV_LEN], Error> {
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
    STANDARD
        .decode(iv_b64)
        .ok()
        .and_then(|raw| <[u8; IV_LEN]>::try_from(raw).ok())
        .ok_or(Error::EncryptionMetadata(
            "The internal encryption IV is malformed",
        ))
}

fn sealed_of(b64: &str, invalid: &'static str) -> Result<Vec<u8>, Error> {
    STANDARD
        .decode(b64)
        .ok()
        .filter(|s| s.len() == SEALED_KEY_LEN)
        .ok_or(Error::EncryptionMetadata(invalid))
}

fn kms_of(
    internal: &BTreeMap<String, String>,
    sealed_b64: &str,
    invalid: &'static str,
    missing: &'static str,
) -> Result<KmsSealed, Error> {
    let iv = iv_of(internal)?;
    let sealed = sealed_of(sealed_b64, invalid)?;
    let (Some(key_id), Some(dek_b64)) = (internal.get(META_KMS_KEY_ID), internal.get(META_KMS_DEK))
    else {
        return Err(Error::EncryptionMetadata(missing));
    };
    let dek = STANDARD
        .decode(dek_b64)
        .ok()
        .filter(|d| !d.is_empty())
        .ok_or(Error::EncryptionMetadata(invalid))?;
    Ok(KmsSealed {
        key: SealedKey { iv, sealed },
        key_id: key_id.clone(),
        dek,
        context: internal.get(META_CONTEXT).cloned(),
    })
}

impl ObjectEncryption {
    /// Parses the internal metadata (type detection and validation of §3.2).
    pub fn from_metadata(internal: &BTreeMap<String, String>) -> Result<Self, Error> {
        if let Some(b64) = internal.get(META_KMS_SEALED_KEY) {
            return kms_of(
                internal,
                b64,
                "The internal sealed key for SSE-KMS is invalid",
                "The object metadata is missing the internal KMS key for SSE-KMS",
            )
            .map(ObjectEncryption::SseKms);
        }
        if let Some(b64) = internal.get(META_S3_SEALED_KEY) {
            return kms_of(
                internal,
                b64,
                "The internal sealed key for SSE-S3 is invalid",
                "The object metadata is missing the internal KMS key for SSE-S3",
            )
            .map(ObjectEncryption::SseS3);
        }
        let Some(sealed_b64) = internal.get(META_SSEC_SEALED_KEY) else {
            return if ALL_META.iter().any(|k| internal.contains_key(*k)) {
                Err(Error::ObjectTampered)
            } else {
                Ok(ObjectEncryption::None)
            };
        };
        let iv = iv_of(internal)?;
        let sealed = sealed_of(sealed_b64, "The internal sealed key for SSE-C is invalid")?;
        Ok(ObjectEncryption::SseC(SealedKey { iv, sealed }))
    }

    /// Replaces every internal encryption entry of `internal` with this state's entries.
    pub fn write_metadata(&self, internal: &mut BTreeMap<String, String>, multipart: bool) {
        for k in ALL_META {
            internal.remove(k);
        }
        let (key, sealed_name) = match self {
            ObjectEncryption::None => return,
            ObjectEncryption::SseC(k) => (k, META_SSEC_SEALED_KEY),
            ObjectEncryption::SseS3(k) => (&k.key, META_S3_SEALED_KEY),
            ObjectEncryption::SseKms(k) => (&k.key, META_KMS_SEALED_KEY),
        };
        internal.insert(META_SEAL_ALGORITHM.to_owned(), SEAL_ALGORITHM.to_owned());
        internal.insert(META_IV.to_owned(), STANDARD.encode(key.iv));
        internal.insert(sealed_name.to_owned(), STANDARD.encode(&key.sealed));
        if let ObjectEncryption::SseS3(k) | ObjectEncryption::SseKms(k) = self {
            internal.insert(META_KMS_KEY_ID.to_owned(), k.key_id.clone());
            internal.insert(META_KMS_DEK.to_owned(), STANDARD.encode(&k.dek));
            if let Some(ctx) = &k.context {
                internal.insert(META_CONTEXT.to_owned(), ctx.clone());
            }
        }
        if multipart {
            internal.insert(META_ENCRYPTED_MULTIPART.to_owned(), String::new());
        }
    }

    /// Whether the object is encrypted at all.
    pub fn is_encrypted(&self) -> bool {
        !matches!(self, ObjectEncryption::None)
    }

    /// The KEK domain of this state (`None` for plain objects).
    pub fn domain(&self) -> Option<Domain> {
        match self {
            ObjectEncryption::None => None,
            ObjectEncryption::SseC(_) => Some(Domain::SseC),
            ObjectEncryption::SseS3(_) => Some(Domain::SseS3),
            ObjectEncryption::SseKms(_) => Some(Domain::SseKms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trip_and_tamper() {
        let client = Key32::from_bytes([9u8; 32]);
        let (sealed, oek) = SealedKey::create(&client, Domain::SseC, "b", "o").unwrap();
        let mut m = BTreeMap::new();
        ObjectEncryption::SseC(sealed.clone()).write_metadata(&mut m, true);
        assert_eq!(
            m.get(META_ENCRYPTED_MULTIPART).map(String::as_str),
            Some("")
        );
        let ObjectEncryption::SseC(s) = ObjectEncryption::from_metadata(&m).unwrap() else {
            panic!("not SSE-C")
        };
        let opened = s.open(&client, Domain::SseC, "b", "o").unwrap();
        assert!(opened.0.ct_eq(&oek.0));
        assert!(s.open(&client, Domain::SseC, "b", "other").is_err());
        assert!(s.open(&client, Domain::SseS3, "b", "o").is_err());
        assert!(
            s.open(&Key32::from_bytes([8u8; 32]), Domain::SseC, "b", "o")
                .is_err()
        );
        let new_key = Key32::from_bytes([1u8; 32]);
        let rotated = s.reseal(&opened, &new_key, Domain::SseC, "b", "o").unwrap();
        assert_eq!(rotated.iv, s.iv);
        assert!(
            rotated
                .open(&new_key, Domain::SseC, "b", "o")
                .unwrap()
                .0
                .ct_eq(&oek.0)
        );
        m.remove(META_SSEC_SEALED_KEY);
        assert!(matches!(
            ObjectEncryption::from_metadata(&m),
            Err(Error::ObjectTampered)
        ));
        assert_eq!(
            ObjectEncryption::from_metadata(&BTreeMap::new()).unwrap(),
            ObjectEncryption::None
        );
    }

    #[test]
    fn kms_metadata() {
        let dek = Key32::from_bytes([3u8; 32]);
        let (key, _) = SealedKey::create(&dek, Domain::SseKms, "b", "o").unwrap();
        let state = ObjectEncryption::SseKms(KmsSealed {
            key,
            key_id: "my-key".into(),
            dek: vec![7u8; 76],
            context: Some("e30=".into()),
        });
        let mut m = BTreeMap::new();
        m.insert(META_SSEC_SEALED_KEY.to_owned(), "stale".to_owned());
        state.write_metadata(&mut m, false);
        assert!(!m.contains_key(META_SSEC_SEALED_KEY));
        assert_eq!(ObjectEncryption::from_metadata(&m).unwrap(), state);
        let ObjectEncryption::SseKms(k) = &state else {
            unreachable!()
        };
        assert_eq!(k.ek_version(), 0);
        assert_eq!(
            k.kes_context("b", "o").unwrap(),
            br#"{"b":"b/o"}"#.to_vec(),
            "the stored context {{}} plus the bucket entry"
        );
        let framed = KmsSealed {
            dek: [&VERSION_MAGIC[..], &[0, 0, 1, 2], &[9u8; 76]].concat(),
            ..k.clone()
        };
        assert_eq!(framed.ek_version(), 258);
        m.remove(META_KMS_DEK);
        assert!(matches!(
            ObjectEncryption::from_metadata(&m),
            Err(Error::EncryptionMetadata(_))
        ));
    }
}
