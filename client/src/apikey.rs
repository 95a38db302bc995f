//! KES API keys (`kes:v1:` format, `kes-api.md` §3.3) and the self-signed certificates derived from them.
//!
//! String form: `kes:v1:` + base64-std(`0x00` ‖ 32-byte Ed25519 seed). The prefix is optional on parse. The seed is
//! held in zeroizing memory and never appears in `Debug` output; only `Display` (deliberately) prints the key.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose,
    SanType, SerialNumber,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::identity;

/// The textual prefix of a version-1 API key.
pub const PREFIX: &str = "kes:v1:";

/// Type byte of an Ed25519 API key (the only type).
const TYPE_ED25519: u8 = 0;

/// RFC 8410 PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Default validity of a client certificate derived from an API key.
pub const CLIENT_CERT_VALIDITY: time::Duration = time::Duration::days(90);

/// An Ed25519 API key. Cloning copies the seed into new zeroizing memory.
#[derive(Clone)]
pub struct ApiKey {
    seed: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

/// A certificate and its PKCS#8 private key, both PEM.
#[derive(Clone)]
pub struct CertifiedKey {
    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The PKCS#8 private key, PEM (`-----BEGIN PRIVATE KEY-----`); zeroized on drop.
    pub key_pem: Zeroizing<String>,
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// What to put into a certificate made by [`ApiKey::certificate_with`].
#[derive(Debug, Clone)]
pub struct CertificateOptions {
    /// Subject common name; `None` = the identity hex (what KES clients use).
    pub subject: Option<String>,
    /// DNS subject alternative names. Any SAN also adds the serverAuth extended key usage.
    pub dns_names: Vec<String>,
    /// IP subject alternative names. Any SAN also adds the serverAuth extended key usage.
    pub ip_addresses: Vec<IpAddr>,
    /// Validity from now.
    pub validity: time::Duration,
}

impl Default for CertificateOptions {
    fn default() -> Self {
        CertificateOptions {
            subject: None,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            validity: CLIENT_CERT_VALIDITY,
        }
    }
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

    /// The self-signed client certificate KES clients present (`kes-api.md` §3.3): CN = identity, random 128-bit
    /// serial, valid now … now + 90 days, KeyUsage digitalSignature, ExtKeyUsage clientAuth, basic constraints
    /// CA=false, Ed25519 signature.
    ///
    /// # Errors
    /// [`Error::Certificate`] if certificate generation fails.
    pub fn certificate(&self) -> Result<CertifiedKey> {
        self.certificate_with(&CertificateOptions::default())
    }

    /// A self-signed certificate for this key with the given subject, SANs and validity (used by
    /// `kes identity new`). With any SAN the certificate also gets ExtKeyUsage serverAuth, so it can serve TLS.
    ///
    /// # Errors
    /// [`Error::Certificate`] for an invalid DNS name or if generation fails.
    pub fn certificate_with(&self, opts: &CertificateOptions) -> Result<CertifiedKey> {
        let cert_err = |e: rcgen::Error| Error::Certificate(e.to_string());
        let pkcs8 = self.pkcs8_der();
        let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_ED25519,
        )
        .map_err(cert_err)?;

        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            opts.subject.clone().unwrap_or_else(|| self.identity()),
        );
        params.distinguished_name = dn;

        let mut serial = [0u8; 16];
        aws_lc_rs::rand::fill(&mut serial)
            .map_err(|_| Error::Certificate("random generator failed".into()))?;
        serial[0] &= 0x7f; // keep the DER INTEGER positive
        serial[0] |= 0x01; // and exactly 16 bytes long
        params.serial_number = Some(SerialNumber::from_slice(&serial));

        let now = time::OffsetDateTime::now_utc();
        params.not_before = now;
        params.not_after = now + opts.validity;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];

