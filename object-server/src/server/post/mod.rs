//! POST object: browser form uploads (`POST /<bucket>` with a `multipart/form-data` body),
//! handled in front of s3s — s3s would read the whole file into memory before storing it.
//!
//! Order of work, all before a byte of the file is read:
//! 1. [`form`] reads the fields up to the `file` part (bounded: 64 KiB, 100 fields);
//! 2. a form with `x-amz-signature` is verified by [`sign`] (SigV4, the root credentials);
//!    a form without one is anonymous;
//! 3. [`policy`] checks the signed policy (expiration, conditions, no uncovered field);
//! 4. the bucket policy decides `s3:PutObject` on the key for the signer (or anonymous),
//!    as for a PutObject (`crate::policy`).
//!
//! Then the file streams through `ObjectServer::post_object` (PutObject's write path: SSE,
//! versioning, tagging, ACL) within the policy's `content-length-range` and the 5 GiB object
//! limit, and [`respond`] answers per `success_action_redirect` / `success_action_status`.
//! An error answered before the form's end closes an HTTP/1.1 connection (the rest of the
//! body is never read).

mod form;
mod policy;
mod respond;
mod sign;

use std::sync::{Arc, Mutex};

use http::{HeaderMap, HeaderValue, Method, Request, Response, Version};
use s3s::{S3Error, S3ErrorCode};

use self::form::{Fields, Form};
use self::policy::PostPolicy;
use super::auth::RootAuth;
use super::host::Domains;
use crate::policy::condition::Keys;
use crate::policy::{ClientAddr, PolicyGate, Principal};
use crate::s3::post::PostPut;
use crate::s3::{MAX_OBJECT_SIZE, ObjectServer};

/// Longest object key (bytes), as S3.
const MAX_KEY_BYTES: usize = 1024;

/// Why a POST upload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PostError {
    /// The body is not well-formed `multipart/form-data`.
    #[error("The body of your POST request is not well-formed multipart/form-data.")]
    Malformed,
    /// The body ended before the file part's end.
    #[error("You did not provide the number of bytes specified by the Content-Length HTTP header.")]
    Incomplete,
    /// No `file` part.
    #[error("POST requires exactly one file upload per request.")]
    NoFile,
    /// The fields before the file are over the bounds.
    #[error("Your POST request fields preceding the upload file were too large.")]
    FieldsTooLarge,
    /// A required field is missing.
    #[error(
        "Bucket POST must contain a field named '{0}'.  If it is specified, please check the order of the fields."
    )]
    MissingField(&'static str),
    /// A field value is not acceptable.
    #[error("{0}")]
    InvalidArgument(String),
    /// The policy document cannot be used.
    #[error("Invalid Policy: {0}")]
    InvalidPolicy(String),
    /// The policy's expiration has passed.
    #[error("Invalid according to Policy: Policy expired.")]
    PolicyExpired,
    /// A policy condition does not hold (the condition as written).
    #[error("Invalid according to Policy: Policy Condition failed: {0}")]
    PolicyCondition(String),
    /// Fields without a condition.
    #[error("Invalid according to Policy: Extra input fields: {0}")]
    ExtraFields(String),
    /// The access key is unknown.
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    InvalidAccessKey,
    /// The signature is wrong.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )]
    SignatureMismatch,
    /// The file is over the policy's or the server's maximum.
    #[error("Your proposed upload exceeds the maximum allowed size")]
    TooLarge,
    /// The file is under the policy's minimum.
    #[error("Your proposed upload is smaller than the minimum allowed size")]
    TooSmall,
    /// The addressed bucket name is not valid.
    #[error("The specified bucket is not valid.")]
    InvalidBucketName,
    /// The object key is over 1024 bytes.
    #[error("Your key is too long.")]
    KeyTooLong,
    /// POST to a key or to the service root.
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed,
}

