//! SSE request headers → [`Requested`] (object-sse.md §4.1–§4.2, §6.2–§6.3).
//!
//! * "SSE-C requested" = any of the three SSE-C headers present (value ignored).
//! * "SSE-S3 requested" = `x-amz-server-side-encryption` present and not `aws:kms` (any case);
//!   "SSE-KMS requested" = key-id or context header present, or the SSE header present and not
//!   `AES256` (any case). Both at once (`aws:kms:dsse`, `AES192`, `AES256` + key id, a key id
//!   without `aws:kms`) → 400 `InvalidArgument`.
//! * A bucket default (or `MINIO_KMS_AUTO_ENCRYPTION`) is applied only when the request carries
//!   no SSE header of any kind.
//! * On PutObject every header error is `Invalid arguments provided for b/o: (…)`.

use http::HeaderMap;

use super::context::{self, Context};
use super::params::{CustomerKey, SseCError, SseCHeaders};
use crate::error::Error;

/// `x-amz-server-side-encryption`
pub const H_SSE: &str = "x-amz-server-side-encryption";
/// `x-amz-server-side-encryption-aws-kms-key-id`
pub const H_KMS_KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
/// `x-amz-server-side-encryption-context`
pub const H_CONTEXT: &str = "x-amz-server-side-encryption-context";
const SSE_KMS: [&str; 3] = [H_SSE, H_KMS_KEY_ID, H_CONTEXT];
/// The three SSE-C headers.
pub const SSEC: [&str; 3] = [
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
];
/// The three copy-source SSE-C headers.
pub const COPY_SOURCE_SSEC: [&str; 3] = [
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
];
const ARN_PREFIX: &str = "arn:aws:kms:";

/// Server-side encryption requested for a new object or upload.
#[derive(Debug, Clone)]
pub enum Requested {
    /// No SSE.
    None,
    /// SSE-C with the client's key.
    SseC(CustomerKey),
    /// SSE-S3 (the default KES key).
    SseS3,
    /// SSE-KMS with a key name (`None` = the default key) and the client's context.
    SseKms {
        /// KES key name, `arn:aws:kms:` prefix stripped.
        key_id: Option<String>,
        /// The client's context map.
        context: Option<Context>,
    },
}

/// A bucket's default encryption (PutBucketEncryption), or `MINIO_KMS_AUTO_ENCRYPTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketDefault {
    /// `AES256`.
    SseS3,
    /// `aws:kms` with the configured key id (stored as given; the `arn:aws:kms:` prefix is
    /// stripped when applied; `None` = default key).
    SseKms(Option<String>),
}

/// Which operation parses the headers; it decides how validation errors are reported.
#[derive(Debug, Clone, Copy)]
pub enum WriteOp<'a> {
    /// PutObject wraps every header error as `Invalid arguments provided for b/o: (…)`.
    PutObject {
        /// Bucket.
        bucket: &'a str,
        /// Object key.
        key: &'a str,
    },
    /// CreateMultipartUpload, CopyObject destination: §4.2 mapping.
    Other,
}

fn any_header(headers: &HeaderMap, names: &[&str]) -> bool {
    names.iter().any(|n| headers.contains_key(*n))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

/// The SSE-C header set of a request (`copy_source` for the copy-source set).
pub fn ssec_headers(headers: &HeaderMap, copy_source: bool) -> SseCHeaders<'_> {
    let names = if copy_source { COPY_SOURCE_SSEC } else { SSEC };
    SseCHeaders {
        algorithm: header(headers, names[0]),
        key: header(headers, names[1]),
        key_md5: header(headers, names[2]),
    }
}

