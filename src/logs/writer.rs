//! [`LineWriter`]: writes log lines to stdout, stderr or any [`Sink`] from a
//! dedicated thread, so a slow or blocked output (a full pipe, a stopped
//! terminal) never blocks a request or the async runtime.
//!
//! # Batching
//! Lines are appended to one shared buffer (a lock held for a copy, no
//! allocation per line). The thread wakes when the buffer stops being empty
//! and writes the whole buffer with one write and one flush; lines queued
//! while it writes form the next batch. So a busy server pays a copy per line
//! and one syscall and thread wake-up per batch, an idle one a wake-up per
//! line (no timer: waiting for more lines to gather cost a second wake-up per
//! batch and doubled the CPU of a request at low concurrency), and a line
//! reaches the output at most one write after it was queued.
//!
//! # Bounds
//! At most [`QUEUE`] lines wait to be written; further lines are dropped
//! and counted in `kes_log_dropped_events`. The thread ends when the writer
//! is dropped, after writing what is queued.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// Lines waiting for the writer thread before new lines are dropped.
pub const QUEUE: usize = 4096;

/// Buffer capacity kept between batches (larger buffers are shrunk back).
const KEEP_BYTES: usize = 64 * 1024;

/// Where a log goes.
pub type Sink = Box<dyn Write + Send + 'static>;

/// What the callers and the thread share.
#[derive(Default)]
struct Queue {
    /// Lines not yet taken by the thread, newline included.
    buf: Vec<u8>,
    /// Number of lines in `buf`.
    lines: usize,
    /// Lines queued since the start (sequence of the latest queued line).
    queued: u64,
    /// Lines written so far (every line up to this sequence is out).
    written: u64,
    /// The writer was dropped: write what is left and stop.
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signals the thread: lines arrived, or closed.
    work: Condvar,
    /// Signals [`LineWriter::flush`] callers: a batch was written.
    done: Condvar,
}

impl Shared {
    // Poisoning: no critical section can panic half-way (appends, counters
    // and a buffer swap), so a poisoned queue is still consistent.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A queue in front of a [`Sink`] served by its own thread.
pub struct LineWriter {
    /// `None` if the thread could not be started: lines are then dropped.
    shared: Option<Arc<Shared>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for LineWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineWriter")
            .field("running", &self.shared.is_some())
            .finish()
    }
}

impl LineWriter {
    /// Starts the writer thread `name` for `sink`.
    pub fn spawn(name: &str, sink: Sink, metrics: Arc<Metrics>) -> LineWriter {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let theirs = shared.clone();
        let started = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(&theirs, sink));
        LineWriter {
            shared: started.ok().map(|_| shared),
            metrics,
        }
    }

    /// Queues one line (newline included) without waiting for the output.
    pub fn write(&self, line: Vec<u8>) {
        self.write_bytes(&line);
    }

    /// Queues one line (newline included) by copying it.
    pub fn write_bytes(&self, line: &[u8]) {
        let Some(shared) = &self.shared else {
            self.metrics.dropped_events(1);
            return;
        };
        let mut q = shared.lock();
        if q.closed || q.lines >= QUEUE {
            drop(q);
            self.metrics.dropped_events(1);
            return;
        }
        let was_empty = q.lines == 0;
        q.buf.extend_from_slice(line);
        q.lines += 1;
        q.queued += 1;
        drop(q);
        if was_empty {
            shared.work.notify_one();
        }
    }

    /// Waits until every line queued so far is written, at most `limit`
    /// (used before the process exits). Returns whether it completed.
    pub fn flush(&self, limit: Duration) -> bool {
        let Some(shared) = &self.shared else {
            return true;
        };
        let deadline = Instant::now() + limit;
        let mut q = shared.lock();
        let target = q.queued;
        while q.written < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            q = shared
                .done
                .wait_timeout(q, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.lock().closed = true;
            shared.work.notify_one();
        }
    }
}

/// The writer thread: one batch per wake-up until closed and drained.
fn run(shared: &Shared, mut sink: Sink) {
    let mut batch = Vec::with_capacity(KEEP_BYTES);
    loop {
        let mut q = shared.lock();
        while q.lines == 0 && !q.closed {
            q = shared.work.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        if q.lines == 0 {
            return; // closed and drained
        }
        std::mem::swap(&mut q.buf, &mut batch);
        q.lines = 0;
        let upto = q.queued;
        drop(q);
        // A failing output cannot be reported anywhere better.
        let _ = sink.write_all(&batch);
        let _ = sink.flush();
        batch.clear();
        if batch.capacity() > KEEP_BYTES {
            batch.shrink_to(KEEP_BYTES);
        }
        shared.lock().written = upto;
        shared.done.notify_all();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A sink that records every write call.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorder {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_in_order_and_batched() {
        let rec = Recorder::default();
        let metrics = Arc::new(Metrics::new());
        let w = LineWriter::spawn("test-log", Box::new(rec.clone()), metrics);
        for i in 0..1000 {
            w.write(format!("line {i}\n").into_bytes());
        }
        assert!(w.flush(Duration::from_secs(10)));
        let writes = rec.0.lock().unwrap().clone();
        let all: Vec<u8> = writes.concat();
        let want: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(all).unwrap(), want);
        assert!(
            writes.len() < 1000,
            "{} writes for 1000 lines",
            writes.len()
        );
    }

    #[test]
    fn dropping_the_writer_writes_what_is_queued() {
        let rec = Recorder::default();
        let w = LineWriter::spawn("test-log", Box::new(rec.clone()), Arc::new(Metrics::new()));
        w.write(b"last\n".to_vec());
        let shared = w.shared.clone().unwrap();
        drop(w);
        // The thread drains and marks the line written before it ends.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut q = shared.lock();
        while q.written < 1 && Instant::now() < deadline {
            q = shared
                .done
                .wait_timeout(q, Duration::from_millis(100))
                .unwrap()
                .0;
        }
        assert_eq!(q.written, 1);
        drop(q);
        assert_eq!(rec.0.lock().unwrap().concat(), b"last\n");
    }
}
