//! `object-server admin …`: maintenance commands that work on a server's data directory with
//! the server's own environment (`MINIO_KMS_KES_*`), whether the server is running or not.
//!
//! * [`rekey`] — `admin rekey --bucket B [--prefix P] [--limit N] DATA_DIR`: rewraps the
//!   sealed data key of every SSE-S3/SSE-KMS object under its EK's newest version.
//!
//! Why offline on the data directory rather than an admin API of the running server: the job
//! needs only the stored metadata and KES (no S3 request, no plaintext, no data key — KES
//! rewraps ciphertext to ciphertext), it must also work while the server is down, and it
//! needs KES permissions the server itself should not hold (the `rewrap`/`describe`
//! extension paths, `policies/rekey.yaml`). Running next to a live server is safe: the
//! replacement is a compare-and-swap under a directory lock the server's writes share
//! ([`crate::storage::FsStore::replace_object_if_unchanged`]).

pub mod rekey;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;

use crate::sse::kms_config::KmsSettings;
use crate::storage::FsStore;

/// `object-server admin`.
#[derive(Debug, clap::Parser)]
#[command(name = "object-server admin", about = "Maintenance commands")]
struct AdminArgs {
    #[command(subcommand)]
    cmd: AdminCmd,
}

#[derive(Debug, clap::Subcommand)]
enum AdminCmd {
    /// Rewrap the sealed data key of every SSE-S3/SSE-KMS object of a bucket under the newest
    /// version of its KES key (after `kes key rotate`). Object data is not re-encrypted; objects
    /// already under the newest version are skipped, so a re-run finishes an interrupted one.
    #[command(
        after_help = "Environment: the server's MINIO_KMS_KES_* variables. The KES \
        identity needs /v1/ext/key/describe/* and /v1/ext/key/rewrap/* (policies/rekey.yaml)."
    )]
    Rekey(RekeyArgs),
}

/// `object-server admin rekey`.
#[derive(Debug, clap::Args)]
struct RekeyArgs {
    /// Bucket to rekey.
    #[arg(long)]
    bucket: String,
    /// Only objects whose key starts with this prefix.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Stop after rewrapping this many objects (a later run continues where this one stopped).
    #[arg(long)]
    limit: Option<u64>,
    /// Directory with `CAs/` (default CA path for KES, as for the server).
    /// Default: `$HOME/.minio/certs`.
    #[arg(long, short = 'S')]
    certs_dir: Option<PathBuf>,
    /// The server's data directory.
    data_dir: PathBuf,
}

/// Runs `object-server admin <args…>` (`args` start after `admin`); errors are printed.
pub async fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args =
        AdminArgs::parse_from(std::iter::once(OsString::from("object-server admin")).chain(args));
    let AdminCmd::Rekey(a) = args.cmd;
    match run_rekey(a).await {
        Ok(report) => {
            println!("{report}");
            if report.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("object-server admin rekey: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_rekey(a: RekeyArgs) -> Result<rekey::Report, String> {
    let certs_dir = a.certs_dir.or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".minio").join("certs"))
    });
    let settings = KmsSettings::from_lookup(&|k| std::env::var(k).ok(), certs_dir.as_deref())
        .map_err(|e| format!("Invalid KMS configuration specified: {e}"))?;
    let kes = settings
        .kes
        .ok_or("no KMS configured: set the server's MINIO_KMS_KES_* variables")?;
    let kms = kes.connect()?;
    let store = FsStore::attach(&a.data_dir)
        .await
        .map_err(|e| e.to_string())?;
    let job = rekey::Job {
        bucket: &a.bucket,
        prefix: &a.prefix,
        limit: a.limit,
    };
    rekey::run(&store, &kms, &job).await
}
