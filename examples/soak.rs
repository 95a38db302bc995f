//! Soak driver (issue 16, scope 5); run it through `scripts/soak.sh`, which
//! builds the release binaries and starts OpenBao with an AppRole.
//!
//! It starts, all on 127.0.0.1:
//! - a **fault-injecting HTTP proxy** in front of OpenBao: each keystore call
//!   through it fails with probability `SOAK_FAULT_PERMILLE`/1000 (default
//!   10 = 1 %), half as a Vault-style 500 and half as a connection closed
//!   without an answer, *before* it is forwarded (so a failed call has no
//!   effect in OpenBao);
//! - the release `kes server` on `keystore.vault` (K/V v2, AppRole) through
//!   that proxy;
//! - the release `object-server` using that KES for SSE-S3 / SSE-KMS.
//!
//! Then for `SOAK_SECS` (default 600): `SOAK_WORKERS` KES workers doing mixed
//! create / generate / decrypt / delete on their own keys, and
//! `scripts/soak_s3.py` (boto3) doing SSE-S3, SSE-KMS and SSE-C puts, gets,
//! range gets and deletes. A *wrong answer* is a decrypt that does not give
//! back the plaintext (or refuses a genuine ciphertext of a live key), a
//! generate whose data key is not 32 bytes, a create of a fresh name that
//! says the key exists, or an object read that differs; it must be 0.
//! Reports requests, errors by kind, wrong answers, and RSS and open fds of
//! both servers at start and end; exits 1 on any wrong answer.

#![allow(clippy::print_stdout, reason = "the report is the output")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use client::ApiKey;
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use zeroize::Zeroizing;

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set (run scripts/soak.sh)"))
}

fn env_or(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

// ---------------------------------------------------------------------------
// The fault-injecting proxy in front of OpenBao.

#[derive(Default)]
struct ProxyStats {
    forwarded: AtomicU64,
    injected_500: AtomicU64,
    injected_drop: AtomicU64,
}

async fn start_proxy(
    upstream: String,
    permille: u32,
    stats: Arc<ProxyStats>,
) -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let http = reqwest::Client::builder().no_proxy().build()?;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (http, upstream, stats) = (http.clone(), upstream.clone(), stats.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (http, upstream, stats) = (http.clone(), upstream.clone(), stats.clone());
                    async move { forward(&http, &upstream, permille, &stats, req).await }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Ok(port)
}

async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    permille: u32,
    stats: &ProxyStats,
    req: hyper::Request<hyper::body::Incoming>,
) -> anyhow::Result<hyper::Response<Full<Bytes>>> {
    let roll = rand::random_range(0..2000u32);
    if roll < permille {
        stats.injected_500.fetch_add(1, Ordering::Relaxed);
        return Ok(hyper::Response::builder()
            .status(500)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(
                br#"{"errors":["injected fault"]}"#,
            )))?);
    }
    if roll < 2 * permille {
        stats.injected_drop.fetch_add(1, Ordering::Relaxed);
        bail!("injected fault: connection closed without an answer");
    }
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let url = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut out = http.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            out = out.header(name, value);
        }
    }
    let resp = out.send().await?;
    stats.forwarded.fetch_add(1, Ordering::Relaxed);
    let mut builder = hyper::Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
            builder = builder.header(name, value);
        }
    }
    Ok(builder.body(Full::new(resp.bytes().await?))?)
}

// ---------------------------------------------------------------------------
// Server processes and their resources.

struct Proc {
    child: tokio::process::Child,
    name: &'static str,
}

impl Proc {
    fn pid(&self) -> anyhow::Result<u32> {
        self.child
            .id()
            .with_context(|| format!("{} has exited", self.name))
    }

    /// (RSS in KiB, open file descriptors) from /proc.
    fn resources(&self) -> anyhow::Result<(u64, usize)> {
        let pid = self.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("VmRSS")?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
        Ok((rss, fds))
    }
}

/// Spawns `cmd` (stderr to `log`) and returns it with the first stdout line
/// that `pick` accepts (30 s at most).
async fn spawn(
    name: &'static str,
    mut cmd: tokio::process::Command,
    log: &Path,
    pick: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(Proc, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawn {name}"))?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(v) = pick(&line) {
                return Ok::<_, anyhow::Error>(v);
            }
        }
        bail!("{name} exited before it was ready (see {})", log.display())
    })
    .await
    .with_context(|| format!("{name} not ready in 30 s"))??;
    // Keep draining stdout so the server never blocks on it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((Proc { child, name }, found))
}

// ---------------------------------------------------------------------------
// The KES workload.

#[derive(Default)]
struct Tally {
    requests: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    wrong: Vec<String>,
}

fn kind(e: &client::Error) -> String {
    match e {
        client::Error::Api { status, message } => format!("{status} {message}"),
        client::Error::Connection(_) => "connection error".into(),
        other => format!(
            "client error: {}",
            other.to_string().split(':').next().unwrap_or("")
        ),
    }
}

