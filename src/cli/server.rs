//! `kes server`: flags, logging, signals (SIGHUP reload, SIGINT/SIGTERM
//! graceful shutdown).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use crate::logs::{LogFormat, Sinks, Telemetry};
use crate::server::{Builder, Options, dev, reload};

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
    /// Format of the error log (stderr) and audit log (stdout): `text`
    /// (Go slog text lines, as KES) or `json` (one JSON object per line).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = parse_log_format)]
    pub log_format: LogFormat,
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

/// Runs `kes server` until SIGINT or SIGTERM (graceful: in-flight requests
/// finish); SIGHUP reloads the config file ([`reload::reload`]).
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
    // Install the handlers first: a signal during start-up is not lost.
    let mut signals = Signals::new()?;
    let (running, config_path) = if args.dev {
        let addr = args.addr.unwrap_or(dev::DEV_ADDRESS.parse()?);
        let dev = dev::setup(addr)?;
        let telemetry = init_logging(&dev.settings.log, args.log_format);
        let running = Builder::new(dev.settings)
            .tls(dev.tls)
            .options(Options {
                telemetry: Some(telemetry),
                ..Options::default()
            })
            .start()
            .await?;
        banner(&format!(
            "Endpoint     https://{addr}\nAPI Key      {key}\nAdmin        {admin}\n\
             Keystore     in-memory (development mode: keys are lost on exit)\n\n  \
             export KES_SERVER=https://{addr}\n  export KES_API_KEY={key}\n",
            addr = running.addr,
            key = dev.api_key,
            admin = dev.api_key.identity(),
        ));
        (running, None)
    } else {
        let path = args
            .config
            .context("either --config or --dev is required")?;
        let mut builder = Builder::from_file(&path)?;
        if let Some(addr) = args.addr {
            builder = builder.address(addr);
        }
        let telemetry = init_logging(&builder.settings().log, args.log_format);
        let admin = builder.settings().admin.clone();
        let running = builder
            .options(Options {
                telemetry: Some(telemetry),
                ..Options::default()
            })
            .start()
            .await?;
        let mut text = format!("Endpoint     https://{}\n", running.addr);
        if let Some(admin) = &admin {
            text.push_str(&format!("Admin        {admin}\n"));
        }
        banner(&text);
        (running, Some(path))
    };
    // Every signal but SIGHUP stops the server.
    while signals.next().await == Signal::Reload {
        let Some(path) = &config_path else {
            tracing::info!("SIGHUP ignored: nothing to reload in --dev mode");
            continue;
        };
        // Success is logged by `reload` itself.
        if let Err(err) = reload::reload(&running, path).await {
            tracing::error!(
                path = %path.display(),
                error = %err,
                "reload failed: keeping the current configuration"
            );
        }
    }
    tracing::info!("shutting down: waiting for requests in flight");
    let telemetry = running.telemetry();
    running.stop().await;
    tracing::info!("stopped");
    // The log writers are threads: let them finish before the process exits.
    tokio::task::spawn_blocking(move || telemetry.flush(std::time::Duration::from_secs(2)))
        .await
        .ok();
    Ok(())
}

/// Prints the start-up banner and flushes it (stdout is often a pipe).
/// A closed stdout is ignored: the server must not stop because whoever
/// read the banner went away.
fn banner(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Builds the server's telemetry (audit log to stdout, error log to stderr)
/// and makes its error log the process-wide `tracing` default, so events
/// outside request handling (key cache, reload) are logged too.
fn init_logging(log: &crate::logs::LogSettings, format: LogFormat) -> Arc<Telemetry> {
    let telemetry = Telemetry::new(log, Sinks::stdio(format));
    let _ = tracing::dispatcher::set_global_default(telemetry.dispatch.clone());
    telemetry
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!(
            "'{other}' is not a log format: use 'text' or 'json'"
        )),
    }
}

/// What a process signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// SIGHUP.
    Reload,
    /// SIGINT or SIGTERM.
    Stop,
}

/// The signal handlers of `kes server`.
struct Signals {
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
                term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
                int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.hup.recv() => Signal::Reload,
                _ = self.term.recv() => Signal::Stop,
                _ = self.int.recv() => Signal::Stop,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}
