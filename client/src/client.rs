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

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use rand::Rng as _;
use reqwest::{Method, StatusCode, Url};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::apikey::ApiKey;
use crate::endpoints::{DEFAULT_QUARANTINE, Endpoints};
use crate::error::{Error, Result};
use crate::identity;
use crate::wire::{
    ApiRoute, AuditEvent, BulkDecryptItem, DecryptRequest, DecryptResponse,
    DescribeIdentityResponse, DescribeKeyResponse, DescribePolicyResponse, EncryptRequest,
    EncryptResponse, ErrorEvent, GenerateRequest, GenerateResponse, HmacRequest, HmacResponse,
    ImportKeyRequest, ListIdentitiesResponse, ListKeysResponse, ListPoliciesResponse,
    PolicyResponse, SecretBase64, SelfDescribeResponse, StatusResponse, VersionResponse,
};

/// Default number of retries per endpoint on network errors and 503.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default pause before a retry: uniformly random in this range.
pub const DEFAULT_RETRY_DELAY: Range<Duration> =
    Duration::from_millis(200)..Duration::from_millis(1000);
/// Largest error or JSON response body the client reads (bytes).
const MAX_RESPONSE_BODY: usize = 16 << 20;
/// Largest single NDJSON line of a log stream (bytes).
const MAX_LOG_LINE: usize = 1 << 20;

/// A stream of parsed NDJSON events (audit or error log). It ends when the server closes the connection; a
/// transport failure or an undecodable line yields one `Err` and ends the stream.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

/// Client credentials: a PEM certificate chain and its private key.
struct PemIdentity {
    cert_pem: Vec<u8>,
    key_pem: Zeroizing<Vec<u8>>,
}

