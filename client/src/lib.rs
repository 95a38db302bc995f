//! KES client: wire types, errors, API keys, identities and a multi-endpoint async client.
//!
//! # Layout
//!
//! * [`wire`] — serde types for every KES request and response body (shared with the server).
//! * [`error`] — [`Error`], the crate's one error enum, and the canonical `(status, message)` pairs of KES.
//! * [`apikey`] — [`ApiKey`] (`kes:v1:` keys), identity and the self-signed client certificate derived from it.
//! * [`identity`] — the identity rule: hex SHA-256 of a certificate's `SubjectPublicKeyInfo`.
//! * [`client`] — [`Client`] / [`ClientBuilder`]: one async method per KES endpoint over mTLS (reqwest + rustls).
//! * [`endpoints`] — endpoint normalisation, local-first ordering, random rotation and the 30 s quarantine.
//!
//! # Security
//!
//! Key material (API-key seeds, plaintexts, data keys, imported keys) lives in `zeroize::Zeroizing` memory and is
//! redacted in `Debug` output. API keys compare in constant time. Nothing in this crate logs secrets.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apikey;
pub mod client;
pub mod endpoints;
pub mod error;
pub mod identity;
pub mod wire;

pub use apikey::{ApiKey, CertificateOptions, CertifiedKey};
pub use client::{Client, ClientBuilder, EventStream};
pub use error::{Canonical, Error, Result};
