//! The Key Vault requests behind each keystore operation (see the module
//! docs of `azure` for the read rule, the race detection and the value
//! encoding).
//!
//! | Operation | Requests |
//! |---|---|
//! | get | `GET /secrets/{name}/` (latest version) |
//! | create | `GET /secrets/{name}/`, `PUT /secrets/{name}`, `GET /secrets/{name}/versions` (paged) |
//! | update | versions (paged), `GET /secrets/{name}/`, `PUT /secrets/{name}`, versions (paged) |
//! | delete | `DELETE /secrets/{name}`, `DELETE /deletedsecrets/{name}` |
//! | list | `GET /secrets` (paged by `nextLink`) |

use std::time::Duration;

use azure_core::base64;
use azure_core::time::OffsetDateTime;
use azure_security_keyvault_secrets::models::{
    Secret, SecretClientListSecretPropertiesVersionsOptions, SetSecretParameters,
};
use azure_security_keyvault_secrets::{ResourceExt, SecretClient};
use futures_util::TryStreamExt;
use zeroize::Zeroizing;

use super::BINARY_CONTENT_TYPE;
use super::error::{Failure, classify, to_error};
use crate::Error;
use crate::paging::ListBudget;

/// Purge attempts while Key Vault still reports the deletion in progress.
const PURGE_ATTEMPTS: u32 = 7;
/// Pause between purge attempts (plus up to as much again at random).
const PURGE_DELAY: Duration = Duration::from_millis(200);
/// Largest page Key Vault serves.
const MAX_RESULTS: i32 = 25;

/// The requests of one keystore.
pub(super) struct Ops<'a> {
    pub(super) client: &'a SecretClient,
}

/// The value stored for `value`: UTF-8 text as is (KES's layout), other
/// bytes base64 with [`BINARY_CONTENT_TYPE`].
fn encode(value: &[u8]) -> (Zeroizing<String>, Option<String>) {
    match std::str::from_utf8(value) {
        Ok(text) => (Zeroizing::new(text.to_owned()), None),
        Err(_) => (
            Zeroizing::new(base64::encode(value)),
            Some(BINARY_CONTENT_TYPE.to_owned()),
        ),
    }
}

/// The bytes of a secret read back (the inverse of [`encode`]).
fn decode(secret: Secret, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let value = Zeroizing::new(secret.value.unwrap_or_default());
    if secret.content_type.as_deref() == Some(BINARY_CONTENT_TYPE) {
        base64::decode(value.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::backend(format!(
                    "azure: failed to read '{name}': the value is not valid base64"
                ))
            })
    } else {
        let mut value = value;
        Ok(Zeroizing::new(std::mem::take(&mut *value).into_bytes()))
    }
}

/// The version of a secret's id (`…/secrets/{name}/{version}`).
fn version_of(secret: &Secret, op: &str, name: &str) -> Result<String, Error> {
    secret
        .resource_id()
        .ok()
        .and_then(|id| id.version)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::backend(format!(
                "azure: failed to {op} '{name}': the answer has no secret version"
            ))
        })
}

/// Refuses a version outside its `nbf`/`exp` window (or disabled, in case
/// the service returned it anyway).
fn check_usable(secret: &Secret, name: &str) -> Result<(), Error> {
    let Some(attrs) = &secret.attributes else {
        return Ok(());
    };
    let now = OffsetDateTime::now_utc();
    if attrs.enabled == Some(false) {
        return Err(Error::backend(format!(
            "azure: failed to read '{name}': the secret is disabled in Azure Key Vault (enable it to use the key)"
        )));
    }
    if let Some(nbf) = attrs.not_before
        && now < nbf
    {
        return Err(Error::backend(format!(
            "azure: failed to read '{name}': the secret is not valid before {nbf} (its activation date in Azure Key Vault)"
        )));
    }
    if let Some(exp) = attrs.expires
        && now >= exp
    {
        return Err(Error::backend(format!(
            "azure: failed to read '{name}': the secret expired at {exp} (its expiration date in Azure Key Vault)"
        )));
    }
    Ok(())
}