/// Maps an SSE-C header error for operations other than PutObject (§4.2).
pub fn ssec_error(e: SseCError) -> Error {
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

/// Refuses SSE-C (or copy-source SSE-C) headers on a server without TLS.
pub fn check_tls(headers: &HeaderMap, tls: bool) -> Result<(), Error> {
    if !tls && (any_header(headers, &SSEC) || any_header(headers, &COPY_SOURCE_SSEC)) {
        return Err(Error::SseCInsecure);
    }
    Ok(())
}

/// GET/HEAD: TLS check for SSE-C, and SSE-S3/SSE-KMS headers refused (`BadRequest`).
pub fn check_read_headers(headers: &HeaderMap, tls: bool) -> Result<(), Error> {
    check_tls(headers, tls)?;
    if any_header(headers, &SSE_KMS) {
        return Err(Error::SseOnRead);
    }
    Ok(())
}

/// `x-amz-server-side-encryption-aws-kms-key-id` → key name: `arn:aws:kms:` stripped, empty →
/// `None`, surrounding spaces refused.
pub fn parse_key_id(raw: &str) -> Result<Option<String>, Error> {
    if raw.trim() != raw {
        return Err(Error::KmsKeyIdInvalid);
    }
    let id = raw.strip_prefix(ARN_PREFIX).unwrap_or(raw);
    Ok((!id.is_empty()).then(|| id.to_owned()))
}

/// Classifies a write request's headers (after bucket-default injection).
///
/// `copy_source_allowed`: CopyObject accepts copy-source SSE-C headers next to the destination
/// headers; PUT and CreateMultipartUpload refuse the combination.
pub fn parse_write(
    headers: &HeaderMap,
    tls: bool,
    kms_configured: bool,
    op: WriteOp<'_>,
    copy_source_allowed: bool,
    default: Option<&BucketDefault>,
) -> Result<Requested, Error> {
    check_tls(headers, tls)?;
    let ssec = ssec_headers(headers, false);
    let sse = header(headers, H_SSE);
    let key_id = header(headers, H_KMS_KEY_ID);
    let ctx = header(headers, H_CONTEXT);
    let kms_headers = sse.is_some() || key_id.is_some() || ctx.is_some();
    if !copy_source_allowed
        && any_header(headers, &COPY_SOURCE_SSEC)
        && (ssec.requested() || kms_headers)
    {
        return Err(Error::EncryptionNotApplicable);
    }
    if ssec.requested() && kms_headers {
        return Err(write_error(
            op,
            Error::IncompatibleEncryption,
            "Server side encryption specified with both SSE-C and SSE-S3 headers",
        ));
    }
    if !ssec.requested() && !kms_headers {
        let req = match default {
            None => Requested::None,
            Some(BucketDefault::SseS3) => Requested::SseS3,
            Some(BucketDefault::SseKms(id)) => Requested::SseKms {
                key_id: id
                    .as_deref()
                    .map(|i| i.strip_prefix(ARN_PREFIX).unwrap_or(i))
                    .filter(|i| !i.is_empty())
                    .map(str::to_owned),
                context: None,
            },
        };
        if !matches!(req, Requested::None) && !kms_configured {
            return Err(Error::KmsNotConfigured);
        }
        return Ok(req);
    }
    if kms_headers {
        let s3 = sse.is_some_and(|v| !v.eq_ignore_ascii_case("aws:kms"));
        let kms = key_id.is_some()
            || ctx.is_some()
            || sse.is_some_and(|v| !v.eq_ignore_ascii_case("AES256"));
        let kms_selected = sse.is_some_and(|v| v.eq_ignore_ascii_case("aws:kms"));
        if kms && !kms_selected {
            return Err(write_error(
                op,
                Error::SseKmsHeader,
                &Error::SseKmsHeader.to_string(),
            ));
        }
        if !kms_configured {
            return Err(Error::KmsNotConfigured);
        }
        if s3 {
            return Ok(Requested::SseS3);
        }
        let key_id = key_id.map(parse_key_id).transpose()?.flatten();
        let context = ctx
            .map(context::parse_header)
            .transpose()
            .map_err(|e| write_error(op, Error::InvalidArgument(e.to_string()), &e.to_string()))?;
        return Ok(Requested::SseKms { key_id, context });
    }
    match ssec.parse() {
        Ok(Some(ck)) => Ok(Requested::SseC(ck)),
        Ok(None) => Ok(Requested::None),
        Err(e) => Err(write_error(op, ssec_error(e), &e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, http::HeaderValue::from_static(v));
        }
        m
    }

    fn parse(pairs: &[(&'static str, &'static str)]) -> Result<Requested, Error> {
        parse_write(&h(pairs), true, true, WriteOp::Other, false, None)
    }

    #[test]
    fn classification() {
        assert!(matches!(parse(&[(H_SSE, "AES256")]), Ok(Requested::SseS3)));
        assert!(matches!(parse(&[(H_SSE, "aes256")]), Ok(Requested::SseS3)));
        assert!(matches!(
            parse(&[(H_SSE, "aws:kms")]),
            Ok(Requested::SseKms {
                key_id: None,
                context: None
            })
        ));
        match parse(&[(H_SSE, "aws:kms"), (H_KMS_KEY_ID, "arn:aws:kms:my-key")]) {
            Ok(Requested::SseKms { key_id, .. }) => assert_eq!(key_id.as_deref(), Some("my-key")),
            other => panic!("{other:?}"),
        }
        for bad in [
            &[(H_SSE, "aws:kms:dsse")][..],
            &[(H_SSE, "AES192")],
            &[(H_SSE, "aes:kms")],
            &[(H_KMS_KEY_ID, "k")],
            &[(H_SSE, "AES256"), (H_KMS_KEY_ID, "k")],
        ] {
            assert!(matches!(parse(bad), Err(Error::SseKmsHeader)), "{bad:?}");
        }
        assert!(matches!(
            parse(&[(H_SSE, "aws:kms"), (H_KMS_KEY_ID, " k")]),
            Err(Error::KmsKeyIdInvalid)
        ));
        assert!(matches!(
            parse(&[(H_SSE, "aws:kms"), (H_CONTEXT, "!!")]),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            parse(&[(H_SSE, "AES256"), (SSEC[0], "AES256")]),
            Err(Error::IncompatibleEncryption)
        ));
        // PUT wraps the message
        let e = parse_write(
            &h(&[(H_SSE, "aws:kms:dsse")]),
            true,
            true,
            WriteOp::PutObject {
                bucket: "b",
                key: "o",
            },
            false,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid arguments provided for b/o: (Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms)"
        );
        // no KMS → 501, SSE-C still fine
        assert!(matches!(
            parse_write(
                &h(&[(H_SSE, "AES256")]),
                true,
                false,
                WriteOp::Other,
                false,
                None
            ),
            Err(Error::KmsNotConfigured)
        ));
    }

    #[test]
    fn bucket_default_only_without_headers() {
        let d = BucketDefault::SseKms(Some("arn:aws:kms:bk".into()));
        match parse_write(&h(&[]), true, true, WriteOp::Other, false, Some(&d)) {
            Ok(Requested::SseKms { key_id, .. }) => assert_eq!(key_id.as_deref(), Some("bk")),
            other => panic!("{other:?}"),
        }
        let with_ssec = h(&[
            (SSEC[0], "AES256"),
            (SSEC[1], "MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0cHJvdmlkZWQ="),
            (SSEC[2], "7PpPLAK26ONlVUGOWlusfg=="),
        ]);
        assert!(matches!(
            parse_write(&with_ssec, true, true, WriteOp::Other, false, Some(&d)),
            Ok(Requested::SseC(_))
        ));
        assert!(matches!(
            parse_write(
                &h(&[]),
                true,
                false,
                WriteOp::Other,
                false,
                Some(&BucketDefault::SseS3)
            ),
            Err(Error::KmsNotConfigured)
        ));
    }
}
