//! The KMS seen by the object server: a KES client (the workspace `client` crate, with its
//! multi-endpoint failover) plus the default key name (object-sse.md §1.2, §2).
//!
//! * [`Kms::generate`] / [`Kms::decrypt`]: one KES round trip each; data keys come back in
//!   zeroizing [`Key32`]s and are never cached (deleting or disabling the EK takes effect on the
//!   next request).
//! * Errors map by KES (status, message) to the S3 errors of §2.3 and §7; the KES detail is
//!   logged (it never contains key material), never sent to clients.
//! * [`Kms::probe`]: the start-up check of the default key (create on 404); [`Kms::keep_warm`]:
//!   `DescribeKey(default)` every 10 s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::keys::Key32;
use super::kms_metrics::{KmsMetrics, Outcome};
use crate::error::Error;

/// How often the default key is described to keep it in KES's cache.
pub const KEEP_WARM_INTERVAL: Duration = Duration::from_secs(10);

/// A fresh data key: plaintext (zeroizing) and the ciphertext KES sealed it into.
#[derive(Debug)]
pub struct DataKey {
    /// The 32-byte DEK.
    pub plaintext: Key32,
    /// The DEK sealed under the EK (opaque; stored in the object metadata).
    pub ciphertext: Vec<u8>,
}

/// Why the start-up probe failed.
#[derive(Debug, thiserror::Error)]
#[error("Failed to connect to KMS: {0}")]
pub struct ProbeError(String);

/// KES client and default key. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Kms {
    client: client::Client,
    default_key: Arc<str>,
    /// One client per endpoint (no failover), for the per-endpoint status.
    endpoints: Arc<[(String, client::Client)]>,
    metrics: Arc<KmsMetrics>,
}

/// Which operation failed (decides the fallback error).
#[derive(Debug, Clone, Copy)]
enum Op {
    Generate,
    Decrypt,
}

fn map_error(op: Op, key: &str, e: &client::Error) -> Error {
    let mapped = if e.is_key_not_found() {
        Error::KmsKeyNotFound
    } else if e.matches(client::Error::KEY_DISABLED) {
        Error::KmsKeyDisabled
    } else if e.is_not_allowed() {
        Error::KmsNotAuthorized
    } else if matches!(op, Op::Decrypt) && e.matches(client::Error::DECRYPT_FAILED) {
        Error::KmsInvalidCiphertext
    } else {
        match op {
            Op::Generate => Error::KmsKeyGenerationFailed,
            Op::Decrypt => Error::KmsDecryptionFailed,
        }
    };
    tracing::warn!(key, operation = ?op, error = %e, "KMS request failed");
    mapped
}

impl Kms {
    /// Wraps a built client; `default_key` is `MINIO_KMS_KES_KEY_NAME`; `endpoints` are
    /// single-endpoint clients (URL, client) for status reports.
    pub fn new(
        client: client::Client,
        default_key: &str,
        endpoints: Vec<(String, client::Client)>,
    ) -> Self {
        Self {
            client,
            default_key: Arc::from(default_key),
            endpoints: endpoints.into(),
            metrics: Arc::default(),
        }
    }

    /// The underlying (failover) client, for admin calls.
    pub fn client(&self) -> &client::Client {
        &self.client
    }

    /// The local request counters.
    pub fn metrics(&self) -> &KmsMetrics {
        &self.metrics
    }

    /// `GET /v1/status` on every endpoint: (URL, online).
    pub async fn endpoint_status(&self) -> Vec<(String, bool)> {
        let mut out = Vec::with_capacity(self.endpoints.len());
        for (url, c) in self.endpoints.iter() {
            out.push((url.clone(), c.status().await.is_ok()));
        }
        out
    }

    /// `POST /v1/key/create/<key>` (counted).
    pub async fn create_key(&self, key: &str) -> Result<(), client::Error> {
        let start = Instant::now();
        let r = self.client.create_key(key).await;
        self.metrics.record(Outcome::of(&r), start.elapsed());
        r
    }

    /// The default key (SSE-S3, SSE-KMS without key id).
    pub fn default_key(&self) -> &str {
        &self.default_key
    }

    /// `POST /v1/key/generate/<key>` with `context` as associated data.
    pub async fn generate(&self, key: &str, context: &[u8]) -> Result<DataKey, Error> {
        let start = Instant::now();
        let r = self.client.generate(key, context).await;
        self.metrics.record(Outcome::of(&r), start.elapsed());
        let r = r.map_err(|e| map_error(Op::Generate, key, &e))?;
        let plaintext = Key32::from_slice(&r.plaintext).ok_or_else(|| {
            tracing::warn!(key, "KMS returned a data key that is not 32 bytes");
            Error::KmsKeyGenerationFailed
        })?;
        Ok(DataKey {
            plaintext,
            ciphertext: r.ciphertext.into_inner(),
        })
    }

