//! Shared end-to-end test harness: a real `kes` server over real TLS on
//! 127.0.0.1:0 with a filesystem keystore in a temp dir, started from a YAML
//! config exactly as `kes server --config` does.
//!
//! Identities: `admin` (admin API key), `minio` (the MinIO policy from
//! `policies/minio.yaml`: may generate, may not delete), `auditor` (read-only
//! policy), `unknown` (no policy).
#![allow(
    unreachable_pub,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support shared by test binaries: `pub` is for them, a panic is the failure report"
)]
#![allow(dead_code)]

pub mod backend;
pub mod prom;
pub mod secrets;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use client::{ApiKey, CertifiedKey};
use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The MinIO policy file shipped in `policies/`.
pub const MINIO_POLICY: &str = include_str!("../../policies/minio.yaml");
/// The read-only auditor policy file shipped in `policies/`.
pub const AUDITOR_POLICY: &str = include_str!("../../policies/auditor.yaml");

pub struct TestServer {
    pub running: kes::server::Running,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub server_cert_pem: String,
    pub admin: ApiKey,
    pub minio: ApiKey,
    pub auditor: ApiKey,
    pub unknown: ApiKey,
}

/// A self-signed server certificate for localhost and 127.0.0.1.
pub fn server_cert() -> (String, String) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Writes a fresh `server.crt` / `server.key` into `dir`; returns the
/// certificate PEM (what clients trust).
pub fn write_server_cert(dir: &Path) -> String {
    let (cert, key) = server_cert();
    std::fs::write(dir.join("server.crt"), &cert).unwrap();
    std::fs::write(dir.join("server.key"), &key).unwrap();
    cert
}

/// Indents every line of a policy file so it nests under `policy:`.
pub fn nest(policy_file: &str) -> String {
    policy_file
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("  {l}\n"))
        .collect()
}

