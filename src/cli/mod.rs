//! The command-line entry points of the `kes` binary (`kes-api.md` §7): `kes server` and the client commands
//! `key`, `identity`, `policy`, `ls`, `status`, `metric`, `log`, `migrate` and `completion`.
//!
//! # Layout
//! - [`server`]: `kes server` — flags, logging, signals; the server itself is [`crate::server`].
//! - [`conn`]: `-s/-a/-k/--ca` flags, the KES environment variables and their precedence, client building.
//! - [`output`]: `--json`, `--color`, tables, closed-pipe handling.
//! - [`migrate`]: `kes migrate`, copying keys between keystores.
//! - `key`, `identity`, `admin`: one handler per subcommand.
//! - [`migrate`]: `kes migrate`, which talks to two keystores directly (no server).
//!
//! Contract: every command prints its result to stdout (text tables for humans, one stable JSON document or one
//! JSON line per event with `--json`) and returns `Ok(())` (exit 0); any failure is returned as an error that the
//! binary prints as one line `Error: <message>` on stderr with a non-zero exit status. API keys are printed only
//! by `kes identity new`, where showing the new key is the point.

mod admin;
pub mod conn;
mod identity;
mod key;
pub mod migrate;
pub mod output;
pub mod server;

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use conn::ConnArgs;
use output::{Out, OutputArgs};

/// The client subcommands; `src/main.rs` flattens them into the top-level `kes` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, inspect, use and delete keys.
    #[command(
        after_help = "Examples:\n  kes key create my-key\n  kes key ls\n  kes key dek my-key"
    )]
    Key(KeyArgs),
    /// Create API keys and inspect identities.
    #[command(
        after_help = "Examples:\n  kes identity new\n  kes identity of kes:v1:ACQpoGqx3rHHjT938Hfu5hVVQJHZWSqVI2Xp1KlYxFVw\n  kes identity info"
    )]
    Identity(IdentityArgs),
    /// Inspect policies.
    #[command(after_help = "Examples:\n  kes policy ls\n  kes policy show my-policy")]
    Policy(PolicyArgs),
    /// List keys (default), identities (-i) or policies (-p).
    #[command(after_help = "Examples:\n  kes ls\n  kes ls 'my-*'\n  kes ls -p\n  kes ls -i --json")]
    Ls(LsArgs),
    /// Show the server status, or its API routes with --api.
    #[command(
        after_help = "Examples:\n  kes status\n  kes status --api\n  kes status -s 10.1.2.3:7373 --json"
    )]
    Status(StatusArgs),
    /// Print the server's metrics (Prometheus text; --json for name/value pairs).
    #[command(after_help = "Examples:\n  kes metric\n  kes metric --json")]
    Metric(MetricArgs),
    /// Follow the server's audit log (default) or error log.
    #[command(after_help = "Examples:\n  kes log\n  kes log --error\n  kes log --audit --json")]
    Log(LogArgs),
    /// Copy keys from one keystore to another (the `keystore:` sections of two KES config files).
    #[command(
        after_help = "Examples:\n  kes migrate --from old-config.yaml --to new-config.yaml\n  kes migrate --from old-config.yaml --to new-config.yaml --merge 'minio-*'\n  kes migrate --from old-config.yaml --to new-config.yaml --dry-run"
    )]
    Migrate(migrate::MigrateArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  kes completion bash > /etc/bash_completion.d/kes\n  kes completion zsh > \"${fpath[1]}/_kes\"\n  kes completion fish > ~/.config/fish/completions/kes.fish"
    )]
    Completion(CompletionArgs),
}

/// `kes key …`
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    out: OutputArgs,
    #[command(subcommand)]
    cmd: KeyCmd,
}

