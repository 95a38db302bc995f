//! Validated settings: the only configuration type the server sees.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize as _;

use super::file::{self, Scalar};
use super::limits::{self, LimitSettings};
use super::{ConfigError, duration};
use crate::logs::{LogLevel, LogSettings};
use crate::names;
use crate::policy::{Identity, Policy, PolicySet};

/// Default listen address.
pub const DEFAULT_ADDRESS: &str = "0.0.0.0:7373";

/// How client certificates are checked (`tls.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Default: a certificate is required but not chain-verified (the
    /// handshake signature is still verified: proof of possession).
    RequireAny,
    /// `on`: required and verified against `tls.ca` (or system roots).
    RequireVerified,
}

/// TLS settings.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Private key PEM file.
    pub key: PathBuf,
    /// Certificate chain PEM file.
    pub cert: PathBuf,
    /// Password for an encrypted private key (unsupported; see README).
    pub password: Option<String>,
    /// Client-certificate mode.
    pub auth: ClientAuth,
    /// CA file or directory for `auth: on`.
    pub ca: Option<PathBuf>,
}

/// Key cache expiry (kes-api.md §8; project defaults 5m / 30s / 0), plus the
/// project's `cache.expiry.state` (default 5s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Whole-cache flush interval.
    pub any: Duration,
    /// Unused-entry eviction interval.
    pub unused: Duration,
    /// How long cached keys keep serving while the keystore is offline (0 = off).
    pub offline: Duration,
    /// Extension (`cache.expiry.state`, not a KES key): a cached key's stored
    /// state (disabled flag, versions) is re-read at most this long after the
    /// last read, so changes made through another server sharing the keystore
    /// arrive within it (0 = only when the entry expires).
    pub state: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            any: Duration::from_secs(300),
            unused: Duration::from_secs(30),
            offline: Duration::ZERO,
            state: Duration::from_secs(5),
        }
    }
}

/// `api.<path>` overrides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiOverride {
    /// Serve this route without a client certificate or policy check.
    pub skip_auth: bool,
    /// Replaces the route's timeout.
    pub timeout: Option<Duration>,
}

/// The keystore to use: the `keystore:` section as the `keystores` crate
/// parsed it (each backend owns its settings; this crate knows no backend).
pub use keystores::KeystoreConfig as KeystoreSettings;

/// Everything the server needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub address: SocketAddr,
    /// Admin identity; `None` when admin is disabled.
    pub admin: Option<Identity>,
    /// TLS.
    pub tls: TlsSettings,
    /// Cache expiry.
    pub cache: CacheSettings,
    /// Logging.
    pub log: LogSettings,
    /// Route overrides, by route path (e.g. `/v1/key/list/`).
    pub api: BTreeMap<String, ApiOverride>,
    /// Policies and identity assignments.
    pub policies: PolicySet,
    /// Keys to create at start-up when missing.
    pub keys: Vec<String>,
    /// Keystore.
    pub keystore: KeystoreSettings,
    /// Connection bounds (`limits:`, an extension; see [`super::limits`]).
    pub limits: LimitSettings,
}

fn text(s: &Option<Scalar>) -> Option<&str> {
    s.as_ref().map(|s| s.0.trim()).filter(|s| !s.is_empty())
}

