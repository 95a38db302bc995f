//! TLS material for [`super::ClientBuilder`]: the client certificate and key (with the identity they prove) and the
//! CA certificates to trust instead of (or besides) the system roots.

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use zeroize::Zeroizing;

use super::error_chain;
use crate::error::{Error, Result};
use crate::identity;

/// Client credentials: a PEM certificate chain and its private key.
pub(super) struct PemIdentity {
    /// The certificate chain, PEM; the first certificate is the client's.
    pub(super) cert_pem: Vec<u8>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1); zeroized on drop.
    pub(super) key_pem: Zeroizing<Vec<u8>>,
}

/// The identity of the first certificate of `pem` and the `reqwest` identity presenting it.
///
/// # Errors
/// [`Error::Tls`] for an encrypted private key, a PEM without certificate, or a certificate/key pair `reqwest`
/// rejects; [`Error::Certificate`] if the certificate cannot be parsed.
pub(super) fn client_identity(pem: &PemIdentity) -> Result<(String, reqwest::Identity)> {
    if contains(&pem.key_pem, b"ENCRYPTED") {
        return Err(Error::Tls(
            "encrypted private keys are not supported; decrypt the key file first".into(),
        ));
    }
    let first = CertificateDer::pem_slice_iter(&pem.cert_pem)
        .next()
        .ok_or_else(|| Error::Tls("no certificate found in the client certificate PEM".into()))?
        .map_err(|e| Error::Tls(format!("invalid client certificate PEM: {e}")))?;
    let identity = identity::of_certificate(first.as_ref())?;
    let mut both = Zeroizing::new(Vec::with_capacity(
        pem.key_pem.len() + pem.cert_pem.len() + 1,
    ));
    both.extend_from_slice(&pem.key_pem);
    both.push(b'\n');
    both.extend_from_slice(&pem.cert_pem);
    let certificate = reqwest::Identity::from_pem(&both).map_err(|e| {
        Error::Tls(format!(
            "invalid client certificate or private key: {}",
            error_chain(&e)
        ))
    })?;
    Ok((identity, certificate))
}

/// The certificates of every CA file or directory (in order), then of every CA PEM text.
///
/// # Errors
/// [`Error::Io`] for an unreadable path; [`Error::Tls`] for invalid PEM or a source without any certificate.
pub(super) fn trust_roots(
    files: &[PathBuf],
    pems: &[Vec<u8>],
) -> Result<Vec<reqwest::Certificate>> {
    let mut roots = Vec::new();
    for path in files {
        roots.extend(load_ca_path(path)?);
    }
    for pem in pems {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::Tls(format!("invalid CA certificate PEM: {}", error_chain(&e))))?;
        if certs.is_empty() {
            return Err(Error::Tls("no certificate found in CA PEM".into()));
        }
        roots.extend(certs);
    }
    Ok(roots)
}

/// Reads a whole file.
///
/// # Errors
/// [`Error::Io`] naming the path.
pub(super) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Loads the certificates of a PEM file, or of every file in a directory (files without certificates are skipped).
fn load_ca_path(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mut out = Vec::new();
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let pem = read_file(&f)?;
            if let Ok(certs) = reqwest::Certificate::from_pem_bundle(&pem) {
                out.extend(certs);
            }
        }
    } else {
        let pem = read_file(path)?;
        out = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::Tls(format!(
                "{}: invalid CA certificate PEM: {}",
                path.display(),
                error_chain(&e)
            ))
        })?;
    }
    if out.is_empty() {
        return Err(Error::Tls(format!(
            "{}: no CA certificate found",
            path.display()
        )));
    }
    Ok(out)
}
