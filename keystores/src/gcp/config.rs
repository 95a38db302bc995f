//! The `keystore.gcp.secretmanager` section of a KES config and its
//! validated form, [`GcpConfig`].
//!
//! # Layout
//! - `Section`, `SecretManagerSection`, `CredentialsSection`: the YAML
//!   shape KES reads, every field optional, unknown fields ignored;
//! - [`GcpConfig`], [`ServiceAccount`]: the validated settings the backend
//!   opens;
//! - the private key is a [`crate::secret::Secret`] (zeroizing, never shown by `Debug`).
//!
//! Validation follows KES: `project_id` is required; `endpoint` defaults to
//! `secretmanager.googleapis.com:443`; `scopes` default to
//! `https://www.googleapis.com/auth/cloud-platform`; `credentials` either
//! all empty (then the Google default credentials of the environment are
//! used: `GOOGLE_APPLICATION_CREDENTIALS`, the metadata server, …) or a
//! service-account key with at least `client_email` and `private_key`.
//! Messages name the field (`keystore.gcp.secretmanager.…: …`).

use std::fmt;

use crate::secret::Secret;
use crate::text::Text;

/// The section's name in messages.
const SECTION: &str = "keystore.gcp.secretmanager";
/// KES's default endpoint (a gRPC `host:port`).
pub(crate) const DEFAULT_ENDPOINT: &str = "secretmanager.googleapis.com:443";
/// The OAuth2 scope used when `scopes` is empty.
pub(crate) const DEFAULT_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// `keystore.gcp` as written in the YAML file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Section {
    secretmanager: Option<SecretManagerSection>,
}

/// `keystore.gcp.secretmanager`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct SecretManagerSection {
    project_id: Option<Text>,
    endpoint: Option<Text>,
    scopes: Option<Vec<Text>>,
    credentials: Option<CredentialsSection>,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct CredentialsSection {
    client_email: Option<Text>,
    client_id: Option<Text>,
    private_key_id: Option<Text>,
    private_key: Option<Text>,
}

impl fmt::Debug for CredentialsSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsSection").finish_non_exhaustive()
    }
}

/// A service-account key from `credentials:` (the fields of Google's JSON
/// key file that KES reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceAccount {
    /// `client_email`: the account, issuer and subject of its tokens.
    pub(crate) client_email: String,
    /// `client_id`: parsed for KES compatibility; not needed to sign.
    pub(crate) client_id: String,
    /// `private_key_id`: the `kid` of the signed tokens (may be empty).
    pub(crate) private_key_id: String,
    /// `private_key`: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub(crate) private_key: Secret,
}

/// The validated `keystore.gcp.secretmanager` section (opaque: build it by
/// deserializing a [`KeystoreConfig`](crate::KeystoreConfig), open it with
/// [`open`](crate::open)).
///
/// `Debug` never shows the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpConfig {
    /// The project holding the secrets.
    pub(crate) project_id: String,
    /// `https://host[:port]` of the Secret Manager REST API.
    pub(crate) endpoint: String,
    /// OAuth2 scopes of the access tokens.
    pub(crate) scopes: Vec<String>,
    /// A service-account key, or `None` for the default credentials.
    pub(crate) credentials: Option<ServiceAccount>,
}

/// A trimmed non-empty text field.
fn text(t: &Option<Text>) -> Option<String> {
    t.as_ref().and_then(Text::non_empty).map(str::to_owned)
}

/// KES's endpoint (`host:port`, gRPC style) as the URL of the REST API: a
/// value without a scheme gets `https://`; a trailing `/` is dropped.
fn endpoint_url(endpoint: &str) -> Result<String, String> {
    let url = if endpoint.contains("://") {
        endpoint.trim_end_matches('/').to_owned()
    } else {
        format!("https://{}", endpoint.trim_end_matches('/'))
    };
    match reqwest::Url::parse(&url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/" =>
        {
            Ok(url)
        }
        Ok(_) => Err(format!(
            "{SECTION}.endpoint: invalid endpoint '{endpoint}': not a host:port or an http(s) URL without a path"
        )),
        Err(e) => Err(format!(
            "{SECTION}.endpoint: invalid endpoint '{endpoint}': {e}"
        )),
    }
}