/// Resolves a relative path in the config against the config file's directory.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Validates a parsed file. Relative paths resolve against `base` (the
/// directory of the config file, as `kes server` runs from anywhere).
pub fn validate(f: file::File, base: &Path) -> Result<Settings, ConfigError> {
    let err = |m: String| ConfigError::Invalid(m);
    if let Some(v) = text(&f.version)
        && v != "v1"
    {
        return Err(err(format!(
            "version: invalid config version '{v}': must be 'v1'"
        )));
    }
    let address = match text(&f.address) {
        Some(a) => a
            .parse::<SocketAddr>()
            .map_err(|_| err(format!("address: '{a}' is not an IP:port address")))?,
        None => DEFAULT_ADDRESS.parse().map_err(|_| err("address".into()))?,
    };
    let admin_text = text(&f.admin.identity)
        .or(text(&f.root))
        .ok_or_else(|| err("admin.identity: no admin identity specified".into()))?;
    let admin = Identity::parse(admin_text);

    let tls = TlsSettings {
        key: resolve(
            base,
            text(&f.tls.key).ok_or_else(|| err("tls.key: no TLS private key specified".into()))?,
        ),
        cert: resolve(
            base,
            text(&f.tls.cert)
                .ok_or_else(|| err("tls.cert: no TLS certificate specified".into()))?,
        ),
        password: text(&f.tls.password).map(str::to_owned),
        auth: match text(&f.tls.auth).map(str::to_ascii_lowercase).as_deref() {
            None | Some("off") => ClientAuth::RequireAny,
            Some("on") => ClientAuth::RequireVerified,
            Some(other) => {
                return Err(err(format!(
                    "tls.auth: invalid value '{other}': must be 'on' or 'off'"
                )));
            }
        },
        ca: text(&f.tls.ca).map(|p| resolve(base, p)),
    };

    let mut cache = CacheSettings::default();
    for (name, value, slot) in [
        ("any", &f.cache.expiry.any, &mut cache.any),
        ("unused", &f.cache.expiry.unused, &mut cache.unused),
        ("offline", &f.cache.expiry.offline, &mut cache.offline),
        ("state", &f.cache.expiry.state, &mut cache.state),
    ] {
        if let Some(v) = text(value) {
            *slot = duration::parse(v).map_err(|e| err(format!("cache.expiry.{name}: {e}")))?;
        }
    }

    let log = LogSettings {
        error: match text(&f.log.error) {
            None => LogLevel::INFO,
            Some(v) => parse_level(v).map_err(|e| err(format!("log.error: {e}")))?,
        },
        audit: match text(&f.log.audit) {
            None => None,
            Some(v) => match parse_level(v).map_err(|e| err(format!("log.audit: {e}")))? {
                LogLevel::OFF => None,
                level => Some(level),
            },
        },
    };

    let mut api = BTreeMap::new();
    for (path, route) in &f.api {
        if !crate::routes::is_route_path(path) {
            return Err(err(format!("api: '{path}' is not an API path")));
        }
        let skip_auth = match text(&route.skip_auth)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("off") | Some("false") => false,
            Some("on") | Some("true") => true,
            Some(other) => {
                return Err(err(format!(
                    "api.{path}.skip_auth: '{other}' is not a boolean"
                )));
            }
        };
        let timeout = match text(&route.timeout) {
            None => None,
            Some(v) => {
                let d = duration::parse(v).map_err(|e| err(format!("api.{path}.timeout: {e}")))?;
                (!d.is_zero()).then_some(d)
            }
        };
        api.insert(path.clone(), ApiOverride { skip_auth, timeout });
    }

    let mut policies = PolicySet::default();
    for (name, p) in &f.policy {
        if !names::valid_name(name) {
            return Err(err(format!("policy: invalid policy name '{name}'")));
        }
        for id in &p.identities {
            let id_text = id.0.trim();
            if id_text.is_empty() {
                continue;
            }
            let identity = Identity::parse(id_text).ok_or_else(|| {
                err(format!(
                    "policy.{name}.identities: '{id_text}' is not an identity"
                ))
            })?;
            if admin.as_ref() == Some(&identity) {
                return Err(err(format!(
                    "policy.{name}.identities: '{identity}' is the admin identity"
                )));
            }
            if let Some(other) = policies.identities.insert(identity.clone(), name.clone()) {
                return Err(err(format!(
                    "policy.{name}.identities: '{identity}' is already assigned to policy '{other}'"
                )));
            }
        }
        policies.policies.insert(
            name.clone(),
            Policy {
                allow: p.allow.clone(),
                deny: p.deny.clone(),
            },
        );
    }

    let mut keys = Vec::new();
    let mut seen = BTreeSet::new();
    for k in &f.keys {
        if !names::valid_name(&k.name) {
            return Err(err(format!("keys: invalid key name '{}'", k.name)));
        }
        if !seen.insert(k.name.clone()) {
            return Err(err(format!(
                "keys: key '{}' is specified more than once",
                k.name
            )));
        }
        keys.push(k.name.clone());
    }

    let keystore = keystore(f.keystore, base)?;
    let limits = limits::validate(&f.limits)?;
    Ok(Settings {
        address,
        admin,
        tls,
        cache,
        log,
        api,
        policies,
        keys,
        keystore,
        limits,
    })
}

/// Hands the `keystore:` section to the `keystores` crate, which parses and
/// validates it (exactly one section; messages name the section), then
/// resolves its relative paths against `base` and checks that this build
/// includes the backend, so a config naming a backend that cannot be opened
/// is rejected at load (and reload) time.
fn keystore(
    section: BTreeMap<String, serde_json::Value>,
    base: &Path,
) -> Result<KeystoreSettings, ConfigError> {
    let section = serde_json::Value::Object(section.into_iter().collect());
    let mut keystore =
        KeystoreSettings::deserialize(section).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    keystore.resolve_paths(base);
    keystore
        .check()
        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    Ok(keystore)
}

/// Parses a slog-style level: `on`, `off`, `DEBUG`, `INFO`, `WARN`, `ERROR`,
/// optionally with `+N`/`-N`, or an integer.
pub fn parse_level(s: &str) -> Result<LogLevel, String> {
    let upper = s.trim().to_ascii_uppercase();
    match upper.as_str() {
        "ON" | "TRUE" => return Ok(LogLevel::INFO),
        "OFF" | "FALSE" => return Ok(LogLevel::OFF),
        _ => {}
    }
    if let Ok(n) = upper.parse::<i64>() {
        return Ok(LogLevel(n));
    }
    let split = upper.find(['+', '-']).unwrap_or(upper.len());
    let (name, offset) = upper.split_at(split);
    let base = match name {
        "DEBUG" => -4,
        "INFO" => 0,
        "WARN" => 4,
        "ERROR" => 8,
        _ => return Err(format!("invalid log level '{s}'")),
    };
    let delta = if offset.is_empty() {
        0
    } else {
        offset
            .parse::<i64>()
            .map_err(|_| format!("invalid log level '{s}'"))?
    };
    Ok(LogLevel(base + delta))
}
