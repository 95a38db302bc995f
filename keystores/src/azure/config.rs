//! The `keystore.azure.keyvault` section of a KES config and its validated
//! form, [`AzureConfig`].
//!
//! # Layout
//! - `Section` (and its sub-sections): the YAML shape, every field optional,
//!   unknown fields ignored (as KES does);
//! - [`AzureConfig`], [`Credential`]: the validated settings the backend opens.
//!
//! # Fields
//! KES's own: `endpoint` (required, the vault URL), `credentials:
//! {tenant_id, client_id, client_secret}` (an Entra ID app registration) or
//! `managed_identity: {client_id}` (a user-assigned managed identity).
//!
//! Our extensions (KES has no such fields; a KES config without them means
//! exactly what it means to KES):
//! - `tls: {ca}`: a PEM CA file or a directory of them, trusted instead of
//!   the system roots for the vault *and* the token endpoint (a private
//!   proxy, a test server);
//! - `authority_host`: the Entra ID authority for `credentials`, default
//!   `https://login.microsoftonline.com` (sovereign clouds, e.g.
//!   `https://login.microsoftonline.us`, or a test server);
//! - `verify_challenge_resource` (default `true`): the Key Vault client only
//!   sends a token to a vault whose host is a sub-domain of the resource
//!   named in the vault's `WWW-Authenticate` challenge. Turn it off only for
//!   a vault reached under another name (a private endpoint alias, a test
//!   server on `127.0.0.1`).
//!
//! KES falls back to Azure's default credential chain when neither
//! credential section is given; the Rust `azure_identity` 1.x has no such
//! chain, so we refuse the section with a clear error instead.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::secret::Secret;
use crate::text::Text;

/// The public Entra ID authority.
pub(crate) const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The `keystore.azure.keyvault` section as written in the YAML file (the
/// value of `azure:`: `{keyvault: {...}}`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Service {
    keyvault: Option<Section>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct Section {
    endpoint: Option<Text>,
    credentials: Option<CredentialsSection>,
    managed_identity: Option<ManagedIdentitySection>,
    tls: Option<TlsSection>,
    authority_host: Option<Text>,
    verify_challenge_resource: Option<bool>,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct CredentialsSection {
    tenant_id: Option<Text>,
    client_id: Option<Text>,
    client_secret: Option<Text>,
}

impl fmt::Debug for CredentialsSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsSection").finish_non_exhaustive()
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ManagedIdentitySection {
    client_id: Option<Text>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct TlsSection {
    ca: Option<Text>,
}

/// How the backend gets its Entra ID token.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// `credentials`: client-credentials grant of an app registration.
    ClientSecret {
        /// Directory (tenant) ID.
        tenant_id: String,
        /// Application (client) ID.
        client_id: String,
        /// The client secret (never shown by `Debug`).
        secret: Secret,
    },
    /// `managed_identity`: the user-assigned identity with this client ID.
    ManagedIdentity {
        /// Client ID of the identity.
        client_id: String,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => f
                .debug_struct("ClientSecret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Credential::ManagedIdentity { client_id } => f
                .debug_struct("ManagedIdentity")
                .field("client_id", client_id)
                .finish(),
        }
    }
}

/// The validated `keystore.azure.keyvault` section (opaque: build it by
/// deserializing a [`KeystoreConfig`](crate::KeystoreConfig), open it with
/// [`open`](crate::open)). `Debug` never shows the client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// `https://<vault>.vault.azure.net` (no trailing `/`).
    pub(crate) endpoint: String,
    /// The token source.
    pub(crate) credential: Credential,
    /// Extension `tls.ca`: trusted CAs instead of the system roots.
    pub(crate) ca: Option<PathBuf>,
    /// Extension `authority_host` (no trailing `/`).
    pub(crate) authority_host: String,
    /// Extension `verify_challenge_resource`.
    pub(crate) verify_challenge_resource: bool,
}

impl AzureConfig {
    /// Makes a relative `tls.ca` absolute by joining it to `base`.
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        if let Some(ca) = &mut self.ca
            && ca.is_relative()
        {
            *ca = base.join(&*ca);
        }
    }
}

/// A trimmed non-empty text field.
fn text(t: &Option<Text>) -> Option<String> {
    t.as_ref().and_then(Text::non_empty).map(str::to_owned)
}

/// Checks that `url` is an `https` URL with a host; `field` names it.
fn https_url(url: &str, field: &str) -> Result<String, String> {
    let url = url.trim_end_matches('/').to_owned();
    match reqwest::Url::parse(&url) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(url),
        Ok(_) => Err(format!(
            "keystore.azure.keyvault.{field}: invalid URL '{url}': not an https URL"
        )),
        Err(e) => Err(format!(
            "keystore.azure.keyvault.{field}: invalid URL '{url}': {e}"
        )),
    }
}

impl Service {
    /// Validates the section: `None` if `keyvault` is absent or null (the
    /// caller reports the section as not built / empty).
    pub(crate) fn into_config(self) -> Option<Result<AzureConfig, String>> {
        self.keyvault.map(Section::into_config)
    }
}

impl Section {
    fn into_config(self) -> Result<AzureConfig, String> {
        let endpoint = text(&self.endpoint)
            .ok_or("keystore.azure.keyvault.endpoint: no endpoint specified")?;
        let endpoint = https_url(&endpoint, "endpoint")?;
        let creds = self.credentials.unwrap_or_default();
        let (tenant_id, client_id, secret) = (
            text(&creds.tenant_id),
            text(&creds.client_id),
            text(&creds.client_secret),
        );
        let any_creds = tenant_id.is_some() || client_id.is_some() || secret.is_some();
        let identity = self.managed_identity.and_then(|m| text(&m.client_id));
        let credential = match (any_creds, identity) {
            (true, Some(_)) => {
                return Err(
                    "keystore.azure.keyvault: more than one authentication method specified"
                        .to_owned(),
                );
            }
            (true, None) => Credential::ClientSecret {
                tenant_id: tenant_id.ok_or(
                    "keystore.azure.keyvault.credentials.tenant_id: no tenant ID specified",
                )?,
                client_id: client_id.ok_or(
                    "keystore.azure.keyvault.credentials.client_id: no client ID specified",
                )?,
                secret: Secret::new(secret.ok_or(
                    "keystore.azure.keyvault.credentials.client_secret: no client secret specified",
                )?),
            },
            (false, Some(client_id)) => Credential::ManagedIdentity { client_id },
            (false, None) => {
                return Err(
                    "keystore.azure.keyvault: no authentication method specified \
                            (credentials or managed_identity; this build has no default \
                            Azure credential chain)"
                        .to_owned(),
                );
            }
        };
        let authority_host = match text(&self.authority_host) {
            None => DEFAULT_AUTHORITY.to_owned(),
            Some(a) => https_url(&a, "authority_host")?,
        };
        Ok(AzureConfig {
            endpoint,
            credential,
            ca: self.tls.and_then(|t| text(&t.ca)).map(PathBuf::from),
            authority_host,
            verify_challenge_resource: self.verify_challenge_resource.unwrap_or(true),
        })
    }
}
