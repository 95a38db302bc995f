//! SIGHUP reloads racing with requests and with each other (issue 16,
//! scope 4), against the real `kes` binary.
//!
//! A loader flips the config file (atomically, temp file + rename) between
//! two configs while several tasks send SIGHUPs as fast as they can and
//! observers send requests:
//! - config A: admin `adm-a`; identity X in policy `gen-only`, allowed
//!   `/v1/key/generate/*`;
//! - config B: admin `adm-b`; identity X in policy `dec-only`, allowed
//!   `/v1/key/decrypt/*`.
//!
//! X's self-describe shows one config view in one response (policy name,
//! allow list and `created_by`, the admin of that config): it must always be
//! all-A or all-B, never a mix. Generate and decrypt must answer 200 or 403
//! (never an error from a half-built state), and the server must end on the
//! config written last.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod lc;
mod ops;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::ApiKey;
use lc::Kes;
use ops::{eventually, reqwest_trusting, write_atomic};
use serde_json::{Value, json};

fn sighup(pid: u32) {
    let st = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// One config: `admin`, and X in policy `policy` allowed `allow`.
fn config(admin: &ApiKey, x: &ApiKey, policy: &str, allow: &str) -> String {
    format!(
        "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {admin}\n\
         tls:\n  key: server.key\n  cert: server.crt\n\
         policy:\n  {policy}:\n    allow:\n    - {allow}\n    identities:\n    - {x}\n\
         keystore:\n  fs:\n    path: keys\nlog:\n  error: INFO\n",
        admin = admin.identity(),
        x = x.identity(),
    )
}

/// Which config a self-describe response shows; panics on a mix.
fn view(v: &Value, adm_a: &str, adm_b: &str) -> char {
    let allow: Vec<&str> = v["allow"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let seen = (
        v["policy"].as_str(),
        allow.as_slice(),
        v["created_by"].as_str(),
    );
    if seen == (Some("gen-only"), &["/v1/key/generate/*"][..], Some(adm_a)) {
        'A'
    } else if seen == (Some("dec-only"), &["/v1/key/decrypt/*"][..], Some(adm_b)) {
        'B'
    } else {
        panic!("a request saw a mix of configs A and B: {v}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sighups_never_serve_a_half_applied_config() {
    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let (adm_a, adm_b, x) = (
        ApiKey::generate().unwrap(),
        ApiKey::generate().unwrap(),
        ApiKey::generate().unwrap(),
    );
    for k in [&adm_a, &adm_b, &x] {
        common::secrets::record_api_key(k);
    }
    let a = config(&adm_a, &x, "gen-only", "/v1/key/generate/*");
    let b = config(&adm_b, &x, "dec-only", "/v1/key/decrypt/*");
    let path = dir.path().join("config.yaml");
    write_atomic(&path, &a);
    let kes = Kes::spawn(&path).await;
    let pid = kes.child.id().unwrap();

    // A key and a ciphertext to decrypt, made by the admin of A.
    let admin = reqwest_trusting(&cert, &adm_a);
    let r = admin
        .post(kes.url("/v1/key/create/k"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let g: Value = admin
        .post(kes.url("/v1/key/generate/k"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    common::secrets::record_b64("generated plaintext", g["plaintext"].as_str().unwrap());
    let ciphertext = g["ciphertext"].clone();

    let stop = Arc::new(AtomicBool::new(false));
    let (seen_a, seen_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut observers = Vec::new();
    for _ in 0..3 {
        let c = reqwest_trusting(&cert, &x);
        let (stop, seen_a, seen_b) = (stop.clone(), seen_a.clone(), seen_b.clone());
        let (url_self, url_gen, url_dec) = (
            kes.url("/v1/identity/self/describe"),
            kes.url("/v1/key/generate/k"),
            kes.url("/v1/key/decrypt/k"),
        );
        let (ida, idb) = (adm_a.identity(), adm_b.identity());
        let body = json!({"ciphertext": ciphertext});
        observers.push(tokio::spawn(async move {
            let mut outcomes = [0usize; 2];
            while !stop.load(Ordering::Relaxed) {
                let v: Value = c.get(&url_self).send().await.unwrap().json().await.unwrap();
                match view(&v, &ida, &idb) {
                    'A' => seen_a.fetch_add(1, Ordering::Relaxed),
                    _ => seen_b.fetch_add(1, Ordering::Relaxed),
                };
                let st = c.post(&url_gen).json(&json!({})).send().await.unwrap();
                let code = st.status().as_u16();
                assert!(code == 200 || code == 403, "generate answered {code}");
                outcomes[0] += usize::from(code == 200);
                let st = c.post(&url_dec).json(&body).send().await.unwrap();
                let code = st.status().as_u16();
                assert!(code == 200 || code == 403, "decrypt answered {code}");
                outcomes[1] += usize::from(code == 200);
            }
            outcomes
        }));
    }

    // 4 tasks × 50 SIGHUPs, while the loader flips the config 100 times.
    let mut hups = Vec::new();
    for _ in 0..4 {
        hups.push(tokio::task::spawn_blocking(move || {
            for _ in 0..50 {
                sighup(pid);
            }
        }));
    }
    let loader = {
        let (path, a, b) = (path.clone(), a.clone(), b.clone());
        tokio::task::spawn_blocking(move || {
            for i in 0..100 {
                write_atomic(&path, if i % 2 == 0 { &b } else { &a });
                sighup(pid);
            }
        })
    };
    loader.await.unwrap();
    for h in hups {
        h.await.unwrap();
    }
    // Both views must have been served while racing (else the race proved nothing).
    eventually("both configs observed", Duration::from_secs(60), || {
        let both = seen_a.load(Ordering::Relaxed) > 0 && seen_b.load(Ordering::Relaxed) > 0;
        if !both {
            write_atomic(
                &path,
                if seen_b.load(Ordering::Relaxed) == 0 {
                    &b
                } else {
                    &a
                },
            );
            sighup(pid);
        }
        async move { both }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut allowed = [0usize; 2];
    for o in observers {
        let o = o.await.unwrap();
        allowed[0] += o[0];
        allowed[1] += o[1];
    }
    assert!(kes.reloads() >= 2, "reloads ran");

    // Settles on the config written last.
    write_atomic(&path, &a);
    sighup(pid);
    let c = reqwest_trusting(&cert, &x);
    eventually("config A in force", Duration::from_secs(30), || {
        let c = c.clone();
        let url = kes.url("/v1/identity/self/describe");
        let (ida, idb) = (adm_a.identity(), adm_b.identity());
        async move {
            let v: Value = c.get(url).send().await.unwrap().json().await.unwrap();
            view(&v, &ida, &idb) == 'A'
        }
    })
    .await;
    let d = c
        .post(kes.url("/v1/key/decrypt/k"))
        .json(&json!({"ciphertext": g["ciphertext"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), 403, "A denies decrypt");
    let r = c
        .post(kes.url("/v1/key/generate/k"))
        .json(&json!({"context": B64.encode(b"x")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "A allows generate");
    let out = kes.output();
    assert!(!out.contains("panicked"), "{out}");
    eprintln!(
        "reload race: {} reloads, views A={} B={}, generate allowed {}, decrypt allowed {}",
        kes.reloads(),
        seen_a.load(Ordering::Relaxed),
        seen_b.load(Ordering::Relaxed),
        allowed[0],
        allowed[1]
    );
}