/// Writes a config for `dir` and returns its path.
pub fn write_config(
    dir: &Path,
    admin: &ApiKey,
    minio: &ApiKey,
    auditor: &ApiKey,
    extra: &str,
) -> PathBuf {
    let config = format!(
        "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {admin}\ntls:\n  key: server.key\n  cert: server.crt\n\
         policy:\n{minio_policy}    identities:\n    - {minio_id}\n{auditor_policy}    identities:\n    - {auditor_id}\n\
         keystore:\n  fs:\n    path: keys\n{extra}",
        admin = admin.identity(),
        minio_policy = nest(MINIO_POLICY),
        minio_id = minio.identity(),
        auditor_policy = nest(AUDITOR_POLICY),
        auditor_id = auditor.identity(),
    );
    let path = dir.join("config.yaml");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(config.as_bytes()).unwrap();
    path
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with("").await
    }

    /// Starts with extra YAML appended to the config.
    pub async fn start_with(extra: &str) -> TestServer {
        Self::launch(extra, None, |_| kes::server::Options::default()).await
    }

    /// Starts on `keystore` instead of the config's fs keystore.
    pub async fn start_on(keystore: Arc<dyn keystores::Keystore>) -> TestServer {
        Self::launch("", Some(keystore), |_| kes::server::Options::default()).await
    }

    /// Writes the files and config in a temp dir and starts the server with
    /// the options `options` makes from the loaded settings.
    async fn launch(
        extra: &str,
        keystore: Option<Arc<dyn keystores::Keystore>>,
        options: impl FnOnce(&kes::config::Settings) -> kes::server::Options,
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let cert = write_server_cert(dir.path());
        let (admin, minio, auditor, unknown) = (
            ApiKey::generate().unwrap(),
            ApiKey::generate().unwrap(),
            ApiKey::generate().unwrap(),
            ApiKey::generate().unwrap(),
        );
        for key in [&admin, &minio, &auditor, &unknown] {
            secrets::record_api_key(key);
        }
        let path = write_config(dir.path(), &admin, &minio, &auditor, extra);
        let builder = kes::server::Builder::from_file(&path).unwrap();
        let options = options(builder.settings());
        let builder = builder.options(options);
        let builder = match keystore {
            Some(ks) => builder.keystore(ks),
            None => builder,
        };
        let running = builder.start().await.expect("server starts");
        let addr = running.addr;
        TestServer {
            running,
            addr,
            dir,
            server_cert_pem: cert,
            admin,
            minio,
            auditor,
            unknown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }

    /// A reqwest client authenticating with `key`'s certificate.
    pub fn client(&self, key: &ApiKey) -> reqwest::Client {
        let ck = key.certificate().unwrap();
        self.client_with_cert(Some(&ck))
    }

    pub fn client_with_cert(&self, cert: Option<&CertifiedKey>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .tls_certs_only([
                reqwest::Certificate::from_pem(self.server_cert_pem.as_bytes()).unwrap(),
            ]);
        if let Some(ck) = cert {
            let pem = format!("{}{}", ck.key_pem.as_str(), ck.cert_pem);
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        b.build().unwrap()
    }

    /// Sends one raw HTTP/1.1 request (the request target is sent verbatim, so
    /// non-canonical paths reach the server unchanged).
    pub async fn raw(
        &self,
        cert: Option<&CertifiedKey>,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> RawResponse {
        raw_request(
            self.addr,
            &self.server_cert_pem,
            cert.map(|c| vec![c]).unwrap_or_default(),
            method,
            target,
            body,
        )
        .await
        .expect("raw request")
    }
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn message(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        v["message"].as_str().unwrap_or_default().to_owned()
    }
}

/// TLS client config trusting `server_pem`, presenting the chain of `certs`
/// (each element's certificate; the key of the first).
pub fn tls_client(server_pem: &str, certs: &[&CertifiedKey]) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(server_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match certs.first() {
        None => b.with_no_client_auth(),
        Some(first) => {
            let chain: Vec<CertificateDer<'static>> = certs
                .iter()
                .map(|c| CertificateDer::from(c.cert_der.clone()))
                .collect();
            let key = PrivateKeyDer::from_pem_slice(first.key_pem.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
    }
}

pub async fn raw_request(
    addr: SocketAddr,
    server_pem: &str,
    certs: Vec<&CertifiedKey>,
    method: &str,
    target: &str,
    body: &[u8],
) -> std::io::Result<RawResponse> {
    let config = tls_client(server_pem, &certs);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await?;
    tls.write_all(body).await?;
    tls.flush().await?;
    let mut buf = Vec::new();
    tls.read_to_end(&mut buf).await?;
    parse_response(&buf).ok_or_else(|| {
        std::io::Error::other(format!("bad response: {:?}", String::from_utf8_lossy(&buf)))
    })
}

fn parse_response(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let mut body = buf[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body)?;
    }
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// (status, message) of a reqwest response with a KES error body.
pub async fn status_message(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.bytes().await.unwrap();
    if status >= 400 {
        assert_eq!(
            ct, "application/json",
            "error responses are JSON (status {status})"
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    (status, v["message"].as_str().unwrap_or_default().to_owned())
}

/// A log output captured in memory (stands in for stdout/stderr).
#[derive(Clone, Default)]
pub struct Capture(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captured audit (stdout) and error (stderr) outputs of a test server.
#[derive(Clone, Default)]
pub struct Outputs {
    pub audit: Capture,
    pub error: Capture,
}

impl Outputs {
    pub fn sinks(&self) -> kes::logs::Sinks {
        kes::logs::Sinks {
            audit: Box::new(self.audit.clone()),
            error: Box::new(self.error.clone()),
            format: kes::logs::LogFormat::Text,
        }
    }
}

impl TestServer {
    /// Starts with extra YAML, optionally on a given keystore (instead of the
    /// config's fs keystore), with a probe interval and captured log outputs.
    pub async fn start_custom(
        extra: &str,
        keystore: Option<Arc<dyn keystores::Keystore>>,
        probe_interval: std::time::Duration,
        outputs: &Outputs,
    ) -> TestServer {
        Self::launch(extra, keystore, |settings| kes::server::Options {
            probe_interval,
            telemetry: Some(kes::logs::Telemetry::new(&settings.log, outputs.sinks())),
            ..kes::server::Options::default()
        })
        .await
    }

    /// Starts with extra YAML and the [`kes::server::Options`] that `options`
    /// makes from the loaded settings.
    pub async fn start_with_options(
        extra: &str,
        options: impl FnOnce(&kes::config::Settings) -> kes::server::Options,
    ) -> TestServer {
        Self::launch(extra, None, options).await
    }

    /// Path of the config file the server was started from.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }
}

/// A TCP connection to `addr` from the local address `source` (port 0); on
/// Linux all of 127/8 is on `lo`, so 127.0.0.2 is a second client address.
/// `recv_buffer` sets SO_RCVBUF before connecting.
pub async fn connect_from(
    source: std::net::IpAddr,
    addr: SocketAddr,
    recv_buffer: Option<u32>,
) -> std::io::Result<tokio::net::TcpStream> {
    let socket = match source {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// TLS over `tcp` trusting `server_pem`, presenting `cert`, offering `alpn`.
pub async fn tls_over(
    tcp: tokio::net::TcpStream,
    server_pem: &str,
    cert: &CertifiedKey,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut config = tls_client(server_pem, &[cert]);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}
