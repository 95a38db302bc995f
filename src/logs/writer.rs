//! [`LineWriter`]: writes log lines to stdout, stderr or any [`Sink`] from a
//! dedicated thread, so a slow or blocked output (a full pipe, a stopped
//! terminal) never blocks a request or the async runtime.
//!
//! # Batching
//! Lines are appended to one shared buffer (a lock held for a copy, no
//! allocation per line). The thread writes the whole buffer with one write
//! and one flush; lines queued while it writes form the next batch.
//!
//! When the thread is woken decides the cost: waking it for every line that
//! finds the buffer empty made the writer preempt the runtime thread once per
//! request (two context switches per request, the largest cost in the
//! profile). So the thread has two ways to wait:
//!
//! - **Polling**, after it wrote a batch: it sleeps at most [`POLL`] and
//!   writes what gathered meanwhile; nobody wakes it for a line (only a full
//!   batch of [`WAKE_LINES`] lines, a flush or the writer's drop). A
//!   poll that finds nothing sends it idle.
//! - **Idle**: it sleeps until woken. A line queued on an async runtime
//!   worker then wakes it when that worker parks ([`on_runtime_park`], the
//!   runtime's `on_thread_park` hook), that is once the worker ran out of
//!   work; a line from any other thread (blocking pool, start-up, shutdown)
//!   wakes it at once.
//!
//! So a busy server pays one thread wake-up per [`POLL`] whatever its request
//! rate, an idle one nothing, and a line reaches the output at most [`POLL`]
//! after it was queued while the server is busy (once its worker goes idle
//! otherwise).
//!
//! # Bounds
//! At most [`QUEUE`] lines and [`QUEUE_BYTES`] bytes wait to be written (besides the batch
//! the thread is writing, itself at most that); further lines are dropped
//! and counted in `kes_log_dropped_events`. The thread ends when the writer
//! is dropped, after writing what is queued.

use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// Lines waiting for the writer thread before new lines are dropped.
pub const QUEUE: usize = 4096;

/// Bytes waiting for the writer thread before new lines are dropped (a line can carry a
/// client's long request path; a blocked output must not let the queue grow without bound).
pub const QUEUE_BYTES: usize = 4 * 1024 * 1024;

/// Buffer capacity kept between batches (larger buffers are shrunk back).
const KEEP_BYTES: usize = 64 * 1024;

/// Lines after which the thread is woken whatever it is doing.
pub const WAKE_LINES: usize = 256;

/// How long the thread waits for more lines after writing a batch.
pub const POLL: Duration = Duration::from_millis(10);

thread_local! {
    /// Whether this thread is an async runtime worker that calls
    /// [`on_runtime_park`] when it runs out of work (set by its first park).
    static PARKS: Cell<bool> = const { Cell::new(false) };
}

/// Some writer holds lines whose thread was not woken.
static DEFERRED: AtomicBool = AtomicBool::new(false);

/// Every writer, for [`on_runtime_park`] (dead entries pruned on spawn).
static WRITERS: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// The runtime's `on_thread_park` hook: wakes every writer thread holding
/// lines queued by a worker, and marks this thread as one that parks (its
/// later lines wait for its next park). Costs one atomic load when nothing
/// waits.
pub fn on_runtime_park() {
    PARKS.with(|p| p.set(true));
    if !DEFERRED.swap(false, Ordering::AcqRel) {
        return;
    }
    let writers = WRITERS.lock().unwrap_or_else(PoisonError::into_inner);
    for shared in writers.iter().filter_map(Weak::upgrade) {
        shared.wake_if_deferred();
    }
}

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
    /// Lines are queued and the idle thread was not woken for them.
    deferred: bool,
    /// The thread is in a timed wait (it comes back by itself within [`POLL`]).
    polling: bool,
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

    /// Wakes the thread if lines wait for it unannounced.
    fn wake_if_deferred(&self) {
        let mut q = self.lock();
        if std::mem::take(&mut q.deferred) {
            drop(q);
            self.work.notify_one();
        }
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
        {
            let mut writers = WRITERS.lock().unwrap_or_else(PoisonError::into_inner);
            writers.retain(|w| w.strong_count() > 0);
            writers.push(Arc::downgrade(&shared));
        }
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
        if q.closed || q.lines >= QUEUE || q.buf.len() + line.len() > QUEUE_BYTES {
            drop(q);
            self.metrics.dropped_events(1);
            return;
        }
        let was_empty = q.lines == 0;
        q.buf.extend_from_slice(line);
        q.lines += 1;
        q.queued += 1;
        let wake = if q.lines >= WAKE_LINES {
            q.lines == WAKE_LINES // the batch just filled up
        } else if q.polling {
            false // it comes back by itself
        } else if PARKS.with(Cell::get) {
            // A worker: the idle thread is woken when this worker parks.
            if !q.deferred {
                q.deferred = true;
                DEFERRED.store(true, Ordering::Release);
            }
            false
        } else {
            was_empty || q.deferred
        };
        if wake {
            q.deferred = false;
        }
        drop(q);
        if wake {
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
        shared.lock().deferred = false;
        shared.work.notify_one();
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
            let mut q = shared.lock();
            q.closed = true;
            q.deferred = false;
            drop(q);
            shared.work.notify_one();
        }
    }
}

