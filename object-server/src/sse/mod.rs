//! Server-side encryption: the only place that knows object keys, KES data keys and AEADs.
//!
//! # Layout
//!
//! * [`service`] — the front door: [`Sse`] (requested encryption, sealing new objects, opening
//!   stored ones, visible ETags) and [`Keyed`] (an OEK in hand), [`ResponseSse`].
//! * [`request`] — SSE request headers → [`Requested`]; bucket defaults; header errors.
//! * [`params`] — SSE-C header validation → [`params::CustomerKey`].
//! * [`meta`] — [`ObjectEncryption`] (plain, SSE-C, SSE-S3, SSE-KMS) ⇄ internal metadata.
//! * [`keys`] — KEK/OEK derivation, 64-byte OEK sealing, part and ETag keys.
//! * [`context`] — the KES context: canonical Go-JSON of a string map.
//! * [`kms`] — [`kms::Kms`]: generate/decrypt through the `client` crate, error mapping, start-up
//!   probe, keep-warm; [`kms_config`] — `MINIO_KMS_KES_*` environment; [`kms_metrics`] —
//!   local request counters.
//! * [`dare`] — DARE 2.0 packages; [`stream`] — sealing bodies, decrypting read plans;
//!   [`range`] — size and range arithmetic.
//!
//! # Key hierarchy
//!
//! EK (in KES, never leaves it) → DEK (fresh per object/upload from KES generate; plaintext only
//! in memory, ciphertext in metadata) → KEK = HMAC(DEK, IV ‖ domain ‖ alg ‖ bucket/object) →
//! OEK (random, stored only sealed by the KEK) → data (DARE 2.0) and part/ETag keys. SSE-C uses
//! the client key where SSE-S3/SSE-KMS use the DEK.

pub mod context;
pub mod dare;
pub mod keys;
pub mod kms;
pub mod kms_config;
pub mod kms_metrics;
pub mod meta;
pub mod params;
pub mod range;
pub mod request;
pub mod service;
pub mod stream;

pub use meta::{KmsSealed, ObjectEncryption, SealedKey};
pub use request::{BucketDefault, Requested, WriteOp};
pub use service::{Keyed, ResponseSse, Sse};
