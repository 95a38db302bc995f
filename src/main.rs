//! The `kes` binary: `kes server` and the client commands.

use clap::{CommandFactory as _, Parser, Subcommand};

/// A KES-compatible key encryption service.
#[derive(Debug, Parser)]
#[command(
    name = "kes",
    version,
    disable_version_flag = true,
    about = "KES-compatible key encryption service: server and command line",
    after_help = "Examples:\n  kes server --dev\n  export KES_SERVER=https://127.0.0.1:7373 KES_API_KEY=kes:v1:...\n  kes key create my-minio-sse-s3-key\n  kes key dek my-minio-sse-s3-key\n  kes status"
)]
struct Cli {
    /// Print version (`-v`, as KES).
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a KES server.
    Server(kes::cli::server::ServerArgs),
    #[command(flatten)]
    Client(kes::cli::Command),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match &cli.command {
        Command::Server(_) => server_runtime(),
        Command::Client(_) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("Error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Server(args) => kes::cli::server::run(args).await,
            Command::Client(cmd) => kes::cli::run(cmd, Cli::command).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The server's runtime: one worker thread per CPU the process may run on
/// (its affinity mask, e.g. `taskset`; `TOKIO_WORKER_THREADS` overrides). On one CPU a single-threaded runtime:
/// every connection task, the accept loop and hyper's h2 stream tasks then
/// share one thread with no cross-thread wake-ups or work stealing, the
/// cheapest schedule for one core (blocking work still goes to the blocking
/// pool). Every worker wakes the log writer threads when it parks
/// ([`kes::logs::on_runtime_park`]): log lines are written once per idle period.
fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cpus == 1 && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder
        .enable_all()
        .on_thread_park(kes::logs::on_runtime_park)
        .build()
}
