//! Who is calling: the identity of a TLS peer, computed once per connection.
//!
//! Rule (kes-api.md §3.1): skip every certificate whose basic constraints say
//! CA=true; exactly one must remain. Identity = lowercase hex SHA-256 of that
//! certificate's DER SubjectPublicKeyInfo (the rule lives in
//! [`client::identity`], shared with every client).

use rustls::pki_types::CertificateDer;

use crate::api::error::ApiError;
use crate::policy::Identity;

/// The outcome of identifying a peer, stored per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Exactly one non-CA certificate.
    Identified(Identity),
    /// No (non-CA) client certificate.
    NoCertificate,
    /// More than one non-CA certificate.
    TooMany,
}

impl Peer {
    /// Identifies a peer from its presented certificate chain.
    pub fn from_certificates(certs: &[CertificateDer<'_>]) -> Peer {
        let mut leaf: Option<Identity> = None;
        for cert in certs {
            // Unparsable certificates cannot identify anyone; CA certificates are skipped.
            match client::identity::is_ca_certificate(cert.as_ref()) {
                Ok(false) => {}
                Ok(true) | Err(_) => continue,
            }
            if leaf.is_some() {
                return Peer::TooMany;
            }
            leaf = client::identity::of_certificate(cert.as_ref())
                .ok()
                .and_then(|id| Identity::parse(&id));
        }
        match leaf {
            Some(id) => Peer::Identified(id),
            None => Peer::NoCertificate,
        }
    }

    /// The identity, or the KES error for why there is none.
    pub fn identity(&self) -> Result<&Identity, ApiError> {
        match self {
            Peer::Identified(id) => Ok(id),
            Peer::NoCertificate => Err(ApiError::NoCertificate),
            Peer::TooMany => Err(ApiError::TooManyCertificates),
        }
    }
}