    /// `POST /v1/key/decrypt/<key>`: the DEK plaintext of `ciphertext` under `context`.
    pub async fn decrypt(
        &self,
        key: &str,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Key32, Error> {
        let start = Instant::now();
        let r = self.client.decrypt(key, ciphertext, context).await;
        self.metrics.record(Outcome::of(&r), start.elapsed());
        let plain = r.map_err(|e| map_error(Op::Decrypt, key, &e))?;
        Key32::from_slice(&plain).ok_or_else(|| {
            tracing::warn!(key, "KMS returned a data key that is not 32 bytes");
            Error::KmsDecryptionFailed
        })
    }

    /// The start-up probe (§1.2): `GenerateKey(default, {})`; on 404 the default key is
    /// created. "Exists", "not authorized" and (project extension) "key is disabled" are
    /// tolerated with a warning; anything else refuses the start.
    pub async fn probe(&self) -> Result<(), ProbeError> {
        let key = self.default_key();
        let warn_tolerated = |e: &client::Error| {
            tracing::warn!(key, error = %e, "KMS start-up check of the default key: continuing");
        };
        match self.client.generate(key, b"{}").await {
            Ok(_) => Ok(()),
            Err(e) if e.is_key_not_found() => match self.client.create_key(key).await {
                Ok(()) => {
                    tracing::info!(key, "created the default KMS key");
                    Ok(())
                }
                Err(e) if e.is_key_exists() || e.is_not_allowed() => {
                    warn_tolerated(&e);
                    Ok(())
                }
                Err(e) => Err(ProbeError(e.to_string())),
            },
            Err(e)
                if e.is_key_exists()
                    || e.is_not_allowed()
                    || e.matches(client::Error::KEY_DISABLED) =>
            {
                warn_tolerated(&e);
                Ok(())
            }
            Err(e) => Err(ProbeError(e.to_string())),
        }
    }

    /// Describes the default key every [`KEEP_WARM_INTERVAL`] for as long as the returned task
    /// runs (abort it to stop); failures are logged at debug level only.
    pub fn keep_warm(&self) -> tokio::task::JoinHandle<()> {
        let kms = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEEP_WARM_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = kms.client.describe_key(kms.default_key()).await {
                    tracing::debug!(error = %e, "KMS keep-alive of the default key failed");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(e: Error) -> (String, u16, String) {
        let s: s3s::S3Error = e.into();
        (
            s.code().as_str().to_owned(),
            s.status_code().map_or(0, |c| c.as_u16()),
            s.message().unwrap_or_default().to_owned(),
        )
    }

    #[test]
    fn kes_errors_map_to_s3_errors() {
        use client::Error as K;
        let cases = [
            (
                Op::Decrypt,
                K::from(K::KEY_NOT_FOUND),
                (
                    "kms:KeyNotFound",
                    404,
                    "key with given key ID does not exist",
                ),
            ),
            (
                Op::Generate,
                K::from(K::KEY_NOT_FOUND),
                (
                    "kms:KeyNotFound",
                    404,
                    "key with given key ID does not exist",
                ),
            ),
            (
                Op::Decrypt,
                K::from(K::NOT_ALLOWED),
                (
                    "kms:NotAuthorized",
                    403,
                    "insufficient permissions to perform KMS operation",
                ),
            ),
            (
                Op::Generate,
                K::from(K::NOT_ALLOWED_LEGACY),
                (
                    "kms:NotAuthorized",
                    403,
                    "insufficient permissions to perform KMS operation",
                ),
            ),
            (
                Op::Decrypt,
                K::from(K::KEY_DISABLED),
                ("kms:KeyDisabled", 403, "key is disabled"),
            ),
            (
                Op::Generate,
                K::from(K::KEY_DISABLED),
                ("kms:KeyDisabled", 403, "key is disabled"),
            ),
            (
                Op::Decrypt,
                K::from(K::DECRYPT_FAILED),
                (
                    "kms:InvalidCiphertextException",
                    400,
                    "failed to decrypt ciphertext",
                ),
            ),
            (
                Op::Decrypt,
                K::Connection("refused".into()),
                (
                    "kms:DecryptionFailed",
                    500,
                    "failed to decrypt ciphertext with KMS key",
                ),
            ),
            (
                Op::Decrypt,
                K::api(503, "unavailable"),
                (
                    "kms:DecryptionFailed",
                    500,
                    "failed to decrypt ciphertext with KMS key",
                ),
            ),
            (
                Op::Generate,
                K::Connection("refused".into()),
                (
                    "kms:KeyGenerationFailed",
                    500,
                    "failed to generate data key with KMS key",
                ),
            ),
            (
                Op::Generate,
                K::invalid_key_name("a/b"),
                (
                    "kms:KeyGenerationFailed",
                    500,
                    "failed to generate data key with KMS key",
                ),
            ),
            (
                Op::Generate,
                K::from(K::DECRYPT_FAILED),
                (
                    "kms:KeyGenerationFailed",
                    500,
                    "failed to generate data key with KMS key",
                ),
            ),
        ];
        for (op, kes, (code, status, message)) in cases {
            let got = s3(map_error(op, "k", &kes));
            assert_eq!(
                got,
                (code.to_owned(), status, message.to_owned()),
                "{op:?} {kes:?}"
            );
        }
        assert_eq!(
            s3(Error::KmsNotConfigured),
            (
                "NotImplemented".to_owned(),
                501,
                "Server side encryption specified but KMS is not configured".to_owned()
            )
        );
    }
}
