//! `kes migrate`: copies keys from one keystore to another, as KES's `kes migrate --from a.yml --to b.yml`.
//!
//! # Layout
//! - this module: [`MigrateArgs`], reading the `keystore:` section of each config file, and [`run`], which
//!   opens both keystores, runs the engine and turns its summary into the exit status.
//! - `engine`: listing, bounded-concurrency copying, tallies and stop rules, over any two keystores.
//! - `report`: the progress bar (terminal) or plain lines, per-key error lines and the summary.
//! - `glob`: the pattern syntax (Go's `filepath.Match`, as KES).
//!
//! # Contract
//! - Both files are KES server configs; only `keystore:` is read (with `${VAR}` substitution and relative paths
//!   resolved against the file's directory, as `kes server` does). The rest of the file is not validated.
//! - Keys are copied as their stored bytes: every stored format, the disabled state and the version ring carry
//!   over unchanged. Key material is never printed or put in an error.
//! - Never overwrites: the target's atomic `create` only. Without `--merge`, matching keys that already exist at
//!   the target stop the run before anything is written (`key already exists`, exit 1); with `--merge` they are
//!   skipped and counted. A run that was interrupted (Ctrl-C, a crash, `kill -9`) is resumed by running again
//!   with `--merge`: only the missing keys are created, and no key is ever created twice.
//! - `--dry-run` lists on stdout the names that would be copied (from the listings of both keystores); it reads
//!   no key and writes nothing.
//! - Exit 0 when every matching key was copied or skipped; 1 otherwise (`Error: …` on stderr).

mod engine;
mod glob;
mod report;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use clap::Args;
use keystores::KeystoreConfig;
use serde::Deserialize as _;

use crate::config::{ConfigError, env};
use engine::{Plan, Stop};
use glob::Glob;
use report::Reporter;

/// `kes migrate`
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Source: a KES server config file (only its `keystore:` section is used).
    #[arg(long, value_name = "PATH")]
    from: PathBuf,
    /// Target: a KES server config file (only its `keystore:` section is used).
    #[arg(long, value_name = "PATH")]
    to: PathBuf,
    /// Skip keys that already exist at the target instead of stopping; resumes an interrupted run.
    #[arg(long)]
    merge: bool,
    /// Print the names that would be copied; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print no progress and no summary (errors are still printed).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Not supported: KES deletes and re-creates existing keys; this command never overwrites a key.
    #[arg(short = 'f', long, hide = true)]
    force: bool,
    /// Only keys whose names match this pattern (`*`, `?`, `[a-z]`, as KES); default `*`.
    pattern: Option<String>,
}

/// Runs `kes migrate`.
///
/// # Errors
/// Bad flags or configs, a keystore that cannot be opened or listed, and any key that was not copied or
/// skipped: worded for one `Error: …` line.
pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    if args.force {
        bail!(
            "'--force' is not supported: kes migrate never overwrites a key (use '--merge' to keep the target's keys)"
        );
    }
    let pattern_text = match args.pattern.as_deref() {
        None | Some("") => "*",
        Some(p) => p,
    };
    let plan = Plan {
        pattern: Glob::parse(pattern_text)?,
        merge: args.merge,
        dry_run: args.dry_run,
    };
    let from =
        load_keystore(&args.from).map_err(|e| anyhow!("{}: {e}", flag("--from", &args.from)))?;
    let to = load_keystore(&args.to).map_err(|e| anyhow!("{}: {e}", flag("--to", &args.to)))?;
    if from == to {
        bail!("'--from' and '--to' name the same keystore");
    }
    let src = keystores::open(&from)
        .await
        .map_err(|e| anyhow!("{}: {e}", flag("--from", &args.from)))?;
    let dst = keystores::open(&to)
        .await
        .map_err(|e| anyhow!("{}: {e}", flag("--to", &args.to)))?;

    let mut reporter = Reporter::new(args.quiet, args.dry_run, args.merge, pattern_text);
    let interrupt = async {
        // If no handler can be installed, the run simply cannot be interrupted gracefully.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let summary = match engine::run(src, dst, &plan, &mut reporter, interrupt).await {
        Ok(summary) => summary,
        Err(e) => {
            reporter.abandon();
            bail!("{e}");
        }
    };
    reporter.finish(&summary)?;

    let failed = summary.tally.failed;
    match summary.stop {
        Some(Stop::Exists { first, count }) => {
            let more = match count {
                0 | 1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            Err(anyhow!(
                "key already exists: '{first}'{more} at the target (use '--merge' to skip existing keys)"
            ))
        }
        Some(Stop::Keystore(name, text)) => Err(anyhow!(
            "key '{name}': {text}; stopped (run again with '--merge' to resume)"
        )),
        Some(Stop::TooManyFailures) => {
            Err(anyhow!("stopped after {failed} failed keys (listed above)"))
        }
        Some(Stop::Interrupted) => Err(anyhow!("interrupted (run again with '--merge' to resume)")),
        None if failed > 0 && plan.dry_run => Err(anyhow!(
            "{failed} of {} keys would not be copied (listed above)",
            summary.tally.total
        )),
        None if failed > 0 => Err(anyhow!(
            "{failed} of {} keys were not copied (listed above; run again with '--merge' to retry them)",
            summary.tally.total
        )),
        None => Ok(()),
    }
}

fn flag(name: &str, path: &Path) -> String {
    format!("{name} '{}'", path.display())
}

/// Reads the `keystore:` section of the KES config file at `path`: `${VAR}` substituted from the environment,
/// relative paths resolved against the file's directory, and checked to be a keystore this build can open.
///
/// # Errors
/// The file cannot be read, a variable is not set, the YAML does not parse, or the section is missing, invalid
/// or names a keystore this build does not include; the server's config messages.
pub fn load_keystore(path: &Path) -> Result<KeystoreConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    // Absolute, so that `./keys` and `keys` in two files in one directory name the same keystore.
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    parse_keystore(&text, &base, |name| std::env::var(name).ok())
}

/// [`load_keystore`] on config text; `lookup` resolves `${VAR}`.
fn parse_keystore(
    text: &str,
    base: &Path,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<KeystoreConfig, ConfigError> {
    /// The one part of a config file this command reads; every other key is ignored.
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct KeystoreOnly {
        keystore: Option<serde_json::Value>,
    }
    let text = env::substitute(text, lookup)?;
    let file: KeystoreOnly = if text.trim().is_empty() {
        KeystoreOnly::default()
    } else {
        serde_saphyr::from_str(&text).map_err(|e| ConfigError::Yaml(e.to_string()))?
    };
    // A missing or empty `keystore:` is an empty section, as for `kes server`.
    let section = match file.keystore {
        None | Some(serde_json::Value::Null) => serde_json::Value::Object(Default::default()),
        Some(section) => section,
    };
    let mut keystore =
        KeystoreConfig::deserialize(section).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    keystore.resolve_paths(base);
    keystore
        .check()
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    Ok(keystore)
}

#[cfg(test)]
mod tests;
