//! [`Sse`], the front door the S3 handlers ask about encryption, and [`Keyed`], an object key in
//! hand together with the object's encryption state.
//!
//! * writes: [`Sse::requested`] (headers → [`Requested`]), then [`Sse::seal_new`] (a fresh OEK;
//!   SSE-S3/SSE-KMS ask KES for a fresh DEK — one generate per object or upload);
//! * reads: [`Sse::open`] (stored state + SSE-C headers → OEK; SSE-S3/SSE-KMS cost one KES
//!   decrypt, nothing is cached);
//! * ETags: [`Keyed::seal_etag`] / [`Keyed::client_etag`] (§4.8) and [`Sse::visible_etag`] for
//!   metadata-only answers (HEAD, listings), which fall back to the 32-hex formatted form when
//!   an SSE-S3 ETag cannot be decrypted;
//! * response headers: [`ResponseSse`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use rand::RngCore;

use super::context;
use super::keys::{Domain, Key32, ObjectKey, formatted_etag};
use super::kms::Kms;
use super::meta::{KmsSealed, ObjectEncryption, SealedKey};
use super::params::{CustomerKey, SSE_C_ALGORITHM, SseCHeaders};
use super::request::{self, BucketDefault, Requested, WriteOp};
use crate::error::Error;

/// SSE response headers of one object (PUT/GET/HEAD/UploadPart and, as AWS does, CopyObject,
/// CreateMultipartUpload, UploadPartCopy and CompleteMultipartUpload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseSse {
    /// `x-amz-server-side-encryption`: `AES256` (SSE-S3) or `aws:kms`.
    pub algorithm: Option<&'static str>,
    /// `x-amz-server-side-encryption-aws-kms-key-id` (bare key name).
    pub kms_key_id: Option<String>,
    /// `x-amz-server-side-encryption-context` (stored base64).
    pub context: Option<String>,
    /// `x-amz-server-side-encryption-customer-algorithm`.
    pub customer_algorithm: Option<String>,
    /// `x-amz-server-side-encryption-customer-key-MD5` (when the client sent the key).
    pub customer_key_md5: Option<String>,
}

impl ResponseSse {
    /// The headers of a stored state; `customer` is the SSE-C key the request carried.
    pub fn of(state: &ObjectEncryption, customer: Option<&CustomerKey>) -> Self {
        match state {
            ObjectEncryption::None => Self::default(),
            ObjectEncryption::SseC(_) => Self {
                customer_algorithm: Some(SSE_C_ALGORITHM.to_owned()),
                customer_key_md5: customer.map(|c| c.key_md5().to_owned()),
                ..Self::default()
            },
            ObjectEncryption::SseS3(_) => Self {
                algorithm: Some("AES256"),
                ..Self::default()
            },
            ObjectEncryption::SseKms(k) => Self {
                algorithm: Some("aws:kms"),
                kms_key_id: Some(k.key_id.clone()),
                context: k.context.clone(),
                ..Self::default()
            },
        }
    }

    /// Adds the headers to a response header map (for outputs without typed fields).
    pub fn insert_into(&self, headers: &mut HeaderMap) {
        let pairs = [
            (request::H_SSE, self.algorithm.map(str::to_owned)),
            (request::H_KMS_KEY_ID, self.kms_key_id.clone()),
            (request::H_CONTEXT, self.context.clone()),
            (request::SSEC[0], self.customer_algorithm.clone()),
            (request::SSEC[2], self.customer_key_md5.clone()),
        ];
        for (name, value) in pairs {
            if let Some(v) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
                headers.insert(name, v);
            }
        }
    }
}

/// An object key in hand with the object's encryption state.
#[derive(Debug, Clone)]
pub struct Keyed {
    state: ObjectEncryption,
    oek: ObjectKey,
    customer: Option<CustomerKey>,
}

impl Keyed {
    /// The encryption state (to store, or as read).
    pub fn state(&self) -> &ObjectEncryption {
        &self.state
    }

    /// The key of a single-part object's DARE stream (the OEK).
    pub fn object_key(&self) -> &Key32 {
        &self.oek.0
    }

    /// Seals a stored checksum value of this object (or upload) under its OEK.
    pub fn seal_checksum(&self, value: &str) -> Result<String, Error> {
        self.oek.seal_checksum(value).map_err(Error::internal)
    }

    /// Opens a checksum value sealed by [`Keyed::seal_checksum`].
    pub fn open_checksum(&self, sealed_hex: &str) -> Option<String> {
        self.oek.open_checksum(sealed_hex)
    }

