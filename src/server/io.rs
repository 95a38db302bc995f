//! [`Tracked`]: the connection's I/O (inside TLS), reporting to an
//! [`Activity`] what the timing rules need.
//!
//! - Reads: the first bytes decide the protocol actually spoken. The HTTP/2
//!   client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) makes it
//!   h2, anything else HTTP/1.1 — the same sniff hyper-util's auto builder
//!   uses to pick the protocol, so the timeouts always follow what hyper
//!   serves, whatever ALPN said. Later bytes may begin an HTTP/1.1 head.
//! - Writes: `Pending` from a write, flush or shutdown means the peer takes
//!   no bytes right now (write-blocked, the start of a stall); any write that
//!   goes through clears it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::timeouts::{Activity, Protocol};

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub(super) const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// I/O that reports reads and writes to an [`Activity`].
#[derive(Debug)]
pub(super) struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
    /// Bytes of the preface matched so far; `None` once decided.
    sniffed: Option<usize>,
}

impl<T> Tracked<T> {
    /// Wraps `inner` (the TLS stream, right after the handshake).
    pub(super) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Tracked {
            inner,
            activity,
            sniffed: Some(0),
        }
    }

    /// Feeds newly read bytes to the protocol sniff.
    fn sniff(&mut self, new: &[u8]) {
        let Some(matched) = self.sniffed else {
            return;
        };
        let want = H2_PREFACE.get(matched..).unwrap_or_default();
        let n = new.len().min(want.len());
        if new.get(..n) != want.get(..n) {
            self.sniffed = None;
            self.activity.spoken(Protocol::Http1);
        } else if matched + n == H2_PREFACE.len() {
            self.sniffed = None;
            self.activity.spoken(Protocol::H2);
        } else {
            self.sniffed = Some(matched + n);
        }
    }

    fn wrote<R>(&self, poll: &Poll<io::Result<R>>) {
        match poll {
            Poll::Pending => self.activity.write_blocked(),
            Poll::Ready(_) => self.activity.write_progressed(),
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
        self.wrote(&poll);
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.wrote(&poll);
        poll
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.wrote(&poll);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&poll);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::server::timeouts::Expiry;

    use crate::server::timeouts::tests::{STALL, T};

    /// Reads what the client sent, in the pieces given, through `Tracked`.
    async fn feed(pieces: &[&[u8]]) -> Arc<Activity> {
        let activity = Activity::new();
        let (mut client, server) = tokio::io::duplex(1024);
        let mut tracked = Tracked::new(server, activity.clone());
        for piece in pieces {
            client.write_all(piece).await.unwrap();
            let mut buf = vec![0u8; piece.len()];
            tracked.read_exact(&mut buf).await.unwrap();
        }
        activity
    }

    #[tokio::test(start_paused = true)]
    async fn the_preface_decides_the_protocol() {
        let h2 = feed(&[&H2_PREFACE[..3], &H2_PREFACE[3..], b"\0\0\0\x04"]).await;
        assert_eq!(h2.protocol(), Protocol::H2);
        let http1 = feed(&[b"GET / HTTP/1.1\r\n"]).await;
        assert_eq!(http1.protocol(), Protocol::Http1);
        // `PRI ` then something else: HTTP/1.1 (hyper serves it as such).
        let almost = feed(&[b"PRI * HTTP/1.1\r\n"]).await;
        assert_eq!(almost.protocol(), Protocol::Http1);
        // A strict prefix of the preface decides nothing yet.
        let partial = feed(&[&H2_PREFACE[..10]]).await;
        assert_eq!(partial.protocol(), Protocol::Unknown);
    }

    #[tokio::test(start_paused = true)]
    async fn http1_spoken_after_alpn_h2_keeps_the_head_timeout() {
        // Whatever ALPN said, a partial HTTP/1.1 head is due at accept + header.
        let a = feed(&[b"GET /v1/status HTTP/1.1\r\n"]).await;
        assert_eq!(
            a.deadline(T, STALL),
            Some((a.accepted() + T.header, Expiry::Head))
        );
        // The h2 preface leaves the head phase: the connection idles.
        let h2 = feed(&[H2_PREFACE]).await;
        assert_eq!(
            h2.deadline(T, STALL),
            Some((h2.accepted() + T.idle, Expiry::Idle))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_write_is_a_stall_until_one_goes_through() {
        let activity = Activity::new();
        // The peer reads nothing: a 64-byte pipe fills up.
        let (mut client, server) = tokio::io::duplex(64);
        let mut tracked = Tracked::new(server, activity.clone());
        tracked.write_all(&[0u8; 64]).await.unwrap();
        let g = activity.request_started(); // in flight: no idle deadline
        assert_eq!(activity.deadline(T, STALL), None);
        let blocked_at = tokio::time::Instant::now();
        let mut write = tokio::spawn(async move {
            tracked.write_all(&[1u8; 16]).await.unwrap();
            tracked
        });
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            activity.deadline(T, STALL),
            Some((blocked_at + STALL, Expiry::Stalled)),
            "blocked since the first Pending, not since the latest"
        );
        assert!(!write.is_finished());
        // The peer reads: the write goes through and the stall is over.
        let mut buf = [0u8; 64];
        client.read_exact(&mut buf).await.unwrap();
        let _tracked = (&mut write).await.unwrap();
        assert_eq!(activity.deadline(T, STALL), None);
        drop(g);
    }
}
