//! `server-config.yaml` (KES v1 schema) → validated [`Settings`].
//!
//! Layers: [`env`] resolves `${VAR}` per value (with the line number of a
//! missing variable), [`file`] is the raw serde tree, [`settings`] validates it
//! into the one type the server sees ([`limits`] validates the `limits:`
//! extension section), [`tls`] builds the rustls config.

pub mod duration;
pub mod env;
pub mod file;
pub mod limits;
pub mod settings;
pub mod tls;

use std::path::Path;

pub use crate::logs::{LogLevel, LogSettings};
pub use limits::LimitSettings;
pub use settings::{
    ApiOverride, CacheSettings, ClientAuth, KeystoreSettings, Settings, TlsSettings,
};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config: cannot read '{path}': {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `${VAR}` is not set.
    #[error("config: {0}")]
    Env(#[from] env::MissingVar),
    /// The YAML does not parse.
    #[error("config: invalid YAML: {0}")]
    Yaml(String),
    /// A value is invalid.
    #[error("config: {0}")]
    Invalid(String),
    /// TLS files could not be loaded.
    #[error("config: tls: {0}")]
    Tls(String),
}

/// Loads and validates a config file, resolving `${VAR}` from the process env.
pub fn load(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base, |name| std::env::var(name).ok())
}

/// Parses config text; relative paths resolve against `base`.
pub fn parse(
    text: &str,
    base: &Path,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let text = env::substitute(text, lookup)?;
    let raw: file::File = if text.trim().is_empty() {
        file::File::default()
    } else {
        serde_saphyr::from_str(&text).map_err(|e| ConfigError::Yaml(e.to_string()))?
    };
    settings::validate(raw, base)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use std::path::Path;

    use super::{ConfigError, KeystoreSettings, parse};

    const BASE: &str = "admin:\n  identity: disabled\ntls:\n  key: k\n  cert: c\n";

    #[test]
    fn the_keystore_section_is_forwarded_with_env_and_relative_paths() {
        let text = format!("{BASE}keystore:\n  vault:\n  fs:\n    path: ${{KEYS}}\n");
        let lookup = |name: &str| (name == "KEYS").then(|| "rel/keys".to_owned());
        let settings = parse(&text, Path::new("/etc/kes"), lookup).unwrap();
        assert_eq!(
            settings.keystore,
            KeystoreSettings::Fs {
                path: "/etc/kes/rel/keys".into()
            },
            "`${{VAR}}` substituted, the empty vault entry ignored, the path resolved"
        );
    }

    #[test]
    fn a_section_not_built_is_rejected_at_load_naming_it() {
        let text = format!("{BASE}keystore:\n  azure:\n    keyvault:\n      endpoint: x\n");
        let err = parse(&text, Path::new("."), |_| None).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "config: keystore.azure.keyvault: this keystore is not supported by this build yet (supported: keystore.fs, keystore.vault, keystore.aws.secretsmanager)"
        );
    }
}
