//! [`Metrics`]: the `kes_*` Prometheus families of `GET /v1/metrics`
//! (kes-api.md §1.6), kept in atomics and rendered as Prometheus text 0.0.4.
//!
//! # What is counted
//! Only requests that passed authentication (as KES does): a 403 from a
//! policy check or a 405 is neither counted nor timed. A counted request is
//! *active* from the end of authentication until its response head is ready
//! ([`Metrics::begin`] → [`Active::finish`]); a request whose future is
//! dropped (client gone) leaves the active gauge but is not counted.
//!
//! # Output rules (the Go SDK's parser)
//! - No family is ever printed without a sample: the three
//!   `kes_http_request_*` counters appear only once some request of that class
//!   was counted.
//! - Only those three counters carry a label (`code`); every other family has
//!   exactly one series (the histogram's `le` buckets belong to its one series).
//!
//! # Extension
//! `kes_log_dropped_events` (counter, unlabelled) counts log lines dropped
//! because a stream subscriber or the stdout/stderr writer fell behind. The
//! SDK ignores families it does not know.
//!
//! Memory figures come from `/proc/self/status` on Linux (`VmData` as heap,
//! `VmStk` as stack, `Threads`); elsewhere, and for `kes_system_mem_heap_objects`
//! (which has no equivalent outside Go's runtime), they are 0.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Histogram upper bounds in seconds (KES's buckets).
pub const BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 3.0, 5.0, 10.0];

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Lowest and highest status code tracked per code.
const FIRST_CODE: u16 = 100;
const LAST_CODE: u16 = 599;

/// Server metrics. Cheap to update from any task (relaxed atomics only).
pub struct Metrics {
    /// Request counts by status code, index `code - FIRST_CODE`.
    codes: Box<[AtomicU64]>,
    active: AtomicI64,
    /// Non-cumulative bucket counts; the last slot is `+Inf` only.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of observed response times in nanoseconds.
    sum_nanos: AtomicU64,
    error_events: AtomicU64,
    audit_events: AtomicU64,
    dropped_events: AtomicU64,
    started: Instant,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A counted request in progress; see [`Metrics::begin`].
#[must_use = "call `finish` with the response status"]
pub struct Active<'a> {
    metrics: &'a Metrics,
    start: Instant,
}

