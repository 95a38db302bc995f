//! Requests refused from their head alone, before s3s sees them (and before any body byte is
//! read): a presigned SigV4 URL whose `X-Amz-Expires` is above a week (AWS and MinIO cap it at
//! 604800 s; s3s does not) → `400 AuthorizationQueryParametersError`.
//!
//! [`is_form`] tells the front service which requests are browser-form POST uploads (answered
//! by `super::post`, never by s3s, which would buffer the whole form in memory).

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Response, StatusCode, Uri};
use percent_encoding::percent_decode_str;
use s3s::{S3Error, S3ErrorCode};

/// Longest presigned URL validity, in seconds (7 days).
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// S3's message for an `X-Amz-Expires` above [`MAX_PRESIGNED_EXPIRES`].
pub const EXPIRES_TOO_LONG: &str =
    "X-Amz-Expires must be less than a week (in seconds) that is 604800";

/// Why a request is refused up front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A presigned URL valid for more than a week.
    ExpiresTooLong,
}

/// The refusal for a request head, if any.
pub(super) fn check(uri: &Uri) -> Option<Refusal> {
    if presigned_too_long(uri.query()?) {
        return Some(Refusal::ExpiresTooLong);
    }
    None
}

impl Refusal {
    fn error(self) -> S3Error {
        match self {
            Refusal::ExpiresTooLong => S3Error::with_message(
                S3ErrorCode::AuthorizationQueryParametersError,
                EXPIRES_TOO_LONG,
            ),
        }
    }

    /// The S3 XML error response.
    pub(super) fn response(self) -> Response<s3s::Body> {
        let status = match self {
            Refusal::ExpiresTooLong => StatusCode::BAD_REQUEST,
        };
        match self.error().to_http_response() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot serialise an S3 error");
                let mut r = Response::new(s3s::Body::empty());
                *r.status_mut() = status;
                r
            }
        }
    }
}

/// Whether any `Content-Type` header names `multipart/form-data` (any case, parameters and
/// surrounding blanks ignored).
pub(super) fn is_form(headers: &HeaderMap) -> bool {
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
    use http::header::CONNECTION;
    use http::{HeaderValue, Method};

    fn head(_method: Method, uri: &str, _content_type: Option<&str>) -> Option<Refusal> {
        check(&uri.parse().unwrap())
    }

    #[test]
    fn post_forms_are_recognised() {
        let form = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            is_form(&h)
        };
        for ct in [
            "multipart/form-data; boundary=xyz",
            "Multipart/Form-Data",
            "  multipart/form-data ;boundary=1",
        ] {
            assert!(form(ct), "{ct}");
        }
        assert!(!form("application/xml"));
        assert!(!form("multipart/mixed; boundary=x"));
        let mut h = HeaderMap::new();
        h.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.append(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data"),
        );
        assert!(is_form(&h), "any of several content types");
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
        let r = Refusal::ExpiresTooLong.response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get(CONNECTION).is_none());
    }
}
