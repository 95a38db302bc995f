use super::*;
use http::StatusCode;

/// Every variant: S3 code, HTTP status and message as sent.
#[test]
fn every_error_maps_to_its_s3_code_status_and_message() {
    let table: Vec<(Error, &str, u16, &str)> = vec![
        (
            Error::NoSuchBucket,
            "NoSuchBucket",
            404,
            "The specified bucket does not exist",
        ),
        (
            Error::NoSuchKey,
            "NoSuchKey",
            404,
            "The specified key does not exist.",
        ),
        (
            Error::NoSuchUpload,
            "NoSuchUpload",
            404,
            "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        ),
        (
            Error::NoSuchVersion,
            "NoSuchVersion",
            404,
            "The specified version does not exist.",
        ),
        (
            Error::DeleteMarker {
                version_id: "null".to_owned(),
                named: false,
            },
            "NoSuchKey",
            404,
            "The specified key does not exist.",
        ),
        (
            Error::DeleteMarker {
                version_id: "null".to_owned(),
                named: true,
            },
            "MethodNotAllowed",
            405,
            "The specified method is not allowed against this resource.",
        ),
        (
            Error::BucketAlreadyOwnedByYou,
            "BucketAlreadyOwnedByYou",
            409,
            "Your previous request to create the named bucket succeeded and you already own it.",
        ),
        (
            Error::BucketNotEmpty,
            "BucketNotEmpty",
            409,
            "The bucket you tried to delete is not empty",
        ),
        (
            Error::BadDigest,
            "BadDigest",
            400,
            "The Content-Md5 you specified did not match what we received.",
        ),
        (
            Error::ChecksumMismatch("CRC32"),
            "BadDigest",
            400,
            "The CRC32 you specified did not match the calculated checksum.",
        ),
        (
            Error::InvalidDigest,
            "InvalidDigest",
            400,
            "The Content-Md5 you specified is not valid.",
        ),
        (
            Error::InvalidRange,
            "InvalidRange",
            416,
            "The requested range is not satisfiable",
        ),
        (
            Error::PreconditionFailed,
            "PreconditionFailed",
            412,
            "At least one of the pre-conditions you specified did not hold",
        ),
        (Error::NotModified, "NotModified", 304, "Not Modified"),
        (
            Error::EntityTooSmall,
            "EntityTooSmall",
            400,
            "Your proposed upload is smaller than the minimum allowed object size.",
        ),
        (
            Error::IncompleteBody,
            "IncompleteBody",
            400,
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ),
        (
            Error::EntityTooLarge,
            "EntityTooLarge",
            400,
            "Your proposed upload exceeds the maximum allowed object size.",
        ),
        (
            Error::InvalidPart,
            "InvalidPart",
            400,
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        ),
        (
            Error::InvalidPartOrder,
            "InvalidPartOrder",
            400,
            "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
        ),
        (
            Error::MalformedXml,
            "MalformedXML",
            400,
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ),
        (
            Error::MalformedXmlDetail("x"),
            "MalformedXML",
            400,
            "The XML you provided was not well-formed or did not validate against our published schema. (x)",
        ),
        (
            Error::MetadataTooLarge,
            "MetadataTooLarge",
            400,
            "Your metadata headers exceed the maximum allowed metadata size.",
        ),
        (
            Error::InvalidArgument("a".into()),
            "InvalidArgument",
            400,
            "a",
        ),
        (
            Error::InvalidRequest("r".into()),
            "InvalidRequest",
            400,
            "r",
        ),
        (Error::AccessDenied, "AccessDenied", 403, "Access Denied."),
        (
            Error::SseCInsecure,
            "InvalidRequest",
            400,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ),
        (
            Error::SseCAlgorithm,
            "InvalidArgument",
            400,
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        ),
        (
            Error::SseCMissingKey,
            "InvalidArgument",
            400,
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        ),
        (
            Error::SseCMissingKeyMd5,
            "InvalidArgument",
            400,
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        ),
        (
            Error::SseCKeyMd5Mismatch,
            "InvalidArgument",
            400,
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ),
        (
            Error::ObjectEncrypted,
            "InvalidRequest",
            400,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        ),
        (
            Error::EncryptionNotApplicable,
            "InvalidRequest",
            400,
            "The encryption parameters are not applicable to this object.",
        ),
        (
            Error::IncompatibleEncryption,
            "InvalidArgument",
            400,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        ),
        (
            Error::MultipartEncryptionMismatch,
            "InvalidRequest",
            400,
            "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.",
        ),
        (
            Error::RotationKeyMismatch,
            "InvalidArgument",
            400,
            "The provided encryption parameters did not match the ones used originally.",
        ),
        (
            Error::InvalidCopy,
            "InvalidRequest",
            400,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ),
        (Error::SseOnRead, "BadRequest", 400, "400 BadRequest"),
        (
            Error::KmsNotConfigured,
            "NotImplemented",
            501,
            "Server side encryption specified but KMS is not configured",
        ),
        (
            Error::SseKmsHeader,
            "InvalidArgument",
            400,
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        ),
        (
            Error::KmsKeyIdInvalid,
            "InvalidRequest",
            400,
            "The specified KMS KeyID contains unsupported characters",
        ),
        (
            Error::KmsKeyNotFound,
            "kms:KeyNotFound",
            404,
            "key with given key ID does not exist",
        ),
        (
            Error::KmsNotAuthorized,
            "kms:NotAuthorized",
            403,
            "insufficient permissions to perform KMS operation",
        ),
        (
            Error::KmsKeyDisabled,
            "kms:KeyDisabled",
            403,
            "key is disabled",
        ),
        (
            Error::KmsInvalidCiphertext,
            "kms:InvalidCiphertextException",
            400,
            "failed to decrypt ciphertext",
        ),
        (
            Error::KmsKeyGenerationFailed,
            "kms:KeyGenerationFailed",
            500,
            "failed to generate data key with KMS key",
        ),
        (
            Error::KmsDecryptionFailed,
            "kms:DecryptionFailed",
            500,
            "failed to decrypt ciphertext with KMS key",
        ),
        (
            Error::NoBucketEncryption,
            "ServerSideEncryptionConfigurationNotFoundError",
            404,
            "The server side encryption configuration was not found",
        ),
        (Error::NotImplemented("n"), "NotImplemented", 501, "n"),
        (
            Error::UnresolvableGrantByEmail,
            "UnresolvableGrantByEmailAddress",
            400,
            "The e-mail address you provided does not match any account on record.",
        ),
        (
            Error::ObjectTampered,
            "XMinioObjectTampered",
            206,
            "The requested object was modified and may be compromised",
        ),
        (
            Error::EncryptionMetadata("m"),
            "XMinioEncryptionError",
            400,
            "m",
        ),
        (
            Error::InvalidBucketState("s"),
            "InvalidBucketState",
            409,
            "s",
        ),
        (
            Error::NoObjectLockConfiguration,
            "ObjectLockConfigurationNotFoundError",
            404,
            "Object Lock configuration does not exist for this bucket",
        ),
        (
            Error::NoSuchObjectLockConfiguration,
            "NoSuchObjectLockConfiguration",
            404,
            "The specified object does not have a ObjectLock configuration",
        ),
        (
            Error::NoSuchLifecycleConfiguration,
            "NoSuchLifecycleConfiguration",
            404,
            "The lifecycle configuration does not exist",
        ),
        (
            Error::InvalidTargetBucketForLogging,
            "InvalidTargetBucketForLogging",
            400,
            "The target bucket for logging does not exist",
        ),
        (
            Error::Internal("secret detail".into()),
            "InternalError",
            500,
            "We encountered an internal error, please try again.",
        ),
    ];
    for (err, code, status, message) in table {
        let e = S3Error::from(err);
        assert_eq!(e.code().as_str(), code);
        assert_eq!(
            e.status_code()
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .as_u16(),
            status,
            "{code}"
        );
        assert_eq!(e.message(), Some(message), "{code}");
    }
}
