//! Listener, TLS and connection handling: tokio accept loop, optional rustls (aws-lc-rs) with
//! ALPN h2/http1.1, hyper-util auto (HTTP/1.1 + h2) connections with bounded header sizes, TLS
//! handshake timeout, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::{self, Config};
use crate::s3::ObjectServer;
use crate::storage::FsStore;

/// Largest accepted request head (HTTP/1 buffer) / header list (h2).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields accepted in one HTTP/1 request.
pub const MAX_HEADERS: usize = 100;
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const GRACE_PERIOD: Duration = Duration::from_secs(10);

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory cannot be prepared.
    #[error("data directory: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// TLS material is unreadable or invalid.
    #[error("TLS: {0}")]
    Tls(String),
    /// The address cannot be bound.
    #[error("bind {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, ServerError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{}: no certificate",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// A bound, not yet serving, server.
pub struct Bound {
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    service: s3s::service::S3Service,
    addr: SocketAddr,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("addr", &self.addr)
            .field("tls", &self.acceptor.is_some())
            .finish()
    }
}

/// Opens the store, loads TLS material (HTTPS iff `public.crt` and `private.key` exist in the
/// certs dir) and binds the listener.
pub async fn bind(config: Config) -> Result<Bound, ServerError> {
    let store = Arc::new(FsStore::open(&config.data_dir).await?);
    let acceptor = match config.certs_dir.as_deref().and_then(config::tls_files) {
        Some((cert, key)) => Some(tls_acceptor(&cert, &key)?),
        None => None,
    };
    let mut builder = S3ServiceBuilder::new(ObjectServer::new(store, acceptor.is_some()));
    builder.set_auth(SimpleAuth::from_single(
        config.credentials.access_key.clone(),
        config.credentials.secret_key.as_str(),
    ));
    let listener =
        TcpListener::bind(&config.address)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.address.clone(),
                source,
            })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.address.clone(),
        source,
    })?;
    Ok(Bound {
        listener,
        acceptor,
        service: builder.build(),
        addr,
    })
}

impl Bound {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether HTTPS is served.
    pub fn is_tls(&self) -> bool {
        self.acceptor.is_some()
    }

    /// `http(s)://addr`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.is_tls() { "https" } else { "http" },
            self.addr
        )
    }

    /// Serves until `shutdown` resolves, then stops accepting and waits up to 10 s for open
    /// connections. Per-connection errors are logged and never stop the loop.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_HEADER_BYTES.max(8192));
        http.http2()
            .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                res = self.listener.accept() => match res {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ignored = stream.set_nodelay(true);
            let service = self.service.clone();
            let http = http.clone();
            let acceptor = self.acceptor.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let result = match acceptor {
                    Some(acceptor) => {
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                        {
                            Ok(Ok(tls)) => {
                                let conn = http.serve_connection(TokioIo::new(tls), service);
                                watcher.watch(conn.into_owned()).await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        }
                    }
                    None => {
                        let conn = http.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(conn.into_owned()).await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with error");
                }
            });
        }
        drop(self.listener);
        if tokio::time::timeout(GRACE_PERIOD, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("graceful shutdown timed out; dropping open connections");
        }
    }
}

/// A server running in a background task (tests and embedding).
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    tls: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http(s)://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ignored = stop.send(());
        }
        let _ignored = (&mut self.task).await;
    }
}

/// Binds and serves in a background task.
pub async fn spawn(config: Config) -> Result<RunningServer, ServerError> {
    let bound = bind(config).await?;
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let addr = bound.local_addr();
    let tls = bound.is_tls();
    let task = tokio::spawn(bound.serve(async move {
        let _ignored = rx.await;
    }));
    Ok(RunningServer {
        addr,
        tls,
        stop: Some(stop),
        task,
    })
}

/// Binds, prints `listening on <url>` on stdout, and serves until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    let bound = bind(config).await?;
    println!("listening on {}", bound.url());
    bound.serve(shutdown).await;
    Ok(())
}
