//! Per-connection deadlines.
//!
//! [`Activity`] follows one connection and knows when it must end:
//!
//! * **first request** — its head must be complete within the header timeout of TCP accept
//!   (the TLS handshake counts against it);
//! * **request head** — on HTTP/1.1, a later head must be complete within the header timeout of
//!   its first byte;
//! * **idle** — with no request in flight (HTTP/1.1 keep-alive, h2 with no open stream) the
//!   connection lives for the idle timeout; bytes on an idle h2 connection (pings, settings,
//!   a half-sent HEADERS block) do not extend it;
//! * **stalled** — output the peer accepts none of (a socket write blocked, or a response body
//!   whose frame is not taken because the h2 flow-control window stays closed) ends the
//!   connection after the stall timeout, in flight or not.
//!
//! The protocol is the one actually spoken, sniffed from the first bytes ([`Tracked`] compares
//! them with the h2 connection preface), never the ALPN label. [`Tracked`] wraps the
//! connection's I/O (reads: sniffing and head start; writes: blocked/progress); the request
//! layer reports requests ([`Activity::request_started`]) and response bodies
//! ([`Activity::body_handed`] / [`Activity::body_polled`]); [`expired`] resolves with the
//! [`Expiry`] once a deadline has passed, and the connection is then dropped.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::config::Limits;

/// The h2 client connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// "No such moment" in the millisecond fields.
const NONE: u64 = u64::MAX;

const PROTO_UNKNOWN: u8 = 0;
const PROTO_H1: u8 = 1;
const PROTO_H2: u8 = 2;

/// Why a connection was ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
    /// No complete first request head within the header timeout of accept.
    FirstRequest,
    /// An HTTP/1.1 request head not complete within the header timeout of its first byte.
    RequestHead,
    /// No request in flight for the idle timeout.
    Idle,
    /// The peer accepted no output for the stall timeout.
    Stalled,
}

impl std::fmt::Display for Expiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Expiry::FirstRequest => "no request within the header timeout of accept",
            Expiry::RequestHead => "request head too slow",
            Expiry::Idle => "idle",
            Expiry::Stalled => "response stalled: the peer accepts no data",
        })
    }
}

/// What one connection is doing; shared by its I/O, its requests and its watchdog.
#[derive(Debug)]
pub(super) struct Activity {
    start: Instant,
    header_ms: u64,
    idle_ms: u64,
    stall_ms: u64,
    proto: AtomicU8,
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// When the current HTTP/1.1 request head began (ms since `start`), or [`NONE`].
    head_since: AtomicU64,
    /// When the last request finished.
    idle_since: AtomicU64,
    /// When writes started to block, or [`NONE`].
    write_blocked_since: AtomicU64,
    /// Response bodies that handed hyper a frame and were not asked for the next one yet.
    waiting: Mutex<HashMap<u64, u64>>,
    next_body: AtomicU64,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(NONE - 1)
}

