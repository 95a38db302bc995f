//! What every response gets on its way out, whoever produced it (s3s, our handlers, the
//! up-front refusals):
//!
//! * `x-amz-request-id` (16 upper-case hex digits, fresh per request) and `x-amz-id-2` (this
//!   server process's host id);
//! * error bodies in S3's shape: the code kept, a missing message filled in with the text S3
//!   documents for that code ([`s3_message`]), plus `Resource`, `RequestId` and `HostId`;
//! * no body at all on a response to `HEAD`, on HTTP/1.1 and h2 alike (hyper leaves HEAD
//!   bodies to the service on h2, and a DATA frame there is a protocol error for the peer).

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Response};
use rand::RngCore;

/// `x-amz-request-id`.
pub const X_AMZ_REQUEST_ID: HeaderName = HeaderName::from_static("x-amz-request-id");
/// `x-amz-id-2`.
pub const X_AMZ_ID_2: HeaderName = HeaderName::from_static("x-amz-id-2");

/// A fresh request id: 16 upper-case hex digits, as S3 and MinIO print them.
pub fn request_id() -> String {
    hex::encode_upper(rand::rng().next_u64().to_be_bytes())
}

/// A host id for this server process (64 hex digits, like MinIO's `x-amz-id-2`).
pub fn host_id() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The request facts a response is finished with.
#[derive(Debug)]
pub(super) struct RequestFacts<'a> {
    /// This request's id.
    pub id: &'a str,
    /// The server's host id.
    pub host_id: &'a str,
    /// Whether the method is `HEAD`.
    pub head: bool,
    /// The request path (the error `Resource`).
    pub path: &'a str,
}

impl RequestFacts<'_> {
    /// Whether `method` is `HEAD`.
    pub(super) fn is_head(method: &Method) -> bool {
        method == Method::HEAD
    }
}

/// Adds the ids, rewrites an S3 XML error body, and empties HEAD bodies.
pub(super) fn finish(
    mut resp: Response<s3s::Body>,
    facts: &RequestFacts<'_>,
) -> Response<s3s::Body> {
    if let Ok(v) = HeaderValue::from_str(facts.id) {
        resp.headers_mut().insert(X_AMZ_REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(facts.host_id) {
        resp.headers_mut().insert(X_AMZ_ID_2, v);
    }
    let is_error = resp.status().is_client_error() || resp.status().is_server_error();
    if is_error && is_xml(&resp) {
        let rewritten = resp
            .body()
            .bytes()
            .and_then(|b| parse_error(&b))
            .map(|e| e.render(facts));
        if let Some(body) = rewritten {
            if !facts.head
                && let Ok(v) = HeaderValue::from_str(&body.len().to_string())
            {
                resp.headers_mut().insert(CONTENT_LENGTH, v);
            }
            *resp.body_mut() = s3s::Body::from(body);
        }
    }
    if facts.head {
        *resp.body_mut() = s3s::Body::empty();
    }
    resp
}

fn is_xml(resp: &Response<s3s::Body>) -> bool {
    resp.headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/xml"))
}

/// An S3 error document's code and message.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ErrorDoc {
    /// `Code`.
    pub code: String,
    /// `Message`, if any.
    pub message: Option<String>,
}

/// Parses `<Error><Code>…</Code>[<Message>…</Message>]…</Error>`; anything else is `None`.
pub(super) fn parse_error(body: &[u8]) -> Option<ErrorDoc> {
    let text = std::str::from_utf8(body).ok()?;
    let rest = text.trim_start();
    let rest = match rest.strip_prefix("<?xml") {
        Some(r) => r.split_once("?>")?.1.trim_start(),
        None => rest,
    };
    let inner = rest
        .strip_prefix("<Error>")?
        .trim_end()
        .strip_suffix("</Error>")?;
    let code = element(inner, "Code")?;
    if code.is_empty() {
        return None;
    }
    let message = element(inner, "Message").filter(|m| !m.is_empty());
    Some(ErrorDoc { code, message })
}

/// The unescaped text of the first `<name>…</name>` in `s`.
fn element(s: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = s.find(&open)? + open.len();
    let len = s[start..].find(&close)?;
    Some(unescape(&s[start..start + len]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `s` escaped for XML text and attribute values (error documents and POST answers).
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

impl ErrorDoc {
    /// The message sent: the one given, else S3's documented text for the code.
    pub(super) fn message(&self) -> String {
        match &self.message {
            Some(m) => m.clone(),
            None => s3_message(&self.code).to_owned(),
        }
    }

    fn render(&self, facts: &RequestFacts<'_>) -> Bytes {
        Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
             <Resource>{}</Resource><RequestId>{}</RequestId><HostId>{}</HostId></Error>",
            escape(&self.code),
            escape(&self.message()),
            escape(facts.path),
            escape(facts.id),
            escape(facts.host_id),
        ))
    }
}

/// S3's documented message for an error code (used when the error carries none).
pub fn s3_message(code: &str) -> &'static str {
    match code {
        "AccessDenied" => "Access Denied.",
        "AuthorizationHeaderMalformed" => "The authorization header you provided is invalid.",
        "BadDigest" => "The Content-MD5 you specified did not match what we received.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed object size.",
        "EntityTooSmall" => "Your proposed upload is smaller than the minimum allowed object size.",
        "IncompleteBody" => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        }
        "InternalError" => "We encountered an internal error, please try again.",
        "InvalidAccessKeyId" => super::auth::INVALID_ACCESS_KEY_ID,
        "InvalidArgument" => "Invalid Argument",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "InvalidPolicyDocument" => {
            "The content of the form does not meet the conditions specified in the policy document."
        }
        "InvalidRange" => "The requested range is not satisfiable",
        "InvalidRequest" => "Invalid Request",
        "InvalidURI" => "Couldn't parse the specified URI.",
        "KeyTooLongError" => "Your key is too long.",
        "MalformedPOSTRequest" => {
            "The body of your POST request is not well-formed multipart/form-data."
        }
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema."
        }
        "MaxMessageLengthExceeded" => "Your request was too big.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "MissingSecurityHeader" => "Your request is missing a required header.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "RequestTimeTooSkewed" => {
            "The difference between the request time and the server's time is too large."
        }
        "SignatureDoesNotMatch" => SIGNATURE_DOES_NOT_MATCH,
        "XAmzContentSHA256Mismatch" => {
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        }
        _ => "An error occurred (see the error code).",
    }
}

