//! The crate's one error enum and its exhaustive mapping to S3 error codes, statuses and messages.
//!
//! Client errors carry the exact S3/MinIO message; server errors (`Internal`) are logged with
//! their detail and answered with a generic `InternalError` text.

use s3s::{S3Error, S3ErrorCode};

use crate::storage::StorageError;

/// Every failure an S3 operation can produce.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404 `NoSuchBucket`.
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    /// 404 `NoSuchKey`.
    #[error("The specified key does not exist.")]
    NoSuchKey,
    /// 404 `NoSuchVersion`: a well-formed version id the key does not have.
    #[error("The specified version does not exist.")]
    NoSuchVersion,
    /// A delete marker was read: 404 `NoSuchKey` when it is the current version, 405
    /// `MethodNotAllowed` when named by `versionId`; both with `x-amz-delete-marker: true` and
    /// its `x-amz-version-id`.
    #[error("{}", if *named { "The specified method is not allowed against this resource." } else { "The specified key does not exist." })]
    DeleteMarker {
        /// The marker's version id as shown (`null` for the null version).
        version_id: String,
        /// Named by `versionId` (405) rather than reached as the current version (404).
        named: bool,
    },
    /// 404 `NoSuchUpload`.
    #[error(
        "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload,
    /// 409 `BucketAlreadyOwnedByYou`.
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    /// 409 `BucketNotEmpty`.
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    /// 400 `BadDigest`: Content-MD5 does not match the body.
    #[error("The Content-Md5 you specified did not match what we received.")]
    BadDigest,
    /// 400 `BadDigest`: an `x-amz-checksum-*` value (header or trailer) does not match the
    /// body; carries S3's algorithm name.
    #[error("The {0} you specified did not match the calculated checksum.")]
    ChecksumMismatch(&'static str),
    /// 400 `InvalidDigest`: Content-MD5 is not base64 of 16 bytes.
    #[error("The Content-Md5 you specified is not valid.")]
    InvalidDigest,
    /// 416 `InvalidRange` (computed against the plaintext size).
    #[error("The requested range is not satisfiable")]
    InvalidRange,
    /// 412 `PreconditionFailed`.
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    /// 304 `NotModified`.
    #[error("Not Modified")]
    NotModified,
    /// 400 `EntityTooSmall`: a non-final part below 5 MiB.
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    /// 400 `IncompleteBody`: the request body ended early or failed (e.g. chunk signature).
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    IncompleteBody,
    /// 400 `EntityTooLarge`.
    #[error("Your proposed upload exceeds the maximum allowed object size.")]
    EntityTooLarge,
    /// 400 `InvalidPart`.
    #[error(
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
    )]
    InvalidPart,
    /// 400 `InvalidPartOrder`.
    #[error(
        "The list of parts was not in ascending order. The parts list must be specified in order by part number."
    )]
    InvalidPartOrder,
    /// 400 `MalformedXML`.
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema."
    )]
    MalformedXml,
    /// 400 `MetadataTooLarge`.
    #[error("Your metadata headers exceed the maximum allowed metadata size.")]
    MetadataTooLarge,
    /// 400 `InvalidArgument` with a specific message.
    #[error("{0}")]
    InvalidArgument(String),
    /// 400 `InvalidRequest` with a specific message.
    #[error("{0}")]
    InvalidRequest(String),
    /// 403 `AccessDenied` (also: wrong or undecodable SSE-C key).
    #[error("Access Denied.")]
    AccessDenied,
    /// 400 `InvalidRequest`: SSE-C on a server without TLS.
    #[error(
        "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
    )]
    SseCInsecure,
    /// 400 `InvalidArgument`: bad/missing SSE-C algorithm.
    #[error(
        "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
    )]
    SseCAlgorithm,
    /// 400 `InvalidArgument`: missing SSE-C key.
    #[error(
        "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."
    )]
    SseCMissingKey,
    /// 400 `InvalidArgument`: missing SSE-C key MD5.
    #[error(
        "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key."
    )]
    SseCMissingKeyMd5,
    /// 400 `InvalidArgument`: SSE-C key MD5 mismatch.
    #[error("The calculated MD5 hash of the key did not match the hash that was provided.")]
    SseCKeyMd5Mismatch,
    /// 400 `InvalidRequest`: encrypted object read without the right SSE parameters.
    #[error(
        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
    )]
    ObjectEncrypted,
    /// 400 `InvalidRequest`: SSE-C parameters for an unencrypted object.
    #[error("The encryption parameters are not applicable to this object.")]
    EncryptionNotApplicable,
    /// 400 `InvalidArgument`: SSE-C together with SSE-S3/SSE-KMS.
    #[error(
        "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
    )]
    IncompatibleEncryption,
    /// 400 `InvalidRequest`: UploadPart encryption does not match the upload.
    #[error(
        "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters."
    )]
    MultipartEncryptionMismatch,
    /// 400 `InvalidArgument`: key rotation with old == new key that does not open the object.
    #[error("The provided encryption parameters did not match the ones used originally.")]
    RotationKeyMismatch,
    /// 400 `InvalidRequest`: copy onto itself without any change.
    #[error(
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
    )]
    InvalidCopy,
    /// 400 `BadRequest`: SSE-S3/SSE-KMS headers on GET/HEAD.
    #[error("400 BadRequest")]
    SseOnRead,
    /// 501 `NotImplemented`: SSE-S3/SSE-KMS without a KMS.
    #[error("Server side encryption specified but KMS is not configured")]
    KmsNotConfigured,
    /// 400 `InvalidArgument`: contradictory SSE-S3 / SSE-KMS headers.
    #[error(
        "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
    )]
    SseKmsHeader,
    /// 400 `InvalidRequest`: a KMS key id with leading or trailing spaces.
    #[error("The specified KMS KeyID contains unsupported characters")]
    KmsKeyIdInvalid,
    /// 404 `kms:KeyNotFound`: KES 404 `key does not exist`.
    #[error("key with given key ID does not exist")]
    KmsKeyNotFound,
    /// 403 `kms:NotAuthorized`: KES 403 `not authorized: insufficient permissions`.
    #[error("insufficient permissions to perform KMS operation")]
    KmsNotAuthorized,
    /// 403 `kms:KeyDisabled`: KES 403 `key is disabled` (project extension).
    #[error("key is disabled")]
    KmsKeyDisabled,
    /// 400 `kms:InvalidCiphertextException`: KES 400 `decryption failed: ciphertext is not
    /// authentic` (wrong context, e.g. metadata moved to another name).
    #[error("failed to decrypt ciphertext")]
    KmsInvalidCiphertext,
    /// 500 `kms:KeyGenerationFailed`: any other failure of a KES generate (unreachable, 5xx).
    #[error("failed to generate data key with KMS key")]
    KmsKeyGenerationFailed,
    /// 500 `kms:DecryptionFailed`: any other failure of a KES decrypt (unreachable, 5xx).
    #[error("failed to decrypt ciphertext with KMS key")]
    KmsDecryptionFailed,
    /// 404 `ServerSideEncryptionConfigurationNotFoundError`.
    #[error("The server side encryption configuration was not found")]
    NoBucketEncryption,
    /// 400 `MalformedXML` with MinIO's detail in parentheses.
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema. ({0})"
    )]
    MalformedXmlDetail(&'static str),
    /// 501 `NotImplemented`: an operation or option this server does not offer.
    #[error("{0}")]
    NotImplemented(&'static str),
    /// `XMinioObjectTampered` (MinIO answers HTTP 206): inconsistent encryption metadata/sizes.
    #[error("The requested object was modified and may be compromised")]
    ObjectTampered,
    /// 400 `XMinioEncryptionError`: malformed internal encryption metadata.
    #[error("{0}")]
    EncryptionMetadata(&'static str),
    /// 400 `MalformedPolicy` with S3's message (bucket policies).
    #[error("{0}")]
    MalformedPolicy(String),
    /// 400 `PolicyTooLarge`: a bucket policy over 20 KB.
    #[error("Policy exceeds the maximum allowed document size.")]
    PolicyTooLarge,
    /// 404 `NoSuchBucketPolicy`.
    #[error("The bucket policy does not exist")]
    NoSuchBucketPolicy,
    /// 404 `NoSuchPublicAccessBlockConfiguration`.
    #[error("The public access block configuration was not found")]
    NoSuchPublicAccessBlock,
    /// 400 `InvalidTag` with S3's message.
    #[error("{0}")]
    InvalidTag(String),
    /// 404 `NoSuchTagSet`.
    #[error("The TagSet does not exist")]
    NoSuchTagSet,
    /// 400 `AccessControlListNotSupported`: ACLs on a `BucketOwnerEnforced` bucket.
    #[error("The bucket does not allow ACLs")]
    AclNotSupported,
    /// 400 `UnresolvableGrantByEmailAddress`: a grantee named by e-mail address (S3 outside
    /// the regions that resolve them; this server has no e-mail directory).
    #[error("The e-mail address you provided does not match any account on record.")]
    UnresolvableGrantByEmail,
    /// 404 `OwnershipControlsNotFoundError`.
    #[error("The bucket ownership controls were not found")]
    NoOwnershipControls,
    /// 409 `InvalidBucketState` with S3's message (object lock vs. versioning).
    #[error("{0}")]
    InvalidBucketState(&'static str),
    /// 404 `ObjectLockConfigurationNotFoundError`.
    #[error("Object Lock configuration does not exist for this bucket")]
    NoObjectLockConfiguration,
    /// 404 `NoSuchObjectLockConfiguration`: a version without retention / legal hold.
    #[error("The specified object does not have a ObjectLock configuration")]
    NoSuchObjectLockConfiguration,
    /// 404 `NoSuchLifecycleConfiguration`.
    #[error("The lifecycle configuration does not exist")]
    NoSuchLifecycleConfiguration,
    /// 400 `InvalidTargetBucketForLogging`: the logging target bucket does not exist.
    #[error("The target bucket for logging does not exist")]
    InvalidTargetBucketForLogging,
    /// 500 `InternalError`; the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Wraps anything displayable as an internal error.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }

    fn code(&self) -> S3ErrorCode {
        match self {
            Error::NoSuchBucket => S3ErrorCode::NoSuchBucket,
            Error::NoSuchKey => S3ErrorCode::NoSuchKey,
            Error::NoSuchUpload => S3ErrorCode::NoSuchUpload,
            Error::NoSuchVersion => S3ErrorCode::NoSuchVersion,
            Error::DeleteMarker { named: true, .. } => S3ErrorCode::MethodNotAllowed,
            Error::DeleteMarker { named: false, .. } => S3ErrorCode::NoSuchKey,
            Error::BucketAlreadyOwnedByYou => S3ErrorCode::BucketAlreadyOwnedByYou,
            Error::BucketNotEmpty => S3ErrorCode::BucketNotEmpty,
            Error::BadDigest | Error::ChecksumMismatch(_) => S3ErrorCode::BadDigest,
            Error::InvalidDigest => S3ErrorCode::InvalidDigest,
            Error::InvalidRange => S3ErrorCode::InvalidRange,
            Error::PreconditionFailed => S3ErrorCode::PreconditionFailed,
            Error::NotModified => S3ErrorCode::NotModified,
            Error::EntityTooSmall => S3ErrorCode::EntityTooSmall,
            Error::EntityTooLarge => S3ErrorCode::EntityTooLarge,
            Error::IncompleteBody => S3ErrorCode::IncompleteBody,
            Error::InvalidPart => S3ErrorCode::InvalidPart,
            Error::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
            Error::MalformedXml | Error::MalformedXmlDetail(_) => S3ErrorCode::MalformedXML,
            Error::MetadataTooLarge => S3ErrorCode::MetadataTooLarge,
            Error::InvalidArgument(_)
            | Error::SseCAlgorithm
            | Error::SseCMissingKey
            | Error::SseCMissingKeyMd5
            | Error::SseCKeyMd5Mismatch
            | Error::IncompatibleEncryption
            | Error::SseKmsHeader
            | Error::RotationKeyMismatch => S3ErrorCode::InvalidArgument,
            Error::InvalidRequest(_)
            | Error::SseCInsecure
            | Error::ObjectEncrypted
            | Error::EncryptionNotApplicable
            | Error::MultipartEncryptionMismatch
            | Error::KmsKeyIdInvalid
            | Error::InvalidCopy => S3ErrorCode::InvalidRequest,
            Error::AccessDenied => S3ErrorCode::AccessDenied,
            Error::SseOnRead => S3ErrorCode::Custom("BadRequest".into()),
            Error::KmsNotConfigured | Error::NotImplemented(_) => S3ErrorCode::NotImplemented,
            Error::ObjectTampered => S3ErrorCode::Custom("XMinioObjectTampered".into()),
            Error::EncryptionMetadata(_) => S3ErrorCode::Custom("XMinioEncryptionError".into()),
            Error::KmsKeyNotFound => S3ErrorCode::Custom("kms:KeyNotFound".into()),
            Error::KmsNotAuthorized => S3ErrorCode::Custom("kms:NotAuthorized".into()),
            Error::KmsKeyDisabled => S3ErrorCode::Custom("kms:KeyDisabled".into()),
            Error::KmsInvalidCiphertext => {
                S3ErrorCode::Custom("kms:InvalidCiphertextException".into())
            }
            Error::KmsKeyGenerationFailed => S3ErrorCode::Custom("kms:KeyGenerationFailed".into()),
            Error::KmsDecryptionFailed => S3ErrorCode::Custom("kms:DecryptionFailed".into()),
            Error::NoBucketEncryption => {
                S3ErrorCode::Custom("ServerSideEncryptionConfigurationNotFoundError".into())
            }
            Error::MalformedPolicy(_) => S3ErrorCode::MalformedPolicy,
            Error::PolicyTooLarge => S3ErrorCode::Custom("PolicyTooLarge".into()),
            Error::NoSuchBucketPolicy => S3ErrorCode::NoSuchBucketPolicy,
            Error::NoSuchPublicAccessBlock => {
                S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into())
            }
            Error::InvalidTag(_) => S3ErrorCode::InvalidTag,
            Error::NoSuchTagSet => S3ErrorCode::NoSuchTagSet,
            Error::AclNotSupported => S3ErrorCode::AccessControlListNotSupported,
            Error::UnresolvableGrantByEmail => S3ErrorCode::UnresolvableGrantByEmailAddress,
            Error::NoOwnershipControls => S3ErrorCode::OwnershipControlsNotFoundError,
            Error::InvalidBucketState(_) => S3ErrorCode::InvalidBucketState,
            Error::NoObjectLockConfiguration => S3ErrorCode::ObjectLockConfigurationNotFoundError,
            Error::NoSuchObjectLockConfiguration => S3ErrorCode::NoSuchObjectLockConfiguration,
            Error::NoSuchLifecycleConfiguration => S3ErrorCode::NoSuchLifecycleConfiguration,
            Error::InvalidTargetBucketForLogging => S3ErrorCode::InvalidTargetBucketForLogging,
            Error::Internal(_) => S3ErrorCode::InternalError,
        }
    }

    fn status(&self) -> Option<http::StatusCode> {
        match self {
            Error::SseOnRead | Error::EncryptionMetadata(_) => Some(http::StatusCode::BAD_REQUEST),
            Error::ObjectTampered => Some(http::StatusCode::PARTIAL_CONTENT),
            Error::KmsKeyNotFound | Error::NoBucketEncryption | Error::NoSuchPublicAccessBlock => {
                Some(http::StatusCode::NOT_FOUND)
            }
            Error::PolicyTooLarge => Some(http::StatusCode::BAD_REQUEST),
            Error::KmsNotAuthorized | Error::KmsKeyDisabled => Some(http::StatusCode::FORBIDDEN),
            Error::KmsInvalidCiphertext => Some(http::StatusCode::BAD_REQUEST),
            Error::KmsKeyGenerationFailed | Error::KmsDecryptionFailed => {
                Some(http::StatusCode::INTERNAL_SERVER_ERROR)
            }
            Error::NoSuchBucket
            | Error::NoSuchKey
            | Error::NoSuchUpload
            | Error::NoSuchVersion
            | Error::DeleteMarker { .. }
            | Error::BucketAlreadyOwnedByYou
            | Error::BucketNotEmpty
            | Error::BadDigest
            | Error::ChecksumMismatch(_)
            | Error::InvalidDigest
            | Error::InvalidRange
            | Error::PreconditionFailed
            | Error::NotModified
            | Error::EntityTooSmall
            | Error::EntityTooLarge
            | Error::IncompleteBody
            | Error::InvalidPart
            | Error::InvalidPartOrder
            | Error::MalformedXml
            | Error::MalformedXmlDetail(_)
            | Error::SseKmsHeader
            | Error::KmsKeyIdInvalid
            | Error::MetadataTooLarge
            | Error::InvalidArgument(_)
            | Error::InvalidRequest(_)
            | Error::AccessDenied
            | Error::SseCInsecure
            | Error::SseCAlgorithm
            | Error::SseCMissingKey
            | Error::SseCMissingKeyMd5
            | Error::SseCKeyMd5Mismatch
            | Error::ObjectEncrypted
            | Error::EncryptionNotApplicable
            | Error::IncompatibleEncryption
            | Error::MultipartEncryptionMismatch
            | Error::RotationKeyMismatch
            | Error::InvalidCopy
            | Error::KmsNotConfigured
            | Error::NotImplemented(_)
            | Error::MalformedPolicy(_)
            | Error::NoSuchBucketPolicy
            | Error::InvalidTag(_)
            | Error::NoSuchTagSet
            | Error::AclNotSupported
            | Error::UnresolvableGrantByEmail
            | Error::NoOwnershipControls
            | Error::InvalidBucketState(_)
            | Error::NoObjectLockConfiguration
            | Error::NoSuchObjectLockConfiguration
            | Error::NoSuchLifecycleConfiguration
            | Error::InvalidTargetBucketForLogging
            | Error::Internal(_) => None,
        }
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NoSuchBucket => Error::NoSuchBucket,
            StorageError::NoSuchKey => Error::NoSuchKey,
            StorageError::NoSuchVersion => Error::NoSuchVersion,
            StorageError::NoSuchUpload => Error::NoSuchUpload,
            StorageError::BucketExists => Error::BucketAlreadyOwnedByYou,
            StorageError::BucketNotEmpty => Error::BucketNotEmpty,
            StorageError::Corrupt(m) => Error::Internal(format!("corrupt storage: {m}")),
            StorageError::Io(e) => Error::Internal(format!("storage I/O: {e}")),
        }
    }
}

impl From<Error> for S3Error {
    fn from(e: Error) -> Self {
        let code = e.code();
        let message = match &e {
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "We encountered an internal error, please try again.".to_owned()
            }
            other => other.to_string(),
        };
        let mut err = S3Error::with_message(code, message);
        if let Some(status) = e.status() {
            err.set_status_code(status);
        }
        if let Error::DeleteMarker { version_id, .. } = &e {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                "x-amz-delete-marker",
                http::HeaderValue::from_static("true"),
            );
            if let Ok(v) = http::HeaderValue::from_str(version_id) {
                headers.insert("x-amz-version-id", v);
            }
            err.set_headers(headers);
        }
        err
    }
}

/// Result alias for the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