#[derive(Debug, Subcommand)]
enum KeyCmd {
    /// Create one or more keys.
    #[command(after_help = "Examples:\n  kes key create my-key\n  kes key create key-1 key-2")]
    Create {
        /// Key names.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Import a 32-byte key given in base64 (read from stdin if omitted).
    #[command(
        after_help = "Examples:\n  kes key import my-key \"$(head -c 32 /dev/urandom | base64)\""
    )]
    Import {
        /// Key name.
        name: String,
        /// Base64 of the 32 key bytes.
        key: Option<String>,
    },
    /// Describe a key: its state and versions (upstream's describe on servers without the extension).
    #[command(after_help = "Examples:\n  kes key info my-key\n  kes key info my-key --json")]
    Info {
        /// Key name.
        name: String,
    },
    /// List keys matching a prefix pattern (default `*`).
    #[command(after_help = "Examples:\n  kes key ls\n  kes key ls 'my-*'")]
    Ls {
        /// Prefix, optionally ending in `*`.
        pattern: Option<String>,
    },
    /// Delete one or more keys.
    #[command(after_help = "Examples:\n  kes key rm my-key")]
    Rm {
        /// Key names.
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Encrypt a message; prints the base64 ciphertext.
    #[command(after_help = "Examples:\n  kes key encrypt my-key 'hello world'")]
    Encrypt {
        /// Key name.
        name: String,
        /// The message (text).
        message: String,
    },
    /// Decrypt a base64 ciphertext (with an optional base64 context); prints the plaintext.
    #[command(
        after_help = "Examples:\n  kes key decrypt my-key \"$CIPHERTEXT\"\n  kes key decrypt my-key \"$CIPHERTEXT\" Y29udGV4dA=="
    )]
    Decrypt {
        /// Key name.
        name: String,
        /// Base64 ciphertext.
        ciphertext: String,
        /// Base64 associated context.
        context: Option<String>,
    },
    /// Generate a data encryption key; prints it in plaintext and encrypted (base64).
    #[command(after_help = "Examples:\n  kes key dek my-key\n  kes key dek my-key 'bucket/object'")]
    Dek {
        /// Key name.
        name: String,
        /// Associated context (text).
        context: Option<String>,
    },
    /// Disable a key (extension): it cannot be used until enabled again.
    #[command(after_help = "Examples:\n  kes key disable my-key")]
    Disable {
        /// Key name.
        name: String,
    },
    /// Enable a disabled key (extension).
    #[command(after_help = "Examples:\n  kes key enable my-key")]
    Enable {
        /// Key name.
        name: String,
    },
    /// Add a key version (extension); prints its number. New ciphertexts use it, old ones still decrypt.
    #[command(after_help = "Examples:\n  kes key rotate my-key")]
    Rotate {
        /// Key name.
        name: String,
    },
    /// Re-seal a base64 ciphertext under the key's newest version (extension); prints the new base64 ciphertext.
    #[command(
        after_help = "Examples:\n  kes key rewrap my-key \"$CIPHERTEXT\"\n  kes key rewrap my-key \"$CIPHERTEXT\" Y29udGV4dA=="
    )]
    Rewrap {
        /// Key name.
        name: String,
        /// Base64 ciphertext (any version of the key).
        ciphertext: String,
        /// Base64 associated context (kept for the new ciphertext).
        context: Option<String>,
    },
}

/// `kes identity …`
#[derive(Debug, Args)]
pub struct IdentityArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    out: OutputArgs,
    #[command(subcommand)]
    cmd: IdentityCmd,
}

#[derive(Debug, Subcommand)]
enum IdentityCmd {
    /// Create a new API key (and optionally a private key and certificate file).
    #[command(
        after_help = "Examples:\n  kes identity new\n  kes identity new --key client.key --cert client.crt my-app\n  \
                             kes identity new --key server.key --cert server.crt --ip 10.1.2.3 --dns kes.local --expiry 8760h kes-server"
    )]
    New(NewIdentityArgs),
    /// Print the identity of an API key or of a certificate file.
    #[command(
        after_help = "Examples:\n  kes identity of kes:v1:ACQpoGqx3rHHjT938Hfu5hVVQJHZWSqVI2Xp1KlYxFVw\n  kes identity of client.crt"
    )]
    Of {
        /// An API key, or the path of a PEM certificate.
        value: String,
    },
    /// Describe an identity (default: your own).
    #[command(
        after_help = "Examples:\n  kes identity info\n  kes identity info 3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22"
    )]
    Info {
        /// Identity (hex); omit for the caller's own.
        identity: Option<String>,
    },
    /// List identities matching a prefix pattern.
    #[command(after_help = "Examples:\n  kes identity ls\n  kes identity ls '3ecf*'")]
    Ls {
        /// Prefix, optionally ending in `*`.
        pattern: Option<String>,
    },
}

