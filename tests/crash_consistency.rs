//! Crash consistency of the filesystem keystore under the real `kes` binary
//! (issue 16, item 2): concurrent creates, imports and deletes, a SIGKILL
//! while they are in flight, a restart, and then:
//!
//! - every key whose create or import was acknowledged (200) is listed, and
//!   decrypts the ciphertext it produced before the kill;
//! - every key whose delete was acknowledged is absent;
//! - every listed key is complete: `generate` works on it, and `kes key ls`
//!   (the CLI) lists exactly the keys the API lists;
//! - no temp file (`.tmp-*`) is left in the key directory after start-up, and
//!   nothing but key files lives there.
//!
//! Operations whose answer was lost in the kill may have happened or not:
//! either outcome is accepted, but a key that exists must be whole.
//!
//! Size: `KES_CRASH_OPS` operations per round (default 150) and
//! `KES_CRASH_ROUNDS` kill/restart rounds (default 3), so CI stays well under
//! a minute; the full run of issue 16 is
//! `KES_CRASH_OPS=1000 KES_CRASH_ROUNDS=20 cargo test --test crash_consistency -- --nocapture`.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
#[path = "common/kes_child.rs"]
mod kes_child;
mod ops;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::ApiKey;
use futures_util::StreamExt as _;
use kes_child::KesChild as Kes;
use ops::{eventually, reqwest_trusting};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    Import,
    Delete,
}

/// A plaintext and the ciphertext the server returned for it.
type Sealed = (Vec<u8>, String);

/// What one operation achieved before the kill.
#[derive(Debug)]
struct Outcome {
    kind: Kind,
    name: String,
    acked: bool,
    sealed: Option<Sealed>,
}

/// The 32 key bytes imported under `name` (distinct per name).
fn import_bytes(name: &str) -> Vec<u8> {
    let mut out = [0u8; 32];
    for (i, b) in name.bytes().cycle().take(32 * 4).enumerate() {
        out[i % 32] = out[i % 32].wrapping_mul(31).wrapping_add(b ^ (i as u8));
    }
    out.to_vec()
}

