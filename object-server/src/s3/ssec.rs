//! SSE request classification and the SSE-C checks shared by all operations
//! (object-sse.md §4.1–§4.3, §6.3; checklist items 5–12).

use http::HeaderMap;

use super::ObjectServer;
use crate::error::{Error, Result};
use crate::sse::StoredEncryption;
use crate::sse::keys::ObjectKey;
use crate::sse::params::{CustomerKey, Encryption, SseCError, SseCHeaders};

const COPY_SOURCE_SSEC: [&str; 3] = [
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
];
const SSEC: [&str; 3] = [
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
];
const SSE_KMS: [&str; 3] = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
];

fn any_header(headers: &HeaderMap, names: &[&str]) -> bool {
    names.iter().any(|n| headers.contains_key(*n))
}

/// Which operation parses SSE-C headers; it decides how validation errors are reported.
#[derive(Debug, Clone, Copy)]
pub(super) enum WriteOp<'a> {
    /// PutObject wraps every header error as `Invalid arguments provided for b/o: (…)`.
    PutObject { bucket: &'a str, key: &'a str },
    /// CreateMultipartUpload, CopyObject destination, UploadPart, Complete: §4.2 mapping.
    Other,
}

/// Maps an SSE-C header error for operations other than PutObject (§4.2).
pub(super) fn ssec_error(e: SseCError) -> Error {
    match e {
        SseCError::InvalidAlgorithm => Error::SseCAlgorithm,
        SseCError::MissingKey => Error::SseCMissingKey,
        SseCError::MissingKeyMd5 => Error::SseCMissingKeyMd5,
        SseCError::InvalidKey => Error::AccessDenied,
        SseCError::KeyMd5Mismatch => Error::SseCKeyMd5Mismatch,
    }
}

fn write_error(op: WriteOp<'_>, e: Error, crypto_text: &str) -> Error {
    match op {
        WriteOp::PutObject { bucket, key } => Error::InvalidArgument(format!(
            "Invalid arguments provided for {bucket}/{key}: ({crypto_text})"
        )),
        WriteOp::Other => e,
    }
}

impl ObjectServer {
    /// Refuses SSE-C (or copy-source SSE-C) headers on a server without TLS.
    pub(super) fn check_tls(&self, headers: &HeaderMap) -> Result<()> {
        if !self.tls && (any_header(headers, &SSEC) || any_header(headers, &COPY_SOURCE_SSEC)) {
            return Err(Error::SseCInsecure);
        }
        Ok(())
    }

    /// Encryption requested for a write (PutObject, CreateMultipartUpload, CopyObject destination).
    /// Checks TLS, SSE-C vs SSE-S3/KMS conflicts, the missing KMS, and the SSE-C headers.
    pub(super) fn write_encryption(
        &self,
        headers: &HeaderMap,
        ssec: SseCHeaders<'_>,
        op: WriteOp<'_>,
        copy_source_allowed: bool,
    ) -> Result<Encryption> {
        self.check_tls(headers)?;
        let kms_requested = any_header(headers, &SSE_KMS);
        if !copy_source_allowed
            && any_header(headers, &COPY_SOURCE_SSEC)
            && (ssec.requested() || kms_requested)
        {
            return Err(Error::EncryptionNotApplicable);
        }
        if ssec.requested() && kms_requested {
            return Err(write_error(
                op,
                Error::IncompatibleEncryption,
                "Server side encryption specified with both SSE-C and SSE-S3 headers",
            ));
        }
        if kms_requested {
            return Err(Error::KmsNotConfigured);
        }
        match ssec.parse() {
            Ok(Some(ck)) => Ok(Encryption::SseC(ck)),
            Ok(None) => Ok(Encryption::None),
            Err(e) => Err(write_error(op, ssec_error(e), &e.to_string())),
        }
    }

    /// Refuses SSE-S3/SSE-KMS headers on GET/HEAD (`BadRequest`).
    pub(super) fn check_read_headers(&self, headers: &HeaderMap) -> Result<()> {
        self.check_tls(headers)?;
        if any_header(headers, &SSE_KMS) {
            return Err(Error::SseOnRead);
        }
        Ok(())
    }
}

/// Opens the OEK of a stored object for a read (GET, HEAD, copy source):
/// * unencrypted object + SSE-C headers → `EncryptionNotApplicable`;
/// * SSE-C object without headers → `ObjectEncrypted`; bad headers → §4.2; wrong key → 403;
/// * SSE-S3/KMS object → needs a KMS (`KmsNotConfigured`), or `ObjectEncrypted` with SSE-C headers.
pub(super) fn open_for_read(
    stored: &StoredEncryption,
    ssec: SseCHeaders<'_>,
    bucket: &str,
    key: &str,
    missing_headers: Error,
) -> Result<Option<(ObjectKey, CustomerKey)>> {
    match stored {
        StoredEncryption::None => {
            if ssec.requested() {
                Err(Error::EncryptionNotApplicable)
            } else {
                Ok(None)
            }
        }
        StoredEncryption::Kms => {
            if ssec.requested() {
                Err(Error::ObjectEncrypted)
            } else {
                Err(Error::KmsNotConfigured)
            }
        }
        StoredEncryption::SseC(sealed) => {
            if !ssec.requested() {
                return Err(missing_headers);
            }
            let ck = ssec
                .parse()
                .map_err(ssec_error)?
                .ok_or(Error::ObjectEncrypted)?;
            let oek = sealed
                .open(ck.key(), bucket, key)
                .map_err(|_| Error::AccessDenied)?;
            Ok(Some((oek, ck)))
        }
    }
}