impl Section {
    /// Validates the section.
    pub(crate) fn into_config(self) -> Result<GcpConfig, String> {
        let sm = self.secretmanager.unwrap_or_default();
        let project_id =
            text(&sm.project_id).ok_or(format!("{SECTION}.project_id: no project ID specified"))?;
        if project_id.contains('/') {
            return Err(format!(
                "{SECTION}.project_id: invalid project ID '{project_id}'"
            ));
        }
        let endpoint =
            endpoint_url(&text(&sm.endpoint).unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()))?;
        let mut scopes: Vec<String> = sm
            .scopes
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.non_empty().map(str::to_owned))
            .collect();
        if scopes.is_empty() {
            scopes.push(DEFAULT_SCOPE.to_owned());
        }
        let credentials = match sm.credentials {
            None => None,
            Some(c) => {
                let fields = [
                    &c.client_email,
                    &c.client_id,
                    &c.private_key_id,
                    &c.private_key,
                ];
                if fields.iter().all(|f| text(f).is_none()) {
                    None
                } else {
                    Some(ServiceAccount {
                        client_email: text(&c.client_email).ok_or(format!(
                            "{SECTION}.credentials.client_email: no client email specified"
                        ))?,
                        client_id: text(&c.client_id).unwrap_or_default(),
                        private_key_id: text(&c.private_key_id).unwrap_or_default(),
                        private_key: Secret::new(text(&c.private_key).ok_or(format!(
                            "{SECTION}.credentials.private_key: no private key specified"
                        ))?),
                    })
                }
            }
        };
        Ok(GcpConfig {
            project_id,
            endpoint,
            scopes,
            credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use serde_json::json;

    use super::*;

    fn parse(v: serde_json::Value) -> Result<GcpConfig, String> {
        serde_json::from_value::<Section>(v)
            .map_err(|e| e.to_string())?
            .into_config()
    }

    #[test]
    fn defaults_and_kes_fields() {
        let cfg = parse(json!({"secretmanager": {"project_id": "p1"}})).unwrap();
        assert_eq!(cfg.project_id, "p1");
        assert_eq!(cfg.endpoint, "https://secretmanager.googleapis.com:443");
        assert_eq!(cfg.scopes, [DEFAULT_SCOPE]);
        assert_eq!(cfg.credentials, None);

        let cfg = parse(json!({"secretmanager": {
            "project_id": "p1",
            "endpoint": "https://127.0.0.1:8443/",
            "scopes": ["a", " ", "b"],
            "credentials": {
                "client_email": "kes@p1.iam.gserviceaccount.com",
                "client_id": "123",
                "private_key_id": "abc",
                "private_key": "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n",
            },
            "unknown": 1,
        }}))
        .unwrap();
        assert_eq!(cfg.endpoint, "https://127.0.0.1:8443");
        assert_eq!(cfg.scopes, ["a", "b"]);
        let sa = cfg.credentials.clone().unwrap();
        assert_eq!(sa.client_email, "kes@p1.iam.gserviceaccount.com");
        assert_eq!(sa.client_id, "123");
        assert_eq!(sa.private_key_id, "abc");
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");

        let empty = parse(json!({"secretmanager": {"project_id": "p",
            "credentials": {"client_email": "", "private_key": " "}}}))
        .unwrap();
        assert_eq!(
            empty.credentials, None,
            "all-empty credentials = default credentials"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                json!({}),
                "keystore.gcp.secretmanager.project_id: no project ID specified",
            ),
            (
                json!({"secretmanager": {"project_id": " "}}),
                "keystore.gcp.secretmanager.project_id: no project ID specified",
            ),
            (
                json!({"secretmanager": {"project_id": "a/b"}}),
                "keystore.gcp.secretmanager.project_id: invalid project ID 'a/b'",
            ),
            (
                json!({"secretmanager": {"project_id": "p", "credentials": {"private_key": "k"}}}),
                "keystore.gcp.secretmanager.credentials.client_email: no client email specified",
            ),
            (
                json!({"secretmanager": {"project_id": "p", "credentials": {"client_email": "e"}}}),
                "keystore.gcp.secretmanager.credentials.private_key: no private key specified",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input.clone()).unwrap_err(), want, "{input}");
        }
        let err = parse(json!({"secretmanager": {"project_id": "p", "endpoint": "https://h/x"}}))
            .unwrap_err();
        assert!(
            err.starts_with("keystore.gcp.secretmanager.endpoint: invalid endpoint 'https://h/x'"),
            "{err}"
        );
    }
}
