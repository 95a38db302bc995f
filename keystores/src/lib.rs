//! Keystores: where the KES-compatible server keeps its master keys.
//!
//! A keystore stores **opaque values** under key names. The server encodes and
//! decodes those values (`base64(protobuf KeyVersion)` or legacy JSON); backends
//! know nothing about ciphers, policies or identities. That is what lets one
//! server sit on many backends.
//!
//! # Layout
//! - [`Keystore`]: the async, object-safe trait every backend implements, with
//!   its contract (atomic create, compare-and-swap update, not-found, exists
//!   and conflict errors, sorted pages).
//! - [`Error`]: the one error enum of this crate, exhaustive on purpose.
//! - `revision`: [`Revision`] (the opaque token of conditional updates) and
//!   [`Versioned`] (a value with its revision).
//! - [`list_page`]: the one shared pagination implementation.
//! - [`validate_name`]: the backend-side name check (defence in depth against
//!   path traversal; the API edge validates first).
//! - `config`: [`KeystoreConfig`], the `keystore:` section of a KES config
//!   (every KES backend parses, built or not), and [`open`], the one entry
//!   point that turns it into an `Arc<dyn Keystore>`.
//! - `mem` (feature `memory`): [`MemKeystore`], in memory (`kes server --dev`
//!   and tests).
//! - `fs` (feature `fs`): [`FsKeystore`], one file per key in a directory.
//! - `vault` (feature `vault`): [`VaultKeystore`], HashiCorp Vault / OpenBao
//!   K/V v1 or v2 at KES's paths, optional transit wrapping.
//! - `aws` (feature `aws`): [`AwsKeystore`], AWS Secrets Manager, one
//!   secret per key, optionally encrypted under a KMS key.
//! - `locks` (features `vault`, `aws`, `azure`): per-name locks of one process's
//!   writers, for backends without a conditional write of their own.
//! - `secret`: the zeroizing, redacted credential type of every config section;
//!   `cas` (features `vault`, `azure`): their `tls.ca` reader.
//! - `azure` (feature `azure`): [`AzureKeystore`], Azure Key Vault secrets
//!   in KES's layout (official Azure SDK), with per-process locks and
//!   detection of cross-process write races.
//! - `gcp` (feature `gcp`): [`GcpKeystore`], GCP Secret Manager in KES's
//!   layout (`projects/<p>/secrets/<name>`, value in version 1), updates as
//!   etag-guarded new versions.
//! - `conformance` (feature `testing`): the suite every backend must pass.
//!
//! # Features
//! One cargo feature per backend, the built-in ones on by default: `fs`,
//! `memory`, `vault`, `aws`, `azure`, `gcp`. A backend whose feature is off still parses in
//! [`KeystoreConfig`]; opening it gives [`Error::Unsupported`] naming its
//! section.
//!
//! # Security
//! Values returned by [`Keystore::get`] and [`Keystore::get_versioned`] are
//! [`Zeroizing`] so the encoded key material is wiped when dropped. No backend
//! logs values. Revisions are not secret (a counter, a version id, a content
//! digest) but are never derived from a value in a reversible way.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::time::Duration;

use async_trait::async_trait;
use zeroize::Zeroizing;

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
mod azure;
#[cfg(any(feature = "vault", feature = "azure"))]
mod cas;
mod config;
#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "fs")]
mod fs;
#[cfg(feature = "gcp")]
mod gcp;
#[cfg(any(feature = "vault", feature = "aws", feature = "azure"))]
mod locks;
#[cfg(feature = "memory")]
mod mem;
#[cfg(any(feature = "aws", feature = "azure", feature = "gcp"))]
mod paging;
mod revision;
mod secret;
mod text;
#[cfg(feature = "vault")]
mod vault;

#[cfg(feature = "aws")]
pub use aws::{AwsConfig, AwsKeystore};
#[cfg(feature = "azure")]
pub use azure::{AzureConfig, AzureKeystore};
pub use config::{KeystoreConfig, open};
#[cfg(feature = "fs")]
pub use fs::FsKeystore;
#[cfg(feature = "gcp")]
pub use gcp::{GcpConfig, GcpKeystore};
#[cfg(feature = "memory")]
pub use mem::MemKeystore;
pub use revision::{Revision, Versioned};
#[cfg(feature = "vault")]
pub use vault::{VaultConfig, VaultKeystore};