impl From<PostError> for S3Error {
    fn from(e: PostError) -> Self {
        let code = match &e {
            PostError::Malformed => S3ErrorCode::MalformedPOSTRequest,
            PostError::Incomplete => S3ErrorCode::IncompleteBody,
            PostError::NoFile => S3ErrorCode::IncorrectNumberOfFilesInPostRequest,
            PostError::FieldsTooLarge => S3ErrorCode::MaxPostPreDataLengthExceededError,
            PostError::MissingField(_) | PostError::InvalidArgument(_) => {
                S3ErrorCode::InvalidArgument
            }
            PostError::InvalidPolicy(_) => S3ErrorCode::InvalidPolicyDocument,
            PostError::PolicyExpired
            | PostError::PolicyCondition(_)
            | PostError::ExtraFields(_) => S3ErrorCode::AccessDenied,
            PostError::InvalidAccessKey => S3ErrorCode::InvalidAccessKeyId,
            PostError::SignatureMismatch => S3ErrorCode::SignatureDoesNotMatch,
            PostError::TooLarge => S3ErrorCode::EntityTooLarge,
            PostError::TooSmall => S3ErrorCode::EntityTooSmall,
            PostError::InvalidBucketName => S3ErrorCode::InvalidBucketName,
            PostError::KeyTooLong => S3ErrorCode::KeyTooLongError,
            PostError::MethodNotAllowed => S3ErrorCode::MethodNotAllowed,
        };
        S3Error::with_message(code, e.to_string())
    }
}

/// The POST upload handler: one per server.
pub(super) struct PostUploads {
    objects: ObjectServer,
    gate: PolicyGate,
    auth: RootAuth,
    domains: Option<Domains>,
    tls: bool,
}

impl std::fmt::Debug for PostUploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostUploads")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// How the file stream ended badly (read back after the store gave up).
type Outcome = Arc<Mutex<Option<PostError>>>;

impl PostUploads {
    /// A handler storing through `objects`, authorising with `gate`, verifying with `auth`.
    pub(super) fn new(
        objects: ObjectServer,
        gate: PolicyGate,
        auth: RootAuth,
        domains: Option<Domains>,
        tls: bool,
    ) -> Self {
        PostUploads {
            objects,
            gate,
            auth,
            domains,
            tls,
        }
    }

