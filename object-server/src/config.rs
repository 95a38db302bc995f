//! Validated server configuration and root credentials (MinIO's environment names).

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// MinIO's default root user when none is configured.
pub const DEFAULT_ROOT_USER: &str = "minioadmin";
/// MinIO's default root password when none is configured.
pub const DEFAULT_ROOT_PASSWORD: &str = "minioadmin";

/// Configuration errors (fatal at startup).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A `*_FILE` variable names an unreadable file.
    #[error("cannot read {var} file {path}: {source}")]
    SecretFile {
        /// Variable name.
        var: &'static str,
        /// File path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A credential is set both directly and through a file.
    #[error("{0} and {0}_FILE are both set")]
    Conflict(&'static str),
    /// Only one of user/password is set.
    #[error("MINIO_ROOT_USER and MINIO_ROOT_PASSWORD must be set together")]
    Incomplete,
    /// Too short (MinIO: user ≥ 3, password ≥ 8 characters).
    #[error(
        "invalid credentials: access key must be at least 3 and secret key at least 8 characters long"
    )]
    InvalidLength,
}

/// S3 root credentials. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    /// Access key (`MINIO_ROOT_USER`).
    pub access_key: String,
    /// Secret key (`MINIO_ROOT_PASSWORD`).
    pub secret_key: Zeroizing<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"[REDACTED]")
            .finish()
    }
}

fn one(
    lookup: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    file_var: &'static str,
) -> Result<Option<Zeroizing<String>>, ConfigError> {
    let direct = lookup(var).filter(|v| !v.is_empty());
    let file = lookup(file_var).filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => Err(ConfigError::Conflict(var)),
        (Some(v), None) => Ok(Some(Zeroizing::new(v))),
        (None, Some(path)) => {
            let text =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                    var: file_var,
                    path: path.clone(),
                    source,
                })?;
            Ok(Some(Zeroizing::new(
                text.trim_end_matches(['\r', '\n']).to_owned(),
            )))
        }
        (None, None) => Ok(None),
    }
}

impl Credentials {
    /// Reads `MINIO_ROOT_USER` / `MINIO_ROOT_PASSWORD` (or their `*_FILE` variants) through
    /// `lookup`. Neither set → MinIO's defaults (`minioadmin`, flagged by the bool).
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Self, bool), ConfigError> {
        let user = one(lookup, "MINIO_ROOT_USER", "MINIO_ROOT_USER_FILE")?;
        let pass = one(lookup, "MINIO_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD_FILE")?;
        let (creds, default) = match (user, pass) {
            (Some(u), Some(p)) => (
                Credentials {
                    access_key: u.to_string(),
                    secret_key: p,
                },
                false,
            ),
            (None, None) => (
                Credentials {
                    access_key: DEFAULT_ROOT_USER.to_owned(),
                    secret_key: Zeroizing::new(DEFAULT_ROOT_PASSWORD.to_owned()),
                },
                true,
            ),
            (Some(_), None) | (None, Some(_)) => return Err(ConfigError::Incomplete),
        };
        if creds.access_key.chars().count() < 3 || creds.secret_key.chars().count() < 8 {
            return Err(ConfigError::InvalidLength);
        }
        Ok((creds, default))
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address (`host:port`; port 0 picks a free port).
    pub address: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Certificates directory (`public.crt` + `private.key` → HTTPS), if any.
    pub certs_dir: Option<PathBuf>,
    /// Root credentials.
    pub credentials: Credentials,
}

/// The TLS files of a certs directory, when both exist.
pub fn tls_files(certs_dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let cert = certs_dir.join("public.crt");
    let key = certs_dir.join("private.key");
    (cert.is_file() && key.is_file()).then_some((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup<'a>(m: &'a HashMap<&'a str, String>) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| m.get(k).cloned()
    }

    #[test]
    fn credentials_sources() {
        let mut m = HashMap::new();
        let (c, default) = Credentials::from_lookup(&lookup(&m)).unwrap();
        assert!(default);
        assert_eq!(c.access_key, "minioadmin");
        m.insert("MINIO_ROOT_USER", "admin".to_owned());
        assert!(matches!(
            Credentials::from_lookup(&lookup(&m)),
            Err(ConfigError::Incomplete)
        ));
        m.insert("MINIO_ROOT_PASSWORD", "short".to_owned());
        assert!(matches!(
            Credentials::from_lookup(&lookup(&m)),
            Err(ConfigError::InvalidLength)
        ));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "supersecret\n").unwrap();
        m.insert("MINIO_ROOT_PASSWORD_FILE", f.display().to_string());
        assert!(matches!(
            Credentials::from_lookup(&lookup(&m)),
            Err(ConfigError::Conflict(_))
        ));
        m.remove("MINIO_ROOT_PASSWORD");
        let (c, default) = Credentials::from_lookup(&lookup(&m)).unwrap();
        assert!(!default);
        assert_eq!(c.secret_key.as_str(), "supersecret");
        assert!(!format!("{c:?}").contains("supersecret"));
    }
}
