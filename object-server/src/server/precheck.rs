//! Requests refused from their head alone, before s3s sees them (and before any body byte is
//! read):
//!
//! * a `POST` with a `multipart/form-data` content type (the browser-form POST object upload):
//!   s3s would buffer the form fields and the whole file in memory before checking anything,
//!   and POST uploads are not supported → `501 NotImplemented`;
//! * a presigned SigV4 URL whose `X-Amz-Expires` is above a week (AWS and MinIO cap it at
//!   604800 s; s3s does not) → `400 AuthorizationQueryParametersError`.

use http::header::{CONNECTION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri, Version};
use percent_encoding::percent_decode_str;
use s3s::{S3Error, S3ErrorCode};

/// Longest presigned URL validity, in seconds (7 days).
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// S3's message for an `X-Amz-Expires` above [`MAX_PRESIGNED_EXPIRES`].
pub const EXPIRES_TOO_LONG: &str =
    "X-Amz-Expires must be less than a week (in seconds) that is 604800";

/// The message for a refused POST form upload.
pub const POST_FORM_NOT_IMPLEMENTED: &str =
    "POST object uploads (multipart/form-data) are not implemented";

/// Why a request is refused up front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A `multipart/form-data` POST.
    PostForm,
    /// A presigned URL valid for more than a week.
    ExpiresTooLong,
}

/// The refusal for a request head, if any.
pub(super) fn check(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Refusal> {
    if method == Method::POST && is_form(headers) {
        return Some(Refusal::PostForm);
    }
    if presigned_too_long(uri.query()?) {
        return Some(Refusal::ExpiresTooLong);
    }
    None
}

impl Refusal {
    fn error(self) -> S3Error {
        match self {
            Refusal::PostForm => {
                S3Error::with_message(S3ErrorCode::NotImplemented, POST_FORM_NOT_IMPLEMENTED)
            }
            Refusal::ExpiresTooLong => S3Error::with_message(
                S3ErrorCode::AuthorizationQueryParametersError,
                EXPIRES_TOO_LONG,
            ),
        }
    }

    /// The S3 XML error response. A refused form's body is never read, so an HTTP/1.x
    /// connection is closed after the response (`Connection: close`).
    pub(super) fn response(self, version: Version) -> Response<s3s::Body> {
        let status = match self {
            Refusal::PostForm => StatusCode::NOT_IMPLEMENTED,
            Refusal::ExpiresTooLong => StatusCode::BAD_REQUEST,
        };
        let mut resp = match self.error().to_http_response() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot serialise an S3 error");
                let mut r = Response::new(s3s::Body::empty());
                *r.status_mut() = status;
                r
            }
        };
        if self == Refusal::PostForm && version < Version::HTTP_2 {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

/// Whether any `Content-Type` header names `multipart/form-data` (any case, parameters and
/// surrounding blanks ignored).
fn is_form(headers: &HeaderMap) -> bool {
    headers.get_all(CONTENT_TYPE).iter().any(|v| {
        let v = v.as_bytes();
        let media = v.split(|&b| b == b';').next().unwrap_or_default();
        media
            .trim_ascii()
            .eq_ignore_ascii_case(b"multipart/form-data")
    })
}

/// Form-decodes one query component as s3s does (`+` is a space, `%XX` escapes).
fn decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Whether a SigV4 presigned query (`X-Amz-Signature` present) carries an `X-Amz-Expires`
/// above a week. An all-digit value too large for `u64` is above a week too.
fn presigned_too_long(query: &str) -> bool {
    let mut signed = false;
    let mut too_long = false;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(name).as_str() {
            "X-Amz-Signature" => signed = true,
            "X-Amz-Expires" => {
                let value = decode(value);
                let digits = value.strip_prefix('+').unwrap_or(&value);
                if !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && digits
                        .parse::<u64>()
                        .map_or(true, |n| n > MAX_PRESIGNED_EXPIRES)
                {
                    too_long = true;
                }
            }
            _ => {}
        }
    }
    signed && too_long
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(method: Method, uri: &str, content_type: Option<&str>) -> Option<Refusal> {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        check(&method, &uri.parse().unwrap(), &h)
    }

    #[test]
    fn post_forms_are_refused() {
        for ct in [
            "multipart/form-data; boundary=xyz",
            "Multipart/Form-Data",
            "  multipart/form-data ;boundary=1",
        ] {
            assert_eq!(
                head(Method::POST, "/bucket", Some(ct)),
                Some(Refusal::PostForm),
                "{ct}"
            );
            assert_eq!(
                head(Method::POST, "/", Some(ct)),
                Some(Refusal::PostForm),
                "{ct}"
            );
        }
        assert_eq!(
            head(Method::PUT, "/b/k", Some("multipart/form-data; boundary=x")),
            None,
            "a PUT object may have any content type"
        );
        assert_eq!(
            head(Method::POST, "/b/k?uploads", Some("application/xml")),
            None
        );
        assert_eq!(head(Method::POST, "/b?delete", None), None);
        let mut h = HeaderMap::new();
        h.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.append(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data"),
        );
        assert_eq!(
            check(&Method::POST, &"/b".parse().unwrap(), &h),
            Some(Refusal::PostForm),
            "any of several content types"
        );
    }

    #[test]
    fn presigned_expiry_is_capped() {
        let q = |expires: &str| {
            head(
                Method::GET,
                &format!(
                    "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={expires}&X-Amz-Signature=00"
                ),
                None,
            )
        };
        assert_eq!(q("604800"), None);
        assert_eq!(q("1"), None);
        assert_eq!(q("604801"), Some(Refusal::ExpiresTooLong));
        assert_eq!(q("315360000"), Some(Refusal::ExpiresTooLong));
        assert_eq!(q("99999999999999999999999"), Some(Refusal::ExpiresTooLong));
        assert_eq!(q("%36%30%34%38%30%31"), Some(Refusal::ExpiresTooLong));
        assert_eq!(q("abc"), None, "left to s3s (malformed)");
        assert_eq!(
            head(
                Method::GET,
                "/b/k?X%2DAmz%2DExpires=700000&X-Amz-Signature=0",
                None
            ),
            Some(Refusal::ExpiresTooLong),
            "encoded names are decoded as s3s does"
        );
        assert_eq!(
            head(Method::GET, "/b/k?X-Amz-Expires=700000", None),
            None,
            "not a presigned request"
        );
    }

    #[test]
    fn responses_are_s3_errors() {
        let r = Refusal::PostForm.response(Version::HTTP_11);
        assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
        assert_eq!(r.headers().get(CONNECTION).unwrap(), "close");
        let r = Refusal::PostForm.response(Version::HTTP_2);
        assert!(r.headers().get(CONNECTION).is_none());
        let r = Refusal::ExpiresTooLong.response(Version::HTTP_11);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get(CONNECTION).is_none());
    }
}
