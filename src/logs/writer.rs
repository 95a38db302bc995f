//! [`LineWriter`]: writes log lines to stdout, stderr or any [`Sink`] from a
//! dedicated thread, so a slow or blocked output (a full pipe, a stopped
//! terminal) never blocks a request or the async runtime.
//!
//! Lines are queued in a bounded channel of [`QUEUE`] lines; when it is
//! full, new lines are dropped and counted in `kes_log_dropped_events`.
//! The thread ends when the writer is dropped, after writing what is queued.

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// Lines queued for the writer thread before new lines are dropped.
pub const QUEUE: usize = 4096;

/// Where a log goes.
pub type Sink = Box<dyn Write + Send + 'static>;

/// What the writer thread receives.
enum Msg {
    /// One line to write.
    Line(Vec<u8>),
    /// Acknowledge once everything queued before has been written.
    Flush(mpsc::Sender<()>),
}

/// A queue in front of a [`Sink`] served by its own thread.
pub struct LineWriter {
    /// `None` if the thread could not be started: lines are then dropped.
    tx: Option<SyncSender<Msg>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for LineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineWriter")
            .field("running", &self.tx.is_some())
            .finish()
    }
}

impl LineWriter {
    /// Starts the writer thread `name` for `sink`.
    pub fn spawn(name: &str, mut sink: Sink, metrics: Arc<Metrics>) -> LineWriter {
        let (tx, rx) = mpsc::sync_channel::<Msg>(QUEUE);
        let started = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for msg in rx {
                    match msg {
                        Msg::Line(line) => {
                            // A failing output cannot be reported anywhere better.
                            let _ = sink.write_all(&line);
                            let _ = sink.flush();
                        }
                        Msg::Flush(ack) => {
                            let _ = ack.send(());
                        }
                    }
                }
            });
        LineWriter {
            tx: started.ok().map(|_| tx),
            metrics,
        }
    }

    /// Queues one line (newline included) without waiting.
    pub fn write(&self, line: Vec<u8>) {
        let Some(tx) = &self.tx else {
            self.metrics.dropped_events(1);
            return;
        };
        match tx.try_send(Msg::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.dropped_events(1);
            }
        }
    }

    /// Waits until every line queued so far is written, at most `limit`
    /// (used before the process exits). Returns whether it completed.
    pub fn flush(&self, limit: Duration) -> bool {
        let Some(tx) = &self.tx else {
            return true;
        };
        let deadline = Instant::now() + limit;
        let (ack, done) = mpsc::channel();
        let mut msg = Msg::Flush(ack);
        loop {
            match tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    msg = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        done.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }
}
