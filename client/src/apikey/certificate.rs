//! Self-signed certificates derived from an [`ApiKey`]: the client certificate KES clients present
//! (`kes-api.md` §3.3) and, with SANs, a server certificate (`kes identity new`).

use std::fmt;
use std::net::IpAddr;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose,
    SanType, SerialNumber,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use zeroize::Zeroizing;

use super::ApiKey;
use crate::error::{Error, Result};

/// Default validity of a client certificate derived from an API key.
pub const CLIENT_CERT_VALIDITY: time::Duration = time::Duration::days(90);

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
