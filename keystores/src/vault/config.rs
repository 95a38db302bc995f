//! The `keystore.vault` section of a KES config and its validated form,
//! [`VaultConfig`].
//!
//! # Layout
//! - `Section` (and its sub-sections): the YAML shape KES reads, every field
//!   optional, unknown fields (legacy `approle.retry`, …) ignored;
//! - [`VaultConfig`], [`KvVersion`], [`Auth`], [`AuthNamespace`], [`Jwt`],
//!   [`Transit`], [`VaultTls`]: the validated settings the backend opens;
//! - `parse_duration`: Go duration strings (`status.ping: 10s`).
//!
//! Validation follows KES (`kesconf`): an endpoint is required, exactly one
//! of `approle` / `kubernetes`, AppRole needs `id` and `secret`, Kubernetes a
//! `jwt`, `transit` a `key`, `tls.key` and `tls.cert` only together, `version`
//! `v1` (default) or `v2`. Messages name the field (`keystore.vault.…: …`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::secret::Secret;
use crate::text::Text;

/// Default K/V engine mount (`engine`).
const DEFAULT_ENGINE: &str = "kv";
/// Default AppRole auth mount (`approle.engine`).
const DEFAULT_APPROLE: &str = "approle";
/// Default Kubernetes auth mount (`kubernetes.engine`).
const DEFAULT_KUBERNETES: &str = "kubernetes";
/// Default transit mount (`transit.engine`).
const DEFAULT_TRANSIT: &str = "transit";
/// Default health-check interval (`status.ping`): 10 s, as KES documents
/// (its code falls back to 15 s).
pub(crate) const DEFAULT_PING: Duration = Duration::from_secs(10);

/// The `keystore.vault` section as written in the YAML file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Section {
    endpoint: Option<Text>,
    engine: Option<Text>,
    version: Option<Text>,
    namespace: Option<Text>,
    prefix: Option<Text>,
    transit: Option<TransitSection>,
    approle: Option<AppRoleSection>,
    kubernetes: Option<KubernetesSection>,
    tls: Option<TlsSection>,
    status: Option<StatusSection>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TransitSection {
    engine: Option<Text>,
    key: Option<Text>,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct AppRoleSection {
    engine: Option<Text>,
    namespace: Option<Text>,
    id: Option<Text>,
    secret: Option<Text>,
}

impl fmt::Debug for AppRoleSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppRoleSection").finish_non_exhaustive()
    }
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct KubernetesSection {
    engine: Option<Text>,
    namespace: Option<Text>,
    role: Option<Text>,
    jwt: Option<Text>,
}

impl fmt::Debug for KubernetesSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubernetesSection").finish_non_exhaustive()
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TlsSection {
    key: Option<Text>,
    cert: Option<Text>,
    ca: Option<Text>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct StatusSection {
    ping: Option<Text>,
}

/// The K/V secrets engine API version (`version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KvVersion {
    /// K/V v1: `<engine>/<prefix>/<name>`, no versions.
    V1,
    /// K/V v2: `<engine>/data/<prefix>/<name>`, versioned, check-and-set.
    V2,
}

/// The namespace an auth login is sent to (`approle.namespace`,
/// `kubernetes.namespace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthNamespace {
    /// Empty: the keystore's own `namespace` (if any).
    Inherit,
    /// `/`: the root namespace (no namespace header).
    Root,
    /// Any other value.
    Named(String),
}

/// Where the Kubernetes service-account JWT comes from (`kubernetes.jwt`).
///
/// As in KES, a value containing `/` is a file path; it is read again at
/// every login (Kubernetes rotates projected tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Jwt {
    /// The token itself.
    Token(Secret),
    /// A file holding the token.
    File(PathBuf),
}

/// How the backend logs in (`approle` or `kubernetes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// `approle: {engine, namespace, id, secret}`.
    AppRole {
        /// Auth mount, default `approle`.
        engine: String,
        /// Namespace of the login.
        namespace: AuthNamespace,
        /// The role ID.
        id: String,
        /// The secret ID.
        secret: Secret,
    },
    /// `kubernetes: {engine, namespace, role, jwt}`.
    Kubernetes {
        /// Auth mount, default `kubernetes`.
        engine: String,
        /// Namespace of the login.
        namespace: AuthNamespace,
        /// The Vault role.
        role: String,
        /// The service-account token or its file.
        jwt: Jwt,
    },
}

/// `transit: {engine, key}`: values are wrapped with this transit key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transit {
    /// Transit mount, default `transit`.
    pub(crate) engine: String,
    /// The transit key's name.
    pub(crate) key: String,
}

/// `tls: {key, cert, ca}`: client certificate (mTLS) and trusted CAs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VaultTls {
    /// PEM private key of the client certificate (with `cert`).
    pub(crate) key: Option<PathBuf>,
    /// PEM client certificate (chain) (with `key`).
    pub(crate) cert: Option<PathBuf>,
    /// PEM CA file, or a directory of them; none = the system roots.
    pub(crate) ca: Option<PathBuf>,
}

/// The validated `keystore.vault` section (opaque: build it by
/// deserializing a [`KeystoreConfig`](crate::KeystoreConfig), open it with [`open`](crate::open)).
///
/// `Debug` never shows the AppRole secret or a JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultConfig {
    /// `http(s)://host:port` of Vault / OpenBao.
    pub(crate) endpoint: String,
    /// K/V mount, default `kv`, without surrounding `/`.
    pub(crate) engine: String,
    /// K/V API version, default v1.
    pub(crate) version: KvVersion,
    /// Namespace header of every K/V and transit request (`None` = root).
    pub(crate) namespace: Option<String>,
    /// Folder inside the mount, without surrounding `/` (may be empty).
    pub(crate) prefix: String,
    /// The login method.
    pub(crate) auth: Auth,
    /// Optional transit wrapping of stored values.
    pub(crate) transit: Option<Transit>,
    /// TLS settings.
    pub(crate) tls: VaultTls,
    /// Health-check interval (`status.ping`, default 10 s).
    pub(crate) ping: Duration,
}

