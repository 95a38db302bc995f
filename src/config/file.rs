//! The raw serde tree of KES's `server-config.yaml` (v1 schema).
//!
//! Everything is optional here; [`super::settings`] validates and fills in
//! defaults. Unknown keys are ignored, as upstream does, so configs carrying
//! legacy keys (`tls.proxy`, `keystore.*.retry`, …) load unchanged.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A YAML scalar that may be written as a string, a boolean or a number
/// (`auth: off`, `error: on`, `timeout: 0`). Kept as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Any {
            S(String),
            B(bool),
            I(i64),
            F(f64),
        }
        Ok(Scalar(match Option::<Any>::deserialize(d)? {
            None => String::new(),
            Some(Any::S(s)) => s,
            Some(Any::B(true)) => "on".to_owned(),
            Some(Any::B(false)) => "off".to_owned(),
            Some(Any::I(i)) => i.to_string(),
            Some(Any::F(f)) => f.to_string(),
        }))
    }
}

/// Decodes `null` (an empty YAML value, e.g. `identities:` with nothing
/// under it) as the type's default, as Go's YAML decoder does.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct File {
    /// `v1` or absent.
    pub version: Option<Scalar>,
    /// `ip:port` to listen on.
    pub address: Option<Scalar>,
    /// Legacy (≤ v0.17) name of the admin identity.
    pub root: Option<Scalar>,
    /// `admin.identity`.
    pub admin: Admin,
    /// `tls.*`.
    pub tls: Tls,
    /// `cache.expiry.*`.
    pub cache: Cache,
    /// `log.error`, `log.audit`.
    pub log: Log,
    /// `api.<path>.{skip_auth,timeout}`.
    #[serde(deserialize_with = "null_default")]
    pub api: BTreeMap<String, ApiRoute>,
    /// `policy.<name>.{allow,deny,identities}`.
    #[serde(deserialize_with = "null_default")]
    pub policy: BTreeMap<String, Policy>,
    /// `keys: [- name: …]`.
    #[serde(deserialize_with = "null_default")]
    pub keys: Vec<KeyEntry>,
    /// `keystore.<backend>`: kept raw and handed to the `keystores` crate,
    /// which owns every backend's settings (`keystores::KeystoreConfig`).
    #[serde(deserialize_with = "null_default")]
    pub keystore: BTreeMap<String, serde_json::Value>,
    /// `limits.*`: connection bounds, an extension of this project (KES has
    /// no such section). See [`super::limits`].
    #[serde(deserialize_with = "null_default")]
    pub limits: Limits,
}

/// `admin:`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Admin {
    /// The admin identity (hex SHA-256) or a non-hex value to disable admin.
    pub identity: Option<Scalar>,
}

/// `tls:`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Tls {
    /// Private key PEM file.
    pub key: Option<Scalar>,
    /// Certificate PEM file.
    pub cert: Option<Scalar>,
    /// Password of an encrypted private key.
    pub password: Option<Scalar>,
    /// `""`, `off` or `on`.
    pub auth: Option<Scalar>,
    /// CA file or directory for client verification.
    pub ca: Option<Scalar>,
    /// Legacy TLS proxy settings: parsed, ignored (as current KES).
    pub proxy: Option<serde_json::Value>,
}

/// `cache:`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Cache {
    /// `cache.expiry`.
    pub expiry: Expiry,
}

/// `cache.expiry:`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Expiry {
    /// Whole-cache flush interval.
    pub any: Option<Scalar>,
    /// Unused-entry sweep interval.
    pub unused: Option<Scalar>,
    /// Offline cache lifetime.
    pub offline: Option<Scalar>,
    /// Project extension: how often a cached key's state is re-read.
    pub state: Option<Scalar>,
}

/// `log:`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Log {
    /// Error log level.
    pub error: Option<Scalar>,
    /// Audit log level.
    pub audit: Option<Scalar>,
}

/// `api.<path>:`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiRoute {
    /// Relax the client-certificate requirement for this route.
    pub skip_auth: Option<Scalar>,
    /// Per-route timeout override.
    pub timeout: Option<Scalar>,
}

/// `limits:` (extension; see [`super::limits`]). Unlike KES's sections,
/// unknown keys here are refused: a misspelt security bound must not be
/// silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Most connections open at once.
    pub connections: Option<Scalar>,
    /// Most connections open at once from one client IP address.
    pub connections_per_ip: Option<Scalar>,
    /// Longest time from TCP accept to a finished TLS handshake.
    pub handshake_timeout: Option<Scalar>,
    /// Longest time a response may wait for a peer that takes none of it.
    pub stall_timeout: Option<Scalar>,
}

/// `policy.<name>:`
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Allowed path patterns.
    #[serde(deserialize_with = "null_default")]
    pub allow: Vec<String>,
    /// Denied path patterns.
    #[serde(deserialize_with = "null_default")]
    pub deny: Vec<String>,
    /// Identities assigned to this policy.
    #[serde(deserialize_with = "null_default")]
    pub identities: Vec<Scalar>,
}

/// One `keys:` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyEntry {
    /// Key name to create when missing.
    pub name: String,
}
