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

use crate::metrics::Metrics;

/// Lines queued for the writer thread before new lines are dropped.
pub const QUEUE: usize = 4096;

/// Where a log goes.
pub type Sink = Box<dyn Write + Send + 'static>;

/// A queue in front of a [`Sink`] served by its own thread.
pub struct LineWriter {
    /// `None` if the thread could not be started: lines are then dropped.
    tx: Option<SyncSender<Vec<u8>>>,
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
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
        let started = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for line in rx {
                    // A failing output cannot be reported anywhere better.
                    let _ = sink.write_all(&line);
                    let _ = sink.flush();
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
        match tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.metrics.dropped_events(1);
            }
        }
    }
}
