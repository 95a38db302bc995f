//! Key lifecycle across servers and crashes, over real TLS:
//! - two servers sharing one fs keystore agree on disable, enable, rotate and delete within the
//!   documented bound (`cache.expiry.state`, default 5 s), polled with a deadline of bound plus
//!   margin;
//! - SIGKILL of a real `kes server` process while 200 concurrent disable/enable/rotate calls run
//!   leaves every key readable with a consistent state (contiguous versions, none of the
//!   acknowledged rotations lost).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod lc;
mod ops;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::ApiKey;
use common::TestServer;
use lc::{Kes, b64_field, call, framed_version};
use ops::{eventually, reqwest_trusting};
use serde_json::json;

/// `cache.expiry.state` default: the documented propagation bound.
const BOUND: Duration = Duration::from_secs(5);
/// Margin for a loaded machine (a keystore read, scheduling).
const MARGIN: Duration = Duration::from_secs(10);

/// The status of a POST without a body.
async fn post_status(c: &reqwest::Client, url: String) -> u16 {
    call(c, "POST", url, None).await.0
}

/// Polls `url` (POST, no body) until it answers `want`; panics after the bound plus margin.
async fn until_status(what: &str, c: &reqwest::Client, url: String, want: u16) {
    eventually(what, BOUND + MARGIN, || {
        let (c, url) = (c.clone(), url.clone());
        async move { post_status(&c, url).await == want }
    })
    .await;
}

async fn encrypt(c: &reqwest::Client, url: String) -> serde_json::Value {
    let (_, e) = call(c, "POST", url, Some(json!({"plaintext": "aGk="}))).await;
    e["ciphertext"].clone()
}

