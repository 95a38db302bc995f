//! [`Hub`]: fan-out of log lines to the subscribers of a log stream, and
//! [`LineStream`], the HTTP body that carries one subscription.
//!
//! Each subscriber has its own bounded queue of [`SUBSCRIBER_BUFFER`] lines.
//! Publishing never waits: a line for a full queue is dropped and counted,
//! so a subscriber that stops reading costs at most its buffer and never
//! slows a request. A subscriber that went away is removed on the next
//! publish. [`Hub::close`] ends every stream (used at shutdown, so open
//! streams do not hold up the graceful drain).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// Lines buffered per subscriber before new lines are dropped for it.
pub const SUBSCRIBER_BUFFER: usize = 256;

/// The subscribers of one log stream.
pub struct Hub {
    /// Senders of the live subscriptions. The lock is held only to push,
    /// to `try_send` (never blocks) or to drop senders.
    subscribers: Mutex<Vec<mpsc::Sender<Bytes>>>,
    /// `subscribers.len()`, readable without the lock (fast path: nobody listens).
    count: AtomicUsize,
    closed: AtomicBool,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.count.load(Ordering::Relaxed))
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl Hub {
    /// A hub counting dropped lines in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Hub {
        Hub {
            subscribers: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            metrics,
        }
    }

    // Poisoning: no critical section can panic half-way (Vec push/retain of
    // senders), so a poisoned list is still consistent.
    fn list(&self) -> MutexGuard<'_, Vec<mpsc::Sender<Bytes>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether anyone is subscribed (lets publishers skip formatting).
    pub fn has_subscribers(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// A new subscription. After [`Hub::close`] the stream ends at once.
    pub fn subscribe(&self) -> LineStream {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        let mut list = self.list();
        if !self.closed.load(Ordering::Acquire) {
            list.push(tx);
            self.count.store(list.len(), Ordering::Release);
        }
        LineStream { rx }
    }

    /// Sends `line` (one complete line, newline included) to every
    /// subscriber without waiting; full queues drop it (counted).
    pub fn publish(&self, line: Bytes) {
        if !self.has_subscribers() {
            return;
        }
        let mut dropped = 0u64;
        let mut list = self.list();
        list.retain(|tx| match tx.try_send(line.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                dropped += 1;
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        self.count.store(list.len(), Ordering::Release);
        drop(list);
        if dropped > 0 {
            self.metrics.dropped_events(dropped);
        }
    }

    /// Ends every stream and refuses new subscribers (server shutdown).
    pub fn close(&self) {
        let mut list = self.list();
        self.closed.store(true, Ordering::Release);
        list.clear();
        self.count.store(0, Ordering::Release);
    }
}

/// The body of a log-stream response: lines as they are published, until
/// the hub closes. Dropping it (client gone) ends the subscription.
#[derive(Debug)]
pub struct LineStream {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for LineStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(Frame::data(l))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn full_subscribers_lose_lines_not_the_publisher() {
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::new(metrics.clone());
        assert!(!hub.has_subscribers());
        let mut slow = hub.subscribe();
        let mut fast = hub.subscribe();
        for i in 0..SUBSCRIBER_BUFFER + 10 {
            hub.publish(Bytes::from(format!("{i}\n")));
            // the fast one keeps up
            let f = fast.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(f, Bytes::from(format!("{i}\n")));
        }
        assert!(metrics.render().contains("kes_log_dropped_events 10\n"));
        drop(fast);
        hub.publish(Bytes::from("x\n"));
        assert_eq!(hub.count.load(Ordering::Relaxed), 1);
        hub.close();
        assert!(!hub.has_subscribers());
        // the slow stream drains its buffer (the oldest lines), then ends
        let first = slow.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, Bytes::from("0\n"));
        let mut n = 1;
        while let Some(f) = slow.frame().await {
            f.unwrap();
            n += 1;
        }
        assert_eq!(n, SUBSCRIBER_BUFFER);
        let mut late = hub.subscribe();
        assert!(late.frame().await.is_none());
    }
}
