//! Per-connection timing: KES's header-read and idle timeouts (Go's
//! `ReadHeaderTimeout` 5 s, `IdleTimeout` 90 s) plus the stall bound.
//!
//! [`Activity`] follows one connection from TCP accept:
//! - **protocol**: unknown until the first bytes after the TLS handshake; the
//!   HTTP/2 client preface makes it h2, anything else HTTP/1.1 (what the
//!   peer speaks, not what ALPN said; see [`super::io`]);
//! - **head phase**: a new connection, and an HTTP/1.1 connection receiving
//!   the bytes of a request head, must complete the head within
//!   [`Timeouts::header`]. The first head counts from TCP accept; later ones
//!   from their first byte. An h2 connection leaves the head phase when its
//!   preface arrives (h2 requests are multiplexed: only idleness counts);
//! - **idle phase**: no request in flight; ends the connection after
//!   [`Timeouts::idle`];
//! - **stalls**: a response waiting for its consumer, or a write waiting for
//!   the socket, for longer than the stall bound ends the connection, even
//!   with requests in flight.
//!
//! A stall means bytes are ready for the peer and the peer takes none:
//! - [`super::body::Watched`] (the response body) marks its request
//!   *waiting* when the response head is produced and each time it hands a
//!   frame to hyper, and clears the mark each time hyper polls it again.
//!   Hyper polls again as soon as it has passed the frame on, so the mark
//!   stays only while hyper cannot send: an h2 stream with no flow-control
//!   window (hyper does not even poll the body then), or an HTTP/1.1 write
//!   buffer that cannot drain. A log stream with nothing to send is being
//!   polled (it returned `Pending`), so it is not waiting.
//! - [`super::io::Tracked`] marks the connection *write-blocked* while
//!   writing to the socket returns `Pending` (the peer's receive window and
//!   our send buffer are full), and clears it on any write that goes through.
//!
//! Each mark records when it began; the oldest one plus the stall bound is a
//! deadline. [`RequestGuard`] marks a request in flight until its response
//! body is dropped (done or abandoned), so long-lived log streams are never
//! cut as idle. [`expired`] resolves at the earliest deadline; the
//! connection is then dropped.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

/// The two KES connection timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest time from the first byte of a request head (for the first
    /// request of a connection: from TCP accept) to the complete head.
    pub header: Duration,
    /// Longest time a connection may stay open with no request in flight.
    pub idle: Duration,
}

impl Default for Timeouts {
    /// KES's values: 5 s header read, 90 s idle.
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(5),
            idle: Duration::from_secs(90),
        }
    }
}

/// Why a connection was closed by [`expired`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// A request head (or the first request) took longer than the header timeout.
    Head,
    /// No request in flight for the idle timeout.
    Idle,
    /// Bytes were ready for the peer and it took none for the stall bound.
    Stalled,
}

impl std::fmt::Display for Expiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Expiry::Head => "request head too slow",
            Expiry::Idle => "idle",
            Expiry::Stalled => "response stalled: the client takes no bytes",
        })
    }
}

/// The protocol a connection speaks, as seen in its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// No bytes (or only a prefix of the h2 preface) yet.
    Unknown,
    /// Anything that does not start with the h2 preface.
    Http1,
    /// Started with the HTTP/2 client connection preface.
    H2,
}

/// What one connection is doing; see the module docs.
#[derive(Debug)]
pub struct Activity {
    /// TCP accept.
    start: Instant,
    protocol: AtomicU8,
    in_flight: AtomicUsize,
    /// Whether a request head is being received (or awaited, at first).
    head: AtomicBool,
    /// Milliseconds since `start` when the idle or head phase began.
    since_ms: AtomicU64,
    /// 1 + milliseconds since `start` when writes began to block; 0 = not blocked.
    write_blocked: AtomicU64,
    /// One mark per request in flight, in the same encoding as `write_blocked`.
    waiting: Mutex<Vec<Weak<AtomicU64>>>,
}