impl Activity {
    /// A connection accepted now.
    pub(super) fn new(limits: &Limits) -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            header_ms: ms(limits.header_timeout),
            idle_ms: ms(limits.idle_timeout),
            stall_ms: ms(limits.stall_timeout),
            proto: AtomicU8::new(PROTO_UNKNOWN),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            head_since: AtomicU64::new(NONE),
            idle_since: AtomicU64::new(0),
            write_blocked_since: AtomicU64::new(NONE),
            waiting: Mutex::new(HashMap::new()),
            next_body: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        ms(self.start.elapsed())
    }

    /// Bytes arrived: on an idle HTTP/1.1 connection they begin a request head.
    fn bytes_read(&self) {
        if self.proto.load(SeqCst) == PROTO_H1
            && self.served.load(SeqCst)
            && self.in_flight.load(SeqCst) == 0
        {
            let _ = self
                .head_since
                .compare_exchange(NONE, self.now_ms(), SeqCst, SeqCst);
        }
    }

    fn write_blocked(&self) {
        let _ = self
            .write_blocked_since
            .compare_exchange(NONE, self.now_ms(), SeqCst, SeqCst);
    }

    fn write_progressed(&self) {
        self.write_blocked_since.store(NONE, SeqCst);
    }

    /// A request head was handed to the service; in flight until the guard is dropped.
    pub(super) fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, SeqCst);
        self.served.store(true, SeqCst);
        self.head_since.store(NONE, SeqCst);
        RequestGuard(self.clone())
    }

    /// A fresh id for a response body.
    pub(super) fn body_id(&self) -> u64 {
        self.next_body.fetch_add(1, SeqCst)
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u64>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Body `id` handed hyper a frame (or was just created): the peer must take it.
    pub(super) fn body_handed(&self, id: u64) {
        let now = self.now_ms();
        self.waiting().insert(id, now);
    }

    /// Body `id` was asked for its next frame (or was dropped).
    pub(super) fn body_polled(&self, id: u64) {
        self.waiting().remove(&id);
    }

    /// When the connection expires, and why; `None` while a request is in flight and nothing
    /// is stalled.
    fn deadline(&self) -> Option<(Instant, Expiry)> {
        let mut best: Option<(u64, Expiry)> = None;
        let mut consider = |at: u64, why: Expiry| {
            if best.is_none_or(|(b, _)| at < b) {
                best = Some((at, why));
            }
        };
        let blocked = self.write_blocked_since.load(SeqCst);
        if blocked != NONE {
            consider(blocked.saturating_add(self.stall_ms), Expiry::Stalled);
        }
        if let Some(oldest) = self.waiting().values().min().copied() {
            consider(oldest.saturating_add(self.stall_ms), Expiry::Stalled);
        }
        if !self.served.load(SeqCst) {
            consider(self.header_ms, Expiry::FirstRequest);
        } else if self.in_flight.load(SeqCst) == 0 {
            let head = self.head_since.load(SeqCst);
            if head == NONE {
                let idle = self.idle_since.load(SeqCst);
                consider(idle.saturating_add(self.idle_ms), Expiry::Idle);
            } else {
                consider(head.saturating_add(self.header_ms), Expiry::RequestHead);
            }
        }
        best.map(|(at, why)| (self.start + Duration::from_millis(at), why))
    }

    /// How often [`expired`] looks again (deadlines can move while it sleeps).
    fn recheck(&self) -> Duration {
        let shortest = self.header_ms.min(self.idle_ms).min(self.stall_ms);
        Duration::from_millis((shortest / 4).clamp(10, 1000))
    }
}

/// Marks one request in flight until dropped (it lives as long as the response body).
#[derive(Debug)]
pub(super) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let a = &self.0;
        if a.in_flight.fetch_sub(1, SeqCst) == 1 {
            a.head_since.store(NONE, SeqCst);
            a.idle_since.store(a.now_ms(), SeqCst);
        }
    }
}

/// Resolves once the connection has expired.
pub(super) async fn expired(activity: Arc<Activity>) -> Expiry {
    let recheck = activity.recheck();
    loop {
        let now = Instant::now();
        match activity.deadline() {
            Some((at, why)) if now >= at => return why,
            Some((at, _)) => tokio::time::sleep_until(at.min(now + recheck)).await,
            None => tokio::time::sleep(recheck).await,
        }
    }
}

/// Connection I/O that reports to an [`Activity`]: reads sniff the protocol and start request
/// heads; writes report being blocked and making progress.
#[derive(Debug)]
pub(super) struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
    /// Bytes of the h2 preface matched so far; `None` once the protocol is known.
    sniffed: Option<usize>,
}

