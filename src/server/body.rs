//! [`Watched`]: a response body that keeps its request in flight and
//! reports whether hyper has come back for more of it (see
//! [`super::timeouts`] for the stall rule).

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

use super::timeouts::RequestGuard;

/// A response body carrying its request's [`RequestGuard`].
///
/// Contract: created when the response head is produced (marks the response
/// waiting for its consumer); each poll clears the mark and each frame
/// handed out sets it again. Dropping the body (done, failed or reset) ends
/// the request. Length, end-of-stream and frames are the inner body's.
#[derive(Debug)]
pub(super) struct Watched<B> {
    inner: B,
    guard: RequestGuard,
}

impl<B> Watched<B> {
    /// Wraps the body of a response that is ready to send.
    pub(super) fn new(inner: B, guard: RequestGuard) -> Self {
        guard.handed_out();
        Watched { inner, guard }
    }
}

impl<B: Body + Unpin> Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        this.guard.polled();
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &poll {
            this.guard.handed_out();
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::Bytes;
    use http_body_util::{BodyExt as _, Full, StreamBody};

    use super::*;
    use crate::server::timeouts::{Activity, Expiry, Protocol};

    use crate::server::timeouts::tests::{STALL, T};

    #[tokio::test(start_paused = true)]
    async fn marks_follow_the_consumer() {
        let a = Activity::new();
        a.spoken(Protocol::H2);
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(4);
        let stream = StreamBody::new(tokio_stream_shim(rx));
        let mut body = Watched::new(stream, a.request_started());
        let at = a.accepted();
        assert_eq!(
            a.deadline(T, STALL),
            Some((at + STALL, Expiry::Stalled)),
            "the head is produced: waiting for the consumer"
        );
        // Polled with nothing to send (a quiet log stream): not waiting.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(Pin::new(&mut body).poll_frame(&mut cx).is_pending());
        assert_eq!(a.deadline(T, STALL), None);
        tokio::time::advance(STALL * 3).await;
        assert_eq!(a.deadline(T, STALL), None, "quiet is not stalled");
        // A frame handed out and not come back for: waiting from now.
        tx.send(Ok(Frame::data(Bytes::from_static(b"event"))))
            .await
            .unwrap();
        assert!(Pin::new(&mut body).poll_frame(&mut cx).is_ready());
        assert_eq!(
            a.deadline(T, STALL),
            Some((at + STALL * 3 + STALL, Expiry::Stalled))
        );
        drop(body);
        assert_eq!(
            a.deadline(T, STALL),
            Some((at + STALL * 3 + T.idle, Expiry::Idle)),
            "dropping the body ends the request"
        );
    }

    #[tokio::test]
    async fn length_and_content_are_the_inner_bodys() {
        let a = Activity::new();
        let body = Watched::new(Full::new(Bytes::from_static(b"hello")), a.request_started());
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
    }

    /// A `Stream` over an mpsc receiver (tokio-stream is not a dependency).
    fn tokio_stream_shim<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Unpin {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