    /// The key of multipart part `number`.
    pub fn part_key(&self, number: u32) -> Key32 {
        self.oek.part_key(number)
    }

    /// One key per DARE stream: the OEK for a single-part object (`parts` empty), else one
    /// part key per part number.
    pub fn stream_keys(&self, parts: &[u32]) -> Vec<Key32> {
        if parts.is_empty() {
            vec![self.oek.0.clone()]
        } else {
            parts.iter().map(|n| self.oek.part_key(*n)).collect()
        }
    }

    /// The stored (sealed, 96-hex) ETag of a new single-part object or part: SSE-S3 seals the
    /// plaintext MD5; SSE-KMS and SSE-C seal the client's Content-MD5 or 16 random bytes.
    pub fn seal_etag(&self, md5: [u8; 16], content_md5: Option<[u8; 16]>) -> Result<String, Error> {
        let value = match (&self.state, content_md5) {
            (ObjectEncryption::SseS3(_), _) => md5,
            (_, Some(m)) => m,
            (_, None) => {
                let mut r = [0u8; 16];
                rand::rng().fill_bytes(&mut r);
                r
            }
        };
        self.oek.seal_etag(&value).map_err(Error::internal)
    }

    /// The stored ETag of new multipart part `number`: SSE-S3 keeps the sealed 96-hex value
    /// (shown decrypted: the plaintext MD5), SSE-KMS and SSE-C a 32-hex value keyed by the
    /// upload's OEK ([`ObjectKey::part_etag_value`]) — not the MD5, and the same for the same
    /// part number and bytes, so a re-uploaded identical part completes with either ETag (S3:
    /// the last upload of a part number wins).
    pub fn part_etag(&self, number: u32, md5: [u8; 16]) -> Result<String, Error> {
        Ok(match self.state {
            ObjectEncryption::SseS3(_) => self.seal_etag(md5, None)?,
            _ => hex::encode(self.oek.part_etag_value(number, &md5)),
        })
    }

    /// The ETag clients see for a stored sealed ETag: SSE-S3 → the decrypted MD5 (hex), else
    /// the formatted last 32 hex characters. Multipart `…-N` ETags are returned unchanged.
    pub fn client_etag(&self, stored: &str) -> String {
        if stored.contains('-') || stored.len() < 64 {
            return stored.to_owned();
        }
        match &self.state {
            ObjectEncryption::SseS3(_) => self
                .oek
                .open_etag(stored)
                .map_or_else(|| formatted_etag(stored), hex::encode),
            _ => formatted_etag(stored),
        }
    }

    /// The response headers.
    pub fn response(&self) -> ResponseSse {
        ResponseSse::of(&self.state, self.customer.as_ref())
    }

    /// SSE-C key rotation: the state resealed under `new` (same IV); unchanged when the keys
    /// are equal. Only for SSE-C objects.
    pub fn reseal_customer(
        &self,
        new: &CustomerKey,
        bucket: &str,
        object: &str,
    ) -> Result<ObjectEncryption, Error> {
        match (&self.state, &self.customer) {
            (ObjectEncryption::SseC(_), Some(old)) if old.same_key(new) => Ok(self.state.clone()),
            (ObjectEncryption::SseC(sealed), _) => Ok(ObjectEncryption::SseC(sealed.reseal(
                &self.oek,
                new.key(),
                Domain::SseC,
                bucket,
                object,
            )?)),
            _ => Err(Error::Internal("key rotation of a non SSE-C object".into())),
        }
    }
}

/// The encryption front door: TLS state, the KMS (when configured) and auto-encryption.
#[derive(Debug, Clone)]
pub struct Sse {
    kms: Option<Kms>,
    tls: bool,
    auto_encryption: bool,
}

impl Sse {
    /// `tls`: whether the server serves HTTPS (SSE-C is refused otherwise).
    pub fn new(kms: Option<Kms>, tls: bool, auto_encryption: bool) -> Self {
        Self {
            kms,
            tls,
            auto_encryption,
        }
    }

    /// The KMS, if configured.
    pub fn kms(&self) -> Option<&Kms> {
        self.kms.as_ref()
    }

    /// Refuses SSE-C headers without TLS.
    pub fn check_tls(&self, headers: &HeaderMap) -> Result<(), Error> {
        request::check_tls(headers, self.tls)
    }

    /// GET/HEAD header checks.
    pub fn check_read_headers(&self, headers: &HeaderMap) -> Result<(), Error> {
        request::check_read_headers(headers, self.tls)
    }