impl<T> Tracked<T> {
    /// Wraps `inner` (the plain TCP stream or the TLS stream after the handshake).
    pub(super) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Tracked {
            inner,
            activity,
            sniffed: Some(0),
        }
    }

    fn sniff(&mut self, bytes: &[u8]) {
        let Some(mut matched) = self.sniffed else {
            return;
        };
        for &b in bytes {
            if H2_PREFACE.get(matched) != Some(&b) {
                self.activity.proto.store(PROTO_H1, SeqCst);
                self.sniffed = None;
                return;
            }
            matched += 1;
            if matched == H2_PREFACE.len() {
                self.activity.proto.store(PROTO_H2, SeqCst);
                self.sniffed = None;
                return;
            }
        }
        self.sniffed = Some(matched);
    }

    fn wrote<R>(&self, poll: &Poll<io::Result<R>>, progress: impl Fn(&R) -> bool) {
        match poll {
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(Ok(r)) if progress(r) => self.activity.write_progressed(),
            Poll::Ready(_) => {}
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let this = &mut *self;
            this.sniff(buf.filled().get(before..).unwrap_or_default());
            this.activity.bytes_read();
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        self.wrote(&poll, |n| *n > 0);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&poll, |n| *n > 0);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.wrote(&poll, |()| true);
        poll
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.wrote(&poll, |()| true);
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(90),
            stall_timeout: Duration::from_secs(20),
            ..Limits::default()
        }
    }

    fn tracked(a: &Arc<Activity>) -> Tracked<tokio::io::Empty> {
        Tracked::new(tokio::io::empty(), a.clone())
    }

    #[tokio::test(start_paused = true)]
    async fn http1_phases() {
        let a = Activity::new(&limits());
        let start = a.start;
        assert_eq!(
            a.deadline(),
            Some((start + Duration::from_secs(5), Expiry::FirstRequest)),
            "the first head is due within the header timeout of accept"
        );
        let mut io = tracked(&a);
        io.sniff(b"GET / HTTP/1.1\r\n");
        assert_eq!(a.proto.load(SeqCst), PROTO_H1);
        let g = a.request_started();
        assert_eq!(a.deadline(), None, "in flight, nothing stalled");
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(g);
        let t100 = start + Duration::from_secs(100);
        assert_eq!(
            a.deadline(),
            Some((t100 + Duration::from_secs(90), Expiry::Idle))
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        a.bytes_read();
        let head = Some((t100 + Duration::from_secs(15), Expiry::RequestHead));
        assert_eq!(a.deadline(), head);
        a.bytes_read(); // more bytes of the same head do not extend it
        assert_eq!(a.deadline(), head);
    }

    #[tokio::test(start_paused = true)]
    async fn h2_is_sniffed_and_idles() {
        let a = Activity::new(&limits());
        let mut io = tracked(&a);
        io.sniff(&H2_PREFACE[..10]);
        assert_eq!(
            a.proto.load(SeqCst),
            PROTO_UNKNOWN,
            "a prefix decides nothing"
        );
        io.sniff(&H2_PREFACE[10..]);
        assert_eq!(a.proto.load(SeqCst), PROTO_H2);
        drop(a.request_started());
        let idle = a.deadline();
        assert_eq!(idle.map(|d| d.1), Some(Expiry::Idle));
        tokio::time::advance(Duration::from_secs(1)).await;
        a.bytes_read(); // pings and settings are not request heads
        assert_eq!(a.deadline(), idle);

        let b = Activity::new(&limits());
        tracked(&b).sniff(b"PRI * HTTP/1.1\r\n");
        assert_eq!(
            b.proto.load(SeqCst),
            PROTO_H1,
            "diverging from the preface is h1"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stalls_end_even_requests_in_flight() {
        let a = Activity::new(&limits());
        let _g = a.request_started();
        let body = a.body_id();
        a.body_handed(body);
        let stalled = Some((a.start + Duration::from_secs(20), Expiry::Stalled));
        assert_eq!(a.deadline(), stalled);
        tokio::time::advance(Duration::from_secs(3)).await;
        a.body_polled(body);
        assert_eq!(a.deadline(), None);
        a.write_blocked();
        let blocked = Some((a.start + Duration::from_secs(23), Expiry::Stalled));
        assert_eq!(a.deadline(), blocked);
        tokio::time::advance(Duration::from_secs(1)).await;
        a.write_blocked(); // still the same stall
        assert_eq!(a.deadline(), blocked);
        a.write_progressed();
        assert_eq!(a.deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_waits_for_the_deadline() {
        let a = Activity::new(&limits());
        drop(a.request_started());
        let watch = tokio::spawn(expired(a.clone()));
        tokio::time::advance(Duration::from_secs(89)).await;
        tokio::task::yield_now().await;
        assert!(!watch.is_finished());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(watch.await.unwrap(), Expiry::Idle);
    }
}
