//! `kes key rotate`, `kes key rewrap`, `kes key info` (state and versions), `kes key disable` and
//! `kes key enable` as a user runs them: the built binary against a real server over TLS, and
//! `kes key info` against a scripted upstream-like server without the extension (falls back to
//! `/v1/key/describe`).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests may panic")]

mod common;
mod lc;
mod ops;

use std::process::{Output, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::ApiKey;
use common::TestServer;
use lc::framed_version;
use serde_json::{Value, json};

#[path = "../client/tests/common/mod.rs"]
mod fake;

/// Runs `kes <args> --ca <ca>` with only `KES_SERVER` and `KES_API_KEY` set.
async fn kes(args: &[&str], server: &str, key: &ApiKey, ca: &std::path::Path) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(args)
        .arg("--ca")
        .arg(ca)
        .env_clear()
        .env("KES_SERVER", server)
        .env("KES_API_KEY", key.to_string())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[tokio::test]
async fn rotate_rewrap_info_disable_enable() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &s.server_cert_pem).unwrap();
    let server = format!("https://{}", s.addr);
    let run = |args: &'static [&'static str]| kes(args, &server, &s.admin, &ca);

    ok(&run(&["key", "create", "k"]).await);
    let v0 = ok(&run(&["key", "encrypt", "k", "hello"]).await);
    assert!(framed_version(&B64.decode(v0.trim()).unwrap()).is_none());
    assert_eq!(ok(&run(&["key", "rotate", "k"]).await), "1\n");
    let j: Value =
        serde_json::from_str(&ok(&run(&["key", "rotate", "k", "--json"]).await)).unwrap();
    assert_eq!(j, json!({"version": 2}));

    let o = kes(&["key", "rewrap", "k", v0.trim()], &server, &s.admin, &ca).await;
    let new = ok(&o);
    assert_eq!(new.lines().count(), 1, "the ciphertext alone: {new}");
    assert_eq!(framed_version(&B64.decode(new.trim()).unwrap()), Some(2));
    let pt = ok(&kes(&["key", "decrypt", "k", new.trim()], &server, &s.admin, &ca).await);
    assert_eq!(pt, "hello\n");
    // With a context, kept in the new ciphertext.
    let ctx = B64.encode("c");
    let (_, g) = lc::call(
        &s.client(&s.admin),
        "POST",
        s.url("/v1/key/generate/k"),
        Some(json!({"context": ctx})),
    )
    .await;
    let ct = g["ciphertext"].as_str().unwrap();
    let o = kes(
        &["key", "rewrap", "k", ct, &ctx, "--json"],
        &server,
        &s.admin,
        &ca,
    )
    .await;
    let j: Value = serde_json::from_str(&ok(&o)).unwrap();
    let (st, d) = lc::call(
        &s.client(&s.admin),
        "POST",
        s.url("/v1/key/decrypt/k"),
        Some(json!({"ciphertext": j["ciphertext"], "context": ctx})),
    )
    .await;
    assert_eq!((st, &d["plaintext"]), (200, &g["plaintext"]));

    let table = ok(&run(&["key", "info", "k", "--color", "never"]).await);
    for want in [
        "Name",
        "State",
        "enabled",
        "Version 0",
        "Version 2",
        &s.admin.identity(),
    ] {
        assert!(table.contains(want), "{want}: {table}");
    }
    ok(&run(&["key", "disable", "k"]).await);
    let j: Value = serde_json::from_str(&ok(&run(&["key", "info", "k", "--json"]).await)).unwrap();
    assert_eq!((&j["name"], &j["enabled"]), (&json!("k"), &json!(false)));
    assert_eq!(j["versions"].as_array().unwrap().len(), 3);
    let o = kes(&["key", "rewrap", "k", v0.trim()], &server, &s.admin, &ca).await;
    assert!(!o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        "Error: key is disabled"
    );
    assert!(ok(&run(&["key", "info", "k", "--color", "never"]).await).contains("disabled"));
    ok(&run(&["key", "enable", "k"]).await);
    assert_eq!(
        ok(&kes(&["key", "decrypt", "k", new.trim()], &server, &s.admin, &ca).await),
        "hello\n"
    );
    let o = run(&["key", "rotate", "missing"]).await;
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        "Error: key does not exist"
    );
    s.running.stop().await;
}

#[tokio::test]
async fn info_falls_back_to_upstream_describe() {
    let server = fake::TestServer::start(Arc::new(|r: &fake::Recorded| {
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/v1/key/describe/k") => fake::Reply::json(
                200,
                r#"{"name":"k","algorithm":"AES256","created_at":"2024-01-02T03:04:05Z","created_by":"abc"}"#,
            ),
            ("GET", "/v1/key/describe/gone") => fake::Reply::error(404, "key does not exist"),
            // Upstream KES has no /v1/ext routes: Go's plain-text 404.
            _ => fake::Reply::text(404, "text/plain; charset=utf-8", "404 page not found\n"),
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &server.cert_pem).unwrap();
    let key = ApiKey::generate().unwrap();
    let endpoint = server.endpoint();
    let j: Value = serde_json::from_str(&ok(&kes(
        &["key", "info", "k", "--json"],
        &endpoint,
        &key,
        &ca,
    )
    .await))
    .unwrap();
    assert_eq!(j["created_by"], "abc");
    assert!(j.get("versions").is_none(), "{j}");
    let o = kes(&["key", "info", "gone"], &endpoint, &key, &ca).await;
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        "Error: key does not exist"
    );
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.contains(&"/v1/ext/key/describe/k".to_owned()),
        "{paths:?}"
    );
}
