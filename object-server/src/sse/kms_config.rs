//! KMS configuration from MinIO's environment variables (object-sse.md §1.1), with MinIO's
//! validation messages, and the KES client built from it.
//!
//! Only the KES family (`MINIO_KMS_KES_*`) is supported; the static-key family
//! (`MINIO_KMS_SECRET_KEY[_FILE]`) and MinIO KMS (`MINIO_KMS_SERVER`, …) are refused with a
//! clear message. `MINIO_KMS_AUTO_ENCRYPTION=on` makes requests without SSE headers in buckets
//! without a default encryption SSE-KMS with the default key.

use std::path::{Path, PathBuf};

use super::kms::Kms;

/// `MINIO_KMS_KES_ENDPOINT`
pub const ENV_ENDPOINT: &str = "MINIO_KMS_KES_ENDPOINT";
/// `MINIO_KMS_KES_KEY_NAME`
pub const ENV_KEY_NAME: &str = "MINIO_KMS_KES_KEY_NAME";
/// `MINIO_KMS_KES_API_KEY`
pub const ENV_API_KEY: &str = "MINIO_KMS_KES_API_KEY";
/// `MINIO_KMS_KES_KEY_FILE`
pub const ENV_KEY_FILE: &str = "MINIO_KMS_KES_KEY_FILE";
/// `MINIO_KMS_KES_CERT_FILE`
pub const ENV_CERT_FILE: &str = "MINIO_KMS_KES_CERT_FILE";
/// `MINIO_KMS_KES_KEY_PASSWORD`
pub const ENV_KEY_PASSWORD: &str = "MINIO_KMS_KES_KEY_PASSWORD";
/// `MINIO_KMS_KES_CAPATH`
pub const ENV_CAPATH: &str = "MINIO_KMS_KES_CAPATH";
/// `MINIO_KMS_AUTO_ENCRYPTION`
pub const ENV_AUTO_ENCRYPTION: &str = "MINIO_KMS_AUTO_ENCRYPTION";

const KES_VARS: [&str; 7] = [
    ENV_ENDPOINT,
    ENV_KEY_NAME,
    ENV_API_KEY,
    ENV_KEY_FILE,
    ENV_CERT_FILE,
    ENV_KEY_PASSWORD,
    ENV_CAPATH,
];
const STATIC_VARS: [&str; 2] = ["MINIO_KMS_SECRET_KEY", "MINIO_KMS_SECRET_KEY_FILE"];
const MINIO_KMS_VARS: [&str; 4] = [
    "MINIO_KMS_SERVER",
    "MINIO_KMS_ENCLAVE",
    "MINIO_KMS_SSE_KEY",
    "MINIO_KMS_API_KEY",
];

/// How the object server authenticates to KES.
#[derive(Debug, Clone)]
pub enum KesAuth {
    /// `MINIO_KMS_KES_API_KEY` (a certificate is derived from it).
    ApiKey(client::ApiKey),
    /// `MINIO_KMS_KES_CERT_FILE` + `MINIO_KMS_KES_KEY_FILE`.
    Files {
        /// Client certificate (PEM).
        cert: PathBuf,
        /// Private key (PEM, unencrypted).
        key: PathBuf,
    },
}

/// A validated KES configuration.
#[derive(Debug, Clone)]
pub struct KmsConfig {
    /// Endpoints after comma splitting and ellipsis expansion.
    pub endpoints: Vec<String>,
    /// The default key (EK for SSE-S3 and SSE-KMS without key id).
    pub key_name: String,
    /// Client authentication.
    pub auth: KesAuth,
    /// CA file or directory trusted for the KES server certificate, if it exists.
    pub ca_path: Option<PathBuf>,
}

/// The KMS part of the server configuration.
#[derive(Debug, Clone, Default)]
pub struct KmsSettings {
    /// The KES configuration, when one is given.
    pub kes: Option<KmsConfig>,
    /// `MINIO_KMS_AUTO_ENCRYPTION=on`.
    pub auto_encryption: bool,
}