/// The writer thread: one batch per wake-up (polling while busy, see the
/// module docs) until closed and drained.
fn run(shared: &Shared, mut sink: Sink) {
    let mut batch = Vec::with_capacity(KEEP_BYTES);
    let mut busy = false;
    loop {
        let mut q = shared.lock();
        if busy && q.lines == 0 && !q.closed {
            q.polling = true;
            q = shared
                .work
                .wait_timeout(q, POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            q.polling = false;
        }
        while q.lines == 0 && !q.closed {
            q = shared.work.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
        if q.lines == 0 {
            return; // closed and drained
        }
        busy = true;
        std::mem::swap(&mut q.buf, &mut batch);
        q.lines = 0;
        q.deferred = false;
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

    /// The tests that call [`on_runtime_park`] (it wakes every writer) run one at a time.
    static PARKING: Mutex<()> = Mutex::new(());

    /// Waits (bounded) until `n` lines of `shared` are written.
    fn wait_written(shared: &Shared, n: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut q = shared.lock();
        while q.written < n && Instant::now() < deadline {
            q = shared
                .done
                .wait_timeout(q, Duration::from_millis(100))
                .unwrap()
                .0;
        }
        q.written
    }

    #[test]
    fn a_worker_line_waits_for_the_park_then_is_written() {
        let _serial = PARKING.lock().unwrap_or_else(PoisonError::into_inner);
        let rec = Recorder::default();
        let w = LineWriter::spawn("test-log", Box::new(rec.clone()), Arc::new(Metrics::new()));
        let shared = w.shared.clone().unwrap();
        std::thread::spawn(move || {
            // This thread behaves as a runtime worker: it has parked once.
            on_runtime_park();
            w.write(b"one\n".to_vec());
            // Queued without waking the writer thread.
            assert!(shared.lock().deferred);
            on_runtime_park();
            assert_eq!(wait_written(&shared, 1), 1);
            assert_eq!(rec.0.lock().unwrap().concat(), b"one\n");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_busy_worker_wakes_the_writer_when_the_batch_is_full() {
        let _serial = PARKING.lock().unwrap_or_else(PoisonError::into_inner);
        let rec = Recorder::default();
        let w = LineWriter::spawn("test-log", Box::new(rec.clone()), Arc::new(Metrics::new()));
        let shared = w.shared.clone().unwrap();
        std::thread::spawn(move || {
            on_runtime_park();
            for i in 0..WAKE_LINES {
                w.write(format!("{i}\n").into_bytes());
            }
            // No park: the full batch woke the thread.
            assert_eq!(wait_written(&shared, WAKE_LINES as u64), WAKE_LINES as u64);
            drop(w);
        })
        .join()
        .unwrap();
        assert_eq!(
            rec.0.lock().unwrap().concat().len(),
            (0..WAKE_LINES)
                .map(|i| format!("{i}\n").len())
                .sum::<usize>()
        );
    }

    #[test]
    fn flush_writes_lines_a_worker_deferred() {
        let _serial = PARKING.lock().unwrap_or_else(PoisonError::into_inner);
        let rec = Recorder::default();
        let w = LineWriter::spawn("test-log", Box::new(rec.clone()), Arc::new(Metrics::new()));
        std::thread::spawn(move || {
            on_runtime_park();
            w.write(b"before exit\n".to_vec());
            assert!(w.flush(Duration::from_secs(10)));
        })
        .join()
        .unwrap();
        assert_eq!(rec.0.lock().unwrap().concat(), b"before exit\n");
    }

    /// A sink that blocks every write until released (a full pipe, a stopped terminal).
    #[derive(Clone)]
    struct Blocked(Arc<(Mutex<bool>, Condvar)>);

    impl Write for Blocked {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let (open, cv) = &*self.0;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_output_bounds_the_queued_bytes() {
        let gate = Blocked(Arc::new((Mutex::new(false), Condvar::new())));
        let metrics = Arc::new(Metrics::new());
        let w = LineWriter::spawn("test-log", Box::new(gate.clone()), metrics.clone());
        // Long lines (a client's long path) into a blocked output: the queue stops at
        // QUEUE_BYTES, not at QUEUE lines.
        let line = vec![b'x'; 64 * 1024];
        for _ in 0..200 {
            w.write_bytes(&line);
        }
        let queued = w.shared.as_ref().unwrap().lock().buf.len();
        assert!(queued <= QUEUE_BYTES, "{queued} bytes queued");
        let dropped = metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix("kes_log_dropped_events "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap();
        // The thread may hold one batch (at most QUEUE_BYTES) in its blocked write and the
        // queue QUEUE_BYTES more: everything beyond is dropped.
        assert!(
            dropped >= 200 - 2 * (QUEUE_BYTES / line.len()) as u64,
            "{dropped} dropped"
        );
        let (open, cv) = &*gate.0;
        *open.lock().unwrap() = true;
        cv.notify_all();
        assert!(w.flush(Duration::from_secs(10)));
    }
}