impl VaultConfig {
    /// Makes relative file paths (TLS files, a JWT file) absolute by joining
    /// them to `base`, the directory of the config file.
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in [&mut self.tls.key, &mut self.tls.cert, &mut self.tls.ca]
            .into_iter()
            .flatten()
        {
            fix(p);
        }
        if let Auth::Kubernetes {
            jwt: Jwt::File(p), ..
        } = &mut self.auth
        {
            fix(p);
        }
    }
}

/// A trimmed non-empty text field.
fn text(t: &Option<Text>) -> Option<String> {
    t.as_ref().and_then(Text::non_empty).map(str::to_owned)
}

/// A mount or folder path without leading, trailing or doubled `/`.
fn clean_path(p: &str) -> String {
    p.split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

fn auth_namespace(t: &Option<Text>) -> AuthNamespace {
    match text(t) {
        None => AuthNamespace::Inherit,
        Some(ns) if ns == "/" => AuthNamespace::Root,
        Some(ns) => AuthNamespace::Named(ns),
    }
}

impl Section {
    /// Validates the section.
    pub(crate) fn into_config(self) -> Result<VaultConfig, String> {
        let endpoint =
            text(&self.endpoint).ok_or("keystore.vault.endpoint: no endpoint specified")?;
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&endpoint) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            Ok(_) => {
                return Err(format!(
                    "keystore.vault.endpoint: invalid endpoint '{endpoint}': not an http(s) URL"
                ));
            }
            Err(e) => {
                return Err(format!(
                    "keystore.vault.endpoint: invalid endpoint '{endpoint}': {e}"
                ));
            }
        }
        let version = match text(&self.version).as_deref() {
            None | Some("v1") => KvVersion::V1,
            Some("v2") => KvVersion::V2,
            Some(other) => {
                return Err(format!(
                    "keystore.vault.version: invalid engine API version '{other}'"
                ));
            }
        };
        let engine = clean_path(&text(&self.engine).unwrap_or_else(|| DEFAULT_ENGINE.to_owned()));
        if engine.is_empty() {
            return Err("keystore.vault.engine: invalid engine path".to_owned());
        }
        let auth = match (self.approle, self.kubernetes) {
            (None, None) => {
                return Err("keystore.vault: no authentication method specified".to_owned());
            }
            (Some(_), Some(_)) => {
                return Err(
                    "keystore.vault: more than one authentication method specified".to_owned(),
                );
            }
            (Some(a), None) => Auth::AppRole {
                engine: clean_path(&text(&a.engine).unwrap_or_else(|| DEFAULT_APPROLE.to_owned())),
                namespace: auth_namespace(&a.namespace),
                id: text(&a.id).ok_or("keystore.vault.approle.id: no approle ID specified")?,
                secret: Secret::new(
                    text(&a.secret)
                        .ok_or("keystore.vault.approle.secret: no approle secret specified")?,
                ),
            },
            (None, Some(k)) => {
                let jwt = text(&k.jwt).ok_or("keystore.vault.kubernetes.jwt: no JWT specified")?;
                Auth::Kubernetes {
                    engine: clean_path(
                        &text(&k.engine).unwrap_or_else(|| DEFAULT_KUBERNETES.to_owned()),
                    ),
                    namespace: auth_namespace(&k.namespace),
                    role: text(&k.role).unwrap_or_default(),
                    jwt: if jwt.contains('/') {
                        Jwt::File(PathBuf::from(jwt))
                    } else {
                        Jwt::Token(Secret::new(jwt))
                    },
                }
            }
        };
        let transit = match self.transit {
            None => None,
            Some(t) => Some(Transit {
                engine: clean_path(&text(&t.engine).unwrap_or_else(|| DEFAULT_TRANSIT.to_owned())),
                key: text(&t.key).ok_or("keystore.vault.transit.key: no key name specified")?,
            }),
        };
        let tls = self.tls.unwrap_or_default();
        let tls = VaultTls {
            key: text(&tls.key).map(PathBuf::from),
            cert: text(&tls.cert).map(PathBuf::from),
            ca: text(&tls.ca).map(PathBuf::from),
        };
        match (&tls.key, &tls.cert) {
            (Some(_), None) => {
                return Err("keystore.vault.tls: no TLS certificate provided".to_owned());
            }
            (None, Some(_)) => {
                return Err("keystore.vault.tls: no TLS private key provided".to_owned());
            }
            _ => {}
        }
        let ping = match self.status.as_ref().and_then(|s| text(&s.ping)) {
            None => DEFAULT_PING,
            Some(p) => match parse_duration(&p) {
                Some(d) if d.is_zero() => DEFAULT_PING,
                Some(d) => d,
                None => {
                    return Err(format!(
                        "keystore.vault.status.ping: invalid duration '{p}'"
                    ));
                }
            },
        };
        Ok(VaultConfig {
            endpoint,
            engine,
            version,
            namespace: text(&self.namespace),
            prefix: clean_path(&text(&self.prefix).unwrap_or_default()),
            auth,
            transit,
            tls,
            ping,
        })
    }
}

/// Parses a Go duration string (`300ms`, `1.5h`, `2h45m`, `0`); `None` if
/// it is not one or is negative.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * unit;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
