//! [`KeystoreConfig`]: the `keystore:` section of a KES config, and [`open`].
//!
//! # Layout
//! - [`KeystoreConfig`]: one variant per backend built into this crate, plus
//!   [`KeystoreConfig::NotBuilt`] for every other keystore KES knows.
//! - Its `Deserialize` impl: the section is a map with exactly one non-null
//!   entry named after the backend (KES's shape, `keystore: { fs: { path: … } }`),
//!   dispatched here to the backend's own section type (`fs::Section`, …).
//! - [`KES_SECTIONS`]: every keystore name KES knows, built or not, so that
//!   "unknown keystore" and "not built into this binary" stay different errors.
//! - [`open`]: the one entry point from a section to an `Arc<dyn Keystore>`.
//!
//! Error messages name the section they are about (`keystore.fs.path: …`,
//! `keystore.aws.secretsmanager: …`), matching the server's other config
//! errors. Unknown fields inside a section are ignored, as KES does.

use crate::text::Text;
use std::fmt;
use std::path::Path;
#[cfg(feature = "fs")]
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{Error, Keystore};

/// A validated `keystore:` section: which backend, with its settings.
///
/// Deserialize it from the value of the `keystore:` key (any serde format).
/// The variants present depend on the crate's features; match with a
/// wildcard. `PartialEq` tells a config reload whether the section changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeystoreConfig {
    /// Keys in process memory, lost on exit (`kes server --dev`). Not a KES
    /// section; a config file cannot select it.
    #[cfg(feature = "memory")]
    Memory,
    /// `keystore.fs`: one file per key in the directory `path`.
    #[cfg(feature = "fs")]
    Fs {
        /// The key directory (relative paths are resolved by
        /// [`KeystoreConfig::resolve_paths`]).
        path: PathBuf,
    },
    /// `keystore.vault`: HashiCorp Vault / OpenBao K/V v1 or v2.
    #[cfg(feature = "vault")]
    Vault(Box<crate::VaultConfig>),
    /// `keystore.aws.secretsmanager`: AWS Secrets Manager.
    #[cfg(feature = "aws")]
    Aws(Box<crate::AwsConfig>),
    /// `keystore.azure.keyvault`: Azure Key Vault secrets.
    #[cfg(feature = "azure")]
    Azure(Box<crate::AzureConfig>),
    /// `keystore.gcp.secretmanager`: GCP Secret Manager.
    #[cfg(feature = "gcp")]
    Gcp(Box<crate::GcpConfig>),
    /// A keystore KES knows but this build does not include (its backend is
    /// not written yet or its cargo feature is off). It parses, so KES
    /// configs load; [`KeystoreConfig::check`] and [`open`] report it.
    NotBuilt {
        /// The section, e.g. `keystore.vault` or `keystore.aws.secretsmanager`.
        section: String,
    },
}

/// Every keystore section KES knows, and whether its settings sit one level
/// deeper under a service name (`aws: { secretsmanager: {…} }`).
pub(crate) const KES_SECTIONS: &[(&str, bool)] = &[
    ("fs", false),
    ("vault", false),
    ("aws", true),
    ("azure", true),
    ("gcp", true),
    ("fortanix", true),
    ("gemalto", true),
    ("entrust", true),
    ("generic", false),
    ("kes", false),
];

impl KeystoreConfig {
    /// Makes relative paths in the section absolute by joining them to
    /// `base` (the directory of the config file, so `kes server` can run from
    /// anywhere). Absolute paths are kept.
    pub fn resolve_paths(&mut self, base: &Path) {
        match self {
            #[cfg(feature = "memory")]
            KeystoreConfig::Memory => {}
            #[cfg(feature = "fs")]
            KeystoreConfig::Fs { path } => {
                if path.is_relative() {
                    *path = base.join(&*path);
                }
            }
            #[cfg(feature = "vault")]
            KeystoreConfig::Vault(config) => config.resolve_paths(base),
            #[cfg(feature = "aws")]
            KeystoreConfig::Aws(_) => {}
            #[cfg(feature = "azure")]
            KeystoreConfig::Azure(config) => config.resolve_paths(base),
            #[cfg(feature = "gcp")]
            KeystoreConfig::Gcp(_) => {}
            KeystoreConfig::NotBuilt { .. } => {
                let _ = base;
            }
        }
    }