    /// Encryption requested for a write, the bucket default (or auto-encryption) applied when
    /// the request has no SSE header.
    pub fn requested(
        &self,
        headers: &HeaderMap,
        op: WriteOp<'_>,
        copy_source_allowed: bool,
        bucket_default: Option<&BucketDefault>,
    ) -> Result<Requested, Error> {
        let auto = BucketDefault::SseKms(None);
        let default = bucket_default.or((self.auto_encryption).then_some(&auto));
        request::parse_write(
            headers,
            self.tls,
            self.kms.is_some(),
            op,
            copy_source_allowed,
            default,
        )
    }

    fn kms_or_501(&self) -> Result<&Kms, Error> {
        self.kms.as_ref().ok_or(Error::KmsNotConfigured)
    }

    /// A fresh OEK for a new object or upload at `bucket/object` (`None` for plain objects).
    pub async fn seal_new(
        &self,
        req: &Requested,
        bucket: &str,
        object: &str,
    ) -> Result<Option<Keyed>, Error> {
        let (domain, key_id, client_ctx) = match req {
            Requested::None => return Ok(None),
            Requested::SseC(ck) => {
                let (sealed, oek) = SealedKey::create(ck.key(), Domain::SseC, bucket, object)?;
                return Ok(Some(Keyed {
                    state: ObjectEncryption::SseC(sealed),
                    oek,
                    customer: Some(ck.clone()),
                }));
            }
            Requested::SseS3 => (Domain::SseS3, None, None),
            Requested::SseKms { key_id, context } => {
                (Domain::SseKms, key_id.as_deref(), context.as_ref())
            }
        };
        let kms = self.kms_or_501()?;
        let key_id = key_id.unwrap_or(kms.default_key()).to_owned();
        let ctx = context::object_context(client_ctx, bucket, object);
        let dek = kms.generate(&key_id, &ctx).await?;
        let (key, oek) = SealedKey::create(&dek.plaintext, domain, bucket, object)?;
        let sealed = KmsSealed {
            key,
            key_id,
            dek: dek.ciphertext,
            context: client_ctx
                .filter(|c| !c.is_empty())
                .map(|c| STANDARD.encode(context::encode(c))),
        };
        let state = match domain {
            Domain::SseS3 => ObjectEncryption::SseS3(sealed),
            Domain::SseKms | Domain::SseC => ObjectEncryption::SseKms(sealed),
        };
        Ok(Some(Keyed {
            state,
            oek,
            customer: None,
        }))
    }

    /// Unwraps the DEK of an SSE-S3/SSE-KMS object through KES and opens its OEK.
    async fn open_kms(
        &self,
        k: &KmsSealed,
        domain: Domain,
        bucket: &str,
        object: &str,
    ) -> Result<ObjectKey, Error> {
        let kms = self.kms_or_501()?;
        let ctx = k.kes_context(bucket, object)?;
        let dek = kms.decrypt(&k.key_id, &k.dek, &ctx).await?;
        k.key
            .open(&dek, domain, bucket, object)
            .map_err(|_| Error::ObjectTampered)
    }

    /// Opens the OEK of a stored object or upload for a read (GET, HEAD, copy source, parts):
    /// * plain object + SSE-C headers → `EncryptionNotApplicable`;
    /// * SSE-C object without headers → `missing_headers`; bad headers → §4.2; wrong key → 403;
    /// * SSE-S3/SSE-KMS object with SSE-C headers → `ObjectEncrypted`; else one KES decrypt
    ///   (errors per §2.3 / §7).
    pub async fn open(
        &self,
        stored: &ObjectEncryption,
        ssec: SseCHeaders<'_>,
        bucket: &str,
        object: &str,
        missing_headers: Error,
    ) -> Result<Option<Keyed>, Error> {
        match stored {
            ObjectEncryption::None => {
                if ssec.requested() {
                    Err(Error::EncryptionNotApplicable)
                } else {
                    Ok(None)
                }
            }
            ObjectEncryption::SseS3(k) | ObjectEncryption::SseKms(k) => {
                if ssec.requested() {
                    return Err(Error::ObjectEncrypted);
                }
                let domain = stored.domain().unwrap_or(Domain::SseS3);
                let oek = self.open_kms(k, domain, bucket, object).await?;
                Ok(Some(Keyed {
                    state: stored.clone(),
                    oek,
                    customer: None,
                }))
            }
            ObjectEncryption::SseC(sealed) => {
                if !ssec.requested() {
                    return Err(missing_headers);
                }
                let ck = ssec
                    .parse()
                    .map_err(request::ssec_error)?
                    .ok_or(Error::ObjectEncrypted)?;
                let oek = sealed
                    .open(ck.key(), Domain::SseC, bucket, object)
                    .map_err(|_| Error::AccessDenied)?;
                Ok(Some(Keyed {
                    state: stored.clone(),
                    oek,
                    customer: Some(ck),
                }))
            }
        }
    }

