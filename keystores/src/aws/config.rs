//! The `keystore.aws.secretsmanager` section of a KES config and its
//! validated form, [`AwsConfig`].
//!
//! # Layout
//! - `Section` / `SecretsManagerSection` / `CredentialsSection`: the YAML
//!   shape KES reads (`aws: { secretsmanager: { endpoint, region, kmskey,
//!   credentials: { accesskey, secretkey, token } } }`), every field
//!   optional, unknown fields ignored;
//! - [`AwsConfig`], `StaticCredentials`: the validated settings;
//! - credentials are [`crate::secret::Secret`]s (zeroizing, never shown by `Debug`).
//!
//! Validation follows KES: `endpoint` and `region` are required; with both
//! `accesskey` and `secretkey` empty the default AWS credential chain is
//! used (environment, shared config and credentials files, web identity,
//! ECS / EC2 instance roles), otherwise both are required and `token` is the
//! optional session token. An endpoint without a scheme gets `https://`, as
//! KES's Go SDK does (`secretsmanager.us-east-2.amazonaws.com`).

use std::fmt;

use crate::secret::Secret;
use crate::text::Text;

/// The `keystore.aws` map: the service sections under it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Section {
    secretsmanager: Option<SecretsManagerSection>,
}

/// `keystore.aws.secretsmanager` as written in the YAML file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct SecretsManagerSection {
    endpoint: Option<Text>,
    region: Option<Text>,
    kmskey: Option<Text>,
    credentials: Option<CredentialsSection>,
}

/// `keystore.aws.secretsmanager.credentials`.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct CredentialsSection {
    accesskey: Option<Text>,
    secretkey: Option<Text>,
    token: Option<Text>,
}

impl fmt::Debug for CredentialsSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsSection").finish_non_exhaustive()
    }
}

/// Credentials written in the config file (`credentials:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaticCredentials {
    /// `accesskey`: the access key ID (not secret).
    pub(crate) access_key: String,
    /// `secretkey`.
    pub(crate) secret_key: Secret,
    /// `token`: a session token, for temporary credentials.
    pub(crate) token: Option<Secret>,
}

/// A validated `keystore.aws.secretsmanager` section.
///
/// `Debug` shows the endpoint, region, KMS key and access key ID, never the
/// secret key or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The Secrets Manager endpoint URL (`https://` added when the section
    /// gives a bare host).
    pub(crate) endpoint: String,
    /// The AWS region the requests are signed for.
    pub(crate) region: String,
    /// `kmskey`: the KMS key (ID, ARN or alias) new secrets are encrypted
    /// under; `None` = the account's default `aws/secretsmanager` key.
    pub(crate) kms_key: Option<String>,
    /// `None` = the default AWS credential chain.
    pub(crate) credentials: Option<StaticCredentials>,
}

const SECTION: &str = "keystore.aws.secretsmanager";

fn text(t: &Option<Text>) -> Option<String> {
    t.as_ref().and_then(Text::non_empty).map(str::to_owned)
}

impl Section {
    /// The validated config, `None` when the `secretsmanager` entry is
    /// absent or null (no AWS keystore selected), or a message naming the
    /// field that is wrong.
    pub(crate) fn into_config(self) -> Option<Result<AwsConfig, String>> {
        self.secretsmanager.map(SecretsManagerSection::into_config)
    }
}

impl SecretsManagerSection {
    fn into_config(self) -> Result<AwsConfig, String> {
        let endpoint = text(&self.endpoint)
            .ok_or_else(|| format!("{SECTION}.endpoint: no endpoint specified"))?;
        let endpoint = endpoint_url(&endpoint)?;
        let region =
            text(&self.region).ok_or_else(|| format!("{SECTION}.region: no region specified"))?;
        let credentials = match self.credentials {
            None => None,
            Some(c) => match (text(&c.accesskey), text(&c.secretkey)) {
                (None, None) => None,
                (Some(_), None) => {
                    return Err(format!(
                        "{SECTION}.credentials.secretkey: no secret key specified"
                    ));
                }
                (None, Some(_)) => {
                    return Err(format!(
                        "{SECTION}.credentials.accesskey: no access key specified"
                    ));
                }
                (Some(access_key), Some(secret_key)) => Some(StaticCredentials {
                    access_key,
                    secret_key: Secret::new(secret_key),
                    token: text(&c.token).map(Secret::new),
                }),
            },
        };
        Ok(AwsConfig {
            endpoint,
            region,
            kms_key: text(&self.kmskey),
            credentials,
        })
    }
}

