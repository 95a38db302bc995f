//! The `kes` binary: `kes server` and the client commands.

use clap::{Parser, Subcommand};

/// A KES-compatible key encryption service.
#[derive(Debug, Parser)]
#[command(
    name = "kes",
    version,
    about = "KES-compatible key encryption service: server and command line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a KES server.
    Server(kes::serve_cmd::ServerArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(args) => kes::serve_cmd::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
