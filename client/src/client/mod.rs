//! The async KES client: one typed method per endpoint, mTLS, retries and multi-endpoint failover.
//!
//! Behaviour per request (`object-sse.md` §1.3, `kes-api.md` §1.8):
//!
//! * endpoints are tried in the order of [`crate::endpoints`] (local first, else random start and rotation);
//! * on one endpoint, a **network error** on an established exchange (timeout, reset, EOF) or an HTTP **503** is
//!   retried up to 2 times after a random 200–1000 ms pause; a failure to connect is not retried there;
//! * a transport error or a 5xx other than 501 moves on to the next endpoint and quarantines the failed one
//!   (30 s); quarantined endpoints are skipped unless no endpoint produced a response, in which case they get one
//!   more try;
//! * 4xx and 501 are returned at once (no failover); a success clears the endpoint's quarantine.
//!
//! Request bodies are kept as bytes, so retries resend them unchanged. There is no overall request timeout unless
//! [`ClientBuilder::timeout`] sets one (as in Go, the caller bounds the call, e.g. with `tokio::time::timeout`).
//!
//! # Layout
//!
//! * `mod.rs` — [`Client`] and its shared state.
//! * `builder` — [`ClientBuilder`]: endpoints, credentials, trust, retry and timeout settings.
//! * `tls` — client certificate and CA loading for the builder.
//! * `transport` — one logical request: retries per endpoint, failover, quarantine, error decoding.
//! * `keys` — key management and cryptographic operations (`/v1/key/…`, `/v1/ext/key/…`).
//! * `admin` — policies and identities (`/v1/policy/…`, `/v1/identity/…`).
//! * `status` — `/version`, `/v1/ready`, `/v1/status`, `/v1/api`, `/v1/metrics`.
//! * `stream` — the audit and error log streams ([`EventStream`], NDJSON).

mod admin;
mod builder;
mod keys;
mod status;
mod stream;
mod tls;
mod transport;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use crate::endpoints::Endpoints;

pub use builder::ClientBuilder;
pub use stream::EventStream;

/// Default number of retries per endpoint on network errors and 503.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default pause before a retry: uniformly random in this range.
pub const DEFAULT_RETRY_DELAY: Range<Duration> =
    Duration::from_millis(200)..Duration::from_millis(1000);

/// What all clones of one [`Client`] share.
struct Inner {
    /// The connection pool, with the client certificate and trust roots.
    http: reqwest::Client,
    /// Ordered endpoints and their quarantine marks.
    endpoints: Endpoints,
    /// Retries per endpoint on network errors and 503.
    max_retries: u32,
    /// Range of the random pause before a retry.
    retry_delay: Range<Duration>,
    /// Identity of the client certificate, if one is presented.
    identity: Option<String>,
}

/// A KES client. Cheap to clone (shared connection pool and endpoint state).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.inner.endpoints.urls())
            .field("identity", &self.inner.identity)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// The identity of the client certificate this client presents, if any.
    pub fn identity(&self) -> Option<&str> {
        self.inner.identity.as_deref()
    }

    /// The normalised, ordered endpoint URLs.
    pub fn endpoints(&self) -> Vec<String> {
        self.inner
            .endpoints
            .urls()
            .iter()
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .collect()
    }
}

/// Renders an error and its sources as one line (each source once).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let t = src.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = src.source();
    }
    s
}