/// S3's message for a signature that does not verify.
pub const SIGNATURE_DOES_NOT_MATCH: &str = "The request signature we calculated does not match the signature you provided. Check your key and signing method.";

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(head: bool) -> RequestFacts<'static> {
        RequestFacts {
            id: "0123456789ABCDEF",
            host_id: "hostid",
            head,
            path: "/b/k&<x>",
        }
    }

    fn xml_error(body: &str, status: u16) -> Response<s3s::Body> {
        let mut r = Response::new(s3s::Body::from(body.to_owned()));
        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        r
    }

    #[test]
    fn request_ids_are_sixteen_hex_digits() {
        let a = request_id();
        assert_eq!(a.len(), 16);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
        assert_ne!(a, request_id());
        assert_eq!(host_id().len(), 64);
    }

    #[test]
    fn errors_without_message_get_s3_text_and_ids() {
        let r = finish(
            xml_error(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code></Error>",
                403,
            ),
            &facts(false),
        );
        assert_eq!(r.headers()[X_AMZ_REQUEST_ID], "0123456789ABCDEF");
        assert_eq!(r.headers()[X_AMZ_ID_2], "hostid");
        let body = String::from_utf8(r.body().bytes().unwrap().to_vec()).unwrap();
        assert!(
            body.contains(&format!("<Message>{SIGNATURE_DOES_NOT_MATCH}</Message>")),
            "{body}"
        );
        assert!(body.contains("<RequestId>0123456789ABCDEF</RequestId><HostId>hostid</HostId>"));
        assert!(
            body.contains("<Resource>/b/k&amp;&lt;x&gt;</Resource>"),
            "{body}"
        );
        assert_eq!(
            r.headers()[CONTENT_LENGTH].to_str().unwrap(),
            body.len().to_string()
        );
    }

    #[test]
    fn given_messages_are_kept_escaped() {
        let doc = parse_error(
            b"<Error><Code>InvalidArgument</Code><Message>a &amp; b &lt;c&gt;</Message></Error>",
        )
        .unwrap();
        assert_eq!(doc.message(), "a & b <c>");
        let r = finish(
            xml_error(
                "<Error><Code>InvalidArgument</Code><Message>a &amp; b</Message></Error>",
                400,
            ),
            &facts(false),
        );
        let body = String::from_utf8(r.body().bytes().unwrap().to_vec()).unwrap();
        assert!(body.contains("<Message>a &amp; b</Message>"), "{body}");
    }

    #[test]
    fn head_responses_have_no_body() {
        let r = finish(
            xml_error("<Error><Code>NoSuchKey</Code></Error>", 404),
            &facts(true),
        );
        assert_eq!(r.status(), 404);
        assert!(r.headers().contains_key(X_AMZ_REQUEST_ID));
        assert_eq!(r.body().bytes().map(|b| b.len()), Some(0));
        let mut ok = Response::new(s3s::Body::from("x".to_owned()));
        *ok.status_mut() = http::StatusCode::OK;
        let r = finish(ok, &facts(true));
        assert_eq!(r.body().bytes().map(|b| b.len()), Some(0));
    }

    #[test]
    fn non_error_documents_are_left_alone() {
        assert_eq!(parse_error(b"{\"Code\":\"x\"}"), None);
        assert_eq!(parse_error(b"<Error><Code></Code></Error>"), None);
        let mut r = Response::new(s3s::Body::from("{\"error\":1}".to_owned()));
        *r.status_mut() = http::StatusCode::BAD_REQUEST;
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let r = finish(r, &facts(false));
        assert_eq!(r.body().bytes().unwrap(), "{\"error\":1}");
    }
}