/// A boxed error from a backend's own library, kept as a source for logs only.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of every keystore operation.
///
/// Deliberately exhaustive: the server maps every variant, and a new one must
/// not compile until it is mapped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// [`Keystore::create`]: an entry with this name already exists.
    #[error("key already exists")]
    KeyExists,
    /// [`Keystore::get`], [`Keystore::get_versioned`], [`Keystore::update`],
    /// [`Keystore::delete`]: no entry with this name.
    #[error("key does not exist")]
    NotFound,
    /// [`Keystore::update`]: the entry exists but its revision is no longer
    /// the expected one (another writer changed it since it was read). The
    /// stored value is unchanged; read it again and retry.
    #[error("key was changed since it was read")]
    Conflict,
    /// The operation or backend is not part of this build or this backend: a
    /// `keystore:` section whose cargo feature is off, or a [`Keystore`]
    /// implementation without conditional update. The text says which.
    #[error("{0}")]
    Unsupported(String),
    /// The name is not acceptable to the backend (empty, too long, a path
    /// separator, `.` or `..`, a character outside `[A-Za-z0-9_-]`).
    #[error("invalid key name")]
    InvalidName,
    /// The backend cannot be reached (network failure, sealed Vault, ...).
    /// The key cache treats this as "offline" and keeps serving.
    #[error("keystore is unreachable: {0}")]
    Unreachable(#[source] BoxError),
    /// Any other backend failure (permission denied, I/O error, bad response).
    #[error("keystore error: {0}")]
    Backend(#[source] BoxError),
}

impl Error {
    /// Wraps an I/O error as [`Error::Backend`].
    pub fn backend(err: impl Into<BoxError>) -> Self {
        Error::Backend(err.into())
    }

    /// Wraps an error as [`Error::Unreachable`].
    pub fn unreachable(err: impl Into<BoxError>) -> Self {
        Error::Unreachable(err.into())
    }
}

/// One page of names from [`Keystore::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// Names in ascending byte order, at most the requested limit.
    pub names: Vec<String>,
    /// The name to pass as `continue_at` for the next page, or `None` when
    /// this page is the last one.
    pub next: Option<String>,
}

/// Health of a keystore as reported by [`Keystore::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Round trip of the status call.
    pub latency: Duration,
}

/// Storage for encoded master keys.
///
/// Object-safe and `Send + Sync + 'static`; the server holds an
/// `Arc<dyn Keystore>` chosen at run time from the configuration ([`open`]).
///
/// Names passed in have already been validated by the server
/// (`[A-Za-z0-9_-]{1,80}`), but every backend must still reject names that
/// could escape its namespace ([`validate_name`]); every method returns
/// [`Error::InvalidName`] for such a name before touching the store.
///
/// # Writes
/// A value changes in exactly three ways, each atomic: [`create`] (only if
/// the name is free; never overwrites), [`update`] (only if the stored
/// [`Revision`] is the expected one: compare-and-swap) and [`delete`]. There is
/// no unconditional overwrite. Readers see either the old or the new value,
/// never a mix. Backends that share storage between processes (two servers on
/// one directory or one Vault) keep these guarantees across the processes.
///
/// [`create`]: Keystore::create
/// [`update`]: Keystore::update
/// [`delete`]: Keystore::delete
#[async_trait]
pub trait Keystore: Send + Sync + 'static {
    /// Checks that the backend is reachable, measuring the round trip.
    ///
    /// Returns [`Error::Unreachable`] when it is not.
    async fn status(&self) -> Result<Status, Error>;

    /// Stores `value` under `name` if and only if no entry with that name
    /// exists. Atomic under any concurrency: of many concurrent creates of one
    /// name exactly one succeeds and the others get [`Error::KeyExists`]; an
    /// existing value is never overwritten or partially visible.
    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error>;

    /// Returns the value stored under `name`, or [`Error::NotFound`].
    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error>;

    /// Returns the value stored under `name` together with its current
    /// [`Revision`], or [`Error::NotFound`].
    ///
    /// The pair is consistent: the revision is the one of exactly the value
    /// returned. Two calls with no write to `name` in between return equal
    /// revisions. Never served from a cache: the value is read from the store
    /// itself, so a read-modify-write starts from the latest value.
    ///
    /// The default implementation (for backends without conditional update)
    /// returns [`Error::Unsupported`].
    async fn get_versioned(&self, name: &str) -> Result<Versioned, Error> {
        validate_name(name)?;
        Err(Error::Unsupported(NO_UPDATE.to_owned()))
    }

    /// Replaces the value of `name` with `new` if and only if the stored
    /// revision still equals `old` (one atomic compare-and-swap), and
    /// returns the new revision.
    ///
    /// - [`Error::NotFound`] if there is no entry `name` (also when it was
    ///   deleted after `old` was read: an update never re-creates a key).
    /// - [`Error::Conflict`] if the entry exists with another revision: some
    ///   other writer got there first. Nothing is changed; the caller reads
    ///   again with [`get_versioned`](Keystore::get_versioned) and retries.
    ///
    /// Of many concurrent updates from the same revision exactly one
    /// succeeds and the others get [`Error::Conflict`], so a read-modify-write
    /// loop loses no update. The new revision differs from `old` and is
    /// what [`get_versioned`](Keystore::get_versioned) returns until the next
    /// write. On any error other than `Conflict`/`NotFound` the outcome may be
    /// unknown (e.g. a failed `fsync` after publishing): read again.
    ///
    /// Revisions are only meaningful for the name and store they were read
    /// from. A backend may identify revisions by content (fs: a digest of the
    /// value), in which case a value changed away and back again (A → B → A)
    /// makes an old revision of A current again; the swap is then still
    /// correct, since the stored value is exactly the one the caller read.
    ///
    /// The default implementation returns [`Error::Unsupported`].
    async fn update(&self, name: &str, old: &Revision, new: &[u8]) -> Result<Revision, Error> {
        let _ = (old, new);
        validate_name(name)?;
        Err(Error::Unsupported(NO_UPDATE.to_owned()))
    }

    /// Removes `name`, or returns [`Error::NotFound`] if there is no such entry.
    ///
    /// Atomic with respect to [`update`](Keystore::update): an update that
    /// races a delete either happens before it (and is then deleted) or
    /// fails with [`Error::NotFound`]; it never brings the key back.
    async fn delete(&self, name: &str) -> Result<(), Error>;

    /// Lists names starting with `prefix` in ascending order, beginning at the
    /// first name `>= continue_at` (empty = from the start), at most `limit`
    /// names (`limit == 0` means no limit). See [`list_page`].
    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error>;
}

