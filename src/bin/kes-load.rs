//! `kes-load`: the project's mTLS load generator for a KES server.
//!
//! Sends `generate` (and `decrypt` of the result) to one key from N concurrent
//! workers for a bounded time or request count, then prints throughput and a
//! latency histogram per endpoint. It only talks to the endpoint it is given
//! (meant for loopback), stops by itself, and authenticates with an API key.
//!
//! ```text
//! kes-load --server https://127.0.0.1:7373 --api-key kes:v1:… --insecure \
//!          --key load-test --concurrency 32 --duration 10s
//! kes-load … --key rotated --rotate 50   # first rotate the key to version 50 (extension)
//! ```
//!
//! With `--rotate N` the key is rotated (`/v1/ext/key/rotate`) until its newest version is N
//! before the run, so every generate makes a version-N ciphertext and every decrypt opens one:
//! comparing `--rotate 1` with `--rotate 50` shows the decrypt cost by version.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use client::ApiKey;

#[derive(Debug, Parser)]
#[command(name = "kes-load", about = "mTLS load generator for a KES server")]
struct Args {
    /// Server URL.
    #[arg(long, default_value = "https://127.0.0.1:7373")]
    server: String,
    /// API key (`kes:v1:…`); its identity must be admin or allowed to create/generate/decrypt.
    #[arg(long, env = "KES_API_KEY")]
    api_key: String,
    /// Skip server certificate verification (self-signed `--dev` server).
    #[arg(short = 'k', long)]
    insecure: bool,
    /// CA certificate (PEM) of the server.
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
    /// Key to use (created if missing).
    #[arg(long, default_value = "kes-load")]
    key: String,
    /// Concurrent workers.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long to run (Go duration: 10s, 1m).
    #[arg(long, default_value = "10s")]
    duration: String,
    /// Stop after this many requests per endpoint (0 = only the duration bounds the run).
    #[arg(long, default_value_t = 0)]
    requests: u64,
    /// Number of extra keys to create first (to show cost does not grow with the key count).
    #[arg(long, default_value_t = 0)]
    extra_keys: usize,
    /// Use HTTP/1.1 only (default: negotiate, h2 preferred).
    #[arg(long)]
    http1: bool,
    /// Rotate the key until its newest version is this one before the run (lifecycle
    /// extension; 0 = leave the key as it is).
    #[arg(long, default_value_t = 0)]
    rotate: u32,
}

