//! Transport and file hardening (issue 16, scope 4): TLS 1.0 and 1.1 (and
//! SSL 3.0) ClientHellos are refused with a `protocol_version` alert while
//! the same hello offering TLS 1.2 gets a ServerHello; plain HTTP/1.x and
//! HTTP/2 prior-knowledge on the TLS port are refused; key files are created
//! 0600 (filesystem keystore, `kes identity new`), and `kes server --dev`
//! writes no file at all (its certificate and API key live in memory).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::TestServer;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A minimal ClientHello record offering `version` (no `supported_versions`
/// extension, so that is the highest version offered), with the AEAD suites
/// rustls supports for TLS 1.2, P-256, and ECDSA/RSA signature schemes.
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // session id
    let suites: &[u8] = &[
        0xc0, 0x2b, 0xc0, 0x2c, 0xcc, 0xa9, 0xc0, 0x2f, 0xc0, 0x30, 0xcc, 0xa8,
    ];
    body.extend_from_slice(&(suites.len() as u16).to_be_bytes());
    body.extend_from_slice(suites);
    body.extend_from_slice(&[1, 0]); // compression: null
    let extensions: &[u8] = &[
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported_groups: secp256r1
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04,
        0x01, // signature_algorithms
        0x00, 0x17, 0x00, 0x00, // extended_master_secret
        0xff, 0x01, 0x00, 0x01, 0x00, // renegotiation_info (empty)
    ];
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(extensions);
    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends `bytes` on a fresh TCP connection and returns what the server sends
/// back until it closes (or 10 s pass).
async fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    // A ServerHello flight or an alert is all we need.
                    if buf.len() >= 7 {
                        break;
                    }
                }
            }
        }
    })
    .await;
    buf
}

#[tokio::test]
async fn tls_below_1_2_gets_a_protocol_version_alert() {
    let s = TestServer::start().await;
    // Control: the same hello offering TLS 1.2 is answered with a ServerHello.
    let r = exchange(s.addr, &client_hello([3, 3])).await;
    assert!(
        r.len() > 5 && r[0] == 0x16 && r[5] == 2,
        "TLS 1.2 hello must get a ServerHello: {r:02x?}"
    );
    for (name, version) in [
        ("SSL 3.0", [3, 0]),
        ("TLS 1.0", [3, 1]),
        ("TLS 1.1", [3, 2]),
    ] {
        let r = exchange(s.addr, &client_hello(version)).await;
        assert!(
            r.len() >= 7 && r[0] == 0x15,
            "{name}: an alert record, got {r:02x?}"
        );
        assert_eq!(
            (r[5], r[6]),
            (2, 70),
            "{name}: fatal protocol_version alert"
        );
    }
    // and TLS 1.2+ clients are still served
    let st = s
        .client(&s.admin)
        .get(s.url("/v1/status"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 200);
    s.running.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_refused() {
    let s = TestServer::start().await;
    for (what, bytes) in [
        (
            "HTTP/1.1 status",
            &b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        ),
        ("HTTP/1.0 version", b"GET /version HTTP/1.0\r\n\r\n"),
        (
            "HTTP/1.1 generate",
            b"POST /v1/key/generate/k HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            "HTTP/2 prior knowledge",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
        ),
    ] {
        let r = exchange(s.addr, bytes).await;
        let text = String::from_utf8_lossy(&r);
        assert!(
            r.is_empty() || text.starts_with("HTTP/1.1 400") || text.starts_with("HTTP/1.0 400"),
            "{what}: refused, got {text:?}"
        );
        assert!(!text.contains(" 200 "), "{what}: {text:?}");
    }
    let st = s
        .client(&s.admin)
        .get(s.url("/v1/status"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 200);
    s.running.stop().await;
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn keystore_files_are_created_0600_in_a_0700_directory() {
    let s = TestServer::start().await;
    let admin = s.client(&s.admin);
    let r = admin
        .post(s.url("/v1/key/create/made"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let imported = [0x37u8; 32];
    common::secrets::record("imported key", &imported);
    let r = admin
        .post(s.url("/v1/key/import/imported"))
        .json(&json!({"key": B64.encode(imported), "cipher": "AES256"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = admin
        .post(s.url("/v1/ext/key/rotate/made"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let keys = s.dir.path().join("keys");
    assert_eq!(mode(&keys), 0o700, "key directory");
    for name in ["made", "imported"] {
        assert_eq!(mode(&keys.join(name)), 0o600, "key file {name}");
    }
    // nothing else (no temp file) is left next to them
    let mut names: Vec<String> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["imported", "made"]);
    s.running.stop().await;
}

#[tokio::test]
async fn identity_new_writes_its_private_key_0600() {
    let dir = tempfile::tempdir().unwrap();
    let (k, c) = (dir.path().join("id.key"), dir.path().join("id.crt"));
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["identity", "new", "--key"])
        .arg(&k)
        .arg("--cert")
        .arg(&c)
        .args(["--ip", "127.0.0.1", "client"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&k), 0o600, "private key file");
    // the certificate is public: whatever the umask gives, but never writable by others
    assert_eq!(mode(&c) & 0o022, 0, "certificate not group/world-writable");
}

#[tokio::test]
async fn dev_server_writes_no_files() {
    let cwd = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["server", "--dev", "--addr", "127.0.0.1:0"])
        .current_dir(cwd.path())
        .env("HOME", cwd.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut text = String::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(30), async {
        while !text.contains("API Key") {
            let n = stdout.read(&mut chunk).await.unwrap();
            assert!(n > 0, "dev server exited: {text}");
            text.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    })
    .await
    .expect("the dev banner");
    // Started and serving: it made a certificate and a key, and wrote neither.
    let entries: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().collect();
    assert!(entries.is_empty(), "--dev wrote {entries:?}");
    child.kill().await.unwrap();
}