struct Sealed {
    context: [u8; 16],
    ciphertext: Vec<u8>,
    plaintext: Zeroizing<Vec<u8>>,
}

async fn kes_worker(id: usize, c: client::Client, until: Instant, tally: Arc<Mutex<Tally>>) {
    let mut keys: Vec<(String, Vec<Sealed>)> = Vec::new();
    let mut n = 0u64;
    let note = |op: &str, r: Result<(), String>| {
        let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
        *t.requests.entry(op.to_owned()).or_default() += 1;
        if let Err(kind) = r {
            *t.errors.entry(format!("{op}: {kind}")).or_default() += 1;
        }
    };
    let wrong = |what: String| {
        tally
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .wrong
            .push(what)
    };
    while Instant::now() < until {
        let roll = rand::random_range(0..100u32);
        if keys.is_empty() || roll < 10 {
            n += 1;
            let name = format!("soak-{id}-{n}");
            match c.create_key(&name).await {
                Ok(()) => {
                    note("create", Ok(()));
                    keys.push((name, Vec::new()));
                }
                Err(e) if e.is_key_exists() => {
                    note("create", Err(kind(&e)));
                    wrong(format!("create {name}: a fresh name already exists"));
                }
                Err(e) => note("create", Err(kind(&e))),
            }
        } else if roll < 55 {
            let i = rand::random_range(0..keys.len());
            let Some((name, sealed)) = keys.get_mut(i) else {
                continue;
            };
            let context: [u8; 16] = rand::random();
            match c.generate(name, &context).await {
                Ok(g) => {
                    note("generate", Ok(()));
                    let plaintext = g.plaintext.into_inner();
                    if plaintext.len() != 32 {
                        wrong(format!(
                            "generate {name}: {} byte data key",
                            plaintext.len()
                        ));
                    }
                    if sealed.len() >= 16 {
                        sealed.remove(0);
                    }
                    sealed.push(Sealed {
                        context,
                        ciphertext: g.ciphertext.into_inner(),
                        plaintext,
                    });
                }
                Err(e) => note("generate", Err(kind(&e))),
            }
        } else if roll < 92 {
            let i = rand::random_range(0..keys.len());
            let Some((name, sealed)) = keys.get(i) else {
                continue;
            };
            let Some(s) = sealed.get(rand::random_range(0..sealed.len().max(1))) else {
                continue;
            };
            match c.decrypt(name, &s.ciphertext, &s.context).await {
                Ok(p) => {
                    note("decrypt", Ok(()));
                    if *p != *s.plaintext {
                        wrong(format!("decrypt {name}: another plaintext"));
                    }
                }
                Err(e) => {
                    if matches!(e.status(), Some(400 | 404)) {
                        wrong(format!(
                            "decrypt {name}: genuine ciphertext refused: {}",
                            kind(&e)
                        ));
                    }
                    note("decrypt", Err(kind(&e)));
                }
            }
        } else if keys.len() > 1 {
            let (name, _) = keys.swap_remove(rand::random_range(0..keys.len()));
            // Whatever the answer, the key's state is no longer known: never used again.
            let r = c.delete_key(&name).await;
            note("delete", r.map_err(|e| kind(&e)));
        }
    }
}

// ---------------------------------------------------------------------------

fn write_certs(dir: &Path) -> anyhow::Result<String> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse()?));
    let cert = params.self_signed(&key)?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("public.crt"), cert.pem())?;
    std::fs::write(dir.join("private.key"), key.serialize_pem())?;
    Ok(cert.pem())
}

