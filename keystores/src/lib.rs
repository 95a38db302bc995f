//! Keystores: where the KES-compatible server keeps its master keys.
//!
//! A keystore stores **opaque values** under key names. The server encodes and
//! decodes those values (`base64(protobuf KeyVersion)` or legacy JSON); backends
//! know nothing about ciphers, policies or identities. That is what lets one
//! server sit on many backends.
//!
//! # Layout
//! - [`Keystore`]: the async, object-safe trait every backend implements, with
//!   its contract (atomic create, not-found and exists errors, sorted pages).
//! - [`Error`]: the one error enum of this crate, exhaustive on purpose.
//! - [`list_page`]: the one shared pagination implementation.
//! - [`validate_name`]: the backend-side name check (defence in depth against
//!   path traversal; the API edge validates first).
//! - `mem`: [`MemKeystore`], in memory (used by `kes server --dev` and tests).
//! - `fs`: [`FsKeystore`], one file per key in a directory.
//! - `cache`: [`Cache`], a caching decorator over any [`Keystore`] with KES's
//!   any/unused/offline expiry, single-flight reads and a health probe.
//! - `conformance` (feature `testing`): the suite every backend must pass.
//!
//! # Security
//! Values returned by [`Keystore::get`] are [`Zeroizing`] so the encoded key
//! material is wiped when dropped. No backend logs values.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::time::Duration;

use async_trait::async_trait;
use zeroize::Zeroizing;

mod cache;
#[cfg(feature = "testing")]
pub mod conformance;
mod fs;
mod mem;

pub use cache::{Cache, CacheConfig};
pub use fs::FsKeystore;
pub use mem::MemKeystore;

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
    /// [`Keystore::get`] / [`Keystore::delete`]: no entry with this name.
    #[error("key does not exist")]
    NotFound,
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
/// `Arc<dyn Keystore>` chosen at run time from the configuration.
///
/// Names passed in have already been validated by the server
/// (`[A-Za-z0-9_-]{1,80}`), but every backend must still reject names that
/// could escape its namespace ([`validate_name`]).
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

    /// Removes `name`, or returns [`Error::NotFound`] if there is no such entry.
    async fn delete(&self, name: &str) -> Result<(), Error>;

    /// Lists names starting with `prefix` in ascending order, beginning at the
    /// first name `>= continue_at` (empty = from the start), at most `limit`
    /// names (`limit == 0` means no limit). See [`list_page`].
    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error>;
}

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