        for name in &opts.dns_names {
            let ia5 = name
                .clone()
                .try_into()
                .map_err(|_| Error::Certificate(format!("invalid DNS name '{name}'")))?;
            params.subject_alt_names.push(SanType::DnsName(ia5));
        }
        for ip in &opts.ip_addresses {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        if !params.subject_alt_names.is_empty() {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }

        let cert = params.self_signed(&key).map_err(cert_err)?;
        Ok(CertifiedKey {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: Zeroizing::new(key.serialize_pem()),
        })
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
        let mut raw = Zeroizing::new([0u8; 33]);
        raw[0] = TYPE_ED25519;
        raw[1..].copy_from_slice(self.seed.as_ref());
        let text = Zeroizing::new(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            raw.as_ref(),
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    const KES_VECTOR_KEY: &str = "kes:v1:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7UnjEepYDRc";
    const KES_VECTOR_ID: &str = "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22";

    #[test]
    fn kes_vector() {
        let k = ApiKey::parse(KES_VECTOR_KEY).unwrap();
        assert_eq!(k.identity(), KES_VECTOR_ID);
        assert_eq!(k.to_string(), KES_VECTOR_KEY);
        // Prefix optional.
        let bare = ApiKey::parse(KES_VECTOR_KEY.strip_prefix(PREFIX).unwrap()).unwrap();
        assert_eq!(bare, k);
    }

    #[test]
    fn rust_stack_vector() {
        let k = ApiKey::from_seed(&[0x2a; 32]).unwrap();
        assert_eq!(
            k.to_string(),
            "kes:v1:ACoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioq"
        );
        assert_eq!(
            k.identity(),
            "5e3dc044c49e00e0a435a277126d8a4e1fced3d0b1f781686df24139ac528a4b"
        );
        let parsed = ApiKey::parse("kes:v1:ACoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioq").unwrap();
        assert_eq!(parsed, k);
    }

    #[test]
    fn rejects_bad_keys() {
        for (text, why) in [
            ("", "empty key"),
            ("kes:v1:", "empty key"),
            ("kes:v1:!!!!", "not a 'kes:v1:' key or invalid base64"),
            (
                "kes:v2:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7UnjEepYDRc",
                "not a 'kes:v1:' key or invalid base64",
            ),
            // 32 bytes
            (
                "kes:v1:KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
                "invalid length",
            ),
            // 34 bytes
            (
                "kes:v1:ACoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKg==",
                "invalid length",
            ),
            // type byte 1
            (
                "kes:v1:ASoqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioq",
                "unsupported key type",
            ),
        ] {
            match ApiKey::parse(text) {
                Err(Error::InvalidApiKey(msg)) => assert_eq!(msg, why, "{text}"),
                other => panic!("{text}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn debug_is_redacted_and_generate_round_trips() {
        let k = ApiKey::generate().unwrap();
        let shown = k.to_string();
        assert!(shown.starts_with("kes:v1:A"));
        assert_eq!(shown.len(), PREFIX.len() + 44);
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&shown[PREFIX.len()..]));
        assert!(dbg.contains(&k.identity()));
        assert_eq!(ApiKey::parse(&shown).unwrap(), k);
        assert_ne!(ApiKey::generate().unwrap(), k);
    }

    #[test]
    fn certificate_matches_identity_and_profile() {
        let k = ApiKey::parse(KES_VECTOR_KEY).unwrap();
        let c = k.certificate().unwrap();
        assert!(c.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(c.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(!format!("{c:?}").contains("PRIVATE KEY"));
        assert_eq!(
            identity::of_certificate(&c.cert_der).unwrap(),
            KES_VECTOR_ID
        );
        assert_eq!(
            identity::of_certificate_pem(c.cert_pem.as_bytes()).unwrap(),
            KES_VECTOR_ID
        );
        assert!(!identity::is_ca_certificate(&c.cert_der).unwrap());

        let (_, x) = x509_parser::parse_x509_certificate(&c.cert_der).unwrap();
        let cn = x
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap();
        assert_eq!(cn, KES_VECTOR_ID);
        assert_eq!(x.issuer(), x.subject());
        let bc = x
            .basic_constraints()
            .unwrap()
            .expect("basic constraints present");
        assert!(!bc.value.ca);
        let ku = x.key_usage().unwrap().expect("key usage present");
        assert!(ku.value.digital_signature());
        let eku = x.extended_key_usage().unwrap().expect("eku present");
        assert!(eku.value.client_auth);
        assert!(!eku.value.server_auth);
        let serial = x.raw_serial();
        assert_eq!(serial.len(), 16);
        let days =
            (x.validity().not_after.timestamp() - x.validity().not_before.timestamp()) / 86400;
        assert_eq!(days, 90);
        assert!(x.subject_alternative_name().unwrap().is_none());
        // Two certificates of the same key differ in serial but share the identity.
        let c2 = k.certificate().unwrap();
        let (_, x2) = x509_parser::parse_x509_certificate(&c2.cert_der).unwrap();
        assert_ne!(x2.raw_serial(), serial);
        assert_eq!(
            identity::of_certificate(&c2.cert_der).unwrap(),
            KES_VECTOR_ID
        );
    }

    #[test]
    fn server_certificate_options() {
        let k = ApiKey::generate().unwrap();
        let opts = CertificateOptions {
            subject: Some("my-server".into()),
            dns_names: vec!["localhost".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
            validity: time::Duration::hours(720),
        };
        let c = k.certificate_with(&opts).unwrap();
        let (_, x) = x509_parser::parse_x509_certificate(&c.cert_der).unwrap();
        assert_eq!(
            x.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "my-server"
        );
        let eku = x.extended_key_usage().unwrap().unwrap();
        assert!(eku.value.client_auth && eku.value.server_auth);
        let san = x.subject_alternative_name().unwrap().unwrap();
        assert_eq!(san.value.general_names.len(), 2);
        assert_eq!(identity::of_certificate(&c.cert_der).unwrap(), k.identity());
        let bad = CertificateOptions {
            dns_names: vec!["bad\u{e9}name".into()],
            ..CertificateOptions::default()
        };
        assert!(matches!(
            k.certificate_with(&bad),
            Err(Error::Certificate(_))
        ));
    }
}
