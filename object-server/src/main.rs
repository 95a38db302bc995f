//! `object-server [--address HOST:PORT] [--certs-dir DIR] [limits…] DATA_DIR` — thin CLI over
//! the library. Every connection limit has a flag and an `OBJECT_SERVER_*` variable.
//! `object-server admin …` runs the maintenance commands of `object_server::admin` (`rekey`).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use object_server::config::{Limits, parse_duration};
use object_server::sse::kms_config::KmsSettings;
use object_server::{Config, Credentials};

/// S3-compatible object server with SSE-C, SSE-S3 and SSE-KMS (MinIO-compatible; the KMS is a
/// KES server configured with MinIO's `MINIO_KMS_KES_*` variables).
#[derive(Debug, Parser)]
#[command(
    name = "object-server",
    version,
    after_help = "SSE-S3 / SSE-KMS through KES (MinIO's variables):\n  \
        MINIO_KMS_KES_ENDPOINT     KES URL(s), comma-separated\n  \
        MINIO_KMS_KES_KEY_NAME     default key (created at start-up if missing)\n  \
        MINIO_KMS_KES_API_KEY      kes:v1:… API key, or\n  \
        MINIO_KMS_KES_CERT_FILE + MINIO_KMS_KES_KEY_FILE   client certificate and key (PEM)\n  \
        MINIO_KMS_KES_CAPATH       CA file or directory for the KES certificate\n  \
        MINIO_KMS_AUTO_ENCRYPTION  on: SSE-KMS with the default key when nothing else applies\n  \
        MINIO_PROMETHEUS_AUTH_TYPE jwt (default) or public, for /minio/v2/metrics/cluster\n\n\
        Maintenance: object-server admin rekey --help"
)]
struct Args {
    /// Listen address (port 0 picks a free port; the bound URL is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:9000", env = "MINIO_ADDRESS")]
    address: String,
    /// Directory with `public.crt` and `private.key`; HTTPS is served when both exist.
    /// Default: `$HOME/.minio/certs`.
    #[arg(long, short = 'S')]
    certs_dir: Option<PathBuf>,
    /// Most connections served at once; further ones wait in the listen backlog.
    #[arg(long, default_value_t = 4096, env = "OBJECT_SERVER_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Most connections at once from one client address (IPv6: one /64); more are closed at once.
    #[arg(
        long,
        default_value_t = 256,
        env = "OBJECT_SERVER_MAX_CONNECTIONS_PER_IP"
    )]
    max_connections_per_ip: usize,
    /// Longest TLS handshake, from TCP accept (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "OBJECT_SERVER_TLS_HANDSHAKE_TIMEOUT")]
    tls_handshake_timeout: Duration,
    /// Longest time to receive a request head: the first from TCP accept, later HTTP/1.1 ones
    /// from their first byte.
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "OBJECT_SERVER_READ_HEADER_TIMEOUT")]
    read_header_timeout: Duration,
    /// How long a connection with no request in flight (HTTP/1.1 or h2) stays open.
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "OBJECT_SERVER_IDLE_TIMEOUT")]
    idle_timeout: Duration,
    /// How long a response may wait for a peer that accepts no data before its connection is
    /// closed.
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "OBJECT_SERVER_STALL_TIMEOUT")]
    stall_timeout: Duration,
    /// Domain(s) for virtual-host-style requests, comma-separated: `<bucket>.<domain>` names
    /// the bucket; any other Host is answered path style.
    #[arg(long, env = "MINIO_DOMAIN", value_parser = parse_domain_list)]
    domain: Option<DomainList>,
    /// Data directory.
    data_dir: PathBuf,
}

/// The validated `--domain` / `MINIO_DOMAIN` list.
#[derive(Debug, Clone)]
struct DomainList(Vec<String>);

/// Parses a comma-separated domain list.
fn parse_domain_list(s: &str) -> Result<DomainList, String> {
    object_server::server::parse_domains(s)
        .map(DomainList)
        .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{Layer as _, filter};
    let wanted = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,s3s=warn"));
    // s3s logs whole requests, POST form fields and expected signatures at debug/trace level
    // (SSE-C keys included): its events stop at info whatever RUST_LOG says, and RUST_LOG can
    // still lower or silence them (`s3s=off`).
    let cap = filter::filter_fn(|meta| {
        !meta.target().starts_with("s3s") || *meta.level() <= tracing::Level::INFO
    });
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(wanted)
        .with_filter(cap);
    tracing_subscriber::registry().with(fmt).init();
}

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let mut argv = std::env::args_os().skip(1);
    if argv.next().is_some_and(|a| a == "admin") {
        return object_server::admin::main(argv).await;
    }
    let args = Args::parse();
    let (credentials, default) = match Credentials::from_lookup(&|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("object-server: {e}");
            return ExitCode::from(2);
        }
    };
    if default {
        tracing::warn!(
            "MINIO_ROOT_USER/MINIO_ROOT_PASSWORD not set: using the default credentials"
        );
    }
    let certs_dir = args.certs_dir.or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".minio").join("certs"))
    });
    let kms = match KmsSettings::from_lookup(&|k| std::env::var(k).ok(), certs_dir.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("object-server: Invalid KMS configuration specified: {e}");
            return ExitCode::from(2);
        }
    };
    let metrics_public = match std::env::var("MINIO_PROMETHEUS_AUTH_TYPE").as_deref() {
        Err(_) | Ok("" | "jwt") => false,
        Ok("public") => true,
        Ok(other) => {
            eprintln!(
                "object-server: invalid MINIO_PROMETHEUS_AUTH_TYPE '{other}': use 'jwt' or 'public'"
            );
            return ExitCode::from(2);
        }
    };
    let config = Config {
        address: args.address,
        data_dir: args.data_dir,
        certs_dir,
        credentials,
        limits: Limits {
            max_connections: args.max_connections,
            max_connections_per_ip: args.max_connections_per_ip,
            handshake_timeout: args.tls_handshake_timeout,
            header_timeout: args.read_header_timeout,
            idle_timeout: args.idle_timeout,
            stall_timeout: args.stall_timeout,
        },
        kms,
        domains: args.domain.map(|d| d.0).unwrap_or_default(),
        metrics_public,
    };
    match object_server::run(config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("object-server: {e}");
            ExitCode::FAILURE
        }
    }
}
