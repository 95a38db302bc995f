//! Operations end to end (issue 4): the key cache behind the API (offline
//! window, single flight, unused eviction), `/v1/metrics` checked by a strict
//! Prometheus text parser, the audit and error log streams (and a stalled
//! subscriber), `api.<path>` overrides, reload (library call and SIGHUP),
//! graceful SIGTERM, and a grep of every log output for secrets.
//!
//! Time-dependent tests shorten the key cache's health probe to 50 ms via
//! `kes::run::Options` and wait by polling a condition with a deadline.

#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::{ApiKey, CertifiedKey};
use common::{Outputs, TestServer, status_message, tls_client};
use futures_util::StreamExt as _;
use keystores::{Keystore, MemKeystore, Page, Status};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

const PROBE: Duration = Duration::from_millis(50);

/// Polls `cond` every 20 ms until it holds; panics after `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------
// A keystore test double: availability, a read counter, a gate on reads.

struct Double {
    inner: MemKeystore,
    up: AtomicBool,
    gets: AtomicUsize,
    /// While `false`, reads wait (lets a test pile up concurrent misses).
    gate: tokio::sync::watch::Sender<bool>,
}

impl Double {
    fn new() -> Arc<Double> {
        Arc::new(Double {
            inner: MemKeystore::new(),
            up: AtomicBool::new(true),
            gets: AtomicUsize::new(0),
            gate: tokio::sync::watch::channel(true).0,
        })
    }
    fn down(&self) -> Result<(), keystores::Error> {
        if self.up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(keystores::Error::unreachable("connection refused"))
        }
    }
    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Keystore for Double {
    async fn status(&self) -> Result<Status, keystores::Error> {
        self.down()?;
        self.inner.status().await
    }
    async fn create(&self, name: &str, value: &[u8]) -> Result<(), keystores::Error> {
        self.down()?;
        self.inner.create(name, value).await
    }
    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, keystores::Error> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate.subscribe();
        let _ = gate.wait_for(|open| *open).await;
        self.down()?;
        if name == "broken" {
            return Err(keystores::Error::backend("disk on fire"));
        }
        self.inner.get(name).await
    }
    async fn delete(&self, name: &str) -> Result<(), keystores::Error> {
        self.down()?;
        self.inner.delete(name).await
    }
    async fn list(&self, p: &str, c: &str, l: usize) -> Result<Page, keystores::Error> {
        self.down()?;
        self.inner.list(p, c, l).await
    }
}

async fn on_double(extra: &str) -> (TestServer, Arc<Double>, Outputs) {
    let double = Double::new();
    let outputs = Outputs::default();
    let s = TestServer::start_custom(extra, Some(double.clone()), PROBE, &outputs).await;
    (s, double, outputs)
}

async fn generate(c: &reqwest::Client, s: &TestServer, key: &str) -> (u16, Value) {
    let resp = c
        .post(s.url(&format!("/v1/key/generate/{key}")))
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or_default())
}

async fn decrypt(c: &reqwest::Client, s: &TestServer, key: &str, ct: &Value) -> (u16, Value) {
    let resp = c
        .post(s.url(&format!("/v1/key/decrypt/{key}")))
        .json(&json!({ "ciphertext": ct }))
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or_default())
}

async fn get_status(c: &reqwest::Client, s: &TestServer, path: &str) -> u16 {
    c.get(s.url(path)).send().await.unwrap().status().as_u16()
}

// ---------------------------------------------------------------------------
// Key cache behind the API.