/// `kes policy …`
#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    out: OutputArgs,
    #[command(subcommand)]
    cmd: PolicyCmd,
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Describe a policy.
    #[command(after_help = "Examples:\n  kes policy info my-policy")]
    Info {
        /// Policy name.
        name: String,
    },
    /// List policies matching a prefix pattern.
    #[command(after_help = "Examples:\n  kes policy ls\n  kes policy ls 'minio*'")]
    Ls {
        /// Prefix, optionally ending in `*`.
        pattern: Option<String>,
    },
    /// Show a policy's allow and deny rules.
    #[command(after_help = "Examples:\n  kes policy show my-policy")]
    Show {
        /// Policy name.
        name: String,
    },
}

/// `kes ls`
#[derive(Debug, Args)]
pub struct LsArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// List identities instead of keys.
    #[arg(short = 'i', long = "identity", conflicts_with = "policy")]
    identity: bool,
    /// List policies instead of keys.
    #[arg(short = 'p', long = "policy")]
    policy: bool,
    /// Prefix, optionally ending in `*`.
    prefix: Option<String>,
}

/// `kes status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// List the server's API routes instead.
    #[arg(long)]
    api: bool,
}

/// `kes metric`
#[derive(Debug, Args)]
pub struct MetricArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// `kes log`
#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Follow the audit log (default).
    #[arg(long, conflicts_with = "error")]
    audit: bool,
    /// Follow the error log.
    #[arg(long)]
    error: bool,
}

/// `kes completion`
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Runs a client command. `root` builds the full `kes` clap command (for completion scripts).
///
/// # Errors
/// Any failure, already worded for a one-line `Error: …` report.
pub async fn run(cmd: Command, root: fn() -> clap::Command) -> anyhow::Result<()> {
    match cmd {
        Command::Key(a) => key::run(a.cmd, &a.conn, Out::new(&a.out)).await,
        Command::Identity(a) => identity::run(a.cmd, &a.conn, Out::new(&a.out)).await,
        Command::Policy(a) => admin::policy(a.cmd, &a.conn, Out::new(&a.out)).await,
        Command::Ls(a) => admin::ls(&a, Out::new(&a.out)).await,
        Command::Status(a) => admin::status(&a.conn, a.api, Out::new(&a.out)).await,
        Command::Metric(a) => admin::metric(&a.conn, Out::new(&a.out)).await,
        Command::Log(a) => admin::log(&a.conn, a.error && !a.audit, Out::new(&a.out)).await,
        Command::Migrate(a) => migrate::run(a).await,
        Command::Completion(a) => {
            let mut cmd = root();
            let mut buf = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "kes", &mut buf);
            output::write(&buf)
        }
    }
}

/// The arguments of `kes identity new`.
#[derive(Debug, Args)]
struct NewIdentityArgs {
    /// Write the PKCS#8 private key (PEM) to this file.
    #[arg(long, value_name = "PATH", requires = "cert")]
    key: Option<PathBuf>,
    /// Write a self-signed certificate (PEM) to this file.
    #[arg(long, value_name = "PATH", requires = "key")]
    cert: Option<PathBuf>,
    /// Add an IP subject alternative name (makes a server certificate). Repeatable.
    #[arg(long, value_name = "IP", requires = "cert")]
    ip: Vec<IpAddr>,
    /// Add a DNS subject alternative name (makes a server certificate). Repeatable.
    #[arg(long, value_name = "NAME", requires = "cert")]
    dns: Vec<String>,
    /// Certificate validity, a Go duration such as 720h or 8760h.
    #[arg(long, value_name = "DURATION", default_value = "720h")]
    expiry: String,
    /// Overwrite existing files.
    #[arg(short = 'f', long)]
    force: bool,
    /// Certificate subject (common name); default: the identity.
    subject: Option<String>,
}
