//! KES identities: lowercase hex SHA-256 of a certificate's DER `SubjectPublicKeyInfo` (`kes-api.md` §3.1).
//!
//! The rule is independent of key type, subject and validity; server and client share this code.

use aws_lc_rs::digest;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::{Error, Result};

/// DER prefix of an Ed25519 `SubjectPublicKeyInfo` (OID 1.3.101.112, no parameters); the 32-byte key follows.
pub const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Identity of a DER `SubjectPublicKeyInfo`: lowercase hex of its SHA-256 (64 characters).
pub fn of_spki(spki_der: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, spki_der).as_ref())
}

/// Identity of a raw 32-byte Ed25519 public key (hash of [`ED25519_SPKI_PREFIX`] ‖ key).
pub fn of_ed25519_public_key(public_key: &[u8; 32]) -> String {
    let mut spki = Vec::with_capacity(44);
    spki.extend_from_slice(&ED25519_SPKI_PREFIX);
    spki.extend_from_slice(public_key);
    of_spki(&spki)
}

/// Identity of a DER X.509 certificate.
///
/// # Errors
/// [`Error::Certificate`] if the bytes are not a parsable X.509 certificate.
pub fn of_certificate(der: &[u8]) -> Result<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| Error::Certificate(format!("cannot parse certificate: {e}")))?;
    Ok(of_spki(cert.tbs_certificate.subject_pki.raw))
}

/// Identity of the first certificate in a PEM text.
///
/// # Errors
/// [`Error::Certificate`] if the text holds no certificate or it cannot be parsed.
pub fn of_certificate_pem(pem: &[u8]) -> Result<String> {
    let der = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or_else(|| Error::Certificate("no PEM certificate found".into()))?
        .map_err(|e| Error::Certificate(format!("invalid PEM: {e}")))?;
    of_certificate(der.as_ref())
}

/// True if the certificate carries basic constraints with `CA=true`. A CA certificate never identifies a client: the
/// server identifies a peer by the first certificate of its chain only, and not at all when that one is a CA.
///
/// # Errors
/// [`Error::Certificate`] if the certificate or its basic-constraints extension cannot be parsed.
pub fn is_ca_certificate(der: &[u8]) -> Result<bool> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| Error::Certificate(format!("cannot parse certificate: {e}")))?;
    let bc = cert
        .basic_constraints()
        .map_err(|e| Error::Certificate(format!("invalid basic constraints: {e}")))?;
    Ok(bc.is_some_and(|ext| ext.value.ca))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn ed25519_spki_hash() {
        // rust-stack.md §3 vector: seed 32×0x2a; its public key hashes to this identity.
        let kp = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(&[0x2a; 32]).unwrap();
        use aws_lc_rs::signature::KeyPair as _;
        let pk: [u8; 32] = kp.public_key().as_ref().try_into().unwrap();
        assert_eq!(
            of_ed25519_public_key(&pk),
            "5e3dc044c49e00e0a435a277126d8a4e1fced3d0b1f781686df24139ac528a4b"
        );
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(matches!(
            of_certificate(b"not a cert"),
            Err(Error::Certificate(_))
        ));
        assert!(matches!(
            of_certificate_pem(b"nothing here"),
            Err(Error::Certificate(_))
        ));
        assert!(is_ca_certificate(&[0x30, 0x00]).is_err());
    }
}
