//! KES client: wire types, errors, API keys, identities and (later) a multi-endpoint async client.
//!
//! # Layout
//!
//! * [`wire`] — serde types for every KES request and response body (shared with the server).
//! * [`error`] — [`Error`], the crate's one error enum, and the canonical `(status, message)` pairs of KES.
//! * [`apikey`] — [`ApiKey`] (`kes:v1:` keys), identity and the self-signed client certificate derived from it.
//! * [`identity`] — the identity rule: hex SHA-256 of a certificate's `SubjectPublicKeyInfo`.
//!
//! # Security
//!
//! Key material (API-key seeds, plaintexts, data keys, imported keys) lives in `zeroize::Zeroizing` memory and is
//! redacted in `Debug` output. API keys compare in constant time. Nothing in this crate logs secrets.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apikey;
pub mod error;
pub mod identity;
pub mod wire;

pub use apikey::{ApiKey, CertificateOptions, CertifiedKey};
pub use error::{Canonical, Error, Result};
