//! `kes`: a KES-compatible key encryption service — server and command line.
//!
//! # Layout
//! - [`config`]: `server-config.yaml` → validated [`config::Settings`]; TLS.
//! - [`server`]: HTTPS accept loop, per-connection identity, shutdown.
//! - [`auth`]: caller identity from the TLS peer certificates.
//! - [`policy`]: identities and allow/deny policy evaluation.
//! - [`api`]: route table, error enum and handlers of the KES API.
//! - [`state`]: the per-request snapshot swapped atomically on reload.
//! - [`keycache`]: the cache of decoded keys (versions, HMAC key, state) and the keystore's
//!   health, with KES's expiry and the lifecycle state re-validation.
//! - [`metrics`]: the `kes_*` Prometheus families of `/v1/metrics`.
//! - [`logs`]: error log (tracing layer), audit log, their NDJSON streams,
//!   and the [`logs::Telemetry`] bundle that survives reloads.
//! - [`crypto`]: the only module touching master-key bytes and AEADs.
//! - [`run`]: starting a server from settings (used by `kes server` and tests).
//! - [`reload`]: SIGHUP: re-read config, policies and TLS, swap atomically.
//! - [`dev`]: `kes server --dev`.
//! - [`serve_cmd`]: the `kes server` command.
//! - [`cli`]: the client commands (`kes key`, `identity`, `policy`, `ls`, `status`, `metric`, `log`, `completion`).
//!
//! # Security
//! HTTPS only; identities are pinned public keys (SHA-256 of the client
//! certificate's SPKI). Policies are checked on exactly the canonical path
//! that is routed; non-canonical paths are refused before routing. Master keys
//! never leave [`crypto`] and never reach a log or an error message.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod dev;
pub mod keycache;
pub mod logs;
pub mod metrics;
pub mod policy;
pub mod reload;
pub mod run;
pub mod serve_cmd;
pub mod server;
pub mod state;