impl Active<'_> {
    /// Counts the request under `code` and records its response time.
    pub fn finish(self, code: u16) {
        self.metrics.record(code, self.start.elapsed());
        // `Drop` decrements the active gauge.
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.metrics.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Fresh metrics; uptime counts from now.
    pub fn new() -> Metrics {
        Metrics {
            codes: (FIRST_CODE..=LAST_CODE)
                .map(|_| AtomicU64::new(0))
                .collect(),
            active: AtomicI64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
            error_events: AtomicU64::new(0),
            audit_events: AtomicU64::new(0),
            dropped_events: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Starts counting an authenticated request: the active gauge goes up
    /// until the returned guard is finished or dropped.
    pub fn begin(&self) -> Active<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        Active {
            metrics: self,
            start: Instant::now(),
        }
    }

    /// Counts one response with status `code` that took `elapsed`.
    /// Codes outside 100..=599 are not counted by code (HTTP has none).
    pub fn record(&self, code: u16, elapsed: Duration) {
        if (FIRST_CODE..=LAST_CODE).contains(&code) {
            self.codes[usize::from(code - FIRST_CODE)].fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Counts one error-log event.
    pub fn error_event(&self) {
        self.error_events.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one audit-log event.
    pub fn audit_event(&self) {
        self.audit_events.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` log lines dropped for a slow consumer.
    pub fn dropped_events(&self, n: u64) {
        self.dropped_events.fetch_add(n, Ordering::Relaxed);
    }

    /// Requests currently counted as active.
    pub fn active(&self) -> i64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Renders every family in Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let classes = [
            (
                "kes_http_request_success",
                "Number of requests served successfully (HTTP 2xx).",
                200..=299,
            ),
            (
                "kes_http_request_error",
                "Number of requests that failed with a client error (HTTP 4xx).",
                400..=499,
            ),
            (
                "kes_http_request_failure",
                "Number of requests that failed with a server error (HTTP 5xx).",
                500..=599,
            ),
        ];
        for (name, help, range) in classes {
            let samples: Vec<(u16, u64)> = range
                .filter_map(|code: u16| {
                    let n = self.codes[usize::from(code - FIRST_CODE)].load(Ordering::Relaxed);
                    (n > 0).then_some((code, n))
                })
                .collect();
            if samples.is_empty() {
                continue; // never a family without samples
            }
            header(&mut out, name, help, "counter");
            for (code, n) in samples {
                let _ = writeln!(out, "{name}{{code=\"{code}\"}} {n}");
            }
        }
        single(
            &mut out,
            "kes_http_request_active",
            "Number of requests being served right now.",
            "gauge",
            self.active().max(0).to_string(),
        );

        let name = "kes_http_response_time";
        header(
            &mut out,
            name,
            "Time from the end of authentication to the response head, in seconds.",
            "histogram",
        );
        let mut cumulative = 0u64;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {}", float(sum));
        let _ = writeln!(out, "{name}_count {cumulative}");

        for (name, help, value) in [
            (
                "kes_log_error_events",
                "Number of error log events written.",
                &self.error_events,
            ),
            (
                "kes_log_audit_events",
                "Number of audit log events written.",
                &self.audit_events,
            ),
            (
                "kes_log_dropped_events",
                "Number of log lines dropped because a stream subscriber or an output fell behind.",
                &self.dropped_events,
            ),
        ] {
            single(
                &mut out,
                name,
                help,
                "counter",
                value.load(Ordering::Relaxed).to_string(),
            );
        }

        let system = System::read();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let uptime = (self.started.elapsed().as_millis() / 10) as f64 / 100.0;
        for (name, help, value) in [
            (
                "kes_system_up_time",
                "Time the server has been up, in seconds.",
                float(uptime),
            ),
            (
                "kes_system_num_cpu",
                "Number of logical CPUs of the host.",
                cpus.to_string(),
            ),
            (
                "kes_system_num_cpu_used",
                "Number of logical CPUs the server may use.",
                cpus.to_string(),
            ),
            (
                "kes_system_num_threads",
                "Number of operating system threads of the process.",
                system.threads.to_string(),
            ),
            (
                "kes_system_mem_heap_used",
                "Heap (data segment) memory in use, in bytes.",
                system.heap.to_string(),
            ),
            (
                "kes_system_mem_heap_objects",
                "Number of heap objects (not tracked by this server: always 0).",
                "0".to_owned(),
            ),
            (
                "kes_system_mem_stack_used",
                "Stack memory in use, in bytes.",
                system.stack.to_string(),
            ),
        ] {
            single(&mut out, name, help, "gauge", value);
        }
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, help: &str, kind: &str, value: String) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// A float as Prometheus text expects it (always finite here).
fn float(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "0".to_owned()
    }
}

/// Process figures from the OS (0 where unknown).
#[derive(Debug, Default, Clone, Copy)]
pub struct System {
    /// OS threads of the process.
    pub threads: u64,
    /// Data segment (heap) size in bytes (`VmData`).
    pub heap: u64,
    /// Main stack size in bytes (`VmStk`).
    pub stack: u64,
}

impl System {
    /// Reads `/proc/self/status` (Linux); all zero elsewhere.
    pub fn read() -> System {
        // procfs is memory-backed: this read does not block on disk.
        match std::fs::read_to_string("/proc/self/status") {
            Ok(text) => System::parse(&text),
            Err(_) => System::default(),
        }
    }

    fn parse(text: &str) -> System {
        let mut s = System::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let number = value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            match key {
                "Threads" => s.threads = number,
                "VmData" => s.heap = number.saturating_mul(1024),
                "VmStk" => s.stack = number.saturating_mul(1024),
                _ => {}
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_only_with_samples() {
        let m = Metrics::new();
        let text = m.render();
        assert!(!text.contains("kes_http_request_success"));
        assert!(text.contains("kes_http_request_active 0\n"));
        m.begin().finish(200);
        m.begin().finish(404);
        m.begin().finish(404);
        let a = m.begin();
        let text = m.render();
        assert!(text.contains("kes_http_request_success{code=\"200\"} 1\n"));
        assert!(text.contains("kes_http_request_error{code=\"404\"} 2\n"));
        assert!(!text.contains("kes_http_request_failure"));
        assert!(text.contains("kes_http_request_active 1\n"));
        assert!(text.contains("kes_http_response_time_count 3\n"));
        assert!(text.contains("kes_http_response_time_bucket{le=\"+Inf\"} 3\n"));
        drop(a);
        assert_eq!(m.active(), 0);
    }

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::new();
        m.record(200, Duration::from_millis(5));
        m.record(200, Duration::from_millis(70));
        m.record(200, Duration::from_secs(20));
        let text = m.render();
        assert!(text.contains("kes_http_response_time_bucket{le=\"0.01\"} 1\n"));
        assert!(text.contains("kes_http_response_time_bucket{le=\"0.05\"} 1\n"));
        assert!(text.contains("kes_http_response_time_bucket{le=\"0.1\"} 2\n"));
        assert!(text.contains("kes_http_response_time_bucket{le=\"10\"} 2\n"));
        assert!(text.contains("kes_http_response_time_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("kes_http_response_time_sum 20.075\n"));
    }

    #[test]
    fn proc_status_parsing() {
        let s = System::parse("Name:\tkes\nVmData:\t  2048 kB\nVmStk:\t 132 kB\nThreads:\t7\n");
        assert_eq!((s.threads, s.heap, s.stack), (7, 2048 * 1024, 132 * 1024));
    }
}
