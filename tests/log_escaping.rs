//! Log values are escaped: a request path carrying a right-to-left override
//! (U+202E), a zero-width space or a line separator appears escaped in the
//! audit log (text and JSON) and in the audit stream, never raw, so a log
//! line shows exactly what was received.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::time::{Duration, Instant};

use common::{Outputs, TestServer};
use serde_json::Value;

/// `a` RLO `b` ZWSP `c` LINE-SEPARATOR `d`, percent-encoded on the wire.
const ENCODED: &str = "/v1/key/describe/a%E2%80%AEb%E2%80%8Bc%E2%80%A8d";
const DECODED: &str = "/v1/key/describe/a\u{202e}b\u{200b}c\u{2028}d";
const RAW_CHARS: [char; 3] = ['\u{202e}', '\u{200b}', '\u{2028}'];

/// Waits (bounded) until `capture` holds a line containing `needle`.
fn line_with(capture: &common::Capture, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = capture.text().lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle:?} in {:?}",
            capture.text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server with the audit log on, its text lines captured.
async fn start() -> (TestServer, Outputs) {
    let outputs = Outputs::default();
    let s = TestServer::start_custom(
        "log:\n  audit: on\n",
        None,
        Duration::from_secs(60),
        &outputs,
    )
    .await;
    (s, outputs)
}

#[tokio::test]
async fn audit_text_line_escapes_format_characters() {
    let (s, outputs) = start().await;
    let r = s
        .raw(Some(&s.admin.certificate().unwrap()), "GET", ENCODED, b"")
        .await;
    assert!(r.status >= 400, "an invalid name is refused");
    let line = line_with(&outputs.audit, "describe/a");
    assert!(
        line.contains(r#"req.path="/v1/key/describe/a\u202eb\u200bc\u2028d""#),
        "{line:?}"
    );
    assert!(
        !line.contains(RAW_CHARS),
        "raw format characters in {line:?}"
    );
    s.running.stop().await;
}

#[tokio::test]
async fn audit_stream_escapes_format_characters() {
    let (s, _outputs) = start().await;
    let auditor = s.client(&s.auditor);
    let mut stream = auditor.get(s.url("/v1/log/audit")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let r = s
        .raw(Some(&s.admin.certificate().unwrap()), "GET", ENCODED, b"")
        .await;
    assert!(r.status >= 400);
    let mut buf = Vec::new();
    let line = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let chunk = stream.chunk().await.unwrap().expect("stream open");
            buf.extend_from_slice(&chunk);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some(l) = text.lines().find(|l| l.contains("describe/a")) {
                return l.to_owned();
            }
        }
    })
    .await
    .expect("the request appears in the audit stream");
    assert!(
        line.contains(r#""path":"/v1/key/describe/a\u202eb\u200bc\u2028d""#),
        "{line:?}"
    );
    assert!(
        !line.contains(RAW_CHARS),
        "raw format characters in {line:?}"
    );
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v["request"]["path"], DECODED,
        "JSON decodes to what arrived"
    );
    s.running.stop().await;
}

#[test]
fn error_log_lines_escape_in_both_formats() {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let pairs = [("path", DECODED.to_owned())];
    let text = kes::logs::errlog::render(now, 8, "request failed", &pairs);
    assert!(
        text.contains(r#"path="/v1/key/describe/a\u202eb\u200bc\u2028d""#),
        "{text:?}"
    );
    let json = kes::logs::errlog::render_json(now, 8, "request \u{202e}failed", &pairs);
    assert!(!json.contains(RAW_CHARS), "{json:?}");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["path"], DECODED);
    assert_eq!(v["msg"], "request \u{202e}failed");
}
