//! SSE request headers: `sse::request::parse_write` (SSE-C, SSE-S3, SSE-KMS and their
//! combinations), `check_read_headers`, the copy-source SSE-C set, `parse_key_id`, and the
//! KMS context header (`sse::context::parse_header`). Input: the first byte holds flags
//! (TLS, KMS configured, copy allowed, bucket default); the rest is `name: value` lines.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use object_server::sse::context;
use object_server::sse::request::{self, BucketDefault, WriteOp};

fuzz_target!(|data: &[u8]| {
    let Some((flags, rest)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default().trim_ascii();
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let tls = flags & 1 != 0;
    let kms = flags & 2 != 0;
    let copy = flags & 4 != 0;
    let default = match (flags >> 3) & 3 {
        1 => Some(BucketDefault::SseS3),
        2 => Some(BucketDefault::SseKms(None)),
        3 => Some(BucketDefault::SseKms(Some("arn:aws:kms:my-key".to_owned()))),
        _ => None,
    };
    let op = if flags & 32 != 0 {
        WriteOp::PutObject {
            bucket: "bucket",
            key: "object",
        }
    } else {
        WriteOp::Other
    };
    let _ = request::parse_write(&headers, tls, kms, op, copy, default.as_ref());
    let _ = request::check_read_headers(&headers, tls);
    let _ = request::ssec_headers(&headers, true).parse();
    for v in headers.values() {
        if let Ok(s) = v.to_str() {
            let _ = request::parse_key_id(s);
            let _ = context::parse_header(s);
        }
    }
});