fn minio_policy() -> String {
    include_str!("../policies/minio.yaml")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("  {l}\n"))
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs = env_or("SOAK_SECS", 600)?;
    let permille = u32::try_from(env_or("SOAK_FAULT_PERMILLE", 10)?)?;
    let workers = usize::try_from(env_or("SOAK_WORKERS", 8)?)?;
    let vault = env("VAULT_ADDR")?;
    let (role_id, secret_id) = (env("KES_ROLE_ID")?, env("KES_SECRET_ID")?);
    let kes_bin = PathBuf::from(env("KES_BIN")?);
    let objsrv_bin = PathBuf::from(env("OBJSRV_BIN")?);
    let venv = PathBuf::from(env("SERVICES_VENV")?);
    let work = tempfile::Builder::new().prefix("kes-soak-").tempdir()?;
    let dir = match std::env::var_os("SOAK_DIR") {
        Some(d) => PathBuf::from(d),
        None => work.path().to_owned(),
    };
    std::fs::create_dir_all(&dir)?;

    let proxy_stats = Arc::new(ProxyStats::default());
    let proxy_port = start_proxy(vault.clone(), permille, proxy_stats.clone()).await?;

    // kes server on the vault keystore through the proxy.
    let kes_certs = dir.join("kes-certs");
    let kes_pem = write_certs(&kes_certs)?;
    let (admin, objsrv) = (ApiKey::generate()?, ApiKey::generate()?);
    let config = format!(
        "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {admin_id}\n\
         tls:\n  key: kes-certs/private.key\n  cert: kes-certs/public.crt\n\
         policy:\n{policy}    identities:\n    - {objsrv_id}\n\
         keystore:\n  vault:\n    endpoint: http://127.0.0.1:{proxy_port}\n    engine: kv\n    version: v2\n\
         \x20   prefix: soak\n    approle:\n      id: {role_id}\n      secret: {secret_id}\n\
         log:\n  error: INFO\n",
        admin_id = admin.identity(),
        objsrv_id = objsrv.identity(),
        policy = minio_policy(),
    );
    std::fs::write(dir.join("kes.yaml"), config)?;
    let mut cmd = tokio::process::Command::new(&kes_bin);
    cmd.args(["server", "--config"])
        .arg(dir.join("kes.yaml"))
        .args(["--addr", "127.0.0.1:0"]);
    let (kes, kes_url) = spawn("kes", cmd, &dir.join("kes.log"), |l| {
        l.strip_prefix("Endpoint     ").map(|u| u.trim().to_owned())
    })
    .await?;

    // object-server using that KES.
    let obj_certs = dir.join("objsrv-certs");
    write_certs(&obj_certs)?;
    let mut cmd = tokio::process::Command::new(&objsrv_bin);
    cmd.args(["--address", "127.0.0.1:0", "--certs-dir"])
        .arg(&obj_certs)
        .arg(dir.join("objsrv-data"))
        .env("MINIO_ROOT_USER", "soak")
        .env("MINIO_ROOT_PASSWORD", "soak-secret-key")
        .env("MINIO_KMS_KES_ENDPOINT", &kes_url)
        .env("MINIO_KMS_KES_KEY_NAME", "soak-default")
        .env("MINIO_KMS_KES_API_KEY", objsrv.to_string())
        .env("MINIO_KMS_KES_CAPATH", kes_certs.join("public.crt"));
    let (objsrv_proc, s3_url) = spawn("object-server", cmd, &dir.join("object-server.log"), |l| {
        l.strip_prefix("listening on ").map(|u| u.trim().to_owned())
    })
    .await?;

    let start_res = [kes.resources()?, objsrv_proc.resources()?];
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();

    // S3 traffic (boto3) in the background.
    let s3 = tokio::process::Command::new(venv.join("bin/python"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/soak_s3.py"))
        .env("ENDPOINT", &s3_url)
        .env("CA_BUNDLE", obj_certs.join("public.crt"))
        .env("ACCESS_KEY", "soak")
        .env("SECRET_KEY", "soak-secret-key")
        .env("SOAK_SECS", secs.to_string())
        .env("SOAK_KMS_KEY", "soak-default")
        .env("PYTHONWARNINGS", "ignore")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("soak_s3.err"))?)
        .kill_on_drop(true)
        .spawn()
        .context("spawn soak_s3.py")?;

    // KES traffic.
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = Vec::new();
    for id in 0..workers {
        let c = client::Client::builder()
            .endpoint(kes_url.clone())
            .api_key(admin.clone())
            .ca_pem(kes_pem.clone().into_bytes())
            .max_retries(0)
            .build()?;
        tasks.push(tokio::spawn(kes_worker(id, c, until, tally.clone())));
    }
    for t in tasks {
        t.await?;
    }
    let s3_out = s3.wait_with_output().await?;
    let elapsed = started.elapsed();
    let end_res = [kes.resources()?, objsrv_proc.resources()?];

    let s3_report: serde_json::Value =
        serde_json::from_slice(&s3_out.stdout).with_context(|| {
            format!(
                "soak_s3.py gave no report (exit {:?}, see {})",
                s3_out.status,
                dir.join("soak_s3.err").display()
            )
        })?;
    let t = tally.lock().unwrap_or_else(|e| e.into_inner());
    let kes_requests: u64 = t.requests.values().sum();
    let s3_wrong = s3_report
        .get("wrong_answers")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(u64::MAX);
    let report = serde_json::json!({
        "seconds": elapsed.as_secs(),
        "fault_rate": f64::from(permille) * 2.0 / 2000.0,
        "keystore_calls": {
            "forwarded": proxy_stats.forwarded.load(Ordering::Relaxed),
            "injected_500": proxy_stats.injected_500.load(Ordering::Relaxed),
            "injected_connection_drop": proxy_stats.injected_drop.load(Ordering::Relaxed),
        },
        "kes": {"requests": kes_requests, "ops": t.requests, "errors": t.errors,
                "wrong_answers": t.wrong.len(), "wrong": t.wrong.iter().take(20).collect::<Vec<_>>()},
        "s3": s3_report,
        "resources": {
            "kes": {"rss_kib": [start_res[0].0, end_res[0].0], "fds": [start_res[0].1, end_res[0].1]},
            "object_server": {"rss_kib": [start_res[1].0, end_res[1].0], "fds": [start_res[1].1, end_res[1].1]},
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !t.wrong.is_empty() || s3_wrong != 0 {
        bail!("wrong answers: kes {}, s3 {s3_wrong}", t.wrong.len());
    }
    Ok(())
}
