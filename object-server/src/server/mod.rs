//! Listener, TLS and connection handling: tokio accept loop, optional rustls (aws-lc-rs) with
//! ALPN h2/http1.1, hyper-util auto (HTTP/1.1 + h2) connections with bounded header sizes, and
//! graceful shutdown.
//!
//! * [`tls`] — the rustls acceptor.
//! * [`limits`] — global and per-client connection caps.
//! * [`watch`] — per-connection deadlines: TLS handshake and first request head from TCP
//!   accept, later HTTP/1.1 heads, idle time, stalled output.
//! * [`front`] — the hyper service around s3s: in-flight tracking, response-body progress,
//!   [`precheck`] refusals answered before any body byte is read.
//! * [`reply`] — request ids, S3 error documents, body-less HEAD responses.
//! * [`auth`] — the root credentials s3s checks signatures against.
//! * [`host`] — `MINIO_DOMAIN` virtual-host routing.
//! * [`post`] — POST object (browser form uploads), answered here, not by s3s.

mod auth;
mod front;
mod host;
mod limits;
mod post;
mod precheck;
pub mod reply;
mod tls;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::config::{self, Config, ConfigError, Limits};
use crate::kms_admin::KmsAdmin;
use crate::metrics::Metrics;
use crate::s3::ObjectServer;
use crate::sse::Sse;
use crate::sse::kms::Kms;
use crate::storage::FsStore;
use limits::ConnLimiter;
use watch::{Activity, Tracked};

pub use host::{DomainError, parse_domains};
pub use precheck::{EXPIRES_TOO_LONG, MAX_PRESIGNED_EXPIRES};

/// Largest accepted request head (HTTP/1 buffer) / header list (h2).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields accepted in one HTTP/1 request.
pub const MAX_HEADERS: usize = 100;
/// An h2 peer silent for this long is pinged (and dropped if it does not answer within hyper's
/// 20 s).
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);
const GRACE_PERIOD: Duration = Duration::from_secs(10);
/// Least time between two "connection limit reached" warnings.
const LIMIT_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory cannot be prepared.
    #[error("data directory: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// TLS material is unreadable or invalid.
    #[error("TLS: {0}")]
    Tls(String),
    /// A limit is out of range.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The KMS cannot be set up or its start-up check failed.
    #[error("{0}")]
    Kms(String),
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

