//! Object-server throughput: PUT and GET of 4 KiB, 1 MiB and 64 MiB objects, plain vs SSE-C vs
//! SSE-S3 vs SSE-KMS, over HTTPS with 1 or more keep-alive connections, against the release
//! `object-server` binary in its own process (optionally pinned to a CPU) and a real release
//! `kes server`. For every row: ops/s, MiB/s and the **server's CPU time** per operation and per
//! byte (utime + stime of the server process from `/proc/PID/stat` before and after the timed
//! window). A benchmark, not a test: it prints a markdown table and asserts nothing about speed.
//!
//! ```sh
//! cargo build --release -p kes --bin kes -p object-server --bin object-server --example sse_bench
//! taskset -c 1 target/release/examples/sse_bench --server-cpu 0 --kes-cpu 1 -c 1,8 --secs 3
//! ```
//! (`scripts/bench-objects.sh` does this.) `KES_BIN` / `OBJECT_SERVER_BIN` override the
//! binaries; `--data-dir /dev/shm/x` puts the object store on tmpfs so the disk (every PUT is
//! fsynced) does not hide the CPU cost.
//!
//! The client is Rust (reqwest, HTTP/1.1, one client and connection per worker, requests in
//! sequence on each, SigV4 with `UNSIGNED-PAYLOAD`); it only counts the bytes it receives.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark driver: a panic is the failure report, stdout is its output"
)]

mod procs;
mod sigv4;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use sigv4::signed;

const SSEC_KEY: &str = "MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0cHJvdmlkZWQ=";
const SSEC_MD5: &str = "7PpPLAK26ONlVUGOWlusfg==";
const MIB: f64 = 1024.0 * 1024.0;

/// Object-server PUT/GET throughput and server CPU per byte.
#[derive(Debug, Parser)]
struct Args {
    /// Concurrent connections (comma-separated list; one table row set each).
    #[arg(short = 'c', long, value_delimiter = ',', default_value = "1")]
    connections: Vec<usize>,
    /// Timed seconds per row (after one warm-up request per connection).
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
    /// Object sizes in bytes (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "4096,1048576,67108864")]
    sizes: Vec<usize>,
    /// Modes (comma-separated): plain, sse-c, sse-s3, sse-kms.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "plain,sse-c,sse-s3,sse-kms"
    )]
    modes: Vec<String>,
    /// CPU to pin the object server to (`taskset -c`); unpinned when absent.
    #[arg(long)]
    server_cpu: Option<String>,
    /// CPU to pin `kes server` to; unpinned when absent.
    #[arg(long)]
    kes_cpu: Option<String>,
    /// Object store directory (must not exist or be empty); a temp dir when absent.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

struct Mode {
    name: &'static str,
    put_headers: Vec<(&'static str, &'static str)>,
    get_headers: Vec<(&'static str, &'static str)>,
}