    /// Answers one form POST (the request passed `precheck`'s form test).
    pub(super) async fn handle(&self, req: Request<s3s::Body>) -> Response<s3s::Body> {
        let version = req.version();
        match self.upload(req).await {
            Ok(resp) => resp,
            Err(e) => {
                let mut resp = e.to_http_response().unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "cannot serialise an S3 error");
                    let mut r = Response::new(s3s::Body::empty());
                    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    r
                });
                if version < Version::HTTP_2 {
                    resp.headers_mut()
                        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
                }
                resp
            }
        }
    }

    /// The addressed bucket: `<bucket>.<domain>` or the first path segment; a key in the path
    /// (or no bucket) is `MethodNotAllowed`.
    fn bucket(&self, req: &Request<s3s::Body>) -> Result<String, PostError> {
        let path = percent_encoding::percent_decode_str(req.uri().path())
            .decode_utf8()
            .map_err(|_| PostError::MethodNotAllowed)?;
        let path = path.trim_start_matches('/');
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(http::uri::Authority::as_str));
        if let Some(b) = host.and_then(|h| self.domains.as_ref()?.bucket_of(h)) {
            return if path.is_empty() {
                Ok(b.to_owned())
            } else {
                Err(PostError::MethodNotAllowed)
            };
        }
        let bucket = path.strip_suffix('/').unwrap_or(path);
        if bucket.is_empty() || bucket.contains('/') {
            return Err(PostError::MethodNotAllowed);
        }
        if !s3s::path::check_bucket_name(bucket) {
            return Err(PostError::InvalidBucketName);
        }
        Ok(bucket.to_owned())
    }

    async fn upload(&self, req: Request<s3s::Body>) -> Result<Response<s3s::Body>, S3Error> {
        let bucket = self.bucket(&req)?;
        let boundary = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(form::boundary)
            .ok_or(PostError::Malformed)?;
        let peer = req.extensions().get::<ClientAddr>().copied();
        let head = RequestHead {
            host: req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned),
            headers: req.headers().clone(),
        };
        let mut form = Form::new(req.into_body(), &boundary);
        let fields = form.read_fields().await?;
        let key = fields
            .get("key")
            .filter(|k| !k.is_empty())
            .ok_or(PostError::MissingField("key"))?
            .replace("${filename}", &fields.filename);
        if key.len() > MAX_KEY_BYTES {
            return Err(PostError::KeyTooLong.into());
        }
        let (principal, policy) = self.authenticate(&fields).await?;
        if let Some(p) = &policy {
            p.check(time::OffsetDateTime::now_utc(), &fields, &bucket, &key)?;
        }
        let keys = self.keys(&principal, &fields, &head.headers, peer);
        self.gate
            .decide(&principal, &bucket, Some(&key), "s3:PutObject", &keys)
            .await?;
        let (min, max) = match policy.as_ref().and_then(PostPolicy::length_range) {
            Some((min, max)) => (min, max.min(MAX_OBJECT_SIZE)),
            None => (0, MAX_OBJECT_SIZE),
        };
        let outcome: Outcome = Arc::new(Mutex::new(None));
        let body = file_stream(form, min, max, outcome.clone());
        let put = PostPut {
            bucket: bucket.clone(),
            key: key.clone(),
            fields: fields.fields.clone(),
            file_content_type: fields.file_content_type.clone(),
            body,
        };
        let out = match self.objects.post_object(put).await {
            Ok(out) => out,
            Err(e) => {
                let cause = outcome.lock().ok().and_then(|mut o| o.take());
                return Err(match (cause, e) {
                    (Some(cause), _) => cause.into(),
                    (None, crate::error::Error::EntityTooLarge) => PostError::TooLarge.into(),
                    (None, e) => e.into(),
                });
            }
        };
        Ok(respond::success(
            &respond::Stored {
                bucket: &bucket,
                key: &key,
                output: &out,
                scheme: if self.tls { "https" } else { "http" },
                host: head.host.as_deref(),
            },
            &fields,
        ))
    }

    /// The signer of a signed form (with its verified policy), or anonymous.
    async fn authenticate(
        &self,
        fields: &Fields,
    ) -> Result<(Principal, Option<PostPolicy>), PostError> {
        if fields.get("signature").is_some() || fields.get("awsaccesskeyid").is_some() {
            return Err(PostError::InvalidArgument(
                "POST uploads must be signed with AWS Signature Version 4 (AWS4-HMAC-SHA256)"
                    .to_owned(),
            ));
        }
        if fields.get("x-amz-signature").is_none() {
            if fields.get("policy").is_some() {
                return Err(PostError::MissingField("x-amz-signature"));
            }
            return Ok((Principal::Anonymous, None));
        }
        let b64 = fields
            .get("policy")
            .ok_or(PostError::MissingField("policy"))?;
        let policy = PostPolicy::parse(b64)?;
        let signer = sign::verify(&self.auth, fields, b64, &policy).await?;
        Ok((
            Principal::Root {
                access_key: signer.access_key,
            },
            Some(policy),
        ))
    }

    /// The bucket-policy condition keys of a form upload.
    fn keys(
        &self,
        principal: &Principal,
        fields: &Fields,
        headers: &HeaderMap,
        peer: Option<ClientAddr>,
    ) -> Keys {
        let mut keys = crate::policy::access::base_keys(self.tls, peer, principal);
        let mut set = |k: &str, v: String| {
            keys.insert(k.to_owned(), vec![v]);
        };
        let anonymous = *principal == Principal::Anonymous;
        if !anonymous {
            set("s3:authtype", "POST".to_owned());
            set("s3:signatureversion", "AWS4-HMAC-SHA256".to_owned());
        }
        for (header, name) in [("referer", "aws:referer"), ("user-agent", "aws:useragent")] {
            if let Some(v) = headers.get(header).and_then(|v| v.to_str().ok()) {
                set(name, v.to_owned());
            }
        }
        let sse = crate::policy::access::SSE_KEYS;
        for (field, name) in [
            sse[0],
            sse[1],
            sse[2],
            ("acl", "s3:x-amz-acl"),
            ("x-amz-storage-class", "s3:x-amz-storage-class"),
        ] {
            if let Some(v) = fields.get(field) {
                set(name, v.to_owned());
            }
        }
        keys
    }
}