#[tokio::test]
async fn offline_window_keeps_generate_and_decrypt_working_then_ends() {
    const WINDOW: Duration = Duration::from_secs(3);
    let (s, double, _) =
        on_double("cache:\n  expiry:\n    any: 1h\n    unused: 1h\n    offline: 3s\n").await;
    let c = s.client(&s.admin);
    assert_eq!(
        c.post(s.url("/v1/key/create/k"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (st, first) = generate(&c, &s, "k").await;
    assert_eq!(st, 200);
    assert_eq!(get_status(&c, &s, "/v1/ready").await, 200);

    // The keystore goes away.
    let down_at = Instant::now();
    double.up.store(false, Ordering::SeqCst);
    eventually("ready reports 504", Duration::from_secs(10), || async {
        get_status(&c, &s, "/v1/ready").await == 504
    })
    .await;
    let r = c.get(s.url("/v1/ready")).send().await.unwrap();
    assert_eq!(
        status_message(r).await,
        (504, "key store is not reachable".to_owned())
    );
    let st: Value = c
        .get(s.url("/v1/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["keystore_unreachable"], true);
    assert_eq!(st["keystore_unavailable"], true);
    assert!(st.get("keystore_latency").is_none());

    // Served from the cache while offline: generate, decrypt, encrypt, hmac, describe.
    let (st, fresh) = generate(&c, &s, "k").await;
    assert_eq!(st, 200);
    let (st, pt) = decrypt(&c, &s, "k", &first["ciphertext"]).await;
    assert_eq!((st, &pt["plaintext"]), (200, &first["plaintext"]));
    let (st, pt) = decrypt(&c, &s, "k", &fresh["ciphertext"]).await;
    assert_eq!((st, &pt["plaintext"]), (200, &fresh["plaintext"]));
    assert_eq!(get_status(&c, &s, "/v1/key/describe/k").await, 200);
    let hm = c
        .put(s.url("/v1/key/hmac/k"))
        .json(&json!({"message": B64.encode(b"m")}))
        .send()
        .await
        .unwrap();
    assert_eq!(hm.status(), 200);
    // Writes and lists go to the keystore: they fail.
    let (st, _) = status_message(c.post(s.url("/v1/key/create/k2")).send().await.unwrap()).await;
    assert_eq!(st, 502);
    let (st, _) = status_message(c.get(s.url("/v1/key/list/")).send().await.unwrap()).await;
    assert_eq!(st, 502);

    // After the offline window the cache is dropped: reads fail with 502.
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed_at = loop {
        let (st, _) = generate(&c, &s, "k").await;
        if st == 502 {
            break Instant::now();
        }
        assert_eq!(
            st, 200,
            "generate either succeeds from cache or fails with 502"
        );
        assert!(Instant::now() < deadline, "the offline window never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        failed_at - down_at >= WINDOW,
        "the cache served for the whole offline window"
    );
    let (st, msg) = status_message(
        c.post(s.url("/v1/key/decrypt/k"))
            .json(&json!({"ciphertext": first["ciphertext"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, msg.as_str()), (502, "failed to read key"));

    // The keystore comes back: ready, and reads work again.
    double.up.store(true, Ordering::SeqCst);
    eventually("ready reports 200", Duration::from_secs(10), || async {
        get_status(&c, &s, "/v1/ready").await == 200
    })
    .await;
    let (st, pt) = decrypt(&c, &s, "k", &first["ciphertext"]).await;
    assert_eq!((st, &pt["plaintext"]), (200, &first["plaintext"]));
    s.running.stop().await;
}

#[tokio::test]
async fn without_offline_cache_reads_fail_while_down_after_eviction() {
    // offline: 0 (default): going offline changes nothing; a miss goes to the store.
    let (s, double, _) = on_double("cache:\n  expiry:\n    any: 1h\n    unused: 1h\n").await;
    let c = s.client(&s.admin);
    c.post(s.url("/v1/key/create/k")).send().await.unwrap();
    double.up.store(false, Ordering::SeqCst);
    eventually("ready reports 504", Duration::from_secs(10), || async {
        get_status(&c, &s, "/v1/ready").await == 504
    })
    .await;
    // never read, so never cached: 502
    let (st, _) = generate(&c, &s, "k").await;
    assert_eq!(st, 502);
    s.running.stop().await;
}

#[tokio::test]
async fn hundred_concurrent_first_requests_make_one_keystore_read() {
    let (s, double, _) = on_double("cache:\n  expiry:\n    any: 1h\n    unused: 1h\n").await;
    let c = s.client(&s.admin);
    assert_eq!(
        c.post(s.url("/v1/key/create/hot"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(double.gets(), 0, "create does not read");
    double.gate.send_replace(false); // reads wait until every request is in flight
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let c = c.clone();
        let url = s.url("/v1/key/generate/hot");
        tasks.push(tokio::spawn(async move {
            c.post(url).send().await.unwrap().status().as_u16()
        }));
    }
    // All 100 are authenticated and waiting (the metrics request is the 101st).
    eventually(
        "100 requests in flight",
        Duration::from_secs(30),
        || async {
            let text = c
                .get(s.url("/v1/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let m = parse_prometheus(&text).unwrap();
            m["kes_http_request_active"].samples[0].value >= 101.0
        },
    )
    .await;
    double.gate.send_replace(true);
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(
        double.gets(),
        1,
        "one keystore read for 100 concurrent misses"
    );
    // and later requests are served from the cache
    assert_eq!(generate(&c, &s, "hot").await.0, 200);
    assert_eq!(double.gets(), 1);
    s.running.stop().await;
}

#[tokio::test]
async fn unused_entries_are_evicted_used_ones_kept() {
    // Sweeps every unused/2 = 500 ms; an entry read at t is gone by t + 1 s
    // unless read again, and survives at least 500 ms.
    let (s, double, _) = on_double("cache:\n  expiry:\n    any: 1h\n    unused: 1s\n").await;
    let c = s.client(&s.admin);
    c.post(s.url("/v1/key/create/k")).send().await.unwrap();
    assert_eq!(generate(&c, &s, "k").await.0, 200);
    assert_eq!(double.gets(), 1);
    // Kept while used (a read every 100 ms for 2.5 s: more than two sweeps).
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        assert_eq!(generate(&c, &s, "k").await.0, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(double.gets(), 1, "a used entry is not evicted");
    // Idle for longer than `unused` (the stimulus under test): evicted.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(generate(&c, &s, "k").await.0, 200);
    assert_eq!(
        double.gets(),
        2,
        "an unused entry is evicted and read again"
    );
    // delete evicts at once
    assert_eq!(
        c.delete(s.url("/v1/key/delete/k"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(generate(&c, &s, "k").await.0, 404);
    s.running.stop().await;
}

// ---------------------------------------------------------------------------
// Metrics.

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug)]
struct Family {
    kind: String,
    help: bool,
    samples: Vec<Sample>,
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse::<f64>().map_err(|_| format!("bad value '{v}'")),
    }
}

/// Parses `{a="x",b="y"}` starting at `s[0] == '{'`; returns labels and the rest.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = &s[1..];
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without '='")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("bad label name '{name}'"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("bad escape '\\{other}'")),
                },
                (_, c) => value.push(c),
            }
        };
        rest = &rest[end + 1..];
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("duplicate label '{name}'"));
        }
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected ',' or '}'".into());
        }
    }
}

/// A strict parser of the Prometheus text format 0.0.4 for what KES emits:
/// HELP/TYPE before samples, contiguous families, valid names and labels,
/// no duplicate series, no family without samples, histogram invariants.
fn parse_prometheus(text: &str) -> Result<BTreeMap<String, Family>, String> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    if !text.ends_with('\n') {
        return Err("output must end with a newline".into());
    }
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kw, name, rest) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            if !valid_metric_name(name) {
                return Err(format!("bad metric name in '{line}'"));
            }
            if current.as_deref() != Some(name) {
                if families.contains_key(name) {
                    return Err(format!("family {name} is not contiguous"));
                }
                if let Some(prev) = &current
                    && families[prev].samples.is_empty()
                {
                    return Err(format!("family {prev} has no samples"));
                }
                families.insert(
                    name.to_owned(),
                    Family {
                        kind: "untyped".into(),
                        help: false,
                        samples: vec![],
                    },
                );
                order.push(name.to_owned());
                current = Some(name.to_owned());
            }
            let f = families.get_mut(name).unwrap();
            match kw {
                "HELP" => {
                    if f.help || rest.is_empty() {
                        return Err(format!("bad or repeated HELP for {name}"));
                    }
                    f.help = true;
                }
                "TYPE" => {
                    if !f.samples.is_empty() || f.kind != "untyped" {
                        return Err(format!("TYPE for {name} after samples or twice"));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest) {
                        return Err(format!("bad type '{rest}'"));
                    }
                    f.kind = rest.to_owned();
                }
                _ => return Err(format!("unexpected comment '{line}'")),
            }
            continue;
        }
        if line.starts_with('#') {
            return Err(format!("bad comment '{line}'"));
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| format!("bad sample '{line}'"))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(format!("bad sample name '{name}'"));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..])?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| format!("no value in '{line}'"))?
            .split(' ');
        let value = parse_value(fields.next().unwrap_or(""))?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| format!("bad timestamp in '{line}'"))?;
        }
        if fields.next().is_some() {
            return Err(format!("trailing fields in '{line}'"));
        }
        let family = current
            .clone()
            .ok_or_else(|| format!("sample before TYPE: '{line}'"))?;
        let f = families.get_mut(&family).unwrap();
        let allowed: &[&str] = if f.kind == "histogram" {
            &["_bucket", "_sum", "_count"]
        } else {
            &[""]
        };
        let suffix = name
            .strip_prefix(family.as_str())
            .ok_or_else(|| format!("sample {name} outside family {family}"))?;
        if !allowed.contains(&suffix) {
            return Err(format!("sample {name} not allowed in {} {family}", f.kind));
        }
        if f.samples
            .iter()
            .any(|s| s.name == name && s.labels == labels)
        {
            return Err(format!("duplicate series {name}{labels:?}"));
        }
        f.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    if let Some(prev) = &current
        && families[prev].samples.is_empty()
    {
        return Err(format!("family {prev} has no samples"));
    }
    for (name, f) in &families {
        if f.kind == "histogram" {
            let buckets: Vec<&Sample> = f
                .samples
                .iter()
                .filter(|s| s.name.ends_with("_bucket"))
                .collect();
            let mut last = (f64::NEG_INFINITY, 0.0);
            for b in &buckets {
                let le = parse_value(b.labels.get("le").ok_or("bucket without le")?)?;
                if le <= last.0 || b.value < last.1 {
                    return Err(format!("{name}: buckets not increasing/cumulative"));
                }
                last = (le, b.value);
            }
            let count = f
                .samples
                .iter()
                .find(|s| s.name.ends_with("_count"))
                .ok_or("no _count")?;
            if last.0 != f64::INFINITY || last.1 != count.value {
                return Err(format!("{name}: +Inf bucket must equal _count"));
            }
            if !f.samples.iter().any(|s| s.name.ends_with("_sum")) {
                return Err(format!("{name}: no _sum"));
            }
        }
    }
    Ok(families)
}

