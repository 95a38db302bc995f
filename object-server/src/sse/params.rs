//! SSE-C header validation into [`CustomerKey`] (object-sse.md §4.1).
//!
//! "SSE-C requested" means any one of the three SSE-C headers is present (value ignored).
//! Validation order: algorithm = `AES256` exactly → key present → MD5 present → key is base64 of
//! 32 bytes → MD5 is base64 of MD5(key). Errors carry MinIO's crypto texts; the S3 mapping
//! depends on the operation and lives in `crate::error`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use super::keys::Key32;

/// The only SSE-C algorithm.
pub const SSE_C_ALGORITHM: &str = "AES256";

/// A validated SSE-C client key with the MD5 the client sent (echoed in responses).
#[derive(Clone)]
pub struct CustomerKey {
    key: Key32,
    key_md5: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerKey")
            .field("key", &"[REDACTED]")
            .field("key_md5", &self.key_md5)
            .finish()
    }
}

impl CustomerKey {
    /// The client key.
    pub fn key(&self) -> &Key32 {
        &self.key
    }

    /// The base64 MD5 of the key, as sent by the client.
    pub fn key_md5(&self) -> &str {
        &self.key_md5
    }

    /// Constant-time comparison of the keys.
    pub fn same_key(&self, other: &CustomerKey) -> bool {
        self.key.ct_eq(&other.key)
    }
}

/// A failed SSE-C header check, in validation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SseCError {
    /// Algorithm missing or not `AES256`.
    #[error("The SSE-C algorithm is not supported")]
    InvalidAlgorithm,
    /// Key header empty or missing.
    #[error("The SSE-C request is missing the customer key")]
    MissingKey,
    /// MD5 header empty or missing.
    #[error("The SSE-C request is missing the customer key MD5")]
    MissingKeyMd5,
    /// Key not base64 or not 32 bytes.
    #[error("The SSE-C client key is invalid")]
    InvalidKey,
    /// MD5 not base64 or not MD5(key).
    #[error("The provided SSE-C key MD5 does not match the computed MD5 of the SSE-C key")]
    KeyMd5Mismatch,
}

/// The three raw SSE-C header values (normal or copy-source set).
#[derive(Clone, Copy, Default)]
pub struct SseCHeaders<'a> {
    /// `…-customer-algorithm`
    pub algorithm: Option<&'a str>,
    /// `…-customer-key`
    pub key: Option<&'a str>,
    /// `…-customer-key-MD5`
    pub key_md5: Option<&'a str>,
}

impl std::fmt::Debug for SseCHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseCHeaders")
            .field("algorithm", &self.algorithm)
            .field("key", &self.key.map(|_| "[REDACTED]"))
            .field("key_md5", &self.key_md5)
            .finish()
    }
}

impl<'a> SseCHeaders<'a> {
    /// Whether SSE-C is requested (any header present).
    pub fn requested(&self) -> bool {
        self.algorithm.is_some() || self.key.is_some() || self.key_md5.is_some()
    }

    /// Validates the headers; `Ok(None)` when SSE-C is not requested.
    pub fn parse(&self) -> Result<Option<CustomerKey>, SseCError> {
        if !self.requested() {
            return Ok(None);
        }
        if self.algorithm != Some(SSE_C_ALGORITHM) {
            return Err(SseCError::InvalidAlgorithm);
        }
        let key_b64 = self
            .key
            .filter(|k| !k.is_empty())
            .ok_or(SseCError::MissingKey)?;
        let md5_b64 = self
            .key_md5
            .filter(|k| !k.is_empty())
            .ok_or(SseCError::MissingKeyMd5)?;
        let raw = zeroize::Zeroizing::new(
            STANDARD
                .decode(key_b64)
                .map_err(|_| SseCError::InvalidKey)?,
        );
        let key = Key32::from_slice(&raw).ok_or(SseCError::InvalidKey)?;
        let md5 = STANDARD
            .decode(md5_b64)
            .map_err(|_| SseCError::KeyMd5Mismatch)?;
        let computed = Md5::digest(key.expose());
        if md5.len() != computed.len() || !bool::from(md5.ct_eq(&computed[..])) {
            return Err(SseCError::KeyMd5Mismatch);
        }
        Ok(Some(CustomerKey {
            key,
            key_md5: md5_b64.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0cHJvdmlkZWQ=";
    const MD5: &str = "7PpPLAK26ONlVUGOWlusfg==";

    fn h<'a>(a: Option<&'a str>, k: Option<&'a str>, m: Option<&'a str>) -> SseCHeaders<'a> {
        SseCHeaders {
            algorithm: a,
            key: k,
            key_md5: m,
        }
    }

    #[test]
    fn validation_order() {
        assert!(h(None, None, None).parse().unwrap().is_none());
        let ok = h(Some("AES256"), Some(KEY), Some(MD5))
            .parse()
            .unwrap()
            .unwrap();
        assert_eq!(ok.key_md5(), MD5);
        assert!(!format!("{ok:?}").contains(KEY));
        let cases = [
            (
                h(Some("aes256"), Some(KEY), Some(MD5)),
                SseCError::InvalidAlgorithm,
            ),
            (h(None, Some(KEY), Some(MD5)), SseCError::InvalidAlgorithm),
            (h(Some("AES256"), None, None), SseCError::MissingKey),
            (
                h(Some("AES256"), Some(""), Some(MD5)),
                SseCError::MissingKey,
            ),
            (
                h(Some("AES256"), Some("!!"), None),
                SseCError::MissingKeyMd5,
            ),
            (
                h(Some("AES256"), Some("!!"), Some(MD5)),
                SseCError::InvalidKey,
            ),
            (
                h(Some("AES256"), Some("AAAA"), Some(MD5)),
                SseCError::InvalidKey,
            ),
            (
                h(Some("AES256"), Some(KEY), Some("zz")),
                SseCError::KeyMd5Mismatch,
            ),
            (
                h(Some("AES256"), Some(KEY), Some("DWygnHRtgiJ77HCm+1rvHw==")),
                SseCError::KeyMd5Mismatch,
            ),
        ];
        for (headers, want) in cases {
            assert_eq!(headers.parse().unwrap_err(), want, "{headers:?}");
        }
    }
}
