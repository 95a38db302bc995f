//! The keystore operations on Secret Manager secrets and versions.
//!
//! # Which version holds the value
//! The secret annotation `kes-version` names the version holding the
//! current value; without it (every key KES wrote, every key created and
//! never updated here) that is version `1`. A read is two calls: get the
//! secret (its annotations and `etag`), then access that version.
//!
//! # Create
//! `secrets.create` (`secretId` = name, automatic replication) fails with
//! `ALREADY_EXISTS` if the name is taken ([`Error::KeyExists`]; Secret
//! Manager decides, so of concurrent creates from any number of servers
//! exactly one wins). The winner then adds version 1 with the value. If that
//! fails, it deletes the secret again (guarded by the etag it got from the
//! create, so nothing anybody else changed is deleted) and reports the
//! error. **Rule for a half-written key:** a secret without the version its
//! annotation names (a create interrupted between the two calls, e.g. a
//! crash, or a failed add whose clean-up failed too) is not a key: reads
//! answer [`Error::NotFound`]. It still holds the name, so a create answers
//! [`Error::KeyExists`] and list shows it, until it is deleted (delete
//! works on it as on any key).
//!
//! # Update (compare-and-swap)
//! Secret Manager cannot swap a value in place; it adds versions, and
//! `secrets.patch` accepts the secret's `etag` as a precondition
//! (`FAILED_PRECONDITION` if it changed). An update therefore:
//! 1. gets the secret and compares its revision with the expected one
//!    ([`Error::Conflict`] if it differs, [`Error::NotFound`] if it is gone);
//! 2. adds a version with the new value (not yet visible: readers follow the
//!    annotation);
//! 3. patches the annotation `kes-version` to the new version **with the
//!    etag from step 1**: this is the commit. Of concurrent updates from the
//!    same revision exactly one patch succeeds; the others fail the etag
//!    check, destroy the version they added and answer
//!    [`Error::Conflict`]. A secret deleted meanwhile answers
//!    [`Error::NotFound`] (its versions went with it);
//! 4. disables the superseded version (best effort), so that only the
//!    current version is enabled and a reader that ignores the annotation
//!    (upstream KES reads version 1) fails instead of using a stale value.
//!
//! What can race: nothing that changes the secret between steps 1 and 3
//! goes unnoticed (any patch, delete and re-create changes the etag); a
//! change of labels by hand makes a concurrent update fail with `Conflict`,
//! which the caller retries. A crash between 2 and 3 leaves an unreferenced
//! version (harmless; never read). A failure of step 3 whose outcome is
//! unknown (timeout) keeps the added version, since the patch may have
//! committed: the caller reads again. A crash after 3 leaves the previous
//! version enabled.
//!
//! # Revisions
//! The secret's creation time, the current version number and the
//! secret's etag: any committed update or other change of the secret
//! changes the etag, and the creation time tells a deleted and re-created
//! secret apart.
//!
//! # Disabled versions
//! A version disabled (or destroyed) in Secret Manager answers
//! `FAILED_PRECONDITION` to an access. If the annotation still names it
//! (the read did not race an update), the key reads as a backend error
//! saying the version is disabled: that is how an operator locks a key in
//! GCP (see the README).

use std::collections::HashMap;

use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_secretmanager_v1::model::{Replication, Secret, SecretPayload, replication};
use google_cloud_wkt::FieldMask;
use zeroize::{Zeroize as _, Zeroizing};

use super::error::{Failure, classify, to_error};
use crate::paging::ListBudget;
use crate::{Error, Revision, Versioned, validate_name};

/// The annotation naming the version that holds the current value.
pub(super) const VERSION_ANNOTATION: &str = "kes-version";

/// How often a read follows a version that an update superseded meanwhile.
const READ_ATTEMPTS: usize = 3;

/// The client and the project's resource name (`projects/<id>`).
pub(super) struct Secrets {
    pub(super) client: SecretManagerService,
    pub(super) project: String,
}

/// What a read of the secret (not its payload) tells.
struct Head {
    etag: String,
    version: u64,
    annotations: HashMap<String, String>,
    revision: Revision,
}

/// The head of `secret` (`resource` names it in errors).
fn head_of(secret: Secret, resource: &str) -> Result<Head, Error> {
    let version = match secret.annotations.get(VERSION_ANNOTATION) {
        None => 1,
        Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::backend(format!(
                "gcp: secret '{resource}': invalid annotation {VERSION_ANNOTATION}={v:?}"
            ))
        })?,
    };
    if secret.etag.is_empty() {
        return Err(Error::backend(format!(
            "gcp: secret '{resource}' has no etag; conditional updates are impossible"
        )));
    }
    let (seconds, nanos) = secret
        .create_time
        .as_ref()
        .map_or((0, 0), |t| (t.seconds(), t.nanos()));
    let mut rev = Vec::with_capacity(20 + secret.etag.len());
    rev.extend_from_slice(&seconds.to_be_bytes());
    rev.extend_from_slice(&nanos.to_be_bytes());
    rev.extend_from_slice(&version.to_be_bytes());
    rev.extend_from_slice(secret.etag.as_bytes());
    Ok(Head {
        etag: secret.etag,
        version,
        annotations: secret.annotations,
        revision: Revision::from_bytes(rev),
    })
}

