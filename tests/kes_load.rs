//! `kes-load` against a real test server: a fraction of a second per run, checking the JSON
//! report's fields and that no request failed (a correctness test, not a timing one).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]

mod common;

use common::TestServer;

/// Runs kes-load with `args` (plus the server, CA and admin API key) and parses its JSON.
async fn kes_load(srv: &TestServer, args: &[&str]) -> serde_json::Value {
    kes_load_as(srv, &srv.admin, args).await
}

/// [`kes_load`] authenticating with `key`.
async fn kes_load_as(srv: &TestServer, key: &client::ApiKey, args: &[&str]) -> serde_json::Value {
    let ca = srv.dir.path().join("server.crt");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes-load"))
        .arg("--server")
        .arg(srv.url(""))
        .arg("--ca")
        .arg(&ca)
        .arg("--api-key")
        .arg(key.to_string())
        .args(["--warmup", "50ms", "-d", "250ms", "--json", "--server-pid"])
        .arg(std::process::id().to_string())
        .args(args)
        .output()
        .await
        .expect("kes-load runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kes-load failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn assert_clean_run(r: &serde_json::Value, op: &str, protocol: &str) {
    assert_eq!(r["op"], op, "{r}");
    assert_eq!(r["protocol"], protocol, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert!(r["errors_by_kind"].as_object().unwrap().is_empty(), "{r}");
    assert!(r["ops"].as_u64().unwrap() > 0, "{r}");
    assert!(r["ops_per_s"].as_f64().unwrap() > 0.0, "{r}");
    for q in ["p50", "p90", "p99", "max", "mean"] {
        assert!(r["latency_us"][q].as_f64().unwrap() > 0.0, "{q}: {r}");
    }
    let server = &r["server"];
    assert!(server["cpu_s"].as_f64().is_some(), "{r}");
    assert!(server["rss_kb_before"].as_u64().unwrap() > 0, "{r}");
    assert!(server["hwm_kb_after"].as_u64().unwrap() > 0, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_every_field_without_errors() {
    let srv = TestServer::start().await;
    let r = kes_load(&srv, &["--op", "mixed", "-c", "4"]).await;
    assert_clean_run(&r, "mixed", "h2");
    assert_eq!(r["new_connection"], false, "{r}");

    let r = kes_load(&srv, &["--op", "decrypt", "-c", "2", "--http1"]).await;
    assert_clean_run(&r, "decrypt", "http1");

    // One TLS handshake per request: every op is a handshake.
    let r = kes_load(
        &srv,
        &[
            "--op",
            "generate",
            "-c",
            "1",
            "--http1",
            "--new-conn",
            "--no-resume",
        ],
    )
    .await;
    assert_clean_run(&r, "generate", "http1");
    assert_eq!(r["new_connection"], true, "{r}");
    assert_eq!(r["resumption"], false, "{r}");
    assert_eq!(r["resumed_handshakes"], 0, "{r}");
    assert!(
        r["handshakes"].as_u64().unwrap() >= r["ops"].as_u64().unwrap(),
        "{r}"
    );

    let r = kes_load(&srv, &["--op", "create-delete", "-c", "2"]).await;
    assert_clean_run(&r, "create-delete", "h2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_refusals_by_status() {
    let srv = TestServer::start().await;
    // The MinIO policy may create keys but not delete them: every delete is a 403.
    let r = kes_load_as(&srv, &srv.minio, &["--op", "create-delete", "-c", "2"]).await;
    let creates = r["ops"].as_u64().unwrap();
    let refused = r["errors_by_kind"]["status_403"].as_u64().unwrap_or(0);
    assert!(creates > 0 && refused > 0, "{r}");
    assert_eq!(r["errors"].as_u64().unwrap(), refused, "{r}");
}