impl Ops<'_> {
    /// The latest version's value and version id; [`Error::NotFound`] if
    /// there is no such secret.
    pub(super) async fn current(&self, name: &str) -> Result<(Zeroizing<Vec<u8>>, String), Error> {
        let secret = match self.client.get_secret(name, None).await {
            Ok(resp) => resp.into_model().map_err(|e| to_error(&e, "read", name))?,
            Err(e) => {
                return Err(match classify(&e) {
                    Failure::Missing => Error::NotFound,
                    f => f.into_error("read", name),
                });
            }
        };
        check_usable(&secret, name)?;
        let version = version_of(&secret, "read", name)?;
        Ok((decode(secret, name)?, version))
    }

    /// Adds a version holding `value`; returns its version id. Errors are
    /// returned unclassified.
    async fn set(
        &self,
        name: &str,
        value: &[u8],
    ) -> Result<Result<String, azure_core::Error>, Error> {
        let (text, content_type) = encode(value);
        let params = SetSecretParameters {
            value: Some(text.to_string()),
            content_type,
            ..SetSecretParameters::default()
        };
        let body = params.try_into().map_err(|e: azure_core::Error| {
            Error::backend(format!("azure: failed to encode '{name}': {e}"))
        })?;
        match self.client.set_secret(name, body, None).await {
            Ok(resp) => {
                let secret = resp.into_model().map_err(|e| to_error(&e, "write", name))?;
                Ok(Ok(version_of(&secret, "write", name)?))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// How many versions `name` has (0 if it does not exist).
    async fn count_versions(&self, name: &str) -> Result<usize, Error> {
        let options = SecretClientListSecretPropertiesVersionsOptions {
            maxresults: Some(MAX_RESULTS),
            ..Default::default()
        };
        let mut pages = self
            .client
            .list_secret_properties_versions(name, Some(options))
            .map_err(|e| to_error(&e, "list the versions of", name))?
            .into_pages();
        let mut budget = ListBudget::new("azure");
        let mut count = 0;
        loop {
            let page = match pages.try_next().await {
                Ok(Some(page)) => page.into_model(),
                Ok(None) => return Ok(count),
                Err(e) => Err(e),
            };
            match page {
                Ok(page) => {
                    budget.charge(page.value.len())?;
                    count += page.value.len();
                }
                Err(e) => {
                    return match classify(&e) {
                        Failure::Missing => Ok(0),
                        f => Err(f.into_error("list the versions of", name)),
                    };
                }
            }
        }
    }

    /// Check (must not exist, not even soft-deleted), set, then verify that
    /// no other writer set the name meanwhile.
    pub(super) async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        match self.client.get_secret(name, None).await {
            Ok(_) => return Err(Error::KeyExists),
            Err(e) => match classify(&e) {
                Failure::Missing => {}
                // Disabled, but it exists.
                Failure::Disabled => return Err(Error::KeyExists),
                f => return Err(f.into_error("create", name)),
            },
        }
        if let Err(e) = self.set(name, value).await? {
            return Err(match classify(&e) {
                Failure::Conflict(msg) => {
                    tracing::info!(
                        key = name,
                        detail = %msg,
                        "azure: the name is taken by a soft-deleted secret; recover or purge it to reuse the name"
                    );
                    Error::KeyExists
                }
                f => f.into_error("create", name),
            });
        }
        let versions = self.count_versions(name).await?;
        if versions != 1 {
            tracing::error!(
                key = name,
                versions,
                "azure: another client wrote the secret while it was being created"
            );
            return Err(Error::backend(format!(
                "azure: failed to create '{name}': another client wrote the secret concurrently \
                 ({versions} versions after a create); the outcome is unknown, read the key again"
            )));
        }
        Ok(())
    }

    /// Compare (the current version must be `old`), set, verify.
    pub(super) async fn update(&self, name: &str, old: &[u8], new: &[u8]) -> Result<String, Error> {
        let before = self.count_versions(name).await?;
        if before == 0 {
            return Err(Error::NotFound);
        }
        let (_, current) = self.current(name).await?;
        if current.as_bytes() != old {
            return Err(Error::Conflict);
        }
        let version = match self.set(name, new).await? {
            Ok(v) => v,
            Err(e) => {
                return Err(match classify(&e) {
                    // Deleted since it was read: an update never re-creates.
                    Failure::Conflict(_) => Error::NotFound,
                    f => f.into_error("update", name),
                });
            }
        };
        let after = self.count_versions(name).await?;
        if after != before + 1 {
            tracing::error!(
                key = name,
                before,
                after,
                "azure: another client wrote the secret during a conditional update"
            );
            return Err(Error::backend(format!(
                "azure: failed to update '{name}': another client wrote the secret concurrently \
                 ({before} versions before, {after} after); the outcome is unknown, read the key again"
            )));
        }
        Ok(version)
    }

    /// Soft delete, then purge.
    pub(super) async fn delete(&self, name: &str) -> Result<(), Error> {
        if let Err(e) = self.client.delete_secret(name, None).await {
            return Err(match classify(&e) {
                Failure::Missing => Error::NotFound,
                f => f.into_error("delete", name),
            });
        }
        for attempt in 1..=PURGE_ATTEMPTS {
            let Err(e) = self.client.purge_deleted_secret(name, None).await else {
                return Ok(());
            };
            match classify(&e) {
                Failure::Missing => return Ok(()),
                Failure::Denied(msg) => {
                    tracing::warn!(
                        key = name,
                        detail = %msg,
                        "azure: deleted but not purged (no purge permission or purge protection); the name stays soft-deleted"
                    );
                    return Ok(());
                }
                Failure::Conflict(_) if attempt < PURGE_ATTEMPTS => {
                    let jitter = PURGE_DELAY.mul_f64(rand::random::<f64>());
                    tokio::time::sleep(PURGE_DELAY + jitter).await;
                }
                f => return Err(f.into_error("purge", name)),
            }
        }
        Ok(())
    }

    /// Every secret name in the vault (all pages).
    pub(super) async fn names(&self) -> Result<Vec<String>, Error> {
        let mut pages = self
            .client
            .list_secret_properties(None)
            .map_err(|e| to_error(&e, "list", "secrets"))?
            .into_pages();
        let mut budget = ListBudget::new("azure");
        let mut names = Vec::new();
        while let Some(page) = pages
            .try_next()
            .await
            .map_err(|e| to_error(&e, "list", "secrets"))?
        {
            let page = page
                .into_model()
                .map_err(|e| to_error(&e, "list", "secrets"))?;
            budget.charge(page.value.len())?;
            for item in page.value {
                match item.resource_id() {
                    Ok(id) => names.push(id.name),
                    Err(e) => {
                        return Err(Error::backend(format!(
                            "azure: failed to list secrets: an item has no valid id: {e}"
                        )));
                    }
                }
            }
        }
        Ok(names)
    }
}