#[tokio::test]
async fn two_servers_on_one_keystore_agree_within_the_bound() {
    let a = TestServer::start().await;
    let shared = keystores::FsKeystore::open(a.dir.path().join("keys")).unwrap();
    let b = TestServer::start_on(Arc::new(shared)).await;
    let (ca, cb) = (a.client(&a.admin), b.client(&b.admin));
    assert_eq!(post_status(&ca, a.url("/v1/key/create/k")).await, 200);
    // Both servers have the key cached.
    assert_eq!(post_status(&ca, a.url("/v1/key/generate/k")).await, 200);
    assert_eq!(post_status(&cb, b.url("/v1/key/generate/k")).await, 200);

    // Disable on a: a refuses at once, b within the bound.
    let t = Instant::now();
    assert_eq!(
        call(&ca, "PUT", a.url("/v1/ext/key/disable/k"), None)
            .await
            .0,
        200
    );
    assert_eq!(post_status(&ca, a.url("/v1/key/generate/k")).await, 403);
    until_status("b sees the disable", &cb, b.url("/v1/key/generate/k"), 403).await;
    println!("disable reached the other server after {:?}", t.elapsed());

    // Enable on b: a serves again within the bound.
    assert_eq!(
        call(&cb, "PUT", b.url("/v1/ext/key/enable/k"), None)
            .await
            .0,
        200
    );
    assert_eq!(post_status(&cb, b.url("/v1/key/generate/k")).await, 200);
    until_status("a sees the enable", &ca, a.url("/v1/key/generate/k"), 200).await;

    // Rotate on a: b encrypts with version 1 within the bound; each decrypts the other's.
    let (_, r) = call(&ca, "PUT", a.url("/v1/ext/key/rotate/k"), None).await;
    assert_eq!(r["version"], 1);
    let deadline = Instant::now() + BOUND + MARGIN;
    let from_b = loop {
        let ct = encrypt(&cb, b.url("/v1/key/encrypt/k")).await;
        if framed_version(&B64.decode(ct.as_str().unwrap()).unwrap()) == Some(1) {
            break ct;
        }
        assert!(
            Instant::now() < deadline,
            "b never encrypted with version 1"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let from_a = encrypt(&ca, a.url("/v1/key/encrypt/k")).await;
    for (c, url, ct) in [
        (&ca, a.url("/v1/key/decrypt/k"), &from_b),
        (&cb, b.url("/v1/key/decrypt/k"), &from_a),
    ] {
        let (st, d) = call(c, "POST", url, Some(json!({"ciphertext": ct}))).await;
        assert_eq!((st, &d["plaintext"]), (200, &json!("aGk=")));
    }

    // Delete on b: a answers 404 within the bound.
    assert_eq!(
        call(&cb, "DELETE", b.url("/v1/key/delete/k"), None).await.0,
        200
    );
    until_status("a sees the delete", &ca, a.url("/v1/key/generate/k"), 404).await;
    a.running.stop().await;
    b.running.stop().await;
}

const KEYS: usize = 4;
const WORKERS: usize = 200;

#[tokio::test]
async fn sigkill_during_concurrent_lifecycle_calls_leaves_consistent_keys() {
    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let (admin, minio, auditor) = (
        ApiKey::generate().unwrap(),
        ApiKey::generate().unwrap(),
        ApiKey::generate().unwrap(),
    );
    let config = common::write_config(dir.path(), &admin, &minio, &auditor, "");
    let mut kes = Kes::spawn(&config).await;
    let c = reqwest_trusting(&cert, &admin);
    for k in 0..KEYS {
        assert_eq!(
            call(&c, "POST", kes.url(&format!("/v1/key/create/k{k}")), None)
                .await
                .0,
            200
        );
    }

    // 200 workers, each calling disable/enable/rotate in a loop until the server dies, so 200
    // calls are in flight when it is killed. Acknowledged rotations are remembered per key.
    let done = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(std::sync::Mutex::new(BTreeMap::<usize, u64>::new()));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (c, done, acked) = (c.clone(), done.clone(), acked.clone());
        let base = kes.url("/v1/ext/key/");
        workers.push(tokio::spawn(async move {
            for i in w.. {
                let key = i % KEYS;
                let op = ["disable", "enable", "rotate"][(i / KEYS) % 3];
                let Ok(resp) = c.put(format!("{base}{op}/k{key}")).send().await else {
                    return;
                };
                let status = resp.status().as_u16();
                let Ok(body) = resp.bytes().await else { return };
                assert_eq!(status, 200, "{op}: {}", String::from_utf8_lossy(&body));
                if op == "rotate" {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let v = v["version"].as_u64().unwrap();
                    let mut acked = acked.lock().unwrap();
                    let max = acked.entry(key).or_default();
                    *max = (*max).max(v);
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    eventually("300 calls answered", Duration::from_secs(120), || {
        let n = done.load(Ordering::SeqCst);
        async move { n >= 300 }
    })
    .await;
    kes.child.start_kill().unwrap(); // SIGKILL
    kes.child.wait().await.unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty(), "some rotations were acknowledged");

    // Every stored value decodes, by this server's rules.
    for k in 0..KEYS {
        let stored = std::fs::read(dir.path().join("keys").join(format!("k{k}"))).unwrap();
        kes::crypto::KeyRing::decode(&stored).unwrap();
    }
    // A new server on the same directory: every key is readable and consistent.
    let running = kes::server::Builder::from_file(&config)
        .unwrap()
        .start()
        .await
        .unwrap();
    let url = |p: &str| format!("https://{}{p}", running.addr);
    let (_, list) = call(&c, "GET", url("/v1/key/list/"), None).await;
    let names: Vec<String> = (0..KEYS).map(|k| format!("k{k}")).collect();
    assert_eq!(list["names"], json!(names));
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, names, "no temp file left behind after the restart");
    for k in 0..KEYS {
        let (st, d) = call(&c, "GET", url(&format!("/v1/ext/key/describe/k{k}")), None).await;
        assert_eq!(st, 200, "{d}");
        let versions = d["versions"].as_array().unwrap();
        for (i, v) in versions.iter().enumerate() {
            assert_eq!(v["version"], i, "contiguous versions: {d}");
        }
        let newest = versions.len() as u64 - 1;
        let acked = acked.get(&k).copied().unwrap_or(0);
        assert!(
            newest >= acked,
            "k{k}: rotation {acked} acknowledged, newest is {newest}"
        );
        if d["enabled"] == false {
            let (st, _) = call(&c, "POST", url(&format!("/v1/key/generate/k{k}")), None).await;
            assert_eq!(st, 403);
            assert_eq!(
                call(&c, "PUT", url(&format!("/v1/ext/key/enable/k{k}")), None)
                    .await
                    .0,
                200
            );
        }
        let (st, g) = call(&c, "POST", url(&format!("/v1/key/generate/k{k}")), None).await;
        assert_eq!(st, 200);
        let ct = b64_field(&g, "ciphertext");
        let want = (newest > 0).then_some(newest as u32);
        assert_eq!(
            framed_version(&ct),
            want,
            "k{k} encrypts with its newest version"
        );
        let (st, p) = call(
            &c,
            "POST",
            url(&format!("/v1/key/decrypt/k{k}")),
            Some(json!({"ciphertext": g["ciphertext"]})),
        )
        .await;
        assert_eq!((st, &p["plaintext"]), (200, &g["plaintext"]));
    }
    running.stop().await;
    drop(kes);
}