fn mode(name: &str) -> Mode {
    let ssec = vec![
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", SSEC_KEY),
        ("x-amz-server-side-encryption-customer-key-md5", SSEC_MD5),
    ];
    match name {
        "plain" => Mode {
            name: "plain",
            put_headers: vec![],
            get_headers: vec![],
        },
        "sse-c" => Mode {
            name: "SSE-C",
            put_headers: ssec.clone(),
            get_headers: ssec,
        },
        "sse-s3" => Mode {
            name: "SSE-S3",
            put_headers: vec![("x-amz-server-side-encryption", "AES256")],
            get_headers: vec![],
        },
        "sse-kms" => Mode {
            name: "SSE-KMS",
            put_headers: vec![
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "bench-key"),
            ],
            get_headers: vec![],
        },
        other => panic!("unknown mode {other:?} (plain, sse-c, sse-s3, sse-kms)"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Get,
}

/// What one worker needs: its connection, the server, the object names and the body.
struct Worker {
    http: reqwest::Client,
    base: String,
    headers: Vec<(&'static str, &'static str)>,
    /// Object paths this worker cycles through.
    paths: Vec<String>,
    body: Bytes,
}

impl Worker {
    async fn once(&self, op: Op, i: usize) -> u64 {
        let path = &self.paths[i % self.paths.len()];
        match op {
            Op::Put => {
                let r = signed(
                    &self.http,
                    reqwest::Method::PUT,
                    &self.base,
                    path,
                    &self.headers,
                )
                .body(self.body.clone())
                .send()
                .await
                .unwrap();
                assert!(r.status().is_success(), "PUT {path}: {:?}", r.text().await);
                self.body.len() as u64
            }
            Op::Get => {
                let mut r = signed(
                    &self.http,
                    reqwest::Method::GET,
                    &self.base,
                    path,
                    &self.headers,
                )
                .send()
                .await
                .unwrap();
                assert!(r.status().is_success(), "GET {path}: {}", r.status());
                let mut n = 0u64;
                while let Some(chunk) = r.chunk().await.unwrap() {
                    n += chunk.len() as u64;
                }
                assert_eq!(n, self.body.len() as u64, "GET {path}: short body");
                n
            }
        }
    }
}

/// One measured row.
struct Row {
    ops: u64,
    bytes: u64,
    wall: f64,
    server_cpu: f64,
    client_cpu: f64,
}

/// Warm-up (one request per worker, every object for PUT so GETs find them), then `secs` of
/// requests in sequence on every worker; returns the totals of the timed window.
async fn phase(workers: &[Arc<Worker>], op: Op, secs: f64, server_pid: &str, ticks: f64) -> Row {
    let mut warm = Vec::new();
    for w in workers {
        let w = Arc::clone(w);
        warm.push(tokio::spawn(async move {
            let n = if op == Op::Put { w.paths.len() } else { 1 };
            for i in 0..n {
                w.once(op, i).await;
            }
        }));
    }
    for t in warm {
        t.await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (server0, client0, t0) = (
        procs::cpu_seconds(server_pid, ticks),
        procs::cpu_seconds("self", ticks),
        Instant::now(),
    );
    let mut tasks = Vec::new();
    for w in workers {
        let (w, stop) = (Arc::clone(w), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let (mut ops, mut bytes, mut i) = (0u64, 0u64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                bytes += w.once(op, i).await;
                ops += 1;
                i += 1;
            }
            (ops, bytes)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ops, mut bytes) = (0, 0);
    for t in tasks {
        let (o, b) = t.await.unwrap();
        ops += o;
        bytes += b;
    }
    Row {
        ops,
        bytes,
        wall: t0.elapsed().as_secs_f64(),
        server_cpu: procs::cpu_seconds(server_pid, ticks) - server0,
        client_cpu: procs::cpu_seconds("self", ticks) - client0,
    }
}

fn size_label(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} B"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    let modes: Vec<Mode> = args.modes.iter().map(|m| mode(m)).collect();
    let tmp = tempfile::tempdir().unwrap();
    let admin = client::ApiKey::generate().unwrap();
    let minio = client::ApiKey::generate().unwrap();
    let kes_dir = tmp.path().join("kes");
    let kes_bin = procs::release_bin("KES_BIN", "kes");
    let (_kes, kes_url) =
        procs::start_kes(&kes_bin, args.kes_cpu.as_deref(), &kes_dir, &admin, &minio);
    let kes_admin = client::Client::builder()
        .endpoint(&kes_url)
        .api_key(admin)
        .ca_file(kes_dir.join("server.crt"))
        .build()
        .unwrap();
    kes_admin.create_key("bench-key").await.unwrap();

    let certs = tmp.path().join("certs");
    procs::self_signed(&certs, "public.crt", "private.key");
    let data = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().join("data"));
    let env = [
        ("MINIO_ROOT_USER", sigv4::AK.to_owned()),
        ("MINIO_ROOT_PASSWORD", sigv4::SK.to_owned()),
        ("MINIO_KMS_KES_ENDPOINT", kes_url.clone()),
        ("MINIO_KMS_KES_KEY_NAME", "bench-key".to_owned()),
        ("MINIO_KMS_KES_API_KEY", minio.to_string()),
        (
            "MINIO_KMS_KES_CAPATH",
            kes_dir.join("server.crt").display().to_string(),
        ),
    ];
    let server_bin = procs::release_bin("OBJECT_SERVER_BIN", "object-server");
    let (server, base) = procs::start_object_server(
        &server_bin,
        args.server_cpu.as_deref(),
        &certs,
        &data,
        &env,
        &tmp.path().join("object-server.log"),
    );
    let server_pid = server.pid().to_string();
    let ticks = procs::clock_ticks();
    let connect = || {
        reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .http1_only()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap()
    };
    let r = signed(&connect(), reqwest::Method::PUT, &base, "/bench", &[])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);

    println!(
        "| object | c | op | mode | ops/s | MiB/s | server CPU µs/op | server CPU ns/byte | \
         server CPU use | client CPU use | MiB/s vs plain | CPU/byte vs plain |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &size in &args.sizes {
        let label = size_label(size);
        let body = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        // Objects per worker: overwritten in turn, so large objects do not fill the disk.
        let per_worker = if size >= 16 << 20 { 2 } else { 16 };
        for &c in &args.connections {
            for op in [Op::Put, Op::Get] {
                let mut plain: Option<(f64, f64)> = None;
                for m in &modes {
                    let workers: Vec<Arc<Worker>> = (0..c)
                        .map(|w| {
                            Arc::new(Worker {
                                http: connect(),
                                base: base.clone(),
                                headers: if op == Op::Put {
                                    m.put_headers.clone()
                                } else {
                                    m.get_headers.clone()
                                },
                                paths: (0..per_worker)
                                    .map(|i| format!("/bench/{}-{size}-{w}-{i}", m.name))
                                    .collect(),
                                body: body.clone(),
                            })
                        })
                        .collect();
                    let row = phase(&workers, op, args.secs, &server_pid, ticks).await;
                    let mibs = row.bytes as f64 / MIB / row.wall;
                    let ns_per_byte = row.server_cpu * 1e9 / row.bytes as f64;
                    let vs = match plain {
                        None => {
                            plain = (m.name == "plain").then_some((mibs, ns_per_byte));
                            ("".to_owned(), "".to_owned())
                        }
                        Some((p_mibs, p_ns)) => (
                            format!("{:.0} %", 100.0 * mibs / p_mibs),
                            format!("{:.2}×", ns_per_byte / p_ns),
                        ),
                    };
                    println!(
                        "| {label} | {c} | {} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} % | {:.0} % | {} | {} |",
                        if op == Op::Put { "PUT" } else { "GET" },
                        m.name,
                        row.ops as f64 / row.wall,
                        mibs,
                        row.server_cpu * 1e6 / row.ops as f64,
                        ns_per_byte,
                        100.0 * row.server_cpu / row.wall,
                        100.0 * row.client_cpu / row.wall,
                        vs.0,
                        vs.1,
                    );
                }
            }
        }
    }
    drop(server);
}