fn present(lookup: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> bool {
    names.iter().any(|n| lookup(n).is_some())
}

/// Expands MinIO ellipsis patterns `{a...b}` (decimal, zero padding kept) in one endpoint.
fn expand(item: &str) -> Result<Vec<String>, String> {
    let Some(open) = item.find('{') else {
        return Ok(vec![item.to_owned()]);
    };
    let close = item[open..]
        .find('}')
        .map(|c| open + c)
        .ok_or_else(|| format!("invalid endpoint pattern '{item}'"))?;
    let inner = &item[open + 1..close];
    let (a, b) = inner
        .split_once("...")
        .ok_or_else(|| format!("invalid endpoint pattern '{item}'"))?;
    let (start, end): (u64, u64) = match (a.parse(), b.parse()) {
        (Ok(s), Ok(e)) if s <= e && e - s < 1024 => (s, e),
        _ => return Err(format!("invalid endpoint pattern '{item}'")),
    };
    let width = if a.starts_with('0') && a.len() > 1 {
        a.len()
    } else {
        0
    };
    let mut out = Vec::new();
    for n in start..=end {
        let rest = format!("{}{:0width$}{}", &item[..open], n, &item[close + 1..]);
        out.extend(expand(&rest)?);
    }
    Ok(out)
}

impl KmsSettings {
    /// Reads the KMS variables through `lookup`. `certs_dir` gives the default CA directory
    /// (`<certs>/CAs`). Errors carry MinIO's messages.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
        certs_dir: Option<&Path>,
    ) -> Result<Self, String> {
        let auto_encryption = match lookup(ENV_AUTO_ENCRYPTION).as_deref().map(str::trim) {
            None | Some("") => false,
            Some(v)
                if ["on", "true", "enable", "enabled", "1"]
                    .contains(&v.to_ascii_lowercase().as_str()) =>
            {
                true
            }
            Some(v)
                if ["off", "false", "disable", "disabled", "0"]
                    .contains(&v.to_ascii_lowercase().as_str()) =>
            {
                false
            }
            Some(v) => {
                return Err(format!(
                    "invalid value '{v}' for {ENV_AUTO_ENCRYPTION}: use on or off"
                ));
            }
        };
        let kes = present(lookup, &KES_VARS);
        let stat = present(lookup, &STATIC_VARS);
        let minio = present(lookup, &MINIO_KMS_VARS);
        if kes && stat {
            return Err("kms: configuration for MinIO KES and static KMS key is present".into());
        }
        if kes && minio {
            return Err("kms: configuration for MinIO KES and MinIO KMS is present".into());
        }
        if stat {
            return Err(
                "kms: the static KMS key (MINIO_KMS_SECRET_KEY) is not supported; configure KES with MINIO_KMS_KES_*"
                    .into(),
            );
        }
        if minio {
            return Err("kms: MinIO KMS (MINIO_KMS_SERVER) is not supported; configure KES with MINIO_KMS_KES_*".into());
        }
        if !kes {
            if auto_encryption {
                return Err(format!(
                    "{ENV_AUTO_ENCRYPTION} requires a valid KMS configuration"
                ));
            }
            return Ok(Self::default());
        }
        let mut endpoints = Vec::new();
        for item in lookup(ENV_ENDPOINT).unwrap_or_default().split(',') {
            let item = item.trim();
            if !item.is_empty() {
                endpoints.extend(expand(item).map_err(|e| format!("kms: {e}"))?);
            }
        }
        if endpoints.is_empty() {
            return Err(format!(
                "kms: incomplete configuration for MinIO KES: missing '{ENV_ENDPOINT}'"
            ));
        }
        let key_name = lookup(ENV_KEY_NAME).unwrap_or_default();
        if key_name.is_empty() {
            return Err(format!(
                "kms: incomplete configuration for MinIO KES: missing '{ENV_KEY_NAME}'"
            ));
        }
        let api_key = lookup(ENV_API_KEY).filter(|v| !v.is_empty());
        let key_file = lookup(ENV_KEY_FILE).filter(|v| !v.is_empty());
        let cert_file = lookup(ENV_CERT_FILE).filter(|v| !v.is_empty());
        let auth = match (api_key, key_file, cert_file) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(format!(
                    "kms: invalid configuration for MinIO KES: '{ENV_API_KEY}' and client certificate is present"
                ));
            }
            (Some(k), None, None) => KesAuth::ApiKey(client::ApiKey::parse(&k).map_err(|e| {
                format!("kms: invalid configuration for MinIO KES: {ENV_API_KEY}: {e}")
            })?),
            (None, Some(key), Some(cert)) => {
                if lookup(ENV_KEY_PASSWORD).is_some_and(|p| !p.is_empty()) {
                    return Err(format!(
                        "kms: {ENV_KEY_PASSWORD}: encrypted private keys are not supported; decrypt the key file"
                    ));
                }
                KesAuth::Files {
                    cert: PathBuf::from(cert),
                    key: PathBuf::from(key),
                }
            }
            (None, _, _) => {
                return Err(
                    "kms: incomplete configuration for MinIO KES: missing authentication method"
                        .into(),
                );
            }
        };
        let ca_path = match lookup(ENV_CAPATH).filter(|v| !v.is_empty()) {
            Some(p) => Some(PathBuf::from(p)),
            None => certs_dir.map(|d| d.join("CAs")),
        }
        .filter(|p| p.exists());
        Ok(Self {
            kes: Some(KmsConfig {
                endpoints,
                key_name,
                auth,
                ca_path,
            }),
            auto_encryption,
        })
    }
}