async fn status(req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
    let resp = req.send().await.ok()?;
    let st = resp.status().as_u16();
    let body = resp.bytes().await.ok()?;
    Some((st, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// Runs one operation; counts it in `acked` as soon as the server confirms
/// it, then (creates and imports) encrypts a plaintext with the new key.
async fn run_op(
    c: reqwest::Client,
    base: String,
    kind: Kind,
    name: String,
    acked: Arc<AtomicUsize>,
) -> Outcome {
    let req = match kind {
        Kind::Create => c.post(format!("{base}/v1/key/create/{name}")),
        Kind::Import => c
            .post(format!("{base}/v1/key/import/{name}"))
            .json(&json!({ "key": B64.encode(import_bytes(&name)), "cipher": "AES256" })),
        Kind::Delete => c.delete(format!("{base}/v1/key/delete/{name}")),
    };
    let mut out = Outcome {
        kind,
        name,
        acked: false,
        sealed: None,
    };
    if !matches!(status(req).await, Some((200, _))) {
        return out;
    }
    out.acked = true;
    acked.fetch_add(1, Ordering::SeqCst);
    if kind == Kind::Delete {
        return out;
    }
    let plaintext = format!("sealed before the kill by {}", out.name).into_bytes();
    let req = c
        .post(format!("{base}/v1/key/encrypt/{}", out.name))
        .json(&json!({ "plaintext": B64.encode(&plaintext) }));
    if let Some((200, body)) = status(req).await
        && let Some(ct) = body["ciphertext"].as_str()
    {
        out.sealed = Some((plaintext, ct.to_owned()));
    }
    out
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v:?}")))
        .unwrap_or(default)
}

/// Names of the entries of the key directory.
fn dir_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// All key names the server lists.
async fn list(c: &reqwest::Client, kes: &Kes) -> BTreeSet<String> {
    let (st, body) = status(c.get(kes.url("/v1/key/list/"))).await.unwrap();
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        body["continue_at"].as_str().unwrap_or_default(),
        "",
        "one page expected: {}",
        body["continue_at"]
    );
    body["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

/// Decrypts `sealed` with `name` and checks the plaintext.
async fn check_decrypts(c: &reqwest::Client, kes: &Kes, name: &str, sealed: &Sealed) {
    let req = c
        .post(kes.url(&format!("/v1/key/decrypt/{name}")))
        .json(&json!({ "ciphertext": sealed.1 }));
    let (st, body) = status(req).await.unwrap();
    assert_eq!(st, 200, "decrypt with {name} after restart: {body}");
    assert_eq!(
        body["plaintext"].as_str().unwrap(),
        B64.encode(&sealed.0),
        "{name} decrypts to something else after the restart"
    );
}

/// Runs `kes key ls` (the CLI) against `kes` and returns the names it prints.
async fn cli_ls(kes: &Kes, admin: &ApiKey, ca: &Path) -> BTreeSet<String> {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["key", "ls", "--ca"])
        .arg(ca)
        .env_clear()
        .env("KES_SERVER", format!("https://{}", kes.addr))
        .env("KES_API_KEY", admin.to_string())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "kes key ls: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Figures of one round.
#[derive(Debug, Default)]
struct Round {
    acked: usize,
    lost: usize,
    temps_at_kill: usize,
    keys_after: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_key_writes_keeps_every_acknowledged_key_whole() {
    let ops = env_count("KES_CRASH_OPS", 150);
    let rounds = env_count("KES_CRASH_ROUNDS", 3);
    assert!(
        ops >= 10 && rounds >= 1,
        "KES_CRASH_OPS >= 10, KES_CRASH_ROUNDS >= 1"
    );
    let started = Instant::now();

    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let ca: PathBuf = dir.path().join("server.crt");
    let admin = ApiKey::generate().unwrap();
    let (minio, auditor) = (ApiKey::generate().unwrap(), ApiKey::generate().unwrap());
    for k in [&admin, &minio, &auditor] {
        common::secrets::record_api_key(k);
    }
    let config = common::write_config(dir.path(), &admin, &minio, &auditor, "");
    let keys_dir = dir.path().join("keys");
    let c = reqwest_trusting(&cert, &admin);

    // Keys known to exist (verified after a restart), with what they sealed.
    let mut present: BTreeMap<String, Option<Sealed>> = BTreeMap::new();
    let mut kes = Kes::spawn(&config).await;
    // Seed keys for the first round's deletes.
    for i in 0..ops / 3 {
        let name = format!("seed-{i}");
        let o = run_op(
            c.clone(),
            kes.url(""),
            Kind::Create,
            name.clone(),
            Arc::default(),
        )
        .await;
        assert!(o.acked, "seed create {name}");
        present.insert(name, o.sealed);
    }

    let mut figures = Vec::new();
    for round in 0..rounds {
        // Deletes take keys known to exist; the rest are creates and imports.
        let mut victims = present.keys().cloned().collect::<Vec<_>>().into_iter();
        let plan: Vec<(Kind, String)> = (0..ops)
            .map(|i| match i % 3 {
                2 => match victims.next() {
                    Some(name) => (Kind::Delete, name),
                    None => (Kind::Create, format!("r{round}-c{i}")),
                },
                1 => (Kind::Import, format!("r{round}-i{i}")),
                _ => (Kind::Create, format!("r{round}-c{i}")),
            })
            .collect();
        // Kill after 20 %..80 % of the operations were acknowledged.
        let kill_at = ops * (2 + (round * 3) % 7) / 10;
        let acked = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = plan
            .iter()
            .map(|(kind, name)| {
                tokio::spawn(run_op(
                    c.clone(),
                    kes.url(""),
                    *kind,
                    name.clone(),
                    Arc::clone(&acked),
                ))
            })
            .collect();
        eventually(
            "enough acknowledged operations",
            Duration::from_secs(120),
            || {
                let n = acked.load(Ordering::SeqCst);
                async move { n >= kill_at }
            },
        )
        .await;
        kes.kill().await;
        let mut outcomes = Vec::with_capacity(ops);
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let mut fig = Round {
            acked: outcomes.iter().filter(|o| o.acked).count(),
            temps_at_kill: dir_entries(&keys_dir)
                .iter()
                .filter(|n| n.starts_with(".tmp-"))
                .count(),
            ..Round::default()
        };
        fig.lost = ops - fig.acked;

        kes = Kes::spawn(&config).await;
        let entries = dir_entries(&keys_dir);
        let temps: Vec<_> = entries.iter().filter(|n| n.starts_with(".tmp-")).collect();
        assert!(
            temps.is_empty(),
            "temp files left after start-up: {temps:?}"
        );
        let listed = list(&c, &kes).await;
        let on_disk: BTreeSet<String> = entries.into_iter().collect();
        assert_eq!(on_disk, listed, "the key directory holds exactly the keys");

        for o in &outcomes {
            match (o.kind, o.acked) {
                (Kind::Delete, true) => {
                    assert!(!listed.contains(&o.name), "deleted {} is back", o.name);
                    present.remove(&o.name);
                }
                (Kind::Delete, false) => {
                    if !listed.contains(&o.name) {
                        present.remove(&o.name);
                    }
                }
                (_, true) => {
                    assert!(listed.contains(&o.name), "acknowledged {} lost", o.name);
                    present.insert(o.name.clone(), o.sealed.clone());
                }
                (_, false) => {
                    if listed.contains(&o.name) {
                        present.insert(o.name.clone(), None);
                    }
                }
            }
        }
        assert_eq!(
            present.keys().cloned().collect::<BTreeSet<_>>(),
            listed,
            "the listed keys are the acknowledged ones plus some unacknowledged"
        );

        // Every listed key is whole: it generates, and decrypts what it sealed.
        let checks = futures_util::stream::iter(present.iter().map(|(name, sealed)| {
            let c = c.clone();
            let kes = &kes;
            async move {
                let (st, body) = status(c.post(kes.url(&format!("/v1/key/generate/{name}"))))
                    .await
                    .unwrap();
                assert_eq!(st, 200, "generate with {name} after restart: {body}");
                if let Some(sealed) = sealed {
                    check_decrypts(&c, kes, name, sealed).await;
                }
            }
        }))
        .buffer_unordered(32)
        .collect::<Vec<()>>();
        checks.await;
        fig.keys_after = listed.len();
        eprintln!("round {round}: {fig:?}");
        figures.push(fig);
    }

    assert_eq!(
        cli_ls(&kes, &admin, &ca).await,
        present.keys().cloned().collect(),
        "kes key ls lists the keys the API lists"
    );
    let lost: usize = figures.iter().map(|f| f.lost).sum();
    let acked: usize = figures.iter().map(|f| f.acked).sum();
    let temps: usize = figures.iter().map(|f| f.temps_at_kill).sum();
    eprintln!(
        "crash consistency: {rounds} kills survived, {ops} ops per round, {acked} acknowledged \
         (all kept), {lost} cut by the kill, {temps} temp files at kill (all removed at \
         start-up), {} keys at the end, {:.1} s",
        present.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(lost > 0, "the kill never interrupted an operation");
}