const REQUEST_COUNTERS: [&str; 3] = [
    "kes_http_request_success",
    "kes_http_request_error",
    "kes_http_request_failure",
];

/// The SDK's constraints: only the three request counters carry labels
/// (`code`, in their class); every other family is one series.
fn check_sdk_constraints(m: &BTreeMap<String, Family>) {
    for (name, f) in m {
        if let Some(i) = REQUEST_COUNTERS.iter().position(|c| c == name) {
            assert_eq!(f.kind, "counter");
            for s in &f.samples {
                let keys: Vec<&String> = s.labels.keys().collect();
                assert_eq!(keys, ["code"], "{name}");
                let code: u16 = s.labels["code"].parse().unwrap();
                assert_eq!(usize::from(code / 100), [2, 4, 5][i], "{name} {code}");
            }
        } else if f.kind == "histogram" {
            for s in &f.samples {
                let allowed: BTreeSet<&str> = if s.name.ends_with("_bucket") {
                    ["le"].into()
                } else {
                    BTreeSet::new()
                };
                assert_eq!(
                    s.labels.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                    allowed,
                    "{}",
                    s.name
                );
            }
        } else {
            assert_eq!(f.samples.len(), 1, "{name} has one series");
            assert!(f.samples[0].labels.is_empty(), "{name} has no labels");
        }
    }
}

