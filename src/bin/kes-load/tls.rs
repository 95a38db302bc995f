//! The client's TLS configuration: the client certificate (from an API key or from
//! `--cert`/`--key` files), the trust anchors (`--ca`) or no verification (`--insecure`),
//! ALPN (`h2` or `http/1.1`) and TLS session resumption (on unless `--no-resume`).
//!
//! One provider (aws-lc-rs), as the server. The config is built once and shared by every
//! connection, so its in-memory session cache is what lets new connections resume.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use zeroize::Zeroizing;

/// How the client proves its identity.
pub(crate) enum Credentials {
    /// A KES API key (`kes:v1:…`): its self-signed Ed25519 certificate.
    ApiKey(client::ApiKey),
    /// PEM files: certificate chain and private key.
    Files {
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
    },
}

/// What the TLS layer needs besides the credentials.
pub(crate) struct TlsOptions<'a> {
    /// PEM file of the CA(s) to trust; `None` with `insecure` = no verification.
    pub(crate) ca: Option<&'a Path>,
    /// Accept any server certificate.
    pub(crate) insecure: bool,
    /// Offer only HTTP/1.1 (else only h2).
    pub(crate) http1: bool,
    /// Keep a session cache and resume (TLS 1.3 tickets / 1.2 ids).
    pub(crate) resume: bool,
}

/// Builds the shared client configuration.
///
/// # Errors
/// Unreadable or invalid PEM files, a key the provider does not support, or neither `ca`
/// nor `insecure` given.
pub(crate) fn client_config(
    creds: &Credentials,
    opts: &TlsOptions<'_>,
) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match (opts.ca, opts.insecure) {
        // The server's own CA loading (a file or a directory of PEM files).
        (Some(ca), _) => builder.with_root_certificates(kes::config::tls::load_roots(ca)?),
        (None, true) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(
                provider.signature_verification_algorithms,
            ))),
        (None, false) => anyhow::bail!("give --ca FILE, or --insecure to skip verification"),
    };
    let (chain, key) = credentials(creds)?;
    let mut config = builder
        .with_client_auth_cert(chain, key)
        .context("client certificate and key")?;
    config.alpn_protocols = if opts.http1 {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec()]
    };
    if !opts.resume {
        config.resumption = Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// The certificate chain and private key the client presents.
fn credentials(
    creds: &Credentials,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let (cert_pem, key_pem): (Vec<u8>, Zeroizing<Vec<u8>>) = match creds {
        Credentials::ApiKey(k) => {
            let ck = k.certificate().context("certificate of the API key")?;
            (
                ck.cert_pem.into_bytes(),
                Zeroizing::new(ck.key_pem.as_bytes().to_vec()),
            )
        }
        Credentials::Files { cert, key } => (
            std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?,
            Zeroizing::new(
                std::fs::read(key).with_context(|| format!("reading {}", key.display()))?,
            ),
        ),
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .context("invalid client certificate PEM")?;
    if chain.is_empty() {
        anyhow::bail!("no client certificate in the PEM");
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).context("invalid private key PEM")?;
    Ok((chain, key))
}

/// `--insecure`: accepts any server certificate but still checks the handshake signature
/// (so the server's key is proven, only not bound to a trusted name).
#[derive(Debug)]
struct AnyServer(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