/// The number at the end of a version's resource name
/// (`projects/…/secrets/…/versions/7`).
fn version_number(name: &str) -> Option<u64> {
    name.rsplit_once("/versions/")
        .and_then(|(_, n)| n.parse().ok())
}

impl Secrets {
    fn resource(&self, name: &str) -> String {
        format!("{}/secrets/{name}", self.project)
    }

    /// The secret's head, `None` if there is no such secret.
    async fn head(&self, resource: &str) -> Result<Option<Head>, Error> {
        match self.client.get_secret().set_name(resource).send().await {
            Ok(secret) => head_of(secret, resource).map(Some),
            Err(e) => match classify(&e) {
                Failure::NotFound(_) => Ok(None),
                other => Err(other.into_error("read", resource)),
            },
        }
    }

    /// Adds a version holding `value`; returns its number.
    async fn add(&self, resource: &str, value: &[u8]) -> Result<u64, Failure> {
        let payload = SecretPayload::new().set_data(bytes::Bytes::copy_from_slice(value));
        let version = self
            .client
            .add_secret_version()
            .set_parent(resource)
            .set_payload(payload)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        version_number(&version.name)
            .ok_or_else(|| Failure::Other(format!("unexpected version name '{}'", version.name)))
    }

    /// Health: lists at most one secret of the project.
    pub(super) async fn ping(&self) -> Result<(), Error> {
        self.client
            .list_secrets()
            .set_parent(&self.project)
            .set_page_size(1)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| to_error(&e, "check the status of", &self.project))
    }

    /// Creates the secret and its version 1 (see the module docs).
    pub(super) async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        let resource = self.resource(name);
        let secret = Secret::new()
            .set_replication(Replication::new().set_automatic(replication::Automatic::new()));
        let created = match self
            .client
            .create_secret()
            .set_parent(&self.project)
            .set_secret_id(name)
            .set_secret(secret)
            .send()
            .await
        {
            Ok(created) => created,
            Err(e) => {
                return Err(match classify(&e) {
                    Failure::AlreadyExists(_) => Error::KeyExists,
                    other => other.into_error("create", &resource),
                });
            }
        };
        let Err(failure) = self.add(&resource, value).await else {
            return Ok(());
        };
        // Not a key without its version: remove the secret we just created.
        let cleanup = self
            .client
            .delete_secret()
            .set_name(&resource)
            .set_etag(created.etag)
            .send()
            .await;
        if let Err(e) = cleanup {
            tracing::warn!(
                secret = %resource,
                error = %to_error(&e, "delete", &resource),
                "gcp: a secret whose first version could not be added was not deleted; \
                 it reads as missing and blocks creating the key until it is deleted"
            );
        }
        Err(failure.into_error("create", &resource))
    }

    /// Reads the current value and its revision.
    pub(super) async fn read(&self, name: &str) -> Result<Versioned, Error> {
        let resource = self.resource(name);
        let mut head = self.head(&resource).await?.ok_or(Error::NotFound)?;
        for _ in 0..READ_ATTEMPTS {
            let version = format!("{resource}/versions/{}", head.version);
            let failure = match self
                .client
                .access_secret_version()
                .set_name(&version)
                .send()
                .await
            {
                Ok(res) => {
                    let payload = res.payload.ok_or_else(|| {
                        Error::backend(format!("gcp: '{version}': answer without payload"))
                    })?;
                    let value = Zeroizing::new(payload.data.to_vec());
                    if let Ok(mut buffer) = payload.data.try_into_mut() {
                        buffer.as_mut().zeroize();
                    }
                    return Ok(Versioned {
                        value,
                        revision: head.revision,
                    });
                }
                Err(e) => classify(&e),
            };
            // Did an update move the key to another version meanwhile?
            let Some(now) = self.head(&resource).await? else {
                return Err(Error::NotFound);
            };
            if now.revision != head.revision {
                head = now;
                continue;
            }
            return Err(match failure {
                Failure::NotFound(_) => Error::NotFound,
                Failure::Precondition(msg) => Error::backend(format!(
                    "gcp: key '{name}' cannot be read: version {} of '{resource}' is not \
                     enabled in Secret Manager ({msg}); enable it there to use the key again",
                    head.version
                )),
                other => other.into_error("read", &version),
            });
        }
        Err(Error::backend(format!(
            "gcp: failed to read '{resource}': it changed {READ_ATTEMPTS} times while being read"
        )))
    }

    /// The conditional update (see the module docs).
    pub(super) async fn update(
        &self,
        name: &str,
        expected: &Revision,
        value: &[u8],
    ) -> Result<Revision, Error> {
        let resource = self.resource(name);
        let head = self.head(&resource).await?.ok_or(Error::NotFound)?;
        if head.revision != *expected {
            return Err(Error::Conflict);
        }
        let added = match self.add(&resource, value).await {
            Ok(n) => n,
            Err(Failure::NotFound(_)) => return Err(Error::NotFound),
            Err(other) => return Err(other.into_error("update", &resource)),
        };
        let mut annotations = head.annotations;
        annotations.insert(VERSION_ANNOTATION.to_owned(), added.to_string());
        let patch = Secret::new()
            .set_name(&resource)
            .set_etag(head.etag)
            .set_annotations(annotations);
        let committed = self
            .client
            .update_secret()
            .set_secret(patch)
            .set_update_mask(FieldMask::default().set_paths(["annotations"]))
            .send()
            .await;
        match committed {
            Ok(secret) => {
                let now = head_of(secret, &resource)?;
                self.retire(&resource, head.version).await;
                Ok(now.revision)
            }
            Err(e) => match classify(&e) {
                failure @ (Failure::Precondition(_) | Failure::NotFound(_)) => {
                    // Definitely not committed: drop the version we added.
                    self.discard(&resource, added).await;
                    Err(match failure {
                        Failure::NotFound(_) => Error::NotFound,
                        _ => Error::Conflict,
                    })
                }
                // The patch may have been applied: keep the version.
                other => Err(other.into_error("update", &resource)),
            },
        }
    }

    /// Disables a superseded version (best effort, logged).
    async fn retire(&self, resource: &str, version: u64) {
        let name = format!("{resource}/versions/{version}");
        let res = self
            .client
            .disable_secret_version()
            .set_name(&name)
            .send()
            .await;
        if let Err(e) = res {
            tracing::warn!(version = %name, error = %to_error(&e, "disable", &name),
                "gcp: the superseded version of an updated key stays enabled");
        }
    }

    /// Destroys a version an update added but did not commit (best effort).
    async fn discard(&self, resource: &str, version: u64) {
        let name = format!("{resource}/versions/{version}");
        let res = self
            .client
            .destroy_secret_version()
            .set_name(&name)
            .send()
            .await;
        if let Err(e) = res {
            tracing::warn!(version = %name, error = %to_error(&e, "destroy", &name),
                "gcp: an uncommitted version of a key was not destroyed (it is never read)");
        }
    }

    /// Deletes the secret and every version.
    pub(super) async fn delete(&self, name: &str) -> Result<(), Error> {
        let resource = self.resource(name);
        match self.client.delete_secret().set_name(&resource).send().await {
            Ok(()) => Ok(()),
            Err(e) => Err(match classify(&e) {
                Failure::NotFound(_) => Error::NotFound,
                other => other.into_error("delete", &resource),
            }),
        }
    }

    /// Every secret ID of the project that is a valid key name, following
    /// `nextPageToken` until the last page.
    pub(super) async fn names(&self) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        let mut token = String::new();
        let mut budget = ListBudget::new("gcp");
        loop {
            let page = self
                .client
                .list_secrets()
                .set_parent(&self.project)
                .set_page_token(token.clone())
                .send()
                .await
                .map_err(|e| to_error(&e, "list", &self.project))?;
            budget.charge(page.secrets.len())?;
            names.extend(
                page.secrets
                    .iter()
                    .filter_map(|s| s.name.rsplit_once("/secrets/").map(|(_, id)| id))
                    .filter(|id| validate_name(id).is_ok())
                    .map(str::to_owned),
            );
            if page.next_page_token.is_empty() {
                return Ok(names);
            }
            if page.next_page_token == token {
                return Err(Error::backend(format!(
                    "gcp: failed to list '{}': the same page token was returned twice",
                    self.project
                )));
            }
            token = page.next_page_token;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use super::*;

    #[test]
    fn heads_and_revisions() {
        let secret = Secret::new().set_etag("\"abc\"");
        let head = head_of(secret.clone(), "r").unwrap();
        assert_eq!(head.version, 1, "no annotation: version 1 (KES's layout)");
        let moved = secret.clone().set_annotations([(VERSION_ANNOTATION, "7")]);
        let moved = head_of(moved, "r").unwrap();
        assert_eq!(moved.version, 7);
        assert_ne!(moved.revision, head.revision);
        let other_etag = head_of(Secret::new().set_etag("\"abd\""), "r").unwrap();
        assert_ne!(other_etag.revision, head.revision);
        for bad in ["0", "x", "-1"] {
            let s = secret.clone().set_annotations([(VERSION_ANNOTATION, bad)]);
            assert!(matches!(head_of(s, "r"), Err(Error::Backend(_))), "{bad}");
        }
        assert!(matches!(
            head_of(Secret::new(), "r"),
            Err(Error::Backend(_))
        ));
        assert_eq!(version_number("projects/1/secrets/k/versions/12"), Some(12));
        assert_eq!(version_number("projects/1/secrets/k"), None);
    }
}
