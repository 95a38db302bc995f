//! `kes`: a KES-compatible key encryption service — server and command line.
//!
//! # Layout
//! From the bottom up; each module uses only those above it in this list.
//! - [`crypto`]: the only module touching master-key bytes and AEADs.
//! - [`policy`]: identities and allow/deny policy evaluation.
//! - [`names`]: key, policy and identity name and pattern rules.
//! - [`routes`]: the declarative route table and the canonical path rule.
//! - [`metrics`]: the `kes_*` Prometheus families of `/v1/metrics`.
//! - [`keycache`]: the cache of decoded keys (versions, HMAC key, state) and
//!   the keystore's health, with KES's expiry and the lifecycle state
//!   re-validation.
//! - [`logs`]: log levels, error log (tracing layer), audit log, their NDJSON
//!   streams, and the [`logs::Telemetry`] bundle that survives reloads.
//! - [`config`]: `server-config.yaml` → validated [`config::Settings`]; TLS.
//! - [`auth`]: the connection ([`auth::Conn`]) and the caller's identity
//!   from the TLS peer certificates.
//! - [`state`]: the per-request snapshot swapped atomically on reload.
//! - [`api`]: error enum and handlers of the KES API.
//! - [`server`]: accept loop, TLS, connection limits and timeouts; start
//!   ([`server::Builder`]), reload, shutdown; `--dev` setup.
//! - [`cli`]: the command-line entry points (`kes server`, `kes key`, …).
//!
//! See ARCHITECTURE.md for a request's path through these modules.
//!
//! # Security
//! HTTPS only; identities are pinned public keys (SHA-256 of the client
//! certificate's SPKI), taken from the certificate that signed the TLS
//! handshake. Policies are checked on exactly the canonical path that is
//! routed; non-canonical paths are refused before routing. Master keys never
//! leave [`crypto`] and never reach a log or an error message.
#![forbid(unsafe_code)]

// The public surface: what `kes server`, the CLI and embedding tests use.

mod api;
mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
mod keycache;
pub mod logs;
mod metrics;
pub mod names;
pub mod policy;
mod routes;
pub mod server;
mod state;

/// Entry points into private parsers for the fuzz targets in `fuzz/` (the `fuzzing`
/// feature). Thin wrappers: no behaviour of their own.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// A raw request path as the router sees it: `routes::canonical_path` (decoding and
    /// refusals), then `routes::find`; returns the path policies are checked on
    /// (`routes::routed_path`), or `None` when the path is refused or names no route.
    pub fn route(raw: &str) -> Option<String> {
        let decoded = crate::routes::canonical_path(raw)?;
        let (route, resource) = crate::routes::find(&decoded)?;
        Some(crate::routes::routed_path(route, resource, &decoded).into_owned())
    }
}
