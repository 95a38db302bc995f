//! The HTTPS server: accept loop, TLS handshake, per-connection identity,
//! connection limit and graceful shutdown.
//!
//! Each accepted TCP connection gets a TLS handshake bounded by
//! [`HANDSHAKE_TIMEOUT`]; the peer's identity is computed once from its
//! certificates and shared by every request on that connection. HTTP/1.1 and
//! h2 are served by hyper-util's auto builder; [`timeouts`] closes
//! connections that stay idle, or stuck in a request head, too long.
//! Accept errors back off instead of stopping the server.

pub mod timeouts;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tracing::instrument::WithSubscriber as _;

use http_body_util::BodyExt as _;
use timeouts::{Activity, Timeouts, Tracked};

use crate::auth::Peer;
use crate::state::State;

/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most connections served at once; further ones wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 4096;
/// How long shutdown waits for in-flight requests before closing.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// State shared by the accept loop and reload: TLS config and API state,
/// each swapped atomically.
#[derive(Clone)]
pub struct Shared {
    /// Current TLS configuration (new connections use the latest).
    pub tls: Arc<ArcSwap<ServerConfig>>,
    /// Current API state (each request takes a snapshot).
    pub state: Arc<ArcSwap<State>>,
}

/// One accepted connection, as every request on it sees it.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The peer's identity, computed once from its certificates.
    pub peer: Arc<Peer>,
    /// The peer's socket address (the audit log's client IP).
    pub remote: SocketAddr,
}

/// Serves HTTPS on `listener` until `shutdown` completes, then stops
/// accepting, ends open log streams and waits up to [`SHUTDOWN_GRACE`] for
/// open requests.
///
/// Connections and requests run under the current state's `tracing`
/// dispatcher, so their log events reach this server's error log.
pub async fn serve(
    listener: TcpListener,
    shared: Shared,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Header-read and idle timeouts are enforced per connection by `timeouts`
    // (hyper's own header timer would also cut idle keep-alive connections).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(30));
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(5);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // the semaphore is never closed
            },
        };
        let (tcp, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => { backoff = Duration::from_millis(5); conn }
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(shared.tls.load_full());
        let state = shared.state.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let dispatch = state.load().telemetry.dispatch.clone();
        let connection = async move {
            let _permit = permit;
            if is_plain_http(&tcp).await {
                refuse_plain_http(tcp).await;
                return;
            }
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%remote, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            let activity = Activity::new(tls.get_ref().1.alpn_protocol() != Some(b"h2"));
            let conn = Conn {
                peer: Arc::new(Peer::from_certificates(
                    tls.get_ref().1.peer_certificates().unwrap_or(&[]),
                )),
                remote,
            };
            let requests = activity.clone();
            let service = service_fn(move |req| {
                let guard = requests.request_started();
                let snapshot = state.load_full();
                let dispatch = snapshot.telemetry.dispatch.clone();
                let conn = conn.clone();
                // h2 streams run on their own tasks: carry the dispatcher.
                async move {
                    let resp = crate::api::handle(snapshot, &conn, req).await;
                    // In flight until the body is done (log streams stay open).
                    Ok::<_, std::convert::Infallible>(resp.map(|body| {
                        body.map_frame(move |frame| {
                            let _in_flight = &guard;
                            frame
                        })
                        .boxed()
                    }))
                }
                .with_subscriber(dispatch)
            });
            let io = TokioIo::new(Tracked::new(tls, activity.clone()));
            let conn = builder.serve_connection(io, service);
            tokio::select! {
                result = watcher.watch(conn.into_owned()) => {
                    if let Err(err) = result {
                        tracing::debug!(%remote, error = %err, "connection error");
                    }
                }
                () = timeouts::expired(activity, timeouts) => {
                    tracing::debug!(%remote, "connection closed: idle or request head too slow");
                }
            }
        };
        tokio::spawn(connection.with_subscriber(dispatch));
    }
    drop(listener);
    // Log streams never end by themselves: close them so the drain can finish.
    shared.state.load().telemetry.close_streams();
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period elapsed with connections still open");
    }
}

/// Whether the client opened with plain HTTP instead of a TLS handshake
/// (a TLS record starts with 0x16; an HTTP request with an ASCII method).
async fn is_plain_http(tcp: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => first[0].is_ascii_uppercase(),
        _ => false,
    }
}

/// Answers a plain-HTTP client with KES's 400 `insecure connection: TLS is
/// required` and closes the connection.
async fn refuse_plain_http(mut tcp: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    const BODY: &str = "{\"message\":\"insecure connection: TLS is required\"}";
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.write_all(response.as_bytes())).await;
    let _ = tcp.shutdown().await;
}

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
