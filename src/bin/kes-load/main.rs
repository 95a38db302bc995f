//! `kes-load`: the project's benchmark tool of record for any KES server.
//!
//! Drives the standard KES API (`generate`, `decrypt`, `create` + `delete`) over mTLS from
//! N concurrent workers, over HTTP/1.1 or h2, on keep-alive connections or one new TLS
//! connection per request (with or without session resumption). A warm-up runs before the
//! timed window; latencies go into an HDR histogram (p50/p90/p99/max); errors are counted
//! by kind (`status_<code>`, `transport`, `timeout`, `invalid_response`). With
//! `--server-pid` it reads the server's CPU time and RSS from /proc at both ends of the
//! window and prints **operations per server CPU-second** and server CPU µs per operation;
//! with `--perf` also the server's instructions per operation (`perf stat`).
//!
//! ```text
//! kes-load --server https://127.0.0.1:7373 --api-key kes:v1:… --insecure \
//!          --op generate -c 8 -d 5s --server-pid 1234 --json
//! kes-load … --cert client.crt --key client.key --ca server.crt --http1 --new-conn
//! kes-load … --name rotated --rotate 50 --op decrypt    # a version-50 ciphertext
//! kes-load startup --server https://127.0.0.1:7373 --api-key … -k --runs 11 -- \
//!          kes server --config server-config.yaml        # spawn → first 200 on /v1/status
//! ```
//!
//! Layout: `tls` (client config), `conn` (connections, one exchange), `setup` (keys before
//! the run), `run` (workers and the timed window), `procfs` (server CPU, RSS, perf),
//! `stats` (histogram, report), `startup` (the start-up measurement), `table` (markdown).
#![forbid(unsafe_code)]

mod conn;
mod procfs;
mod run;
mod setup;
mod startup;
mod stats;
mod table;
mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use conn::Target;
use run::{Op, Plan};
use stats::{Latency, Report, ServerCost};
use tls::{Credentials, TlsOptions};

#[derive(Debug, Parser)]
#[command(
    name = "kes-load",
    about = "Benchmark tool for KES servers (server CPU per request, latency, handshakes)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    load: LoadArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start-up time: spawn the server command, poll /v1/status until 200, kill; repeat.
    Startup(StartupArgs),
    /// Markdown tables from the JSON lines of runs and start-ups on stdin.
    Table,
}

/// How to reach and authenticate to the server.
#[derive(Debug, Args)]
struct ConnArgs {
    /// Server URL.
    #[arg(long, default_value = "https://127.0.0.1:7373")]
    server: String,
    /// API key (`kes:v1:…`); its identity must be admin or allowed the operation.
    #[arg(
        long,
        env = "KES_API_KEY",
        hide_env_values = true,
        conflicts_with = "cert"
    )]
    api_key: Option<String>,
    /// Client certificate (PEM), with --key.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Skip server certificate verification (self-signed `--dev` server).
    #[arg(short = 'k', long)]
    insecure: bool,
    /// CA certificate (PEM) of the server.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// HTTP/1.1 (default: h2).
    #[arg(long)]
    http1: bool,
    /// Disable TLS session resumption (every new connection is a full handshake).
    #[arg(long)]
    no_resume: bool,
}

/// What load to send.
#[derive(Debug, Args)]
struct LoadArgs {
    /// Operation each worker repeats.
    #[arg(long, value_enum, default_value = "generate")]
    op: Op,
    /// Key to use (created if missing).
    #[arg(long, alias = "key-name", default_value = "kes-load")]
    name: String,
    /// Concurrent workers (HTTP/1.1: one connection each; h2: streams on one connection).
    #[arg(short = 'c', long, default_value_t = 16)]
    concurrency: usize,
    /// Timed window (Go duration: 10s, 500ms, 1m).
    #[arg(short = 'd', long, default_value = "10s")]
    duration: String,
    /// Warm-up before the window (not counted).
    #[arg(long, default_value = "1s")]
    warmup: String,
    /// One new TLS connection per request (measures handshake + one request).
    #[arg(long)]
    new_conn: bool,
    /// Per-request timeout (counted as a `timeout` error).
    #[arg(long, default_value = "10s")]
    timeout: String,
    /// Extra keys to create first (created concurrently; names `<name>-extra-<i>`).
    #[arg(long, default_value_t = 0)]
    extra_keys: usize,
    /// Rotate the key until its newest version is this one (lifecycle extension; 0 = no).
    #[arg(long, default_value_t = 0)]
    rotate: u32,
    /// The server's process id: report its CPU per operation and RSS (Linux /proc).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also count the server's instructions in the window (`perf stat`; needs --server-pid).
    #[arg(long, requires = "server_pid")]
    perf: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// A label copied into the report.
    #[arg(long)]
    label: Option<String>,
    /// First wait up to this long for the server to answer /v1/status (0 = do not wait).
    #[arg(long, default_value = "0s")]
    wait: String,
}

#[derive(Debug, Args)]
struct StartupArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Number of starts (the median is reported).
    #[arg(long, default_value_t = 11)]
    runs: usize,
    /// Give up on a start after this long.
    #[arg(long, default_value = "10s")]
    limit: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The server command line.
    #[arg(last = true, required = true)]
    cmd: Vec<String>,
}