impl Activity {
    /// A connection accepted now: protocol unknown, in the head phase (its
    /// first request head is due within the header timeout from now).
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            protocol: AtomicU8::new(Protocol::Unknown as u8),
            in_flight: AtomicUsize::new(0),
            head: AtomicBool::new(true),
            since_ms: AtomicU64::new(0),
            write_blocked: AtomicU64::new(0),
            waiting: Mutex::new(Vec::new()),
        })
    }

    /// When the connection was accepted.
    pub fn accepted(&self) -> Instant {
        self.start
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// A non-zero mark for "since now".
    fn mark(&self) -> u64 {
        self.now_ms().saturating_add(1)
    }

    fn at(&self, mark: u64) -> Instant {
        self.start + Duration::from_millis(mark.saturating_sub(1))
    }

    /// The protocol seen so far.
    pub fn protocol(&self) -> Protocol {
        match self.protocol.load(Ordering::Acquire) {
            1 => Protocol::Http1,
            2 => Protocol::H2,
            _ => Protocol::Unknown,
        }
    }

    /// The first bytes decided the protocol. h2 leaves the head phase (and
    /// starts idling); HTTP/1.1 stays in it, still counting from accept.
    pub(super) fn spoken(&self, protocol: Protocol) {
        self.protocol.store(protocol as u8, Ordering::Release);
        if protocol == Protocol::H2 && self.in_flight.load(Ordering::Acquire) == 0 {
            self.since_ms.store(self.now_ms(), Ordering::Release);
            self.head.store(false, Ordering::Release);
        }
    }

    /// Bytes arrived: on an idle HTTP/1.1 connection they begin a request head.
    pub(super) fn bytes_read(&self) {
        if self.protocol() == Protocol::Http1
            && self.in_flight.load(Ordering::Acquire) == 0
            && !self.head.swap(true, Ordering::AcqRel)
        {
            self.since_ms.store(self.now_ms(), Ordering::Release);
        }
    }

    /// A write to the socket returned `Pending` (keeps the earliest time).
    pub(super) fn write_blocked(&self) {
        let _ = self.write_blocked.compare_exchange(
            0,
            self.mark(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// A write to the socket went through.
    pub(super) fn write_progressed(&self) {
        self.write_blocked.store(0, Ordering::Release);
    }

    /// A request was handed to the service.
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head.store(false, Ordering::Release);
        let waiting = Arc::new(AtomicU64::new(0));
        let mut list = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(&waiting));
        drop(list);
        RequestGuard {
            activity: self.clone(),
            waiting,
        }
    }

    /// The oldest mark of a response waiting for its consumer.
    fn oldest_waiting(&self) -> Option<u64> {
        let list = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        list.iter()
            .filter_map(Weak::upgrade)
            .map(|w| w.load(Ordering::Acquire))
            .filter(|m| *m != 0)
            .min()
    }

    /// When the connection expires and why; `None` while requests are in
    /// flight and nothing stalls.
    pub fn deadline(&self, t: Timeouts, stall: Duration) -> Option<(Instant, Expiry)> {
        let mut earliest: Option<(Instant, Expiry)> = None;
        let mut consider = |at: Instant, why: Expiry| {
            if earliest.is_none_or(|(e, _)| at < e) {
                earliest = Some((at, why));
            }
        };
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let since = self.start + Duration::from_millis(self.since_ms.load(Ordering::Acquire));
            if self.head.load(Ordering::Acquire) {
                consider(since + t.header, Expiry::Head);
            } else {
                consider(since + t.idle, Expiry::Idle);
            }
        }
        let blocked = self.write_blocked.load(Ordering::Acquire);
        if blocked != 0 {
            consider(self.at(blocked) + stall, Expiry::Stalled);
        }
        if let Some(mark) = self.oldest_waiting() {
            consider(self.at(mark) + stall, Expiry::Stalled);
        }
        earliest
    }
}

/// Marks one request in flight until dropped (with its response body), and
/// whether its response is waiting for the consumer.
#[derive(Debug)]
pub struct RequestGuard {
    activity: Arc<Activity>,
    waiting: Arc<AtomicU64>,
}

impl RequestGuard {
    /// Bytes of the response (its head or a body frame) were handed out:
    /// waiting for the consumer from now.
    pub(super) fn handed_out(&self) {
        self.waiting.store(self.activity.mark(), Ordering::Release);
    }

    /// The consumer came back for more: not waiting.
    pub(super) fn polled(&self) {
        self.waiting.store(0, Ordering::Release);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let a = &self.activity;
        if a.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.since_ms.store(a.now_ms(), Ordering::Release);
        }
    }
}

/// Resolves once the connection has expired under `t` and the `stall`
/// bound, with the reason.
pub async fn expired(activity: Arc<Activity>, t: Timeouts, stall: Duration) -> Expiry {
    // Marks set later only move deadlines later than `now + stall`, and a
    // request ending starts a phase of at least `min(header, idle)`: looking
    // again at least that often never misses a deadline.
    let recheck = t
        .header
        .min(t.idle)
        .min(stall)
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(10));
    loop {
        let now = Instant::now();
        match activity.deadline(t, stall) {
            Some((deadline, why)) if now >= deadline => return why,
            Some((deadline, _)) => tokio::time::sleep_until(deadline.min(now + recheck)).await,
            None => tokio::time::sleep(recheck).await,
        }
    }
}

#[cfg(test)]
#[path = "timeouts_tests.rs"]
pub(crate) mod tests;