#[test]
fn the_strict_parser_rejects_what_the_sdk_cannot_read() {
    let good = "# HELP a x\n# TYPE a counter\na 1\n";
    assert!(parse_prometheus(good).is_ok());
    for bad in [
        "# HELP a x\n# TYPE a counter\n", // no samples
        "# TYPE a counter\na 1\n# TYPE b gauge\n# TYPE c gauge\nc 1\n", // b empty
        "a 1\n",                          // no TYPE
        "# TYPE a counter\na{code=200} 1\n", // unquoted label
        "# TYPE a counter\na{1x=\"2\"} 1\n", // bad label name
        "# TYPE a counter\na 1\na 2\n",   // duplicate series
        "# TYPE a counter\na one\n",      // bad value
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n", // not contiguous
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 2\n",
        "# TYPE a counter\na 1", // no final newline
        "# EOF\n",
    ] {
        assert!(parse_prometheus(bad).is_err(), "{bad:?} must be rejected");
    }
}

async fn metrics(s: &TestServer, key: &ApiKey) -> BTreeMap<String, Family> {
    let resp = s
        .client(key)
        .get(s.url("/v1/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    let m = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    check_sdk_constraints(&m);
    m
}

fn counter(m: &BTreeMap<String, Family>, family: &str, code: &str) -> f64 {
    m.get(family)
        .and_then(|f| f.samples.iter().find(|s| s.labels["code"] == code))
        .map_or(0.0, |s| s.value)
}

#[tokio::test]
async fn metrics_every_family_present_and_strictly_parseable() {
    let (s, _double, _) = on_double("").await;
    // Before any counted request: no empty request-counter families.
    let first = metrics(&s, &s.minio).await;
    for c in REQUEST_COUNTERS {
        assert!(!first.contains_key(c), "{c} has no samples yet");
    }
    let admin = s.client(&s.admin);
    admin.post(s.url("/v1/key/create/k")).send().await.unwrap(); // 200
    admin.post(s.url("/v1/key/create/k")).send().await.unwrap(); // 400
    admin
        .get(s.url("/v1/key/describe/missing"))
        .send()
        .await
        .unwrap(); // 404
    admin
        .post(s.url("/v1/key/create/broken"))
        .send()
        .await
        .unwrap(); // 200
    admin
        .post(s.url("/v1/key/generate/broken"))
        .send()
        .await
        .unwrap(); // 502
    // Not counted: refused by policy (403), wrong method (405), unknown path (404).
    let unknown = s.client(&s.unknown);
    assert_eq!(get_status(&unknown, &s, "/v1/status").await, 403);
    assert_eq!(get_status(&unknown, &s, "/v1/metrics").await, 403);
    assert_eq!(get_status(&admin, &s, "/v1/key/create/x").await, 405);
    assert_eq!(get_status(&admin, &s, "/v1/nothing").await, 404);

    let m = metrics(&s, &s.minio).await;
    let expected = [
        ("kes_http_request_success", "counter"),
        ("kes_http_request_error", "counter"),
        ("kes_http_request_failure", "counter"),
        ("kes_http_request_active", "gauge"),
        ("kes_http_response_time", "histogram"),
        ("kes_log_error_events", "counter"),
        ("kes_log_audit_events", "counter"),
        ("kes_system_up_time", "gauge"),
        ("kes_system_num_cpu", "gauge"),
        ("kes_system_num_cpu_used", "gauge"),
        ("kes_system_num_threads", "gauge"),
        ("kes_system_mem_heap_used", "gauge"),
        ("kes_system_mem_heap_objects", "gauge"),
        ("kes_system_mem_stack_used", "gauge"),
    ];
    for (name, kind) in expected {
        let f = m.get(name).unwrap_or_else(|| panic!("{name} present"));
        assert_eq!(f.kind, kind, "{name}");
        assert!(f.help, "{name} has HELP");
    }
    // metrics (1st call) + 2 creates = 3 successes; 400 and 404 errors; one 502.
    assert_eq!(counter(&m, "kes_http_request_success", "200"), 3.0);
    assert_eq!(counter(&m, "kes_http_request_error", "400"), 1.0);
    assert_eq!(counter(&m, "kes_http_request_error", "404"), 1.0);
    assert_eq!(counter(&m, "kes_http_request_error", "403"), 0.0);
    assert_eq!(counter(&m, "kes_http_request_error", "405"), 0.0);
    assert_eq!(counter(&m, "kes_http_request_failure", "502"), 1.0);
    let count = m["kes_http_response_time"]
        .samples
        .iter()
        .find(|s| s.name == "kes_http_response_time_count")
        .unwrap()
        .value;
    assert_eq!(count, 6.0, "latency observed for every counted request");
    let les: Vec<&str> = m["kes_http_response_time"]
        .samples
        .iter()
        .filter_map(|s| s.labels.get("le").map(String::as_str))
        .collect();
    assert_eq!(
        les,
        [
            "0.01", "0.05", "0.1", "0.25", "0.5", "1", "1.5", "3", "5", "10", "+Inf"
        ]
    );
    assert_eq!(m["kes_http_request_active"].samples[0].value, 1.0, "itself");
    assert!(m["kes_log_audit_events"].samples[0].value >= 10.0);
    assert!(m["kes_log_error_events"].samples[0].value >= 1.0, "the 502");
    assert!(m["kes_system_num_cpu"].samples[0].value >= 1.0);
    if cfg!(target_os = "linux") {
        assert!(m["kes_system_num_threads"].samples[0].value >= 1.0);
        assert!(m["kes_system_mem_heap_used"].samples[0].value > 0.0);
        let st: Value = admin
            .get(s.url("/v1/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(st["mem_heap_used"].as_u64().unwrap() > 0, "{st}");
    }
    // the route is listed in /v1/api
    let api: Vec<Value> = admin
        .get(s.url("/v1/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        api.contains(
            &json!({"method": "GET", "path": "/v1/metrics", "max_body": 0, "timeout": 15})
        )
    );
    for p in ["/v1/log/error", "/v1/log/audit"] {
        assert!(api.contains(&json!({"method": "GET", "path": p, "max_body": 0, "timeout": 0})));
    }
    s.running.stop().await;
}

// ---------------------------------------------------------------------------
// Log streams.

/// Reads NDJSON lines from a streaming response.
struct Lines {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl Lines {
    async fn open(c: &reqwest::Client, url: String) -> Lines {
        let resp = c.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
        Lines {
            stream: resp.bytes_stream().boxed(),
            buf: Vec::new(),
        }
    }

    /// The next line, or `None` at the end of the stream; panics after 20 s.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line[..line.len() - 1]).unwrap());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.stream.next())
                .await
                .expect("a line within 20 s")?;
            self.buf.extend_from_slice(&chunk.unwrap());
        }
    }

    /// Reads until a line satisfies `pred`.
    async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.next().await.expect("stream open");
            if pred(&v) {
                return v;
            }
        }
    }
}

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

// ---------------------------------------------------------------------------
// api.<path> overrides.

#[tokio::test]
async fn skip_auth_on_ready_lets_clients_without_certificate_call_it_only() {
    let outputs = Outputs::default();
    let s = TestServer::start_custom(
        "api:\n  /v1/ready:\n    skip_auth: true\n",
        None,
        PROBE,
        &outputs,
    )
    .await;
    let r = common::raw_request(s.addr, &s.server_cert_pem, vec![], "GET", "/v1/ready", b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    for path in ["/v1/status", "/v1/metrics", "/v1/key/list/", "/version"] {
        let r = common::raw_request(s.addr, &s.server_cert_pem, vec![], "GET", path, b"")
            .await
            .unwrap();
        if path == "/version" {
            assert_eq!(r.status, 200, "/version needs no identity");
            continue;
        }
        assert_eq!(
            (r.status, r.message().as_str()),
            (400, "tls: client certificate is required"),
            "{path}"
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // /v1/ready skips the policy check too: an identity without policy passes.
    assert_eq!(
        get_status(&s.client(&s.unknown), &s, "/v1/ready").await,
        200
    );
    assert_eq!(
        get_status(&s.client(&s.unknown), &s, "/v1/status").await,
        403
    );
    s.running.stop().await;
}

#[tokio::test]
async fn timeout_override_shows_in_the_api_listing() {
    let outputs = Outputs::default();
    let s = TestServer::start_custom(
        "api:\n  /v1/key/generate/:\n    timeout: 42s\n  /v1/status:\n    timeout: 1m\n",
        None,
        PROBE,
        &outputs,
    )
    .await;
    let api: Vec<Value> = s
        .client(&s.admin)
        .get(s.url("/v1/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let find = |p: &str| api.iter().find(|r| r["path"] == p).unwrap().clone();
    assert_eq!(find("/v1/key/generate/")["timeout"], 42);
    assert_eq!(find("/v1/status")["timeout"], 60);
    assert_eq!(find("/v1/key/decrypt/")["timeout"], 15);
    s.running.stop().await;
}

// ---------------------------------------------------------------------------
// Reload (library call).

/// Writes `text` to `path` atomically (temp file + rename).
fn write_atomic(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn reqwest_trusting(pem: &str, key: &ApiKey) -> reqwest::Client {
    let ck = key.certificate().unwrap();
    let id = format!("{}{}", ck.key_pem.as_str(), ck.cert_pem);
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(id.as_bytes()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn reload_switches_policies_tls_and_keys_and_rejects_broken_configs() {
    let outputs = Outputs::default();
    let s = TestServer::start_custom("", None, PROBE, &outputs).await;
    let path = s.config_path();
    let unknown = s.client(&s.unknown);
    assert_eq!(get_status(&unknown, &s, "/v1/status").await, 403);
    let cache_before = s.running.state().cache.clone();

    // A broken config is rejected; the old one keeps serving.
    let original = std::fs::read_to_string(&path).unwrap();
    for broken in [
        "version: v2\n".to_owned() + &original[original.find('\n').unwrap() + 1..],
        original.replace("keystore:", "keystore:\n  vault: {}\n  other:"),
        original.clone() + "keys:\n  - name: \"bad name!\"\n",
        "::: not yaml".to_owned(),
        original.replace("server.crt", "missing.crt"),
    ] {
        write_atomic(&path, &broken);
        let err = kes::reload::reload(&s.running, &path).await;
        assert!(err.is_err(), "rejected: {broken}");
        assert_eq!(get_status(&unknown, &s, "/v1/status").await, 403);
        assert_eq!(get_status(&s.client(&s.admin), &s, "/v1/status").await, 200);
    }

    // A request in flight when the reload happens finishes on the old state.
    let admin = s.client(&s.admin);
    admin.post(s.url("/v1/key/create/k")).send().await.unwrap();
    let (_, g) = generate(&admin, &s, "k").await;
    let body = serde_json::to_vec(&json!({"ciphertext": g["ciphertext"]})).unwrap();
    let slow = partial_request(&s, &s.minio, "POST", "/v1/key/decrypt/k", &body).await;
    eventually(
        "the slow request is in flight",
        Duration::from_secs(10),
        || async {
            let m = metrics(&s, &s.admin).await;
            m["kes_http_request_active"].samples[0].value >= 2.0
        },
    )
    .await;

    // A valid config: new policy assignment (unknown takes the auditor's
    // place, minio loses its policy), a new server certificate, a new key.
    let cert = common::write_server_cert(s.dir.path());
    common::write_config(
        s.dir.path(),
        &s.admin,
        &s.auditor,
        &s.unknown,
        "keys:\n  - name: from-reload\n",
    );
    let done = kes::reload::reload(&s.running, &path).await.unwrap();
    assert!(!done.new_keystore && !done.new_cache);
    assert!(
        Arc::ptr_eq(&cache_before, &s.running.state().cache),
        "the key cache is kept when keystore and cache are unchanged"
    );

    // the in-flight request (minio, which just lost its policy) completes
    let resp = slow.finish().await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains(g["plaintext"].as_str().unwrap()), "{resp}");

    let new_tls = |k: &ApiKey| reqwest_trusting(&cert, k);
    assert_eq!(
        get_status(&new_tls(&s.unknown), &s, "/v1/status").await,
        200
    );
    assert_eq!(
        get_status(&new_tls(&s.minio), &s, "/v1/key/describe/k").await,
        403
    );
    assert_eq!(
        get_status(&new_tls(&s.admin), &s, "/v1/key/describe/from-reload").await,
        200
    );
    // new connections no longer present the old certificate
    assert!(
        reqwest_trusting(&s.server_cert_pem, &s.admin)
            .get(s.url("/version"))
            .send()
            .await
            .is_err()
    );

    // A cache section change builds a new cache over the same keystore.
    common::write_config(
        s.dir.path(),
        &s.admin,
        &s.auditor,
        &s.unknown,
        "cache:\n  expiry:\n    unused: 1m\n",
    );
    let done = kes::reload::reload(&s.running, &path).await.unwrap();
    assert!(!done.new_keystore && done.new_cache);
    assert!(!Arc::ptr_eq(&cache_before, &s.running.state().cache));
    assert_eq!(
        get_status(&new_tls(&s.admin), &s, "/v1/key/describe/from-reload").await,
        200
    );
    eventually("the reload is logged", Duration::from_secs(10), || async {
        outputs
            .error
            .text()
            .contains("msg=\"configuration reloaded\"")
    })
    .await;
    s.running.stop().await;
}

/// A request whose head and first half of body are sent; `finish` sends the
/// rest and reads the whole response.
struct Partial {
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    rest: Vec<u8>,
}

impl Partial {
    async fn finish(mut self) -> String {
        self.tls.write_all(&self.rest).await.unwrap();
        self.tls.flush().await.unwrap();
        let mut buf = Vec::new();
        self.tls.read_to_end(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    }
}

async fn partial_request_to(
    addr: SocketAddr,
    server_pem: &str,
    key: &ApiKey,
    method: &str,
    path: &str,
    body: &[u8],
) -> Partial {
    let ck: CertifiedKey = key.certificate().unwrap();
    let config = tls_client(server_pem, &[&ck]);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let half = body.len() / 2;
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body[..half]).await.unwrap();
    tls.flush().await.unwrap();
    Partial {
        tls,
        rest: body[half..].to_vec(),
    }
}

async fn partial_request(
    s: &TestServer,
    key: &ApiKey,
    method: &str,
    path: &str,
    body: &[u8],
) -> Partial {
    partial_request_to(s.addr, &s.server_cert_pem, key, method, path, body).await
}

// ---------------------------------------------------------------------------
// The real binary: SIGHUP, SIGTERM, and secrets in its output.

struct Kes {
    child: tokio::process::Child,
    addr: SocketAddr,
    stdout: Arc<std::sync::Mutex<String>>,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Kes {
    async fn spawn(config: &std::path::Path, extra_args: &[&str]) -> Kes {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
            .args(["server", "--config"])
            .arg(config)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra_args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        for (pipe, sink) in [
            (
                Box::new(child.stdout.take().unwrap())
                    as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                stdout.clone(),
            ),
            (Box::new(child.stderr.take().unwrap()), stderr.clone()),
        ] {
            tokio::spawn(async move {
                let mut pipe = pipe;
                let mut buf = [0u8; 8192];
                loop {
                    match pipe.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sink
                            .lock()
                            .unwrap()
                            .push_str(&String::from_utf8_lossy(&buf[..n])),
                    }
                }
            });
        }
        let mut addr = None;
        eventually("the Endpoint line", Duration::from_secs(30), || {
            let text = stdout.lock().unwrap().clone();
            addr = text.lines().find_map(|l| {
                l.strip_prefix("Endpoint     https://")
                    .and_then(|a| a.trim().parse().ok())
            });
            async move { addr.is_some() }
        })
        .await;
        Kes {
            child,
            addr: addr.unwrap(),
            stdout,
            stderr,
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().unwrap().to_string();
        let st = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }

    fn output(&self) -> String {
        format!(
            "{}{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }
}

struct Files {
    dir: tempfile::TempDir,
    cert: String,
    admin: ApiKey,
    minio: ApiKey,
    auditor: ApiKey,
    unknown: ApiKey,
}

fn files(extra: &str) -> (Files, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let f = Files {
        dir,
        cert,
        admin: ApiKey::generate().unwrap(),
        minio: ApiKey::generate().unwrap(),
        auditor: ApiKey::generate().unwrap(),
        unknown: ApiKey::generate().unwrap(),
    };
    let path = common::write_config(f.dir.path(), &f.admin, &f.minio, &f.auditor, extra);
    (f, path)
}

#[tokio::test]
async fn sighup_reloads_a_valid_config_and_keeps_serving_on_a_broken_one() {
    let (f, path) = files("log:\n  error: INFO\n");
    let kes = Kes::spawn(&path, &[]).await;
    let st = |k: &ApiKey, pem: &str, p: &str| {
        let c = reqwest_trusting(pem, k);
        let url = kes.url(p);
        async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(st(&f.unknown, &f.cert, "/v1/status").await.unwrap(), 403);

    // valid: unknown gets the auditor policy, and a new server certificate
    let cert2 = common::write_server_cert(f.dir.path());
    common::write_config(f.dir.path(), &f.admin, &f.minio, &f.unknown, "");
    kes.signal("HUP");
    eventually(
        "SIGHUP applied the new config",
        Duration::from_secs(30),
        || st(&f.unknown, &cert2, "/v1/status").then_some_200(),
    )
    .await;
    assert_eq!(st(&f.auditor, &cert2, "/v1/status").await.unwrap(), 403);
    assert!(
        st(&f.admin, &f.cert, "/version").await.is_err(),
        "old cert gone"
    );

    // broken: rejected, logged, and the previous config keeps serving
    write_atomic(&path, "admin:\n  identity: ${KES_TEST_UNSET_VARIABLE}\n");
    kes.signal("HUP");
    eventually(
        "the reload failure is logged",
        Duration::from_secs(30),
        || {
            let text = kes.stderr.lock().unwrap().clone();
            async move { text.contains("reload failed") }
        },
    )
    .await;
    let err_line = kes
        .stderr
        .lock()
        .unwrap()
        .lines()
        .find(|l| l.contains("reload failed"))
        .unwrap()
        .to_owned();
    assert!(err_line.contains("level=ERROR"), "{err_line}");
    assert!(err_line.contains("KES_TEST_UNSET_VARIABLE"), "{err_line}");
    assert_eq!(st(&f.unknown, &cert2, "/v1/status").await.unwrap(), 200);
    assert_eq!(st(&f.admin, &cert2, "/v1/status").await.unwrap(), 200);
    let mut kes = kes;
    kes.signal("TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), kes.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// Turns a status future into "is it 200" for `eventually`.
trait ThenSome200 {
    fn then_some_200(self) -> impl std::future::Future<Output = bool>;
}

impl<F: std::future::Future<Output = reqwest::Result<u16>>> ThenSome200 for F {
    async fn then_some_200(self) -> bool {
        matches!(self.await, Ok(200))
    }
}

#[tokio::test]
async fn sigterm_drains_requests_in_flight_and_exits() {
    let (f, path) = files("log:\n  audit: on\n");
    let kes = Kes::spawn(&path, &["--log-format", "json"]).await;
    let admin = reqwest_trusting(&f.cert, &f.admin);
    assert_eq!(
        admin
            .post(kes.url("/v1/key/create/k"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let g: Value = admin
        .post(kes.url("/v1/key/generate/k"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = serde_json::to_vec(&json!({"ciphertext": g["ciphertext"]})).unwrap();
    let mut slow = Vec::new();
    for _ in 0..10 {
        slow.push(
            partial_request_to(
                kes.addr,
                &f.cert,
                &f.minio,
                "POST",
                "/v1/key/decrypt/k",
                &body,
            )
            .await,
        );
    }
    eventually("10 requests in flight", Duration::from_secs(30), || {
        let admin = admin.clone();
        let url = kes.url("/v1/metrics");
        async move {
            let text = admin.get(url).send().await.unwrap().text().await.unwrap();
            parse_prometheus(&text).unwrap()["kes_http_request_active"].samples[0].value >= 11.0
        }
    })
    .await;
    kes.signal("TERM");
    // the listener closes: new connections are refused
    eventually("the listener closed", Duration::from_secs(30), || {
        let addr = kes.addr;
        async move { tokio::net::TcpStream::connect(addr).await.is_err() }
    })
    .await;
    // every request in flight completes
    for p in slow {
        let resp = p.finish().await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(resp.contains(g["plaintext"].as_str().unwrap()));
    }
    let mut kes = kes;
    let status = tokio::time::timeout(Duration::from_secs(30), kes.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    // --log-format json: every stderr and stdout log line is a JSON object
    let stderr = kes.stderr.lock().unwrap().clone();
    let stdout = kes.stdout.lock().unwrap().clone();
    let mut msgs = Vec::new();
    for line in stderr.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("JSON: {line}"));
        assert!(v["time"].is_string() && v["level"].is_string(), "{line}");
        msgs.push(v["msg"].as_str().unwrap().to_owned());
    }
    assert!(msgs.iter().any(|m| m.contains("shutting down")), "{msgs:?}");
    let audit: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        audit
            .iter()
            .filter(|v| v["request"]["path"] == "/v1/key/decrypt/k" && v["response"]["code"] == 200)
            .count()
            == 10,
        "one audit event per drained request: {stdout}"
    );
}

#[tokio::test]
async fn no_key_material_or_api_key_in_any_log_or_stream() {
    let (f, path) = files("log:\n  error: DEBUG\n  audit: on\n");
    let kes = Kes::spawn(&path, &[]).await;
    let admin = reqwest_trusting(&f.cert, &f.admin);
    let auditor = reqwest_trusting(&f.cert, &f.auditor);
    let mut audit = Lines::open(&auditor, kes.url("/v1/log/audit")).await;
    let mut errors = Lines::open(&auditor, kes.url("/v1/log/error")).await;

    let imported = [0x5au8; 32];
    let plaintext = b"top secret plaintext 1234";
    let post = |p: &str, body: Value| admin.post(kes.url(p)).json(&body).send();
    assert_eq!(
        post(
            "/v1/key/import/imp",
            json!({"key": B64.encode(imported), "cipher": "AES256"})
        )
        .await
        .unwrap()
        .status(),
        200
    );
    admin
        .post(kes.url("/v1/key/create/k"))
        .send()
        .await
        .unwrap();
    let g: Value = post("/v1/key/generate/k", json!({"context": B64.encode(b"ctx")}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let e: Value = post(
        "/v1/key/encrypt/imp",
        json!({"plaintext": B64.encode(plaintext)}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let d: Value = post(
        "/v1/key/decrypt/imp",
        json!({"ciphertext": e["ciphertext"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(d["plaintext"], B64.encode(plaintext));
    let h = admin
        .put(kes.url("/v1/key/hmac/k"))
        .json(&json!({"message": B64.encode(b"msg")}))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    // failures too: wrong context, bad bodies, a corrupted stored key
    post("/v1/key/decrypt/k", json!({"ciphertext": g["ciphertext"]}))
        .await
        .unwrap();
    post("/v1/key/import/imp2", json!({"key": B64.encode([1u8; 31])}))
        .await
        .unwrap();
    std::fs::write(f.dir.path().join("keys/corrupt"), B64.encode(imported)).unwrap();
    post("/v1/key/generate/corrupt", json!({})).await.unwrap();
    // a reload, at DEBUG
    kes.signal("HUP");
    errors
        .until(|v| {
            v["message"]
                .as_str()
                .unwrap()
                .contains("configuration reloaded")
        })
        .await;
    audit
        .until(|v| v["request"]["path"] == "/v1/key/generate/corrupt")
        .await;
    let mut streamed = String::new();
    // what the streams delivered so far
    while let Ok(Some(v)) = tokio::time::timeout(Duration::from_millis(300), audit.next()).await {
        streamed.push_str(&v.to_string());
    }
    while let Ok(Some(v)) = tokio::time::timeout(Duration::from_millis(300), errors.next()).await {
        streamed.push_str(&v.to_string());
    }
    drop((audit, errors));
    let mut kes = kes;
    kes.signal("TERM");
    tokio::time::timeout(Duration::from_secs(30), kes.child.wait())
        .await
        .unwrap()
        .unwrap();
    let logs = kes.output() + &streamed;
    assert!(
        logs.contains("req.path=/v1/key/generate/k"),
        "audit lines present"
    );
    assert!(logs.contains("level=ERROR"), "error lines present");

    let stored = std::fs::read_to_string(f.dir.path().join("keys/k")).unwrap();
    let api_key = f.admin.to_string();
    let mut secrets: Vec<(String, String)> = vec![
        ("admin API key".into(), api_key.clone()),
        (
            "admin API key (base64 part)".into(),
            api_key.trim_start_matches("kes:v1:").to_owned(),
        ),
        ("auditor API key".into(), f.auditor.to_string()),
        ("imported key (base64)".into(), B64.encode(imported)),
        ("imported key (hex)".into(), hex::encode(imported)),
        ("stored key value".into(), stored.trim().to_owned()),
        (
            "generated plaintext".into(),
            g["plaintext"].as_str().unwrap().to_owned(),
        ),
        (
            "encrypt plaintext".into(),
            String::from_utf8_lossy(plaintext).into_owned(),
        ),
        ("encrypt plaintext (base64)".into(), B64.encode(plaintext)),
    ];
    let dek = B64.decode(g["plaintext"].as_str().unwrap()).unwrap();
    secrets.push(("generated plaintext (hex)".into(), hex::encode(&dek)));
    for (what, secret) in secrets {
        assert!(secret.len() >= 16, "{what} is a meaningful needle");
        assert!(!logs.contains(&secret), "{what} appears in the logs");
        // also a 16-character slice, against partial leaks
        assert!(
            !logs.contains(&secret[..16]),
            "part of {what} appears in the logs"
        );
    }
}