fn duration(s: &str) -> anyhow::Result<Duration> {
    kes::config::duration::parse(s).map_err(anyhow::Error::msg)
}

/// The target from the connection flags.
async fn target(a: &ConnArgs) -> anyhow::Result<Target> {
    let creds = match (&a.api_key, &a.cert, &a.key) {
        (Some(k), _, _) => {
            Credentials::ApiKey(client::ApiKey::parse(k).context("invalid API key")?)
        }
        (None, Some(cert), Some(key)) => Credentials::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => anyhow::bail!("give --api-key (or KES_API_KEY), or --cert and --key"),
    };
    let config = tls::client_config(
        &creds,
        &TlsOptions {
            ca: a.ca.as_deref(),
            insecure: a.insecure,
            http1: a.http1,
            resume: !a.no_resume,
        },
    )?;
    Target::new(&a.server, config, a.http1).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Optional diagnostics of the HTTP stack, e.g. KES_LOAD_LOG=h2=debug.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("KES_LOAD_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    match cli.cmd {
        Some(Cmd::Startup(s)) => startup_cmd(s).await,
        Some(Cmd::Table) => table::print(),
        None => load(&cli.conn, cli.load).await,
    }
}

async fn startup_cmd(s: StartupArgs) -> anyhow::Result<()> {
    let target = target(&s.conn).await?;
    let r = startup::measure(&target, &s.cmd, s.runs, duration(&s.limit)?).await?;
    if s.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "start-up to first answered /v1/status over {} runs: median {:.2} ms (min {:.2}, max {:.2}); RSS then {} kB",
            r.runs, r.median_ms, r.min_ms, r.max_ms, r.rss_kb
        );
    }
    Ok(())
}

async fn load(c: &ConnArgs, a: LoadArgs) -> anyhow::Result<()> {
    let target = target(c).await?;
    let (warmup, window, timeout) = (
        duration(&a.warmup)?,
        duration(&a.duration)?,
        duration(&a.timeout)?,
    );
    if window.is_zero() || a.concurrency == 0 {
        anyhow::bail!("--duration and --concurrency must be positive");
    }
    let wait = duration(&a.wait)?;
    if !wait.is_zero() {
        startup::wait_ready(&target, wait).await?;
    }
    let mut conn = target
        .connect()
        .await
        .context("connecting to the server")?
        .conn;
    if a.op != Op::CreateDelete {
        setup::ensure_key(&target, &mut conn, &a.name).await?;
    }
    if a.extra_keys > 0 {
        setup::extra_keys(&target, &a.name, a.extra_keys).await?;
    }
    if a.rotate > 0 {
        setup::rotate_to(&target, &mut conn, &a.name, a.rotate).await?;
    }
    let ciphertext = match a.op {
        Op::Decrypt | Op::Mixed => setup::ciphertext(&target, &mut conn, &a.name).await?,
        Op::Generate | Op::CreateDelete => String::new(),
    };
    drop(conn);
    let plan = Arc::new(Plan {
        op: a.op,
        name: a.name.clone(),
        concurrency: a.concurrency,
        warmup,
        duration: window,
        new_connection: a.new_conn,
        timeout,
        ciphertext,
        server_pid: a.server_pid,
        perf: a.perf,
    });
    let out = run::run(&target, plan).await?;
    let secs = out.elapsed.as_secs_f64();
    let ops = out.tally.ops;
    let ticks = procfs::clock_ticks() as f64;
    let server = a.server_pid.zip(out.server).map(|(pid, (before, after))| {
        let cpu_s = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / ticks;
        let per = |v: f64| (ops > 0 && v > 0.0).then_some(v);
        ServerCost {
            pid,
            cpu_s,
            ops_per_cpu_s: per(cpu_s).map(|c| (ops as f64 / c).round()),
            cpu_us_per_op: per(cpu_s).map(|c| (c * 1e7 / ops as f64).round() / 10.0),
            rss_kb_before: before.rss_kb,
            rss_kb_after: after.rss_kb,
            hwm_kb_after: after.hwm_kb,
            instructions: out.instructions,
            instructions_per_op: out
                .instructions
                .filter(|_| ops > 0)
                .map(|i| (i as f64 / ops as f64).round()),
        }
    });
    let report = Report {
        label: a.label,
        op: a.op.as_str(),
        protocol: target.protocol(),
        concurrency: a.concurrency,
        new_connection: a.new_conn,
        resumption: !c.no_resume,
        warmup_s: warmup.as_secs_f64(),
        duration_s: secs,
        ops,
        ops_per_s: if secs > 0.0 {
            (ops as f64 / secs).round()
        } else {
            0.0
        },
        errors: out.tally.errors.values().sum(),
        errors_by_kind: out.tally.errors.clone(),
        handshakes: out.tally.handshakes,
        resumed_handshakes: out.tally.resumed,
        latency_us: Latency::of(&out.tally.latency),
        server,
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        report.print_text();
    }
    Ok(())
}
