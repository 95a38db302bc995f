//! `kes server`: flags, logging, signals.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::config;
use crate::dev;
use crate::run;

/// `kes server` flags.
#[derive(Debug, clap::Args)]
#[command(
    about = "Start a KES server",
    after_help = "Examples:\n  kes server --dev\n  kes server --config server-config.yaml --addr 127.0.0.1:7373"
)]
pub struct ServerArgs {
    /// Config file (KES v1 `server-config.yaml`).
    #[arg(long, value_name = "PATH", conflicts_with = "dev")]
    pub config: Option<PathBuf>,
    /// Listen address (overrides the config's `address`).
    #[arg(long, value_name = "IP:PORT")]
    pub addr: Option<SocketAddr>,
    /// Development mode: in-memory keystore, self-signed certificate, new admin API key.
    #[arg(long)]
    pub dev: bool,
    /// Deprecated (ignored, as in KES).
    #[arg(long, hide = true)]
    pub key: Option<String>,
    /// Deprecated (ignored, as in KES).
    #[arg(long, hide = true)]
    pub cert: Option<String>,
    /// Deprecated (ignored, as in KES).
    #[arg(long, hide = true)]
    pub auth: Option<String>,
}

/// Runs `kes server` until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    for (flag, set) in [
        ("--key", args.key.is_some()),
        ("--cert", args.cert.is_some()),
        ("--auth", args.auth.is_some()),
    ] {
        if set {
            eprintln!("warning: '{flag}' is deprecated and ignored; use the config file");
        }
    }
    let running = if args.dev {
        let addr = args.addr.unwrap_or(dev::DEV_ADDRESS.parse()?);
        let dev = dev::setup(addr)?;
        init_logging(dev.settings.log.error);
        let keystore = run::open_keystore(&dev.settings.keystore)?;
        let running =
            run::start_with_shutdown(&dev.settings, dev.tls, keystore, shutdown_signal()).await?;
        println!("Endpoint     https://{}", running.addr);
        println!("API Key      {}", dev.api_key);
        println!("Admin        {}", dev.api_key.identity());
        println!("Keystore     in-memory (development mode: keys are lost on exit)");
        println!();
        println!("  export KES_SERVER=https://{}", running.addr);
        println!("  export KES_API_KEY={}", dev.api_key);
        running
    } else {
        let path = args
            .config
            .context("either --config or --dev is required")?;
        let mut settings = config::load(&path)?;
        if let Some(addr) = args.addr {
            settings.address = addr;
        }
        init_logging(settings.log.error);
        let tls = run::tls_config(&settings)?;
        let keystore = run::open_keystore(&settings.keystore)?;
        let running = run::start_with_shutdown(&settings, tls, keystore, shutdown_signal()).await?;
        println!("Endpoint     https://{}", running.addr);
        if let Some(admin) = &settings.admin {
            println!("Admin        {admin}");
        }
        running
    };
    running.wait().await;
    Ok(())
}

fn init_logging(level: config::LogLevel) {
    let filter = match level.0 {
        i64::MIN..=-4 => "debug",
        -3..=0 => "info",
        1..=4 => "warn",
        5..=8 => "error",
        _ => "off",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KES_LOG")
                .unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