    /// Checks, without opening anything, that this build can open the
    /// section: [`Error::Unsupported`] naming it for
    /// [`KeystoreConfig::NotBuilt`].
    pub fn check(&self) -> Result<(), Error> {
        match self {
            #[cfg(feature = "memory")]
            KeystoreConfig::Memory => Ok(()),
            #[cfg(feature = "fs")]
            KeystoreConfig::Fs { .. } => Ok(()),
            #[cfg(feature = "vault")]
            KeystoreConfig::Vault(_) => Ok(()),
            #[cfg(feature = "aws")]
            KeystoreConfig::Aws(_) => Ok(()),
            #[cfg(feature = "azure")]
            KeystoreConfig::Azure(_) => Ok(()),
            #[cfg(feature = "gcp")]
            KeystoreConfig::Gcp(_) => Ok(()),
            KeystoreConfig::NotBuilt { section } => Err(not_built(section)),
        }
    }
}

/// Opens the keystore `config` describes.
///
/// # Errors
/// [`Error::Unsupported`] for [`KeystoreConfig::NotBuilt`] (the message names
/// the section and lists the built-in ones); otherwise the backend's own
/// open errors (fs: [`Error::Backend`] if the directory cannot be created or
/// read; vault: [`Error::Unreachable`] if Vault cannot be reached, else
/// [`Error::Backend`], e.g. a failed login or an unreadable TLS file;
/// azure: [`Error::Backend`] for an unreadable `tls.ca`; aws, azure, gcp
/// send no request until the first operation).
pub async fn open(config: &KeystoreConfig) -> Result<Arc<dyn Keystore>, Error> {
    match config {
        #[cfg(feature = "memory")]
        KeystoreConfig::Memory => Ok(Arc::new(crate::MemKeystore::new())),
        #[cfg(feature = "fs")]
        KeystoreConfig::Fs { path } => {
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || crate::FsKeystore::open(path))
                .await
                .map_err(Error::backend)??;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "vault")]
        KeystoreConfig::Vault(config) => Ok(Arc::new(crate::VaultKeystore::connect(config).await?)),
        #[cfg(feature = "aws")]
        KeystoreConfig::Aws(config) => Ok(Arc::new(crate::AwsKeystore::connect(config).await?)),
        #[cfg(feature = "azure")]
        KeystoreConfig::Azure(config) => Ok(Arc::new(crate::AzureKeystore::connect(config).await?)),
        #[cfg(feature = "gcp")]
        KeystoreConfig::Gcp(config) => Ok(Arc::new(crate::GcpKeystore::connect(config).await?)),
        KeystoreConfig::NotBuilt { section } => Err(not_built(section)),
    }
}

/// The error for a section this build cannot open.
fn not_built(section: &str) -> Error {
    let mut built = Vec::new();
    if cfg!(feature = "fs") {
        built.push("keystore.fs");
    }
    if cfg!(feature = "vault") {
        built.push("keystore.vault");
    }
    if cfg!(feature = "aws") {
        built.push("keystore.aws.secretsmanager");
    }
    if cfg!(feature = "azure") {
        built.push("keystore.azure.keyvault");
    }
    if cfg!(feature = "gcp") {
        built.push("keystore.gcp.secretmanager");
    }
    let built = if built.is_empty() {
        "none".to_owned()
    } else {
        built.join(", ")
    };
    Error::Unsupported(format!(
        "{section}: this keystore is not supported by this build yet (supported: {built})"
    ))
}

impl<'de> Deserialize<'de> for KeystoreConfig {
    /// Needs a self-describing format (YAML, JSON): a null section is "no
    /// keystore specified", not a type error.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SectionVisitor)
    }
}

/// Reads the `keystore:` map. Entries whose value is null are ignored (an
/// empty `vault:` line), as KES does. The entries are all read before any is
/// judged, so two sections are reported as such whatever their contents.
struct SectionVisitor;

const NO_KEYSTORE: &str = "keystore: no keystore specified";

impl<'de> Visitor<'de> for SectionVisitor {
    type Value = KeystoreConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map with one keystore section")
    }

    fn visit_unit<E: de::Error>(self) -> Result<KeystoreConfig, E> {
        Err(E::custom(NO_KEYSTORE))
    }

    fn visit_none<E: de::Error>(self) -> Result<KeystoreConfig, E> {
        Err(E::custom(NO_KEYSTORE))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeystoreConfig, A::Error> {
        let mut found = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if let Some(entry) = entry(&name, &mut map)? {
                found.push(entry);
            }
        }
        let mut found = found.into_iter();
        match (found.next(), found.next()) {
            (None, _) => Err(de::Error::custom(NO_KEYSTORE)),
            (Some(one), None) => one.map_err(de::Error::custom),
            (Some(_), Some(_)) => Err(de::Error::custom(
                "keystore: more than once keystore specified",
            )),
        }
    }
}

