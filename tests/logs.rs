//! The audit and error log streams end to end: an audit event per request on
//! `/v1/log/audit` and (with `log.audit: on`) on stdout, streams ending at
//! shutdown, slog error lines at the configured level on `/v1/log/error` and
//! stderr, and a subscriber that never reads not slowing requests down (its
//! lines are dropped and counted in `kes_log_dropped_events`).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod ops;

use std::sync::Arc;
use std::time::Duration;

use client::ApiKey;
use common::prom::metrics;
use common::{TestServer, status_message, tls_client};
use ops::{Lines, eventually, get_status, on_double};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn audit_stream_and_stdout_have_an_event_per_request() {
    let (s, _double, outputs) = on_double("log:\n  audit: on\n").await;
    // Headers arrive at once, before any event.
    let mut audit = Lines::open(&s.client(&s.auditor), s.url("/v1/log/audit")).await;
    let admin = s.client(&s.admin);
    let minio = s.client(&s.minio);
    let unknown = s.client(&s.unknown);
    admin.post(s.url("/v1/key/create/k")).send().await.unwrap();
    minio
        .post(s.url("/v1/key/generate/k"))
        .send()
        .await
        .unwrap();
    minio
        .delete(s.url("/v1/key/delete/k"))
        .send()
        .await
        .unwrap();
    unknown.get(s.url("/v1/status")).send().await.unwrap();
    unknown.get(s.url("/v1/nope")).send().await.unwrap();
    let expected = [
        ("/v1/key/create/k", s.admin.identity(), 200),
        ("/v1/key/generate/k", s.minio.identity(), 200),
        ("/v1/key/delete/k", s.minio.identity(), 403),
        ("/v1/status", s.unknown.identity(), 403),
        ("/v1/nope", s.unknown.identity(), 404),
    ];
    for (path, identity, code) in &expected {
        let ev = audit.until(|v| v["request"]["path"] == *path).await;
        assert_eq!(ev["request"]["ip"], "127.0.0.1", "{ev}");
        assert_eq!(ev["request"]["identity"], identity.to_string(), "{ev}");
        assert_eq!(ev["response"]["code"], *code, "{ev}");
        assert!(ev["response"]["time"].is_u64(), "ms as an integer: {ev}");
        let t = ev["time"].as_str().unwrap();
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
        // the client crate's wire type decodes it
        let _: client::wire::AuditEvent = serde_json::from_value(ev.clone()).unwrap();
    }
    // stdout (log.audit: on): slog text lines with the same facts
    eventually("audit lines on stdout", Duration::from_secs(10), || async {
        let out = outputs.audit.text();
        expected.iter().all(|(path, id, code)| {
            out.lines().any(|l| {
                l.contains(&format!("req.path={path} "))
                    && l.contains(&format!("req.identity={id} "))
                    && l.contains(&format!("res.code={code} "))
                    && l.contains("level=INFO msg=audit req.ip=127.0.0.1 ")
            })
        })
    })
    .await;
    s.running.stop().await;
}

#[tokio::test]
async fn audit_stdout_is_off_by_default_and_streams_end_at_shutdown() {
    let (s, _double, outputs) = on_double("").await;
    let mut audit = Lines::open(&s.client(&s.auditor), s.url("/v1/log/audit")).await;
    let admin = s.client(&s.admin);
    admin.get(s.url("/v1/status")).send().await.unwrap();
    audit.until(|v| v["request"]["path"] == "/v1/status").await;
    assert_eq!(
        outputs.audit.text(),
        "",
        "log.audit unset: nothing on stdout"
    );
    // stop() ends open streams (and does not wait for them).
    let stopped = tokio::spawn(async move { s.running.stop().await });
    loop {
        if audit.next().await.is_none() {
            break;
        }
    }
    tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("shutdown is not held up by an open stream")
        .unwrap();
}

#[tokio::test]
async fn error_stream_carries_slog_lines_at_the_configured_level() {
    let (s, _double, outputs) = on_double("log:\n  error: WARN\n").await;
    let mut errors = Lines::open(&s.client(&s.minio), s.url("/v1/log/error")).await;
    let admin = s.client(&s.admin);
    admin.post(s.url("/v1/key/create/ok")).send().await.unwrap(); // INFO event: below WARN
    admin
        .post(s.url("/v1/key/create/broken"))
        .send()
        .await
        .unwrap();
    let (st, msg) = status_message(
        admin
            .post(s.url("/v1/key/generate/broken"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, msg.as_str()), (502, "failed to read key"));
    let ev = errors.next().await.unwrap();
    let line = ev["message"].as_str().unwrap();
    assert!(line.starts_with("time="), "{line}");
    assert!(
        line.contains(" level=ERROR msg=\"request failed\" path=/v1/key/generate/broken "),
        "{line}"
    );
    assert!(line.contains("disk on fire"), "{line}");
    let _: client::wire::ErrorEvent = serde_json::from_value(ev.clone()).unwrap();
    // the same line went to stderr; the INFO "key created" did not
    eventually("error line on stderr", Duration::from_secs(10), || async {
        outputs.error.text().contains(line)
    })
    .await;
    assert!(!outputs.error.text().contains("secret key created"));
    s.running.stop().await;
}

/// Opens a TLS connection, sends `GET path`, reads only the response head,
/// and returns the connection without ever reading more.
async fn stalled_subscriber(
    s: &TestServer,
    key: &ApiKey,
    path: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let ck = key.certificate().unwrap();
    let config = tls_client(&s.server_cert_pem, &[&ck]);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(s.addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        tls.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-ndjson"),
        "{head}"
    );
    tls
}

#[tokio::test]
async fn a_subscriber_that_never_reads_does_not_slow_requests() {
    let (s, _double, _) = on_double("").await;
    let _stalled = stalled_subscriber(&s, &s.auditor, "/v1/log/audit").await;
    let _stalled_errors = stalled_subscriber(&s, &s.auditor, "/v1/log/error").await;
    // 3000 requests with 4 KiB paths: ~12 MiB of audit lines, far more than
    // the socket buffers and the subscriber queue can take.
    let c = s.client(&s.admin);
    let long = format!("/x/{}", "a".repeat(4000));
    let run = async {
        for _ in 0..3000 {
            assert_eq!(get_status(&c, &s, &long).await, 404);
        }
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("requests are not held up by a stalled subscriber");
    let m = metrics(&s, &s.admin).await;
    let m_dropped = m["kes_log_dropped_events"].samples[0].value;
    assert!(
        m_dropped > 0.0,
        "lines were dropped for the stalled subscriber"
    );
    assert!(m["kes_log_audit_events"].samples[0].value >= 3000.0);
    // a reading subscriber still gets events
    let mut audit = Lines::open(&s.client(&s.auditor), s.url("/v1/log/audit")).await;
    c.get(s.url("/v1/status")).send().await.unwrap();
    audit.until(|v| v["request"]["path"] == "/v1/status").await;
    s.running.stop().await;
}