/// Latency histogram with power-of-two microsecond buckets.
struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    errors: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: (0..32).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }
    fn record(&self, d: Duration) {
        let us = d.as_micros().max(1) as u64;
        let idx = (63 - us.leading_zeros()) as usize;
        if let Some(b) = self.buckets.get(idx.min(31)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn quantile(&self, q: f64) -> Duration {
        let total = self.count.load(Ordering::Relaxed);
        let target = ((total as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= target.max(1) {
                return Duration::from_micros(1 << (i + 1));
            }
        }
        Duration::ZERO
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Optional diagnostics of the HTTP stack, e.g. KES_LOAD_LOG=h2=debug.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("KES_LOAD_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let duration = kes::config::duration::parse(&args.duration).map_err(anyhow::Error::msg)?;
    let key = ApiKey::parse(&args.api_key).context("invalid API key")?;
    let ck = key
        .certificate()
        .context("cannot build client certificate")?;
    let mut builder = reqwest::Client::builder()
        .identity(reqwest::Identity::from_pem(
            format!("{}{}", ck.key_pem.as_str(), ck.cert_pem).as_bytes(),
        )?)
        .pool_max_idle_per_host(args.concurrency);
    if args.insecure {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    if let Some(ca) = &args.ca {
        builder = builder.tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(ca)?)?]);
    }
    if args.http1 {
        builder = builder.http1_only();
    }
    let http = builder.build()?;
    let base = args.server.trim_end_matches('/').to_owned();

    for i in 0..args.extra_keys {
        let r = http
            .post(format!("{base}/v1/key/create/{}-extra-{i}", args.key))
            .send()
            .await?;
        if !(r.status().is_success() || r.status() == 400) {
            anyhow::bail!("creating extra keys: {}", r.status());
        }
    }
    let r = http
        .post(format!("{base}/v1/key/create/{}", args.key))
        .send()
        .await?;
    if !(r.status().is_success() || r.status() == 400) {
        anyhow::bail!(
            "create {}: {} {}",
            args.key,
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }

    if args.rotate > 0 {
        rotate_to(&http, &base, &args.key, args.rotate).await?;
    }

    let generate = Arc::new(Histogram::new());
    let decrypt = Arc::new(Histogram::new());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (http, base, name) = (http.clone(), base.clone(), args.key.clone());
        let (generate, decrypt, stop) = (generate.clone(), decrypt.clone(), stop.clone());
        let limit = args.requests;
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) && started.elapsed() < duration {
                if limit > 0 && generate.count.load(Ordering::Relaxed) >= limit {
                    break;
                }
                let t = Instant::now();
                let resp = http
                    .post(format!("{base}/v1/key/generate/{name}"))
                    .body("{\"context\":\"Y3R4\"}")
                    .send()
                    .await;
                let body: serde_json::Value = match resp {
                    Ok(r) if r.status().is_success() => match r.json().await {
                        Ok(v) => v,
                        Err(e) => {
                            if generate.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("first generate error: {e:?}");
                            }
                            continue;
                        }
                    },
                    Ok(r) => {
                        if generate.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!(
                                "first generate error: {} {}",
                                r.status(),
                                r.text().await.unwrap_or_default()
                            );
                        }
                        continue;
                    }
                    Err(e) => {
                        if generate.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first generate error: {e:?}");
                        }
                        continue;
                    }
                };
                generate.record(t.elapsed());
                let t = Instant::now();
                let req =
                    serde_json::json!({"ciphertext": body.get("ciphertext"), "context": "Y3R4"});
                match http
                    .post(format!("{base}/v1/key/decrypt/{name}"))
                    .json(&req)
                    .send()
                    .await
                {
                    // Read the body to its end: dropping it unread resets the h2 stream.
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(_) => decrypt.record(t.elapsed()),
                        Err(_) => {
                            decrypt.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    },
                    _ => {
                        decrypt.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "concurrency {}  duration {:.1}s  extra keys {}  key version {}",
        args.concurrency, elapsed, args.extra_keys, args.rotate
    );
    println!(
        "{:<10} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10}",
        "endpoint", "requests", "req/s", "errors", "p50", "p90", "p99"
    );
    for (name, h) in [("generate", &generate), ("decrypt", &decrypt)] {
        let n = h.count.load(Ordering::Relaxed);
        println!(
            "{:<10} {:>10} {:>10.0} {:>8} {:>10} {:>10} {:>10}",
            name,
            n,
            n as f64 / elapsed,
            h.errors.load(Ordering::Relaxed),
            format!("≤{:?}", h.quantile(0.5)),
            format!("≤{:?}", h.quantile(0.9)),
            format!("≤{:?}", h.quantile(0.99)),
        );
    }
    Ok(())
}

/// Rotates `name` until its newest version is `target` (an error if it is already newer).
async fn rotate_to(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    target: u32,
) -> anyhow::Result<()> {
    let d: serde_json::Value = http
        .get(format!("{base}/v1/ext/key/describe/{name}"))
        .send()
        .await?
        .error_for_status()
        .context("the server does not serve the key lifecycle extension")?
        .json()
        .await?;
    let mut newest = d
        .get("versions")
        .and_then(serde_json::Value::as_array)
        .map_or(0, |v| v.len().saturating_sub(1)) as u64;
    if newest > u64::from(target) {
        anyhow::bail!("key {name} is already at version {newest} (> {target}); use another --key");
    }
    while newest < u64::from(target) {
        let r: serde_json::Value = http
            .put(format!("{base}/v1/ext/key/rotate/{name}"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        newest = r
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .context("rotate answered no version")?;
    }
    Ok(())
}
