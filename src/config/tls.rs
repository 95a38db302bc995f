//! rustls server configuration and the client-certificate verifier.
//!
//! KES's default mode requires a client certificate but does not chain-verify
//! it: identities are pinned public keys. [`AnyClientCert`] accepts any
//! end-entity certificate inside its validity window, but **delegates the
//! handshake signature check** to the provider, so the client must prove it
//! holds the private key. `tls.auth: on` uses a WebPKI verifier instead.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use super::{ClientAuth, ConfigError};

/// The one crypto provider: aws-lc-rs.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Accepts any client certificate but verifies the handshake signature.
#[derive(Debug)]
pub struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
    mandatory: bool,
}

impl AnyClientCert {
    /// `mandatory = false` when some route has `skip_auth`: clients without a
    /// certificate then complete the handshake and get HTTP 400 instead.
    pub fn new(provider: &CryptoProvider, mandatory: bool) -> Self {
        AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
            mandatory,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        check_validity(end_entity, now)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Checks that `end_entity` parses and that `now` lies inside its validity window: what a full
/// handshake checks of a client's leaf in the default mode.
fn check_validity(end_entity: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        return Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidYet,
        ));
    }
    if now > validity.not_after.timestamp() {
        return Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired,
        ));
    }
    Ok(())
}

/// Whether a **resumed** TLS session may still be used: its client leaf (the first certificate
/// of the chain the session was established with, kept in the session ticket) is inside its
/// validity window now. A resumption does not run the certificate verifier again, so without
/// this a certificate that expired during a ticket's lifetime would keep resuming (Go's
/// crypto/tls, which upstream KES uses, checks the leaf's expiry on resumption too).
/// A session without a client certificate passes: the API answers it as unauthenticated.
pub fn resumed_leaf_is_current(chain: &[CertificateDer<'_>]) -> bool {
    chain
        .first()
        .is_none_or(|leaf| check_validity(leaf, UnixTime::now()).is_ok())
}

/// A certificate chain and private key in PEM form.
pub struct Identity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
}

/// Loads a PEM certificate chain and private key from files.
pub fn load_identity(
    cert: &Path,
    key: &Path,
    password: Option<&str>,
) -> Result<Identity, ConfigError> {
    let cert_pem = std::fs::read(cert)
        .map_err(|e| ConfigError::Tls(format!("cannot read '{}': {e}", cert.display())))?;
    let key_pem = std::fs::read(key)
        .map_err(|e| ConfigError::Tls(format!("cannot read '{}': {e}", key.display())))?;
    if String::from_utf8_lossy(&key_pem).contains("ENCRYPTED") {
        let hint = if password.is_some() {
            ""
        } else {
            " and no tls.password is set"
        };
        return Err(ConfigError::Tls(format!(
            "'{}' is an encrypted private key{hint}: encrypted keys are not supported yet, decrypt it first",
            key.display()
        )));
    }
    identity_from_pem(&cert_pem, &key_pem)
}

/// Parses a PEM certificate chain and private key.
pub fn identity_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, ConfigError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::Tls(format!("invalid certificate PEM: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(ConfigError::Tls("no certificate found in tls.cert".into()));
    };
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| ConfigError::Tls(format!("invalid certificate: {e}")))?;
    let has_san = matches!(parsed.subject_alternative_name(), Ok(Some(san)) if san.value.general_names.iter().any(|n| {
        matches!(n, x509_parser::extensions::GeneralName::DNSName(_) | x509_parser::extensions::GeneralName::IPAddress(_))
    }));
    if !has_san {
        return Err(ConfigError::Tls(
            "the server certificate has no DNS or IP subject alternative name".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| ConfigError::Tls(format!("invalid private key PEM: {e}")))?;
    Ok(Identity { chain, key })
}

/// Loads every certificate of a PEM file, or of every file in a directory.
pub fn load_roots(path: &Path) -> Result<RootCertStore, ConfigError> {
    let mut files = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| ConfigError::Tls(format!("cannot read '{}': {e}", path.display())))?;
        for e in entries.flatten() {
            if e.path().is_file() {
                files.push(e.path());
            }
        }
    } else {
        files.push(path.to_path_buf());
    }
    let mut roots = RootCertStore::empty();
    for f in files {
        let pem = std::fs::read(&f)
            .map_err(|e| ConfigError::Tls(format!("cannot read '{}': {e}", f.display())))?;
        for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
            roots.add(cert).map_err(|e| {
                ConfigError::Tls(format!("invalid CA certificate in '{}': {e}", f.display()))
            })?;
        }
    }
    if roots.is_empty() {
        return Err(ConfigError::Tls(format!(
            "no CA certificate found in '{}'",
            path.display()
        )));
    }
    Ok(roots)
}

/// Builds the server config: TLS 1.3 and 1.2, ALPN h2 and http/1.1, the
/// client-auth mode of `tls.auth`, optional when any route skips auth, and
/// session resumption by stateless tickets (one per TLS 1.3 handshake).
pub fn server_config(
    identity: Identity,
    auth: ClientAuth,
    ca: Option<&Path>,
    any_route_skips_auth: bool,
) -> Result<ServerConfig, ConfigError> {
    let provider = provider();
    let verifier: Arc<dyn ClientCertVerifier> = match auth {
        ClientAuth::RequireAny => Arc::new(AnyClientCert::new(&provider, !any_route_skips_auth)),
        ClientAuth::RequireVerified => {
            let roots = match ca {
                Some(p) => load_roots(p)?,
                None => {
                    return Err(ConfigError::Tls(
                        "tls.auth is 'on' but no tls.ca is set".into(),
                    ));
                }
            };
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let builder = if any_route_skips_auth {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|e| ConfigError::Tls(format!("client verifier: {e}")))?
        }
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ConfigError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| ConfigError::Tls(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Session resumption by stateless tickets (TLS 1.3 and 1.2): a
    // reconnecting client skips the key exchange, the certificate and both
    // signatures; the server keeps no per-session memory. The ticket carries
    // the client's certificate chain, so a resumed connection has the same
    // identity. Keys are random per `ServerConfig` (rotated every 6 h,
    // tickets live 12 h): a restart or reload invalidates every ticket.
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new()
        .map_err(|e| ConfigError::Tls(format!("session tickets: {e}")))?;
    // One ticket per handshake is enough for a client that reconnects one
    // connection at a time; each costs an encryption and a record.
    config.send_tls13_tickets = 1;
    Ok(config)
}
