//! KES API keys (`kes:v1:` format, `kes-api.md` §3.3) and the self-signed certificates derived from them.
//!
//! String form: `kes:v1:` + base64-std(`0x00` ‖ 32-byte Ed25519 seed). The prefix is optional on parse. The seed is
//! held in zeroizing memory and never appears in `Debug` output; only `Display` (deliberately) prints the key.
//!
//! # Layout
//!
//! * `mod.rs` — [`ApiKey`]: generate, parse, print, identity, PKCS#8.
//! * `certificate` — [`ApiKey::certificate`] / [`ApiKey::certificate_with`], [`CertifiedKey`], [`CertificateOptions`].

mod certificate;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::identity;

pub use certificate::{CLIENT_CERT_VALIDITY, CertificateOptions, CertifiedKey};

/// The textual prefix of a version-1 API key.
pub const PREFIX: &str = "kes:v1:";

/// Type byte of an Ed25519 API key (the only type).
const TYPE_ED25519: u8 = 0;

/// RFC 8410 PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// An Ed25519 API key. Cloning copies the seed into new zeroizing memory.
#[derive(Clone)]
pub struct ApiKey {
    seed: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl ApiKey {
    /// Generates a new random API key (seed from the system CSPRNG).
    ///
    /// # Errors
    /// [`Error::Certificate`] if the random generator fails.
    pub fn generate() -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(seed.as_mut())
            .map_err(|_| Error::Certificate("random generator failed".into()))?;
        Self::from_seed(&seed)
    }

    /// Builds the API key of an Ed25519 seed.
    ///
    /// # Errors
    /// [`Error::InvalidApiKey`] if the seed is rejected by the Ed25519 implementation.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self> {
        let kp = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| Error::InvalidApiKey("invalid Ed25519 seed"))?;
        let public: [u8; 32] = kp
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| Error::InvalidApiKey("invalid Ed25519 public key"))?;
        Ok(ApiKey {
            seed: Zeroizing::new(*seed),
            public,
        })
    }

    /// Parses `kes:v1:<base64>` or the bare base64 part.
    ///
    /// # Errors
    /// [`Error::InvalidApiKey`] for bad base64, a decoded length other than 33 bytes, or a type byte other than 0.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let b64 = text.strip_prefix(PREFIX).unwrap_or(text);
        if b64.is_empty() {
            return Err(Error::InvalidApiKey("empty key"));
        }
        let raw = Zeroizing::new(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64)
                .map_err(|_| Error::InvalidApiKey("not a 'kes:v1:' key or invalid base64"))?,
        );
        if raw.len() != 33 {
            return Err(Error::InvalidApiKey("invalid length"));
        }
        let (ty, seed) = raw.split_at(1);
        if ty != [TYPE_ED25519] {
            return Err(Error::InvalidApiKey("unsupported key type"));
        }
        let mut s = Zeroizing::new([0u8; 32]);
        s.copy_from_slice(seed);
        Self::from_seed(&s)
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// The KES identity: lowercase hex SHA-256 of the Ed25519 `SubjectPublicKeyInfo` DER.
    pub fn identity(&self) -> String {
        identity::of_ed25519_public_key(&self.public)
    }

    /// The private key as PKCS#8 v1 DER (zeroized on drop).
    pub fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PKCS8_ED25519_PREFIX);
        der.extend_from_slice(self.seed.as_ref());
        der
    }
}

impl FromStr for ApiKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ApiKey::parse(s)
    }
}

impl PartialEq for ApiKey {
    /// Constant-time comparison of the seeds.
    fn eq(&self, other: &Self) -> bool {
        self.seed.as_ref().ct_eq(other.seed.as_ref()).into()
    }
}

impl Eq for ApiKey {}

impl fmt::Display for ApiKey {
    /// Prints the secret `kes:v1:…` form. Never log this.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Zeroizing::new(Vec::with_capacity(33));
        raw.push(TYPE_ED25519);
        raw.extend_from_slice(self.seed.as_ref());
        let text = Zeroizing::new(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            raw.as_slice(),
        ));
        write!(f, "{PREFIX}{}", text.as_str())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("identity", &self.identity())
            .field("seed", &"<redacted>")
            .finish()
    }
}
