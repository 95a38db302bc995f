//! KES client: wire types, errors, API keys, identities and a multi-endpoint async client.
//!
//! # Layout
//!
//! * [`wire`] — serde types for every KES request and response body (shared with the server), one file per API
//!   group (`status`, `key`, `policy`, `identity`, `log`) over the shared Go-compatible encoders (`b64`, `go`,
//!   [`wire::rfc3339`]).
//! * [`error`] — [`Error`], the crate's one error enum, and the canonical `(status, message)` pairs of KES.
//! * [`apikey`] — [`ApiKey`] (`kes:v1:` keys), identity, and (`apikey::certificate`) the self-signed certificate
//!   derived from it.
//! * [`identity`] — the identity rule: hex SHA-256 of a certificate's `SubjectPublicKeyInfo`.
//! * [`client`] — [`Client`] / [`ClientBuilder`] over mTLS (reqwest + rustls): `builder` and `tls` (credentials,
//!   CA roots), `transport` (retries, failover, error decoding), one file of endpoint methods per API group
//!   (`keys`, `admin`, `status`) and `stream` (NDJSON log streams).
//! * [`endpoints`] — endpoint normalisation, local-first ordering, random rotation and the 30 s quarantine.
//!
//! # Security
//!
//! Key material (API-key seeds, plaintexts, data keys, imported keys) lives in `zeroize::Zeroizing` memory and is
//! redacted in `Debug` output. API keys compare in constant time. Nothing in this crate logs secrets.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![warn(clippy::expect_used, clippy::indexing_slicing)]

pub mod apikey;
pub mod client;
pub mod endpoints;
pub mod error;
pub mod identity;
pub mod wire;

pub use apikey::{ApiKey, CertificateOptions, CertifiedKey};
pub use client::{Client, ClientBuilder, EventStream};
pub use error::{Canonical, Error, Result};
