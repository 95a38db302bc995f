//! The accept loop and one connection's life.
//!
//! The accept loop takes a slot of the global cap (`limits.connections`;
//! when none is free, new connections wait in the kernel's accept queue),
//! accepts, and takes a slot of the client address's cap
//! (`limits.connections_per_ip`; over it, the socket is closed at once). The
//! connection task then has `limits.handshake_timeout` from accept for the
//! TLS handshake, computes the peer's identity once (shared by every request
//! on the connection) and serves HTTP/1.1 and h2 with hyper-util's auto
//! builder until the peer closes, [`timeouts::expired`] fires (head too
//! slow, idle, or a response stalled for `limits.stall_timeout`) or shutdown
//! drains it. Accept errors back off instead of stopping the server.

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

use super::body::Watched;
use super::handshake;
use super::io::Tracked;
use super::limits::PerIp;
use super::timeouts::{self, Activity, Timeouts};

use crate::auth::{Conn, Peer};
use crate::config::LimitSettings;
use crate::state::State;

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

/// Serves HTTPS on `listener` under `limits` and `timeouts` until
/// `shutdown` completes, then stops accepting, ends open log streams and
/// waits up to [`SHUTDOWN_GRACE`] for open requests.
///
/// Connections and requests run under the current state's `tracing`
/// dispatcher, so their log events reach this server's error log.
pub async fn serve(
    listener: TcpListener,
    shared: Shared,
    limits: LimitSettings,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) {
    let global = Arc::new(Semaphore::new(limits.connections));
    let per_ip = PerIp::new(limits.connections_per_ip);
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
            permit = global.clone().acquire_owned() => match permit {
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
        let activity = Activity::new(); // the clock starts at accept
        let Some(ip_slot) = per_ip.try_acquire(remote.ip()) else {
            tracing::debug!(%remote, "connection closed: too many connections from this address");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(shared.tls.load_full());
        let state = shared.state.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let dispatch = state.load().telemetry.dispatch.clone();
        let connection = async move {
            let _slots = (permit, ip_slot);
            let deadline = activity.accepted() + limits.handshake_timeout;
            let tls = match handshake::accept(tcp, acceptor, deadline).await {
                Ok(tls) => tls,
                Err(why) => {
                    tracing::debug!(%remote, "connection closed: {why}");
                    return;
                }
            };
            let session = tls.get_ref().1;
            let chain = session.peer_certificates().unwrap_or(&[]);
            if session.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
                && !crate::config::tls::resumed_leaf_is_current(chain)
            {
                tracing::debug!(%remote, "connection closed: resumed session of an expired or not yet valid client certificate");
                return;
            }
            let conn = Conn {
                peer: Arc::new(Peer::from_certificates(chain)),
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
                    // In flight until the body is dropped (log streams stay
                    // open); the body reports whether hyper takes its bytes.
                    Ok::<_, std::convert::Infallible>(resp.map(|body| Watched::new(body, guard)))
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
                why = timeouts::expired(activity, timeouts, limits.stall_timeout) => {
                    tracing::debug!(%remote, "connection closed: {why}");
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

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