/// Builds a [`Client`]. Obtain one with [`Client::builder`].
pub struct ClientBuilder {
    endpoints: Vec<String>,
    api_key: Option<ApiKey>,
    identity: Option<PemIdentity>,
    identity_files: Option<(PathBuf, PathBuf)>,
    ca_files: Vec<PathBuf>,
    ca_pems: Vec<Vec<u8>>,
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
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    fn new() -> Self {
        ClientBuilder {
            endpoints: Vec::new(),
            api_key: None,
            identity: None,
            identity_files: None,
            ca_files: Vec::new(),
            ca_pems: Vec::new(),
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

    /// Trusts the CA certificates in a PEM file, or in every PEM file of a directory, instead of the system roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Trusts the CA (or self-signed server) certificates of a PEM text instead of the system roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
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
    pub fn build(self) -> Result<Client> {
        let endpoints = Endpoints::new(&self.endpoints, self.quarantine)?;

        let have_pem = self.identity.is_some() || self.identity_files.is_some();
        if self.api_key.is_some() && have_pem {
            return Err(Error::Config(
                "an API key and a client certificate/private key cannot be used together".into(),
            ));
        }
        if self.identity.is_some() && self.identity_files.is_some() {
            return Err(Error::Config("client certificate given twice".into()));
        }

        let pem_identity = match (self.api_key.as_ref(), self.identity, self.identity_files) {
            (Some(key), _, _) => {
                let c = key.certificate()?;
                Some(PemIdentity {
                    cert_pem: c.cert_pem.into_bytes(),
                    key_pem: Zeroizing::new(c.key_pem.as_bytes().to_vec()),
                })
            }
            (None, Some(id), _) => Some(id),
            (None, None, Some((cert, key))) => Some(PemIdentity {
                cert_pem: read_file(&cert)?,
                key_pem: Zeroizing::new(read_file(&key)?),
            }),
            (None, None, None) => None,
        };

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
        if let Some(id) = pem_identity {
            if contains(&id.key_pem, b"ENCRYPTED") {
                return Err(Error::Tls(
                    "encrypted private keys are not supported; decrypt the key file first".into(),
                ));
            }
            let first = CertificateDer::pem_slice_iter(&id.cert_pem)
                .next()
                .ok_or_else(|| {
                    Error::Tls("no certificate found in the client certificate PEM".into())
                })?
                .map_err(|e| Error::Tls(format!("invalid client certificate PEM: {e}")))?;
            own_identity = Some(identity::of_certificate(first.as_ref())?);
            let mut both =
                Zeroizing::new(Vec::with_capacity(id.key_pem.len() + id.cert_pem.len() + 1));
            both.extend_from_slice(&id.key_pem);
            both.push(b'\n');
            both.extend_from_slice(&id.cert_pem);
            let ident = reqwest::Identity::from_pem(&both).map_err(|e| {
                Error::Tls(format!(
                    "invalid client certificate or private key: {}",
                    chain(&e)
                ))
            })?;
            http = http.identity(ident);
        }

        let mut roots = Vec::new();
        for path in &self.ca_files {
            roots.extend(load_ca_path(path)?);
        }
        for pem in &self.ca_pems {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Tls(format!("invalid CA certificate PEM: {}", chain(&e))))?;
            if certs.is_empty() {
                return Err(Error::Tls("no certificate found in CA PEM".into()));
            }
            roots.extend(certs);
        }
        if !roots.is_empty() {
            http = http.tls_certs_only(roots);
        }
        if self.insecure {
            http = http.tls_danger_accept_invalid_certs(true);
        }
        let http = http
            .build()
            .map_err(|e| Error::Tls(format!("cannot build HTTPS client: {}", chain(&e))))?;

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
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
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
                chain(&e)
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

/// Renders an error and its sources as one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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

struct Inner {
    http: reqwest::Client,
    endpoints: Endpoints,
    max_retries: u32,
    retry_delay: Range<Duration>,
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

/// A request body: bytes plus its content type (`None` = no `Content-Type` header, as for HMAC).
struct Body {
    bytes: Bytes,
    content_type: Option<&'static str>,
}

fn json_body<T: Serialize>(value: &T, content_type: Option<&'static str>) -> Result<Body> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::Config(format!("cannot encode request: {e}")))?;
    Ok(Body {
        bytes: Bytes::from(bytes),
        content_type,
    })
}

const JSON: Option<&str> = Some("application/json");

/// One logical request (resent unchanged on retries and failover).
struct Req<'a> {
    method: Method,
    segments: &'a [&'a str],
    query: &'a [(&'a str, &'a str)],
    body: Option<Body>,
}

/// What one attempt on one endpoint produced.
enum Attempt {
    /// A response with status < 400.
    Ok(reqwest::Response),
    /// An error response; `failover` says whether the next endpoint should be tried.
    Status { err: Error, failover: bool },
    /// No response (transport failure).
    Transport(Error),
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

    fn url(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = base.clone();
        // A base from `endpoints::normalize` always has a host, so it can be a base for path segments; each
        // segment is percent-encoded, so a name cannot change the path.
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty();
            for s in segments {
                p.push(s);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn pause(&self) {
        let r = &self.inner.retry_delay;
        let d = if r.start < r.end {
            rand::rng().random_range(r.clone())
        } else {
            r.start
        };
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// One endpoint, with retries on network errors and 503.
    async fn attempt(&self, base: &Url, req: &Req<'_>) -> Attempt {
        let (method, body) = (&req.method, req.body.as_ref());
        let url = Self::url(base, req.segments, req.query);
        let endpoint = base.as_str().trim_end_matches('/');
        let mut tries = 0u32;
        loop {
            let mut rb = self.inner.http.request(method.clone(), url.clone());
            if let Some(b) = body {
                if let Some(ct) = b.content_type {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
                }
                rb = rb.body(b.bytes.clone());
            }
            let retryable;
            let outcome = match rb.send().await {
                Ok(resp) if resp.status().as_u16() < 400 => return Attempt::Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let err = read_error(resp).await;
                    retryable = status == StatusCode::SERVICE_UNAVAILABLE;
                    let failover =
                        status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED;
                    Attempt::Status { err, failover }
                }
                Err(e) => {
                    retryable = !e.is_connect() || e.is_timeout();
                    Attempt::Transport(Error::Connection(format!("{endpoint}: {}", chain(&e))))
                }
            };
            if retryable && tries < self.inner.max_retries {
                tries += 1;
                tracing::debug!(endpoint, tries, "retrying KES request");
                self.pause().await;
                continue;
            }
            return outcome;
        }
    }

    /// Sends a request with failover; returns the successful response or the error to report.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Body>,
    ) -> Result<reqwest::Response> {
        self.send_req(&Req {
            method,
            segments,
            query: &[],
            body,
        })
        .await
    }

    async fn send_req(&self, req: &Req<'_>) -> Result<reqwest::Response> {
        let eps = &self.inner.endpoints;
        let order = eps.rotation();
        let mut skipped = Vec::new();
        let mut last_err: Option<Error> = None;
        let mut got_response = false;

        for &i in &order {
            if order.len() > 1 && eps.is_quarantined(i, Instant::now()) {
                skipped.push(i);
                continue;
            }
            match self.try_one(i, req).await {
                Ok(r) => return Ok(r),
                Err((err, failover, responded)) => {
                    got_response |= responded;
                    if !failover {
                        return Err(err);
                    }
                    last_err = Some(err);
                }
            }
        }
        if !got_response {
            for i in skipped {
                match self.try_one(i, req).await {
                    Ok(r) => return Ok(r),
                    Err((err, failover, _)) => {
                        if !failover {
                            return Err(err);
                        }
                        last_err = Some(err);
                    }
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Connection("no server endpoint reachable".into())))
    }

    /// Tries endpoint `i`; on error returns (error, should fail over, a response was received).
    async fn try_one(
        &self,
        i: usize,
        req: &Req<'_>,
    ) -> std::result::Result<reqwest::Response, (Error, bool, bool)> {
        let eps = &self.inner.endpoints;
        let Some(base) = eps.urls().get(i) else {
            return Err((
                Error::Config("endpoint index out of range".into()),
                false,
                false,
            ));
        };
        match self.attempt(base, req).await {
            Attempt::Ok(r) => {
                eps.mark_ok(i);
                Ok(r)
            }
            Attempt::Status { err, failover } => {
                if failover {
                    eps.mark_failed(i, Instant::now());
                } else {
                    // 4xx and 501 prove the endpoint is alive.
                    eps.mark_ok(i);
                }
                Err((err, failover, true))
            }
            Attempt::Transport(err) => {
                eps.mark_failed(i, Instant::now());
                Err((err, true, false))
            }
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Body>,
    ) -> Result<T> {
        let resp = self.send(method, segments, body).await?;
        let bytes = read_limited(resp).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    async fn call_empty(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<Body>,
    ) -> Result<()> {
        let resp = self.send(method, segments, body).await?;
        // Drain so the connection can be reused.
        read_limited(resp).await.map(|_| ())
    }

    // --- server ---------------------------------------------------------------------------------------------------

    /// `GET /version` (no identity needed).
    pub async fn version(&self) -> Result<VersionResponse> {
        self.call_json(Method::GET, &["version"], None).await
    }

    /// `GET /v1/ready`: `Ok(())` when the server and its keystore are ready.
    pub async fn ready(&self) -> Result<()> {
        self.call_empty(Method::GET, &["v1", "ready"], None).await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<StatusResponse> {
        self.call_json(Method::GET, &["v1", "status"], None).await
    }

    /// `GET /v1/api`: the server's routes.
    pub async fn api(&self) -> Result<Vec<ApiRoute>> {
        self.call_json(Method::GET, &["v1", "api"], None).await
    }

    /// `GET /v1/metrics`: Prometheus text exposition, unparsed.
    pub async fn metrics(&self) -> Result<String> {
        let resp = self.send(Method::GET, &["v1", "metrics"], None).await?;
        let bytes = read_limited(resp).await?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::Decode(format!("metrics are not UTF-8: {e}")))
    }

    // --- keys -----------------------------------------------------------------------------------------------------

    /// `POST /v1/key/create/{name}`. 400 `key already exists` if present.
    pub async fn create_key(&self, name: &str) -> Result<()> {
        self.call_empty(Method::POST, &["v1", "key", "create", name], None)
            .await
    }

    /// `POST /v1/key/import/{name}` with a 32-byte key and cipher (`AES256` or `ChaCha20`; empty = server default).
    pub async fn import_key(&self, name: &str, key: &[u8], cipher: &str) -> Result<()> {
        let body = json_body(
            &ImportKeyRequest {
                key: SecretBase64::from(key),
                cipher: cipher.to_string(),
            },
            JSON,
        )?;
        // The JSON text contains the key; `Bytes` cannot zeroize, so keep this body short-lived.
        self.call_empty(Method::POST, &["v1", "key", "import", name], Some(body))
            .await
    }

    /// `GET /v1/key/describe/{name}`.
    pub async fn describe_key(&self, name: &str) -> Result<DescribeKeyResponse> {
        self.call_json(Method::GET, &["v1", "key", "describe", name], None)
            .await
    }

    /// `GET /v1/key/list/{prefix}`: one page of key names starting with `prefix` (a trailing `*` is allowed).
    /// `continue_at` (from a previous page) is sent as the `continue` query parameter; servers that return all
    /// names at once ignore it.
    pub async fn list_keys(
        &self,
        prefix: &str,
        continue_at: Option<&str>,
    ) -> Result<ListKeysResponse> {
        let resp = match continue_at.filter(|c| !c.is_empty()) {
            None => {
                self.send(Method::GET, &["v1", "key", "list", prefix], None)
                    .await?
            }
            Some(c) => {
                self.send_req(&Req {
                    method: Method::GET,
                    segments: &["v1", "key", "list", prefix],
                    query: &[("continue", c)],
                    body: None,
                })
                .await?
            }
        };
        let bytes = read_limited(resp).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// All key names starting with `prefix`, following `continue_at` until the last page.
    pub async fn list_all_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut cont: Option<String> = None;
        loop {
            let page = self.list_keys(prefix, cont.as_deref()).await?;
            names.extend(page.names);
            if page.continue_at.is_empty() || cont.as_deref() == Some(page.continue_at.as_str()) {
                return Ok(names);
            }
            cont = Some(page.continue_at);
        }
    }

    /// `DELETE /v1/key/delete/{name}`. 404 `key does not exist` if absent.
    pub async fn delete_key(&self, name: &str) -> Result<()> {
        self.call_empty(Method::DELETE, &["v1", "key", "delete", name], None)
            .await
    }

    /// `POST /v1/key/encrypt/{name}`: seals `plaintext` with associated data `context` (may be empty).
    pub async fn encrypt(&self, name: &str, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let req = EncryptRequest {
            plaintext: SecretBase64::from(plaintext),
            context: (!context.is_empty()).then(|| context.into()),
            version: None,
        };
        let r: EncryptResponse = self
            .call_json(
                Method::POST,
                &["v1", "key", "encrypt", name],
                Some(json_body(&req, JSON)?),
            )
            .await?;
        Ok(r.ciphertext.into_inner())
    }

    /// `POST /v1/key/generate/{name}`: a new 32-byte data key, in plaintext and sealed with `context`.
    pub async fn generate(&self, name: &str, context: &[u8]) -> Result<GenerateResponse> {
        let req = GenerateRequest {
            context: (!context.is_empty()).then(|| context.into()),
            version: None,
        };
        self.call_json(
            Method::POST,
            &["v1", "key", "generate", name],
            Some(json_body(&req, JSON)?),
        )
        .await
    }

    /// `POST /v1/key/decrypt/{name}`. 400 `decryption failed: ciphertext is not authentic` on a bad ciphertext or
    /// context.
    pub async fn decrypt(
        &self,
        name: &str,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let req = DecryptRequest {
            ciphertext: ciphertext.into(),
            context: (!context.is_empty()).then(|| context.into()),
            version: None,
        };
        let r: DecryptResponse = self
            .call_json(
                Method::POST,
                &["v1", "key", "decrypt", name],
                Some(json_body(&req, JSON)?),
            )
            .await?;
        Ok(r.plaintext.into_inner())
    }

    /// `POST /v1/key/bulk/decrypt/{name}` (legacy route, ≤ 1000 items): all plaintexts in order, or one error.
    pub async fn bulk_decrypt(
        &self,
        name: &str,
        items: &[BulkDecryptItem],
    ) -> Result<Vec<Zeroizing<Vec<u8>>>> {
        let r: Vec<DecryptResponse> = self
            .call_json(
                Method::POST,
                &["v1", "key", "bulk", "decrypt", name],
                Some(json_body(&items, JSON)?),
            )
            .await?;
        if r.len() != items.len() {
            return Err(Error::Decode(format!(
                "bulk decrypt returned {} plaintexts for {} ciphertexts",
                r.len(),
                items.len()
            )));
        }
        Ok(r.into_iter().map(|p| p.plaintext.into_inner()).collect())
    }

    /// `PUT /v1/key/hmac/{name}` (sent as PUT without `Content-Type`, like the Go SDK): HMAC-SHA256 of `message`.
    pub async fn hmac(&self, name: &str, message: &[u8]) -> Result<Vec<u8>> {
        let req = HmacRequest {
            message: message.into(),
            version: None,
        };
        let r: HmacResponse = self
            .call_json(
                Method::PUT,
                &["v1", "key", "hmac", name],
                Some(json_body(&req, None)?),
            )
            .await?;
        Ok(r.hmac.into_inner())
    }

    /// `PUT /v1/ext/key/disable/{name}` (extension): the key answers 403 `key is disabled` until enabled.
    pub async fn disable_key(&self, name: &str) -> Result<()> {
        self.call_empty(Method::PUT, &["v1", "ext", "key", "disable", name], None)
            .await
    }

    /// `PUT /v1/ext/key/enable/{name}` (extension).
    pub async fn enable_key(&self, name: &str) -> Result<()> {
        self.call_empty(Method::PUT, &["v1", "ext", "key", "enable", name], None)
            .await
    }

    // --- policies and identities ----------------------------------------------------------------------------------

    /// `GET /v1/policy/describe/{name}`.
    pub async fn describe_policy(&self, name: &str) -> Result<DescribePolicyResponse> {
        self.call_json(Method::GET, &["v1", "policy", "describe", name], None)
            .await
    }

    /// `GET /v1/policy/read/{name}`.
    pub async fn read_policy(&self, name: &str) -> Result<PolicyResponse> {
        self.call_json(Method::GET, &["v1", "policy", "read", name], None)
            .await
    }

    /// `GET /v1/policy/list/{pattern}`.
    pub async fn list_policies(&self, pattern: &str) -> Result<ListPoliciesResponse> {
        self.call_json(Method::GET, &["v1", "policy", "list", pattern], None)
            .await
    }

    /// `GET /v1/identity/describe/{identity}`.
    pub async fn describe_identity(&self, identity: &str) -> Result<DescribeIdentityResponse> {
        self.call_json(Method::GET, &["v1", "identity", "describe", identity], None)
            .await
    }

    /// `GET /v1/identity/list/{pattern}`.
    pub async fn list_identities(&self, pattern: &str) -> Result<ListIdentitiesResponse> {
        self.call_json(Method::GET, &["v1", "identity", "list", pattern], None)
            .await
    }

    /// `GET /v1/identity/self/describe`.
    pub async fn self_describe(&self) -> Result<SelfDescribeResponse> {
        self.call_json(Method::GET, &["v1", "identity", "self", "describe"], None)
            .await
    }

    // --- logs -----------------------------------------------------------------------------------------------------

    /// `GET /v1/log/audit`: the audit event stream (open until dropped or the server closes it).
    pub async fn audit_log(&self) -> Result<EventStream<AuditEvent>> {
        let resp = self
            .send(Method::GET, &["v1", "log", "audit"], None)
            .await?;
        Ok(ndjson(resp))
    }

    /// `GET /v1/log/error`: the error log stream.
    pub async fn error_log(&self) -> Result<EventStream<ErrorEvent>> {
        let resp = self
            .send(Method::GET, &["v1", "log", "error"], None)
            .await?;
        Ok(ndjson(resp))
    }
}

/// Reads a response body up to [`MAX_RESPONSE_BODY`].
async fn read_limited(resp: reqwest::Response) -> Result<Bytes> {
    let mut resp = resp;
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > MAX_RESPONSE_BODY {
                    return Err(Error::Decode("response body too large".into()));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Err(e) => {
                return Err(Error::Connection(format!(
                    "reading response: {}",
                    chain(&e)
                )));
            }
        }
    }
}

/// Turns an error response into [`Error::Api`] (or a connection error if the body cannot be read).
async fn read_error(resp: reqwest::Response) -> Error {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match read_limited(resp).await {
        Ok(body) => Error::from_response(status, ct.as_deref(), &body),
        Err(_) => Error::from_response(status, None, b""),
    }
}

fn ndjson<T: DeserializeOwned + Send + 'static>(resp: reqwest::Response) -> EventStream<T> {
    let body = Box::pin(resp.bytes_stream());
    let state = (body, Vec::<u8>::new(), false);
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut body, mut buf, mut done)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let item = serde_json::from_slice::<T>(&line)
                        .map_err(|e| Error::Decode(e.to_string()));
                    return Some((item, (body, buf, done)));
                }
                if done {
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    let line = std::mem::take(&mut buf);
                    let item = serde_json::from_slice::<T>(&line)
                        .map_err(|e| Error::Decode(e.to_string()));
                    return Some((item, (body, buf, done)));
                }
                if buf.len() > MAX_LOG_LINE {
                    buf.clear();
                    return Some((
                        Err(Error::Decode("log line too long".into())),
                        (body, buf, true),
                    ));
                }
                match body.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        buf.clear();
                        done = true;
                        return Some((Err(Error::Connection(chain(&e))), (body, buf, done)));
                    }
                    None => done = true,
                }
            }
        },
    ))
}