impl KmsConfig {
    /// Builds the KES client (no network I/O).
    pub fn connect(&self) -> Result<Kms, String> {
        let build = |endpoints: &[String], retries: u32| {
            let mut b = client::Client::builder()
                .endpoints(endpoints.iter().cloned())
                .max_retries(retries);
            b = match &self.auth {
                KesAuth::ApiKey(k) => b.api_key(k.clone()),
                KesAuth::Files { cert, key } => b.identity_files(cert, key),
            };
            if let Some(ca) = &self.ca_path {
                // MinIO: the system roots plus these files.
                b = b.ca_file(ca).keep_system_roots(true);
            }
            b.build().map_err(|e| format!("kms: {e}"))
        };
        let client = build(&self.endpoints, client::client::DEFAULT_MAX_RETRIES)?;
        let single = self
            .endpoints
            .iter()
            .map(|e| Ok((e.clone(), build(std::slice::from_ref(e), 0)?)))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Kms::new(client, &self.key_name, single))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<KmsSettings, String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        KmsSettings::from_lookup(&|k| m.get(k).cloned(), None)
    }

    const API_KEY: &str = "kes:v1:ACoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioq";

    #[test]
    fn minio_messages() {
        assert!(settings(&[]).unwrap().kes.is_none());
        assert_eq!(
            settings(&[(ENV_KEY_NAME, "k"), (ENV_API_KEY, API_KEY)]).unwrap_err(),
            "kms: incomplete configuration for MinIO KES: missing 'MINIO_KMS_KES_ENDPOINT'"
        );
        assert_eq!(
            settings(&[(ENV_ENDPOINT, "https://a:7373"), (ENV_API_KEY, API_KEY)]).unwrap_err(),
            "kms: incomplete configuration for MinIO KES: missing 'MINIO_KMS_KES_KEY_NAME'"
        );
        assert_eq!(
            settings(&[
                (ENV_ENDPOINT, "https://a:7373"),
                (ENV_KEY_NAME, "k"),
                (ENV_API_KEY, API_KEY),
                (ENV_CERT_FILE, "c.pem"),
            ])
            .unwrap_err(),
            "kms: invalid configuration for MinIO KES: 'MINIO_KMS_KES_API_KEY' and client certificate is present"
        );
        assert_eq!(
            settings(&[(ENV_ENDPOINT, "https://a:7373"), (ENV_KEY_NAME, "k")]).unwrap_err(),
            "kms: incomplete configuration for MinIO KES: missing authentication method"
        );
        assert_eq!(
            settings(&[(ENV_ENDPOINT, "a"), ("MINIO_KMS_SECRET_KEY", "x")]).unwrap_err(),
            "kms: configuration for MinIO KES and static KMS key is present"
        );
        assert_eq!(
            settings(&[(ENV_AUTO_ENCRYPTION, "on")]).unwrap_err(),
            "MINIO_KMS_AUTO_ENCRYPTION requires a valid KMS configuration"
        );
    }

    #[test]
    fn endpoints_split_and_expand() {
        let s = settings(&[
            (
                ENV_ENDPOINT,
                " https://kes{1...3}.example.net:7373 ,, https://b:7373/,",
            ),
            (ENV_KEY_NAME, "k"),
            (ENV_API_KEY, API_KEY),
            (ENV_CAPATH, "/nonexistent/ca.pem"),
            (ENV_AUTO_ENCRYPTION, "on"),
        ])
        .unwrap();
        let kes = s.kes.unwrap();
        assert_eq!(
            kes.endpoints,
            [
                "https://kes1.example.net:7373",
                "https://kes2.example.net:7373",
                "https://kes3.example.net:7373",
                "https://b:7373/"
            ]
        );
        assert!(kes.ca_path.is_none(), "a missing CA path is ignored");
        assert!(s.auto_encryption);
        assert_eq!(expand("h{08...10}").unwrap(), ["h08", "h09", "h10"]);
        assert!(expand("h{3...1}").is_err());
        let kms = kes.connect().unwrap();
        assert_eq!(kms.default_key(), "k");
    }
}
