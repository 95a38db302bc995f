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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(args) => kes::cli::server::run(args).await,
        Command::Client(cmd) => kes::cli::run(cmd, Cli::command).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
