//! Per-connection header-read and idle timeouts, as Go's `http.Server` runs
//! them for KES (`ReadHeaderTimeout` 5 s, `IdleTimeout` 90 s).
//!
//! [`Activity`] follows one connection: how many requests are in flight,
//! and when it became idle or (HTTP/1.1) started receiving a request head.
//! [`Tracked`] wraps the connection's I/O to notice the first bytes of a head;
//! [`RequestGuard`] marks a request in flight until its response body is done
//! (so long-lived log streams are never cut); [`expired`] resolves when the
//! connection has been idle, or stuck in a request head, for too long. The
//! connection is then dropped: nothing is in flight on it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The two connection timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest time from the first byte of a request head (or, for a new
    /// HTTP/1.1 connection, from the handshake) to the complete head.
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

/// What one connection is doing.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    http1: bool,
    in_flight: AtomicUsize,
    /// Whether a request head is being received (HTTP/1.1 only).
    head: AtomicBool,
    /// Milliseconds since `start` when the idle or head phase began.
    since_ms: AtomicU64,
}

impl Activity {
    /// A new connection. An HTTP/1.1 connection starts in the head phase (its
    /// first request must arrive within the header timeout, as in Go); h2
    /// starts idle.
    pub fn new(http1: bool) -> Arc<Activity> {
        Arc::new(Activity {
            start: Instant::now(),
            http1,
            in_flight: AtomicUsize::new(0),
            head: AtomicBool::new(http1),
            since_ms: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Bytes arrived: on an idle HTTP/1.1 connection they begin a request head.
    fn bytes_read(&self) {
        if self.http1
            && self.in_flight.load(Ordering::Acquire) == 0
            && !self.head.swap(true, Ordering::AcqRel)
        {
            self.since_ms.store(self.now_ms(), Ordering::Release);
        }
    }

    /// A request was handed to the service.
    pub fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head.store(false, Ordering::Release);
        RequestGuard(self.clone())
    }

    /// When the connection expires, or `None` while a request is in flight.
    fn deadline(&self, t: Timeouts) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = self.start + Duration::from_millis(self.since_ms.load(Ordering::Acquire));
        Some(
            since
                + if self.head.load(Ordering::Acquire) {
                    t.header
                } else {
                    t.idle
                },
        )
    }
}

/// Marks one request in flight until dropped (with its response body).
#[derive(Debug)]
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let a = &self.0;
        if a.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.since_ms.store(a.now_ms(), Ordering::Release);
        }
    }
}

/// Resolves once the connection has expired under `t`.
pub async fn expired(activity: Arc<Activity>, t: Timeouts) {
    // While requests are in flight there is no deadline; look again after this.
    let recheck = t
        .header
        .min(t.idle)
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(10));
    loop {
        let now = Instant::now();
        match activity.deadline(t) {
            Some(deadline) if now >= deadline => return,
            Some(deadline) => tokio::time::sleep_until(deadline.min(now + recheck)).await,
            None => tokio::time::sleep(recheck).await,
        }
    }
}

/// I/O that reports reads to an [`Activity`].
#[derive(Debug)]
pub struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Tracked { inner, activity }
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
            self.activity.bytes_read();
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
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(5),
        idle: Duration::from_secs(90),
    };

    #[tokio::test(start_paused = true)]
    async fn phases() {
        let a = Activity::new(true);
        let start = a.start;
        assert_eq!(
            a.deadline(T),
            Some(start + T.header),
            "a new HTTP/1.1 connection must send a head"
        );
        let g = a.request_started();
        assert_eq!(a.deadline(T), None);
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(g);
        assert_eq!(
            a.deadline(T),
            Some(start + Duration::from_secs(100) + T.idle)
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        a.bytes_read();
        assert_eq!(
            a.deadline(T),
            Some(start + Duration::from_secs(110) + T.header)
        );
        a.bytes_read(); // more bytes of the same head do not extend it
        assert_eq!(
            a.deadline(T),
            Some(start + Duration::from_secs(110) + T.header)
        );

        let h2 = Activity::new(false);
        assert_eq!(h2.deadline(T), Some(h2.start + T.idle));
        h2.bytes_read(); // pings and settings are not request heads
        assert_eq!(h2.deadline(T), Some(h2.start + T.idle));
    }

    #[tokio::test(start_paused = true)]
    async fn expires_only_when_nothing_is_in_flight() {
        let a = Activity::new(false);
        let g = a.request_started();
        let watch = tokio::spawn(expired(a.clone(), T));
        tokio::time::advance(Duration::from_secs(600)).await;
        tokio::task::yield_now().await;
        assert!(
            !watch.is_finished(),
            "a request in flight keeps the connection"
        );
        drop(g);
        tokio::time::advance(T.idle + Duration::from_secs(2)).await;
        watch.await.unwrap();
    }
}