/// Reads the value of the entry `name`: `None` if it is null, else the
/// section or the message of what is wrong with it.
fn entry<'de, A: MapAccess<'de>>(
    name: &str,
    map: &mut A,
) -> Result<Option<Result<KeystoreConfig, String>>, A::Error> {
    #[cfg(feature = "fs")]
    if name == "fs" {
        let section: Option<crate::fs::Section> = map
            .next_value()
            .map_err(|e| de::Error::custom(format!("keystore.fs: {e}")))?;
        return Ok(section.map(|s| s.into_path().map(|path| KeystoreConfig::Fs { path })));
    }
    #[cfg(feature = "vault")]
    if name == "vault" {
        let section: Option<crate::vault::Section> = map
            .next_value()
            .map_err(|e| de::Error::custom(format!("keystore.vault: {e}")))?;
        return Ok(section.map(|s| s.into_config().map(|c| KeystoreConfig::Vault(Box::new(c)))));
    }
    #[cfg(feature = "aws")]
    if name == "aws" {
        let section: Option<crate::aws::Section> = map
            .next_value()
            .map_err(|e| de::Error::custom(format!("keystore.aws: {e}")))?;
        return Ok(section.and_then(|s| {
            s.into_config()
                .map(|c| c.map(|c| KeystoreConfig::Aws(Box::new(c))))
        }));
    }
    #[cfg(feature = "azure")]
    if name == "azure" {
        let section: Option<crate::azure::Service> = map
            .next_value()
            .map_err(|e| de::Error::custom(format!("keystore.azure: {e}")))?;
        return Ok(section.map(|s| match s.into_config() {
            Some(c) => c.map(|c| KeystoreConfig::Azure(Box::new(c))),
            None => Err("keystore.azure: no keyvault section specified".to_owned()),
        }));
    }
    #[cfg(feature = "gcp")]
    if name == "gcp" {
        let section: Option<crate::gcp::Section> = map
            .next_value()
            .map_err(|e| de::Error::custom(format!("keystore.gcp: {e}")))?;
        return Ok(section.map(|s| s.into_config().map(|c| KeystoreConfig::Gcp(Box::new(c)))));
    }
    match KES_SECTIONS.iter().find(|(known, _)| *known == name) {
        Some((_, nested)) => {
            let first: Option<FirstKey> = map.next_value()?;
            Ok(first.map(|FirstKey(service)| {
                let section = match service {
                    Some(service) if *nested => format!("keystore.{name}.{service}"),
                    _ => format!("keystore.{name}"),
                };
                Ok(KeystoreConfig::NotBuilt { section })
            }))
        }
        None => {
            let value: Option<IgnoredAny> = map.next_value()?;
            Ok(value.map(|_| Err(format!("keystore.{name}: unknown keystore"))))
        }
    }
}

/// Any value, remembering the first key if it is a map (the service name of
/// a nested section such as `aws: { secretsmanager: {…} }`).
struct FirstKey(Option<String>);

impl<'de> Deserialize<'de> for FirstKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FirstKeyVisitor)
    }
}

struct FirstKeyVisitor;

impl<'de> Visitor<'de> for FirstKeyVisitor {
    type Value = FirstKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a keystore section")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstKey, A::Error> {
        let first = map.next_key::<Text>()?;
        if first.is_some() {
            map.next_value::<IgnoredAny>()?;
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(FirstKey(first.map(|t| t.0)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstKey, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(FirstKey(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<FirstKey, E> {
        Ok(FirstKey(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<FirstKey, E> {
        Ok(FirstKey(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<FirstKey, E> {
        Ok(FirstKey(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<FirstKey, E> {
        Ok(FirstKey(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<FirstKey, E> {
        Ok(FirstKey(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<FirstKey, E> {
        Ok(FirstKey(None))
    }
}

#[cfg(all(
    test,
    feature = "fs",
    feature = "memory",
    feature = "vault",
    feature = "aws"
))]
mod tests;

/// With the `fs` feature off, `keystore.fs` is a section like any other
/// that this build does not include.
#[cfg(all(
    test,
    not(feature = "fs"),
    not(feature = "vault"),
    not(feature = "gcp"),
    not(feature = "aws")
))]
mod without_fs {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use super::*;

    #[tokio::test]
    async fn the_fs_section_parses_and_is_not_built() {
        let cfg = KeystoreConfig::deserialize(serde_json::json!({"fs": {"path": "k"}})).unwrap();
        let section = "keystore.fs".to_owned();
        assert_eq!(cfg, KeystoreConfig::NotBuilt { section });
        let want =
            "keystore.fs: this keystore is not supported by this build yet (supported: none)";
        assert!(matches!(cfg.check(), Err(Error::Unsupported(m)) if m == want));
        assert!(matches!(open(&cfg).await, Err(Error::Unsupported(m)) if m == want));
    }
}