/// What the response needs from the request head.
struct RequestHead {
    host: Option<String>,
    headers: HeaderMap,
}

/// Whether a request is a form POST this module answers.
pub(super) fn is_form_post(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST && super::precheck::is_form(headers)
}

/// The file part as a body stream of at most `max` bytes and at least `min`; a violation (or a
/// malformed/incomplete body) ends the stream with an error and records its cause in
/// `outcome`.
fn file_stream(form: Form, min: u64, max: u64, outcome: Outcome) -> s3s::dto::StreamingBlob {
    let fail = move |e: PostError| {
        if let Ok(mut o) = outcome.lock() {
            *o = Some(e.clone());
        }
        std::io::Error::other(e)
    };
    let stream = futures_util::stream::unfold(Some((form, 0u64, fail)), move |state| async move {
        let (mut form, seen, fail) = state?;
        match form.next_file_chunk().await {
            Ok(Some(chunk)) => {
                let seen = seen.saturating_add(chunk.len() as u64);
                if seen > max {
                    return Some((Err(fail(PostError::TooLarge)), None));
                }
                Some((Ok(chunk), Some((form, seen, fail))))
            }
            Ok(None) if seen < min => Some((Err(fail(PostError::TooSmall)), None)),
            Ok(None) => None,
            Err(e) => Some((Err(fail(e)), None)),
        }
    });
    s3s::dto::StreamingBlob::wrap(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_s3_errors_with_s3_statuses() {
        use http::StatusCode as S;
        for (e, code, status) in [
            (PostError::Malformed, "MalformedPOSTRequest", S::BAD_REQUEST),
            (PostError::Incomplete, "IncompleteBody", S::BAD_REQUEST),
            (
                PostError::NoFile,
                "IncorrectNumberOfFilesInPostRequest",
                S::BAD_REQUEST,
            ),
            (
                PostError::FieldsTooLarge,
                "MaxPostPreDataLengthExceededError",
                S::BAD_REQUEST,
            ),
            (
                PostError::MissingField("key"),
                "InvalidArgument",
                S::BAD_REQUEST,
            ),
            (
                PostError::InvalidPolicy("x".into()),
                "InvalidPolicyDocument",
                S::BAD_REQUEST,
            ),
            (PostError::PolicyExpired, "AccessDenied", S::FORBIDDEN),
            (
                PostError::PolicyCondition("c".into()),
                "AccessDenied",
                S::FORBIDDEN,
            ),
            (
                PostError::ExtraFields("a".into()),
                "AccessDenied",
                S::FORBIDDEN,
            ),
            (
                PostError::InvalidAccessKey,
                "InvalidAccessKeyId",
                S::FORBIDDEN,
            ),
            (
                PostError::SignatureMismatch,
                "SignatureDoesNotMatch",
                S::FORBIDDEN,
            ),
            (PostError::TooLarge, "EntityTooLarge", S::BAD_REQUEST),
            (PostError::TooSmall, "EntityTooSmall", S::BAD_REQUEST),
            (
                PostError::InvalidBucketName,
                "InvalidBucketName",
                S::BAD_REQUEST,
            ),
            (PostError::KeyTooLong, "KeyTooLongError", S::BAD_REQUEST),
            (
                PostError::MethodNotAllowed,
                "MethodNotAllowed",
                S::METHOD_NOT_ALLOWED,
            ),
        ] {
            let msg = e.to_string();
            let s3: S3Error = e.into();
            assert_eq!(s3.code().as_str(), code);
            assert_eq!(s3.status_code(), Some(status), "{code}");
            assert_eq!(s3.message(), Some(msg.as_str()));
        }
        assert_eq!(
            S3Error::from(PostError::PolicyExpired).message(),
            Some("Invalid according to Policy: Policy expired.")
        );
    }
}
