//! # object-server
//!
//! An S3-compatible object server (path-style, SigV4 via `s3s`) storing objects on the local
//! filesystem, with SSE-C, SSE-S3 and SSE-KMS exactly as MinIO implements them (key hierarchy,
//! DARE 2.0, metadata; SSE-S3/SSE-KMS data keys from a KES server through the `client` crate).
//! aws-cli and boto3 work against it unchanged.
//!
//! ## Layout
//!
//! * [`config`] — validated [`Config`]; root credentials from `MINIO_ROOT_USER` /
//!   `MINIO_ROOT_PASSWORD` (or `*_FILE`); the KMS from `MINIO_KMS_KES_*`
//!   ([`sse::kms_config`]).
//! * [`server`] — bind, TLS (rustls + aws-lc-rs, `public.crt`/`private.key` in the certs dir),
//!   accept loop with hyper-util (HTTP/1.1 + h2), connection caps and deadlines, requests
//!   refused from their head, POST object (browser forms, streamed, answered in front of s3s),
//!   graceful shutdown; [`run`] and [`spawn`].
//! * [`s3`] — `impl s3s::S3`: buckets, bucket encryption, objects, listings, multipart, copy;
//!   every encryption question goes to [`sse::Sse`].
//! * [`storage`] — filesystem store: hashed object file names, one file per object
//!   (data ‖ metadata ‖ trailer), temp file + fsync + rename for every write; noncurrent
//!   versions under `ver/`; an in-memory sorted key index per bucket for listings (saved at a clean
//!   shutdown, built in the background at start); a per-bucket cache of parsed configuration.
//! * [`sse`] — the encryption front door: SSE headers, KES data keys, KEK/OEK derivation and
//!   sealing, internal metadata, DARE 2.0 streams, range arithmetic.
//! * [`error`] — the crate error enum and its exhaustive S3 mapping.
//! * [`kms_admin`] — MinIO's KMS admin API (`mc admin kms key …`) as an s3s custom route.
//! * [`admin`] — `object-server admin …` maintenance commands (`rekey`).
//! * [`policy`] — bucket policies (IAM language subset), Public Access Block and the access
//!   check s3s runs before every operation (root: all but explicit denies; anonymous: only
//!   what a policy or a public ACL grants).
//! * [`lifecycle`] — bucket lifecycle rules (validation, evaluation) and the background sweep
//!   that expires objects and aborts old multipart uploads.
//! * [`metrics`] — Prometheus `/minio/v2/metrics/cluster` (the KMS family).
//!
//! ## Security
//!
//! * SSE-C is refused unless the server serves TLS (`InvalidRequest`, 400).
//! * SSE-S3/SSE-KMS: a fresh KES data key per object or upload; its plaintext lives only in
//!   zeroizing memory for the request, never cached, stored or logged (deleting the EK in KES
//!   erases the objects).
//! * Client keys, OEKs, KEKs and part keys live in zeroizing types with redacted `Debug`; the
//!   client key and its MD5 are never stored — only the IV and the 64-byte sealed OEK. Key MD5s
//!   are compared in constant time.
//! * s3s logs whole requests (headers included) at `debug` level; the binary caps every `s3s`
//!   event at `info` so SSE-C keys never reach the logs.
//! * Object keys never become paths (SHA-256 file names), bucket names and upload ids are
//!   validated before touching the filesystem.
//! * Limits: request heads ≤ 64 KiB, objects/parts ≤ 5 GiB, user metadata ≤ 2 KiB, presigned
//!   URLs ≤ 7 days; connections capped globally and per client, with handshake, head, idle and
//!   stall deadlines ([`config::Limits`]); POST form uploads read field by field (≤ 64 KiB,
//!   100 fields before the file) and authorised before the file is read, the file streamed
//!   (s3s would buffer it whole); no rate limiting (s3s has none).
//! * Files 0600, directories 0700; existing store directories open to others are reported.

#![forbid(unsafe_code)]
// Tests may unwrap; request paths may not (workspace lint `unwrap_used`).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
pub mod config;
pub mod error;
pub mod kms_admin;
pub mod lifecycle;
pub mod metrics;
pub mod policy;
pub mod s3;
pub mod server;
pub mod sse;
pub mod storage;

pub use config::{Config, Credentials};
pub use server::{RunningServer, ServerError, bind, run, spawn};
