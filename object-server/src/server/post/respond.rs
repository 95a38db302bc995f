//! The answer to a stored POST upload, as S3 gives it:
//!
//! * `success_action_redirect` (or the older `redirect`) holding an absolute `http(s)` URL →
//!   `303 See Other` to it with `bucket`, `key` and `etag` query parameters added;
//! * else `success_action_status` `200` → empty 200, `201` → 201 with a `PostResponse`
//!   document (`Location`, `Bucket`, `Key`, `ETag`), anything else → `204 No Content`.
//!
//! Every answer carries `ETag`, `Location` (the object's URL), `x-amz-version-id` when the
//! bucket is versioned and the SSE response headers PutObject would send.

use http::{HeaderValue, Response, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::PutObjectOutput;

use super::form::Fields;

/// Characters left as they are in URL components (RFC 3986 unreserved).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// A key in a path: `/` stays.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// What was stored and where the request came in.
pub(super) struct Stored<'a> {
    pub(super) bucket: &'a str,
    pub(super) key: &'a str,
    pub(super) output: &'a PutObjectOutput,
    pub(super) scheme: &'a str,
    pub(super) host: Option<&'a str>,
}

/// A redirect target: an absolute `http`/`https` URL.
fn redirect_target(url: &str) -> Option<&str> {
    let uri: http::Uri = url.parse().ok()?;
    matches!(uri.scheme_str(), Some("http" | "https"))
        .then_some(())
        .and(uri.host())
        .map(|_| url)
}

/// The response to a stored upload.
pub(super) fn success(s: &Stored<'_>, fields: &Fields) -> Response<s3s::Body> {
    let etag = match &s.output.e_tag {
        Some(e) => format!("\"{}\"", e.value()),
        None => String::new(),
    };
    let location = match s.host {
        Some(h) => format!(
            "{}://{h}/{}/{}",
            s.scheme,
            s.bucket,
            utf8_percent_encode(s.key, PATH)
        ),
        None => format!("/{}/{}", s.bucket, utf8_percent_encode(s.key, PATH)),
    };
    let redirect = fields
        .get("success_action_redirect")
        .or_else(|| fields.get("redirect"))
        .and_then(redirect_target);
    let mut resp = if let Some(url) = redirect {
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            utf8_percent_encode(s.bucket, COMPONENT),
            utf8_percent_encode(s.key, COMPONENT),
            utf8_percent_encode(&etag, COMPONENT)
        );
        let mut r = Response::new(s3s::Body::empty());
        *r.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(v) = HeaderValue::from_str(&target) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        r
    } else {
        match fields.get("success_action_status") {
            Some("200") => Response::new(s3s::Body::empty()),
            Some("201") => {
                let doc = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse>\
                     <Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key>\
                     <ETag>{}</ETag></PostResponse>",
                    super::super::reply::escape(&location),
                    super::super::reply::escape(s.bucket),
                    super::super::reply::escape(s.key),
                    super::super::reply::escape(&etag)
                );
                let mut r = Response::new(s3s::Body::from(doc));
                *r.status_mut() = StatusCode::CREATED;
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml"),
                );
                r
            }
            _ => {
                let mut r = Response::new(s3s::Body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            }
        }
    };
    let h = resp.headers_mut();
    let mut put = |name: &'static str, value: Option<&str>| {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            h.insert(name, v);
        }
    };
    put("etag", Some(&etag));
    if redirect.is_none() {
        put("location", Some(&location));
    }
    let out = s.output;
    put("x-amz-version-id", out.version_id.as_deref());
    put(
        "x-amz-server-side-encryption",
        out.server_side_encryption.as_ref().map(|a| a.as_str()),
    );
    put(
        "x-amz-server-side-encryption-aws-kms-key-id",
        out.ssekms_key_id.as_deref(),
    );
    put(
        "x-amz-server-side-encryption-context",
        out.ssekms_encryption_context.as_deref(),
    );
    put(
        "x-amz-server-side-encryption-customer-algorithm",
        out.sse_customer_algorithm.as_deref(),
    );
    put(
        "x-amz-server-side-encryption-customer-key-md5",
        out.sse_customer_key_md5.as_deref(),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::from_pairs(pairs)
    }

    fn stored(out: &PutObjectOutput) -> Stored<'_> {
        Stored {
            bucket: "b",
            key: "dir/a b&c",
            output: out,
            scheme: "http",
            host: Some("127.0.0.1:9000"),
        }
    }

    #[test]
    fn statuses_and_redirects() {
        let out = PutObjectOutput {
            e_tag: Some(s3s::dto::ETag::Strong("abc".into())),
            ..Default::default()
        };
        let r = success(&stored(&out), &fields(&[]));
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(r.headers()["etag"], "\"abc\"");
        assert_eq!(
            r.headers()["location"],
            "http://127.0.0.1:9000/b/dir/a%20b%26c"
        );
        let r = success(&stored(&out), &fields(&[("success_action_status", "200")]));
        assert_eq!(r.status(), StatusCode::OK);
        let r = success(&stored(&out), &fields(&[("success_action_status", "201")]));
        assert_eq!(r.status(), StatusCode::CREATED);
        let r = success(&stored(&out), &fields(&[("success_action_status", "302")]));
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = success(
            &stored(&out),
            &fields(&[("success_action_redirect", "https://example.com/done?x=1")]),
        );
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()["location"],
            "https://example.com/done?x=1&bucket=b&key=dir%2Fa%20b%26c&etag=%22abc%22"
        );
        let r = success(
            &stored(&out),
            &fields(&[
                ("success_action_redirect", "not a url"),
                ("success_action_status", "201"),
            ]),
        );
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "an unusable redirect is ignored"
        );
    }
}
