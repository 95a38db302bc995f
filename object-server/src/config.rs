//! Validated server configuration: root credentials (MinIO's environment names) and the
//! connection [`Limits`] (count caps and timeouts, with [`parse_duration`] for their flags).

use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// A connection limit or timeout is out of range.
    #[error("invalid limit: {0}")]
    Limit(&'static str),
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
    /// Connection limits and timeouts.
    pub limits: Limits,
    /// KMS (KES) configuration for SSE-S3 / SSE-KMS (`MINIO_KMS_KES_*`); default: none.
    pub kms: crate::sse::kms_config::KmsSettings,
    /// Domains for virtual-host-style requests (`MINIO_DOMAIN`, lower case, validated by
    /// [`crate::server::parse_domains`]); empty: path style only.
    pub domains: Vec<String>,
    /// `MINIO_PROMETHEUS_AUTH_TYPE=public`: `/minio/v2/metrics/cluster` without a bearer token.
    pub metrics_public: bool,
}

/// Bounds on connections: how many, and how long each phase may take. Every value is > 0
/// (checked by [`Limits::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Connections served at once per client address (IPv4 address, IPv6 /64); a connection
    /// over the cap is closed as soon as it is accepted.
    pub max_connections_per_ip: usize,
    /// TLS handshake, counted from TCP accept.
    pub handshake_timeout: Duration,
    /// First request head, counted from TCP accept (TLS handshake included); later HTTP/1.1
    /// request heads, counted from their first byte.
    pub header_timeout: Duration,
    /// A connection with no request in flight (HTTP/1.1 keep-alive, h2 with no open stream).
    pub idle_timeout: Duration,
    /// A response the peer accepts no bytes of (socket not read, h2 flow-control window
    /// closed); the connection is then closed.
    pub stall_timeout: Duration,
}

impl Default for Limits {
    /// 4096 connections, 256 per client, 10 s handshake, 30 s request head, 30 s idle,
    /// 30 s stalled response.
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_connections_per_ip: 256,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
        }
    }
}

impl Limits {
    /// Rejects zero counts and zero durations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::Limit("max-connections must be at least 1"));
        }
        if self.max_connections_per_ip == 0 {
            return Err(ConfigError::Limit(
                "max-connections-per-ip must be at least 1",
            ));
        }
        for (d, msg) in [
            (
                self.handshake_timeout,
                "tls-handshake-timeout must be positive",
            ),
            (self.header_timeout, "read-header-timeout must be positive"),
            (self.idle_timeout, "idle-timeout must be positive"),
            (self.stall_timeout, "stall-timeout must be positive"),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Limit(msg));
            }
        }
        Ok(())
    }
}

/// Parses a duration flag: an integer followed by `ms`, `s`, `m` or `h` (`500ms`, `30s`, `2m`),
/// or a bare integer of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 30s, 500ms, 2m"))?;
    let d = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "invalid duration unit in {text:?}: use ms, s, m or h"
            ));
        }
    };
    Ok(d)
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

    #[test]
    fn durations_and_limits() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "1.5s", "-1s", "10x", "ms10"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(Limits::default().validate().is_ok());
        let zero_ip = Limits {
            max_connections_per_ip: 0,
            ..Limits::default()
        };
        assert!(matches!(zero_ip.validate(), Err(ConfigError::Limit(_))));
        let zero_idle = Limits {
            idle_timeout: Duration::ZERO,
            ..Limits::default()
        };
        assert!(matches!(zero_idle.validate(), Err(ConfigError::Limit(_))));
    }
}
