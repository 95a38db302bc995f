//! A fault-injecting TCP proxy for the fault tests (issue 16, item 3): it sits
//! between a server and its keystore (or KES) on 127.0.0.1:0 and, depending on
//! its [`Mode`], forwards bytes, delays every client→upstream chunk, drops
//! every n-th request, or refuses and cuts every connection. It counts the
//! connections it holds open, so a test can tell a server's keystore
//! connections from leaked file descriptors.
//!
//! Shared by `tests/faults.rs` and `object-server/tests/faults.rs` (via
//! `#[path]`).
#![allow(
    unreachable_pub,
    dead_code,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test support: a panic is the failure report"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Hold every client→upstream chunk this long before forwarding it
    /// (answers are not delayed, so one request takes about this long).
    Slow(Duration),
    /// Cut the connection instead of forwarding every n-th client→upstream
    /// chunk (counted over all connections): an intermittently failing
    /// upstream.
    Flaky(usize),
    /// Accept and close new connections at once; cut open ones.
    Down,
}

/// A running proxy; stops accepting when dropped (open connections then end
/// with their peers).
pub struct Proxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    live: Arc<AtomicUsize>,
    chunks: Arc<AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.mode.send_replace(Mode::Down);
    }
}

impl Proxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Pass);
        let live = Arc::new(AtomicUsize::new(0));
        let chunks = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn({
            let mode = mode.clone();
            let (live, chunks) = (Arc::clone(&live), Arc::clone(&chunks));
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if *mode.borrow() == Mode::Down {
                        drop(client);
                        continue;
                    }
                    let rx = mode.subscribe();
                    let (live, chunks) = (Arc::clone(&live), Arc::clone(&chunks));
                    live.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        if let Ok(up) = TcpStream::connect(upstream).await {
                            relay(client, up, rx, &chunks).await;
                        }
                        live.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            }
        });
        Proxy {
            addr,
            mode,
            live,
            chunks,
            accept,
        }
    }

    /// Switches the mode; open connections follow at once.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Connections currently open through the proxy.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
}

/// Relays both directions until either side closes or the mode cuts it.
async fn relay(client: TcpStream, up: TcpStream, rx: watch::Receiver<Mode>, chunks: &AtomicUsize) {
    let (cr, cw) = client.into_split();
    let (ur, uw) = up.into_split();
    tokio::select! {
        () = pump(cr, uw, rx.clone(), Some(chunks)) => {}
        () = pump(ur, cw, rx, None) => {}
    }
}

/// Copies `from` to `to` under the mode; `chunks` is set for the
/// client→upstream direction (the one delayed and dropped).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut rx: watch::Receiver<Mode>,
    chunks: Option<&AtomicUsize>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            r = rx.wait_for(|m| *m == Mode::Down) => {
                let _ = r;
                return;
            }
        };
        let mode = *rx.borrow();
        if let Some(chunks) = chunks {
            match mode {
                Mode::Down => return,
                Mode::Slow(d) => tokio::time::sleep(d).await,
                Mode::Flaky(every) => {
                    if (chunks.fetch_add(1, Ordering::SeqCst) + 1).is_multiple_of(every.max(1)) {
                        return;
                    }
                }
                Mode::Pass => {}
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