/// `https://<host>` for a bare host, the URL itself for `http(s)://…`;
/// anything else is an error naming the field.
fn endpoint_url(endpoint: &str) -> Result<String, String> {
    let url = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("https://{endpoint}")
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') && !host.contains(' ') => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "{SECTION}.endpoint: invalid endpoint '{endpoint}': not an http(s) URL"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use serde::Deserialize as _;
    use serde_json::json;

    use super::*;

    fn parse(v: serde_json::Value) -> Result<AwsConfig, String> {
        Section::deserialize(v).unwrap().into_config().unwrap()
    }

    #[test]
    fn a_full_section_is_read_as_kes_reads_it() {
        let cfg = parse(json!({"secretsmanager": {
            "endpoint": "secretsmanager.us-east-2.amazonaws.com",
            "region": "us-east-2",
            "kmskey": "alias/kes",
            "credentials": {"accesskey": "AKIA1", "secretkey": "s3cr3t", "token": "tok"},
            "unknown": 1,
        }}))
        .unwrap();
        assert_eq!(
            cfg.endpoint,
            "https://secretsmanager.us-east-2.amazonaws.com"
        );
        assert_eq!(cfg.region, "us-east-2");
        assert_eq!(cfg.kms_key.as_deref(), Some("alias/kes"));
        let creds = cfg.credentials.as_ref().unwrap();
        assert_eq!(creds.access_key, "AKIA1");
        assert_eq!(creds.secret_key.expose(), "s3cr3t");
        assert_eq!(creds.token.as_ref().map(Secret::expose), Some("tok"));
        let debug = format!("{cfg:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("tok\""),
            "{debug}"
        );
    }

    #[test]
    fn empty_credentials_select_the_default_chain() {
        for creds in [
            json!(null),
            json!({}),
            json!({"accesskey": "", "secretkey": " "}),
        ] {
            let cfg = parse(json!({"secretsmanager": {
                "endpoint": "http://127.0.0.1:4566/", "region": "us-east-1", "credentials": creds,
            }}))
            .unwrap();
            assert_eq!(cfg.credentials, None);
            assert_eq!(cfg.endpoint, "http://127.0.0.1:4566");
            assert_eq!(cfg.kms_key, None);
        }
    }

    #[test]
    fn missing_or_bad_fields_are_named() {
        let cases = [
            (
                json!({"region": "r"}),
                "keystore.aws.secretsmanager.endpoint: no endpoint specified",
            ),
            (
                json!({"endpoint": "e"}),
                "keystore.aws.secretsmanager.region: no region specified",
            ),
            (
                json!({"endpoint": "e", "region": "r", "credentials": {"accesskey": "a"}}),
                "keystore.aws.secretsmanager.credentials.secretkey: no secret key specified",
            ),
            (
                json!({"endpoint": "e", "region": "r", "credentials": {"secretkey": "s"}}),
                "keystore.aws.secretsmanager.credentials.accesskey: no access key specified",
            ),
            (
                json!({"endpoint": "ftp://x", "region": "r"}),
                "keystore.aws.secretsmanager.endpoint: invalid endpoint 'ftp://x': not an http(s) URL",
            ),
        ];
        for (section, want) in cases {
            let got = parse(json!({ "secretsmanager": section.clone() })).unwrap_err();
            assert_eq!(got, want, "{section}");
        }
        assert!(
            Section::deserialize(json!({"secretsmanager": null}))
                .unwrap()
                .into_config()
                .is_none()
        );
    }
}
