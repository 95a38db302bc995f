//! Who is calling: the identity of a TLS peer, computed once per connection.
//!
//! Rule: the identity is the **first** certificate of the presented chain,
//! the only one whose private key the TLS handshake proves the client holds
//! (the handshake verifier also checks its validity period). Identity =
//! lowercase hex SHA-256 of that certificate's DER SubjectPublicKeyInfo (the
//! hash lives in [`client::identity`], shared with every client).
//!
//! - A first certificate with CA=true (or one that does not parse) identifies
//!   no one: [`Peer::NoCertificate`].
//! - Later certificates never identify anyone; a later certificate that is
//!   not a CA makes the chain ambiguous: [`Peer::TooMany`].
//!
//! This differs from upstream KES (kes-api.md §3.1), which skips CA
//! certificates anywhere in the chain and takes the one non-CA certificate
//! left, wherever it stands. A client could then sign the handshake with its
//! own CA:TRUE certificate and append a CA:FALSE certificate carrying
//! someone else's public key (public keys are not secret) to be identified as
//! them. We never identify a peer by a key it has not proven to hold.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use crate::policy::Identity;

/// One accepted connection, as every request on it sees it.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    /// The peer's identity, computed once from its certificates.
    pub peer: Arc<Peer>,
    /// The peer's socket address (the audit log's client IP).
    pub remote: SocketAddr,
}

/// Why a peer has no identity; the API answers each with KES's 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    /// No certificate, or the first one is a CA certificate.
    #[error("tls: client certificate is required")]
    NoCertificate,
    /// More than one end-entity certificate in the chain.
    #[error("tls: received more than one client certificate")]
    TooManyCertificates,
}

/// The outcome of identifying a peer, stored per connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Exactly one non-CA certificate.
    Identified(Identity),
    /// No (non-CA) client certificate.
    NoCertificate,
    /// More than one non-CA certificate.
    TooMany,
}

impl Peer {
    /// Identifies a peer from its presented certificate chain, leaf first
    /// (the order TLS sends it in): only the first certificate, whose key
    /// signed the handshake, can identify the peer.
    pub(crate) fn from_certificates(certs: &[CertificateDer<'_>]) -> Peer {
        let Some((first, rest)) = certs.split_first() else {
            return Peer::NoCertificate;
        };
        let is_leaf = |c: &CertificateDer<'_>| {
            matches!(client::identity::is_ca_certificate(c.as_ref()), Ok(false))
        };
        if !is_leaf(first) {
            // A CA (or unparsable) certificate signed the handshake.
            return Peer::NoCertificate;
        }
        // A second end-entity certificate makes the chain ambiguous (KES's
        // two-leaf rule), even though it could never identify anyone.
        if rest.iter().any(is_leaf) {
            return Peer::TooMany;
        }
        client::identity::of_certificate(first.as_ref())
            .ok()
            .and_then(|id| Identity::parse(&id))
            .map_or(Peer::NoCertificate, Peer::Identified)
    }

    /// The identity, or why there is none.
    pub(crate) fn identity(&self) -> Result<&Identity, AuthError> {
        match self {
            Peer::Identified(id) => Ok(id),
            Peer::NoCertificate => Err(AuthError::NoCertificate),
            Peer::TooMany => Err(AuthError::TooManyCertificates),
        }
    }
}