    /// The OEK of a multipart upload for UploadPart / UploadPartCopy / Complete: SSE-C uploads
    /// need the SSE-C headers (`required`; wrong key → 403), SSE-S3/SSE-KMS uploads refuse
    /// them and cost one KES decrypt, plain uploads refuse SSE-C headers.
    pub async fn open_upload(
        &self,
        stored: &ObjectEncryption,
        ssec: SseCHeaders<'_>,
        bucket: &str,
        object: &str,
        required: bool,
    ) -> Result<Option<Keyed>, Error> {
        match stored {
            ObjectEncryption::SseC(_) if !ssec.requested() => {
                if required {
                    Err(Error::MultipartEncryptionMismatch)
                } else {
                    Ok(None)
                }
            }
            ObjectEncryption::SseS3(_) | ObjectEncryption::SseKms(_) if ssec.requested() => {
                Err(Error::MultipartEncryptionMismatch)
            }
            _ => {
                self.open(
                    stored,
                    ssec,
                    bucket,
                    object,
                    Error::MultipartEncryptionMismatch,
                )
                .await
            }
        }
    }

    /// The ETag clients see for a stored object without opening it for data (HEAD of SSE-S3,
    /// listings, conditional PUT): SSE-S3 single-part objects cost one KES decrypt, and fall
    /// back to the formatted 32-hex form when that fails (key deleted or disabled, KES down).
    pub async fn visible_etag(
        &self,
        stored_etag: &str,
        state: &ObjectEncryption,
        multipart: bool,
        bucket: &str,
        object: &str,
    ) -> String {
        if multipart {
            return stored_etag.to_owned();
        }
        match state {
            ObjectEncryption::None => stored_etag.to_owned(),
            ObjectEncryption::SseC(_) | ObjectEncryption::SseKms(_) => formatted_etag(stored_etag),
            ObjectEncryption::SseS3(k) => {
                match self.open_kms(k, Domain::SseS3, bucket, object).await {
                    Ok(oek) => Keyed {
                        state: state.clone(),
                        oek,
                        customer: None,
                    }
                    .client_etag(stored_etag),
                    Err(_) => formatted_etag(stored_etag),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kms() -> Kms {
        let key = client::ApiKey::generate().unwrap();
        let c = client::Client::builder()
            .endpoint("https://127.0.0.1:1")
            .api_key(key)
            .build()
            .unwrap();
        Kms::new(c, "default-key", Vec::new())
    }

    #[test]
    fn auto_encryption_applies_only_without_headers_and_bucket_default() {
        let none = HeaderMap::new();
        let sse = Sse::new(Some(kms()), true, true);
        assert!(matches!(
            sse.requested(&none, WriteOp::Other, false, None),
            Ok(Requested::SseKms {
                key_id: None,
                context: None
            })
        ));
        assert!(matches!(
            sse.requested(&none, WriteOp::Other, false, Some(&BucketDefault::SseS3)),
            Ok(Requested::SseS3)
        ));
        let mut s3 = HeaderMap::new();
        s3.insert(request::H_SSE, http::HeaderValue::from_static("AES256"));
        assert!(matches!(
            sse.requested(&s3, WriteOp::Other, false, None),
            Ok(Requested::SseS3)
        ));
        let off = Sse::new(Some(kms()), true, false);
        assert!(matches!(
            off.requested(&none, WriteOp::Other, false, None),
            Ok(Requested::None)
        ));
    }

    #[test]
    fn response_headers_per_state() {
        let dek = Key32::from_bytes([1u8; 32]);
        let (key, _) = SealedKey::create(&dek, Domain::SseKms, "b", "o").unwrap();
        let state = ObjectEncryption::SseKms(KmsSealed {
            key: key.clone(),
            key_id: "k1".into(),
            dek: vec![1; 76],
            context: Some("e30=".into()),
        });
        let r = ResponseSse::of(&state, None);
        assert_eq!(r.algorithm, Some("aws:kms"));
        assert_eq!(r.kms_key_id.as_deref(), Some("k1"));
        assert_eq!(r.context.as_deref(), Some("e30="));
        assert_eq!(
            ResponseSse::of(&ObjectEncryption::SseC(key), None)
                .customer_algorithm
                .as_deref(),
            Some("AES256")
        );
        assert_eq!(
            ResponseSse::of(&ObjectEncryption::None, None),
            ResponseSse::default()
        );
    }
}