/// A bound, not yet serving, server.
pub struct Bound {
    listener: TcpListener,
    /// The KMS keep-alive task (aborted when serving ends).
    keep_warm: Option<tokio::task::JoinHandle<()>>,
    /// The service the lifecycle sweep runs over (started by `serve`, aborted when it ends).
    sweeper: ObjectServer,
    lifecycle: crate::lifecycle::Settings,
    acceptor: Option<TlsAcceptor>,
    service: S3Service,
    /// `/minio/v2/metrics/cluster`, answered in front of s3s.
    metrics: Arc<Metrics>,
    /// POST object uploads, answered in front of s3s.
    post: Arc<post::PostUploads>,
    addr: SocketAddr,
    limits: Limits,
    host_id: Arc<str>,
    /// The store, for the key-index build at start and its save at shutdown.
    store: Arc<FsStore>,
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
    config.limits.validate()?;
    let lifecycle_settings = crate::lifecycle::Settings::from_lookup(&|k| std::env::var(k).ok())?;
    warn_if_few_files(&config.limits);
    let store = Arc::new(FsStore::open(&config.data_dir).await?);
    let acceptor = match config.certs_dir.as_deref().and_then(config::tls_files) {
        Some((cert, key)) => Some(tls::tls_acceptor(&cert, &key)?),
        None => None,
    };
    let kms = match &config.kms.kes {
        Some(kes) => {
            let kms = kes.connect().map_err(ServerError::Kms)?;
            kms.probe()
                .await
                .map_err(|e| ServerError::Kms(e.to_string()))?;
            Some(kms)
        }
        None => None,
    };
    let keep_warm = kms.as_ref().map(Kms::keep_warm);
    let admin = KmsAdmin::new(kms.clone());
    let metrics = Arc::new(Metrics::new(
        kms.clone(),
        &config.credentials,
        config.metrics_public,
    ));
    let sse = Sse::new(kms, acceptor.is_some(), config.kms.auto_encryption);
    let gate = crate::policy::PolicyGate::new(store.clone(), acceptor.is_some());
    let objects = ObjectServer::new(store.clone(), sse);
    let sweeper = objects.clone();
    let post = Arc::new(post::PostUploads::new(
        objects.clone(),
        gate.clone(),
        auth::RootAuth::new(
            &config.credentials.access_key,
            config.credentials.secret_key.as_str(),
        ),
        host::Domains::new(&config.domains),
        acceptor.is_some(),
    ));
    let mut builder = S3ServiceBuilder::new(objects);
    builder.set_access(gate);
    builder.set_route(admin);
    if let Some(domains) = host::Domains::new(&config.domains) {
        builder.set_host(domains);
    }
    builder.set_auth(auth::RootAuth::new(
        &config.credentials.access_key,
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
        keep_warm,
        sweeper,
        lifecycle: lifecycle_settings,
        acceptor,
        service: builder.build(),
        metrics,
        post,
        addr,
        limits: config.limits,
        host_id: Arc::from(reply::host_id()),
        store,
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
    ///
    /// At most `max_connections` connections are served (the loop accepts only with a free
    /// permit) and `max_connections_per_ip` per client (more are closed at once); each one is
    /// bounded by the [`watch`] deadlines.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let sweep = crate::lifecycle::spawn(self.sweeper.clone(), self.lifecycle);
        let http = Arc::new(http_builder());
        let limiter = ConnLimiter::new(&self.limits);
        let graceful = GracefulShutdown::new();
        let mut warned_global: Option<Instant> = None;
        let mut warned_client: Option<Instant> = None;
        tokio::pin!(shutdown);
        let store = self.store.clone();
        let index_build = tokio::spawn(async move { store.build_indexes().await });
        loop {
            let permit = match limiter.try_global() {
                Some(p) => p,
                None => {
                    if warn_due(&mut warned_global) {
                        tracing::warn!(
                            max = self.limits.max_connections,
                            "connection limit reached: new connections wait"
                        );
                    }
                    tokio::select! {
                        p = limiter.global() => match p {
                            Some(p) => p,
                            None => break, // the semaphore is never closed
                        },
                        () = &mut shutdown => break,
                    }
                }
            };
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
            let Some(slot) = limiter.client(peer.ip()) else {
                if warn_due(&mut warned_client) {
                    tracing::warn!(
                        client = %peer.ip(),
                        max = self.limits.max_connections_per_ip,
                        "per-client connection limit reached: closing new connections"
                    );
                }
                tracing::debug!(%peer, "over the per-client connection limit: closed");
                drop(stream);
                continue;
            };
            let conn = Connection {
                http: http.clone(),
                service: self.service.clone(),
                metrics: self.metrics.clone(),
                post: self.post.clone(),
                watcher: graceful.watcher(),
                limits: self.limits,
                peer,
                host_id: self.host_id.clone(),
            };
            let acceptor = self.acceptor.clone();
            tokio::spawn(async move {
                let _held = (permit, slot);
                conn.run(stream, acceptor).await;
            });
        }
        drop(self.listener);
        if let Some(task) = &self.keep_warm {
            task.abort();
        }
        sweep.abort();
        if tokio::time::timeout(GRACE_PERIOD, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("graceful shutdown timed out; dropping open connections");
        }
        index_build.abort();
        match self.store.save_indexes().await {
            Ok(n) => tracing::info!(buckets = n, "key indexes saved"),
            Err(e) => {
                tracing::warn!(error = %e, "saving the key indexes failed: the next start scans")
            }
        }
    }
}

/// Warns when the open-files limit is below the connection limit (plus room for data files).
fn warn_if_few_files(limits: &Limits) {
    let Ok(text) = std::fs::read_to_string("/proc/self/limits") else {
        return;
    };
    let wanted = u64::try_from(limits.max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(64);
    if let Some(files) = limits::open_files_limit(&text).filter(|&n| n < wanted) {
        tracing::warn!(
            "the open-files limit ({files}) is below max-connections ({}) plus room for data \
             files: raise it (ulimit -n {wanted}) or lower --max-connections",
            limits.max_connections
        );
    }
}

/// Whether a rate-limited warning may be logged now (and records it).
fn warn_due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|t| now.duration_since(t) < LIMIT_WARNING_INTERVAL) {
        return false;
    }
    *last = Some(now);
    true
}

/// hyper-util's auto (HTTP/1.1 + h2) builder. Head and idle timeouts are [`watch`]'s (hyper's
/// own HTTP/1 header timer would also cut idle keep-alive connections, and h2 has none).
fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEADER_BYTES.max(8192));
    http.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX));
    http
}

/// One accepted connection, before its TLS handshake.
struct Connection {
    http: Arc<auto::Builder<TokioExecutor>>,
    service: S3Service,
    metrics: Arc<Metrics>,
    post: Arc<post::PostUploads>,
    watcher: Watcher,
    limits: Limits,
    peer: SocketAddr,
    host_id: Arc<str>,
}

impl Connection {
    /// Handshakes (bounded from accept), then serves until the connection ends or a deadline
    /// passes.
    async fn run(self, stream: TcpStream, acceptor: Option<TlsAcceptor>) {
        let _ignored = stream.set_nodelay(true);
        let activity = Activity::new(&self.limits);
        let peer = self.peer;
        match acceptor {
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(stream));
                match handshake.await {
                    Ok(Ok(tls)) => self.serve(tls, activity).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
            None => self.serve(stream, activity).await,
        }
    }

    async fn serve<I>(self, io: I, activity: Arc<Activity>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let service = front::Front::new(
            self.service,
            self.metrics,
            self.post,
            activity.clone(),
            self.host_id,
        )
        .with_peer(peer);
        let io = TokioIo::new(Tracked::new(io, activity.clone()));
        let conn = self.http.serve_connection(io, service).into_owned();
        tokio::select! {
            result = self.watcher.watch(conn) => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with error");
                }
            }
            why = watch::expired(activity) => {
                tracing::debug!(%peer, reason = %why, "connection closed");
            }
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
