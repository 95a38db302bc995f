//! [`ClientBuilder`]: collects endpoints, credentials, trust roots, retry and timeout settings, and validates them
//! all at [`ClientBuilder::build`].

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::tls::{self, PemIdentity};
use super::{Client, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_DELAY, Inner, error_chain};
use crate::apikey::ApiKey;
use crate::endpoints::{DEFAULT_QUARANTINE, Endpoints};
use crate::error::{Error, Result};

/// Builds a [`Client`]. Obtain one with [`Client::builder`].
pub struct ClientBuilder {
    endpoints: Vec<String>,
    api_key: Option<ApiKey>,
    identity: Option<PemIdentity>,
    identity_files: Option<(PathBuf, PathBuf)>,
    ca_files: Vec<PathBuf>,
    ca_pems: Vec<Vec<u8>>,
    keep_system_roots: bool,
    insecure: bool,
    max_retries: u32,
    retry_delay: Range<Duration>,
    quarantine: Duration,
    timeout: Option<Duration>,
    connect_timeout: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoints", &self.endpoints)
            .field("api_key", &self.api_key)
            .field("identity", &self.identity.as_ref().map(|_| "<pem>"))
            .field("identity_files", &self.identity_files)
            .field("ca_files", &self.ca_files)
            .field("keep_system_roots", &self.keep_system_roots)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The defaults: no endpoint, no credentials, system roots, 2 retries, 30 s quarantine and connect timeout.
    pub(super) fn new() -> Self {
        ClientBuilder {
            endpoints: Vec::new(),
            api_key: None,
            identity: None,
            identity_files: None,
            ca_files: Vec::new(),
            ca_pems: Vec::new(),
            keep_system_roots: false,
            insecure: false,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_delay: DEFAULT_RETRY_DELAY,
            quarantine: DEFAULT_QUARANTINE,
            timeout: None,
            connect_timeout: Duration::from_secs(30),
        }
    }

    /// Adds one server endpoint (`host:port` or `https://host:port`; `http://` is refused at build time).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoints.push(endpoint.into());
        self
    }

    /// Adds server endpoints.
    pub fn endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.endpoints.extend(endpoints.into_iter().map(Into::into));
        self
    }

    /// Authenticates with an API key (a self-signed certificate is derived from it at build time).
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Authenticates with a PEM certificate (chain) and its PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn identity_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.identity = Some(PemIdentity {
            cert_pem: cert_pem.into(),
            key_pem: Zeroizing::new(key_pem.into()),
        });
        self
    }

    /// Authenticates with a certificate file and a private-key file (PEM), read at build time.
    pub fn identity_files(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.identity_files = Some((cert_file.into(), key_file.into()));
        self
    }

    /// Trusts the CA certificates in a PEM file, or in every PEM file of a directory, instead of the system roots (or
    /// besides them: [`Self::keep_system_roots`]).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Trusts the CA (or self-signed server) certificates of a PEM text instead of the system roots (or besides them:
    /// [`Self::keep_system_roots`]).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }

    /// With `true`, the CA certificates of [`Self::ca_file`] / [`Self::ca_pem`] are trusted **in addition to** the
    /// system roots (MinIO's `MINIO_KMS_KES_CAPATH`: system pool plus these files) instead of replacing them. The
    /// system roots are the platform's (on Linux: `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, else the distribution's
    /// CA bundle). Default `false`; without any CA certificate the system roots are used either way.
    pub fn keep_system_roots(mut self, keep: bool) -> Self {
        self.keep_system_roots = keep;
        self
    }

    /// Skips server certificate verification (the CLI's `-k/--insecure`). The client certificate is still sent.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Retries per endpoint on network errors and 503 (default 2).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Range of the random pause before a retry (default 200 ms..1000 ms). An empty range pauses for its start.
    pub fn retry_delay(mut self, delay: Range<Duration>) -> Self {
        self.retry_delay = delay;
        self
    }

    /// How long a failed endpoint is skipped (default 30 s).
    pub fn quarantine(mut self, d: Duration) -> Self {
        self.quarantine = d;
        self
    }

    /// Overall timeout per HTTP exchange (default none). Not applied to log streams' bodies after the headers.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// TCP + TLS connect timeout (default 30 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] for bad or missing endpoints or an API key combined with a certificate;
    /// [`Error::Io`] for unreadable files; [`Error::Tls`] for unusable certificates or keys.
    pub fn build(mut self) -> Result<Client> {
        let endpoints = Endpoints::new(&self.endpoints, self.quarantine)?;
        let credentials = self.credentials()?;

        let mut http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(100)
            .tls_version_min(reqwest::tls::Version::TLS_1_2)
            .user_agent(concat!("kes-rs-client/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = self.timeout {
            http = http.timeout(t);
        }
        let mut own_identity = None;
        if let Some(pem) = credentials {
            let (identity, certificate) = tls::client_identity(&pem)?;
            own_identity = Some(identity);
            http = http.identity(certificate);
        }
        let roots = tls::trust_roots(&self.ca_files, &self.ca_pems)?;
        if self.keep_system_roots {
            http = http.tls_certs_merge(roots);
        } else if !roots.is_empty() {
            http = http.tls_certs_only(roots);
        }
        if self.insecure {
            http = http.tls_danger_accept_invalid_certs(true);
        }
        let http = http
            .build()
            .map_err(|e| Error::Tls(format!("cannot build HTTPS client: {}", error_chain(&e))))?;

        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoints,
                max_retries: self.max_retries,
                retry_delay: self.retry_delay,
                identity: own_identity,
            }),
        })
    }

    /// The client certificate and key to present, from exactly one of: API key, PEM text, PEM files.
    fn credentials(&mut self) -> Result<Option<PemIdentity>> {
        let have_pem = self.identity.is_some() || self.identity_files.is_some();
        if self.api_key.is_some() && have_pem {
            return Err(Error::Config(
                "an API key and a client certificate/private key cannot be used together".into(),
            ));
        }
        if self.identity.is_some() && self.identity_files.is_some() {
            return Err(Error::Config("client certificate given twice".into()));
        }
        if let Some(key) = &self.api_key {
            let c = key.certificate()?;
            return Ok(Some(PemIdentity {
                cert_pem: c.cert_pem.into_bytes(),
                key_pem: Zeroizing::new(c.key_pem.as_bytes().to_vec()),
            }));
        }
        if let Some(pem) = self.identity.take() {
            return Ok(Some(pem));
        }
        let Some((cert, key)) = &self.identity_files else {
            return Ok(None);
        };
        Ok(Some(PemIdentity {
            cert_pem: tls::read_file(cert)?,
            key_pem: Zeroizing::new(tls::read_file(key)?),
        }))
    }
}