/// The text of [`Error::Unsupported`] from the default conditional-update
/// methods.
const NO_UPDATE: &str = "this keystore does not support conditional updates";

/// Builds one page from all names of a store, the shared pagination rule.
///
/// Keeps names that start with `prefix` and are `>= continue_at`, sorts them,
/// and returns at most `limit` (0 = all). `next` is the first name not
/// returned, or `None` if nothing remains.
pub fn list_page<I>(names: I, prefix: &str, continue_at: &str, limit: usize) -> Page
where
    I: IntoIterator<Item = String>,
{
    let mut matching: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with(prefix) && n.as_str() >= continue_at)
        .collect();
    matching.sort_unstable();
    matching.dedup();
    if limit == 0 || matching.len() <= limit {
        return Page {
            names: matching,
            next: None,
        };
    }
    let rest = matching.split_off(limit);
    Page {
        names: matching,
        next: rest.into_iter().next(),
    }
}

/// The longest name a backend accepts.
pub const MAX_NAME_LEN: usize = 80;

/// Backend-side name check: 1..=80 bytes of `[A-Za-z0-9_-]`.
///
/// This forbids `/`, `\`, `.` and `..`, NUL and every non-ASCII character, so a
/// name can never address anything outside the backend's namespace.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(Error::InvalidName) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn list_page_edge_cases() {
        let all = names(&["b", "a", "ab", "abc", "c"]);
        assert_eq!(
            list_page(all.clone(), "", "", 0).names,
            names(&["a", "ab", "abc", "b", "c"])
        );
        assert_eq!(list_page(Vec::new(), "", "", 1), Page::default());
        let p = list_page(all.clone(), "a", "", 1);
        assert_eq!(p.names, names(&["a"]));
        assert_eq!(p.next.as_deref(), Some("ab"));
        let p = list_page(all.clone(), "a", "ab", 2);
        assert_eq!(p.names, names(&["ab", "abc"]));
        assert_eq!(p.next, None);
        let p = list_page(all, "z", "", 3);
        assert!(p.names.is_empty() && p.next.is_none());
    }

    /// A backend with only the required methods.
    struct Minimal;

    #[async_trait]
    impl Keystore for Minimal {
        async fn status(&self) -> Result<Status, Error> {
            Ok(Status {
                latency: Duration::ZERO,
            })
        }
        async fn create(&self, _: &str, _: &[u8]) -> Result<(), Error> {
            Ok(())
        }
        async fn get(&self, _: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
            Ok(Zeroizing::new(b"v".to_vec()))
        }
        async fn delete(&self, _: &str) -> Result<(), Error> {
            Ok(())
        }
        async fn list(&self, _: &str, _: &str, _: usize) -> Result<Page, Error> {
            Ok(Page::default())
        }
    }

    #[tokio::test]
    async fn conditional_update_is_unsupported_unless_implemented() {
        let store: &dyn Keystore = &Minimal;
        let any = Revision::from_bytes(vec![1]);
        for res in [
            store.get_versioned("k").await.map(|_| ()),
            store.update("k", &any, b"v").await.map(|_| ()),
        ] {
            match res {
                Err(Error::Unsupported(msg)) => assert_eq!(msg, NO_UPDATE),
                other => panic!("want Unsupported, got {other:?}"),
            }
        }
        assert!(matches!(
            store.update("../k", &any, b"v").await,
            Err(Error::InvalidName)
        ));
        assert!(matches!(
            store.get_versioned("a/b").await,
            Err(Error::InvalidName)
        ));
    }

    #[test]
    fn names_that_escape_are_rejected() {
        for bad in [
            "",
            "..",
            ".",
            "a/b",
            "a\\b",
            "../x",
            "é",
            "a\0",
            &"x".repeat(81),
        ] {
            assert!(
                matches!(validate_name(bad), Err(Error::InvalidName)),
                "{bad:?}"
            );
        }
        for good in ["a", "my-key", "_x", &"x".repeat(80)] {
            assert!(validate_name(good).is_ok(), "{good:?}");
        }
    }
}
