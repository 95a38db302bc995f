//! [`Metrics`]: the `kes_*` Prometheus families of `GET /v1/metrics`
//! (kes-api.md §1.6), kept in atomics and rendered as Prometheus text 0.0.4
//! by the `prometheus` crate's registry and text encoder (families sorted by
//! name, as Go's client does).
//!
//! # Recording cost
//! A counted request costs a few relaxed/acquire atomic operations and no
//! lock or allocation: the active gauge and the event counters are the
//! crate's atomic `IntGauge`/`IntCounter`, the response time its lock-free
//! sharded `Histogram`, and the per-status-code counters a fixed array of
//! atomics ([`Codes`]) exposed through a custom collector, because the crate's
//! `IntCounterVec` takes a lock and hashes the label on every lookup. All
//! allocation (building the families) happens when `/v1/metrics` is scraped;
//! a scrape briefly takes the histogram's collect lock, never a recorder.
//! The histogram's sum is an `f64` of seconds, as in Go's client.
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

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntGauge, Registry, TextEncoder};

/// Histogram upper bounds in seconds (KES's buckets).
pub(crate) const BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 3.0, 5.0, 10.0];

/// The content type of the text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Lowest and highest status code tracked per code.
const FIRST_CODE: u16 = 100;
const LAST_CODE: u16 = 599;

/// The three request counters: name, help, status codes counted.
const CLASSES: [(&str, &str, u16, u16); 3] = [
    (
        "kes_http_request_success",
        "Number of requests served successfully (HTTP 2xx).",
        200,
        299,
    ),
    (
        "kes_http_request_error",
        "Number of requests that failed with a client error (HTTP 4xx).",
        400,
        499,
    ),
    (
        "kes_http_request_failure",
        "Number of requests that failed with a server error (HTTP 5xx).",
        500,
        599,
    ),
];

/// Server metrics. Cheap to update from any task (atomics only).
pub struct Metrics {
    registry: Registry,
    codes: Arc<Codes>,
    active: IntGauge,
    response_time: Histogram,
    error_events: IntCounter,
    audit_events: IntCounter,
    dropped_events: IntCounter,
    system: SystemGauges,
    started: Instant,
}

/// Gauges set from [`System::read`] and the clock at each scrape.
struct SystemGauges {
    up_time: Gauge,
    num_cpu: IntGauge,
    num_cpu_used: IntGauge,
    num_threads: IntGauge,
    heap_used: IntGauge,
    heap_objects: IntGauge,
    stack_used: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("active", &self.active.get())
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
        self.metrics.active.dec();
    }
}

impl Metrics {
    /// Fresh metrics; uptime counts from now.
    ///
    /// # Panics
    /// Never in practice: every family name and help text is a valid constant, and the unit
    /// tests build and render a registry.
    #[allow(
        clippy::expect_used,
        reason = "start-up only, on constants that the unit tests build and render"
    )]
    pub fn new() -> Metrics {
        Metrics::build().expect("the constant metric families are valid and distinct")
    }

    fn build() -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let codes = Arc::new(Codes::new()?);
        registry.register(Box::new(CodesCollector(codes.clone())))?;
        let int_gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let int_counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let active = int_gauge(
            "kes_http_request_active",
            "Number of requests being served right now.",
        )?;
        let response_time = Histogram::with_opts(
            HistogramOpts::new(
                "kes_http_response_time",
                "Time from the end of authentication to the response head, in seconds.",
            )
            .buckets(BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(response_time.clone()))?;
        let error_events = int_counter(
            "kes_log_error_events",
            "Number of error log events written.",
        )?;
        let audit_events = int_counter(
            "kes_log_audit_events",
            "Number of audit log events written.",
        )?;
        let dropped_events = int_counter(
            "kes_log_dropped_events",
            "Number of log lines dropped because a stream subscriber or an output fell behind.",
        )?;
        let up_time = Gauge::new(
            "kes_system_up_time",
            "Time the server has been up, in seconds.",
        )?;
        registry.register(Box::new(up_time.clone()))?;
        let system = SystemGauges {
            up_time,
            num_cpu: int_gauge("kes_system_num_cpu", "Number of logical CPUs of the host.")?,
            num_cpu_used: int_gauge(
                "kes_system_num_cpu_used",
                "Number of logical CPUs the server may use.",
            )?,
            num_threads: int_gauge(
                "kes_system_num_threads",
                "Number of operating system threads of the process.",
            )?,
            heap_used: int_gauge(
                "kes_system_mem_heap_used",
                "Heap (data segment) memory in use, in bytes.",
            )?,
            heap_objects: int_gauge(
                "kes_system_mem_heap_objects",
                "Number of heap objects (not tracked by this server: always 0).",
            )?,
            stack_used: int_gauge(
                "kes_system_mem_stack_used",
                "Stack memory in use, in bytes.",
            )?,
        };
        Ok(Metrics {
            registry,
            codes,
            active,
            response_time,
            error_events,
            audit_events,
            dropped_events,
            system,
            started: Instant::now(),
        })
    }

    /// Starts counting an authenticated request: the active gauge goes up
    /// until the returned guard is finished or dropped.
    pub fn begin(&self) -> Active<'_> {
        self.active.inc();
        Active {
            metrics: self,
            start: Instant::now(),
        }
    }

    /// Counts one response with status `code` that took `elapsed`.
    /// Codes outside 100..=599 are not counted by code (HTTP has none).
    pub fn record(&self, code: u16, elapsed: Duration) {
        self.codes.count(code);
        self.response_time.observe(elapsed.as_secs_f64());
    }

    /// Counts one error-log event.
    pub fn error_event(&self) {
        self.error_events.inc();
    }

    /// Counts one audit-log event.
    pub fn audit_event(&self) {
        self.audit_events.inc();
    }

    /// Counts `n` log lines dropped for a slow consumer.
    pub fn dropped_events(&self, n: u64) {
        self.dropped_events.inc_by(n);
    }

    /// Requests currently counted as active.
    pub fn active(&self) -> i64 {
        self.active.get()
    }

    /// Renders every family in Prometheus text format 0.0.4, families sorted by name. A request
    /// counter family appears only once a request of its class was counted.
    pub fn render(&self) -> String {
        let system = System::read();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let cpus = i64::try_from(cpus).unwrap_or(i64::MAX);
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let g = &self.system;
        // Uptime in seconds with two decimals.
        g.up_time
            .set((self.started.elapsed().as_millis() / 10) as f64 / 100.0);
        g.num_cpu.set(cpus);
        g.num_cpu_used.set(cpus);
        g.num_threads.set(int(system.threads));
        g.heap_used.set(int(system.heap));
        g.heap_objects.set(0);
        g.stack_used.set(int(system.stack));

        let mut out = String::with_capacity(4096);
        // Gathering prunes families without samples, so encoding cannot fail; should it, the
        // families written so far are still valid text.
        let _ = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out);
        out
    }
}

/// Request counts by status code (index `code - FIRST_CODE`), one atomic each.
struct Codes {
    counts: Box<[AtomicU64]>,
    descs: Vec<Desc>,
}

impl Codes {
    fn new() -> prometheus::Result<Codes> {
        let descs = CLASSES
            .iter()
            .map(|(name, help, _, _)| {
                Desc::new(
                    (*name).to_owned(),
                    (*help).to_owned(),
                    vec!["code".to_owned()],
                    HashMap::new(),
                )
            })
            .collect::<prometheus::Result<Vec<Desc>>>()?;
        Ok(Codes {
            counts: (FIRST_CODE..=LAST_CODE)
                .map(|_| AtomicU64::new(0))
                .collect(),
            descs,
        })
    }

    fn count(&self, code: u16) {
        if let Some(n) = code
            .checked_sub(FIRST_CODE)
            .and_then(|i| self.counts.get(usize::from(i)))
        {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Exposes [`Codes`] as the three `code`-labelled counter families; a family
/// without any counted code has no samples (and the registry drops it).
struct CodesCollector(Arc<Codes>);

impl Collector for CodesCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.0.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        CLASSES
            .iter()
            .map(|(name, help, first, last)| {
                let samples = (*first..=*last)
                    .filter_map(|code| {
                        let n = self
                            .0
                            .counts
                            .get(usize::from(code - FIRST_CODE))
                            .map_or(0, |c| c.load(Ordering::Relaxed));
                        (n > 0).then(|| code_sample(code, n))
                    })
                    .collect();
                let mut family = MetricFamily::default();
                family.set_name((*name).to_owned());
                family.set_help((*help).to_owned());
                family.set_field_type(MetricType::COUNTER);
                family.set_metric(samples);
                family
            })
            .collect()
    }
}

/// One `{code="…"} n` counter sample.
fn code_sample(code: u16, n: u64) -> proto::Metric {
    let mut label = LabelPair::default();
    label.set_name("code".to_owned());
    label.set_value(code.to_string());
    let mut counter = proto::Counter::default();
    counter.set_value(n as f64);
    let mut metric = proto::Metric::from_label(vec![label]);
    metric.set_counter(counter);
    metric
}

/// Process figures from the OS (0 where unknown).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct System {
    /// OS threads of the process.
    pub threads: u64,
    /// Data segment (heap) size in bytes (`VmData`).
    pub heap: u64,
    /// Main stack size in bytes (`VmStk`).
    pub stack: u64,
}

impl System {
    /// Reads `/proc/self/status` (Linux); all zero elsewhere.
    pub(crate) fn read() -> System {
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
    fn request_and_log_families_render_exactly() {
        let m = Metrics::new();
        m.record(200, Duration::from_millis(5));
        m.record(404, Duration::from_millis(70));
        m.record(502, Duration::from_secs(20));
        m.record(99, Duration::ZERO); // timed, but no such status code
        m.dropped_events(3);
        m.audit_event();
        let text = m.render();
        let end = text.find("# HELP kes_system_").unwrap();
        assert_eq!(
            &text[..end],
            "# HELP kes_http_request_active Number of requests being served right now.\n\
             # TYPE kes_http_request_active gauge\n\
             kes_http_request_active 0\n\
             # HELP kes_http_request_error Number of requests that failed with a client error (HTTP 4xx).\n\
             # TYPE kes_http_request_error counter\n\
             kes_http_request_error{code=\"404\"} 1\n\
             # HELP kes_http_request_failure Number of requests that failed with a server error (HTTP 5xx).\n\
             # TYPE kes_http_request_failure counter\n\
             kes_http_request_failure{code=\"502\"} 1\n\
             # HELP kes_http_request_success Number of requests served successfully (HTTP 2xx).\n\
             # TYPE kes_http_request_success counter\n\
             kes_http_request_success{code=\"200\"} 1\n\
             # HELP kes_http_response_time Time from the end of authentication to the response head, in seconds.\n\
             # TYPE kes_http_response_time histogram\n\
             kes_http_response_time_bucket{le=\"0.01\"} 2\n\
             kes_http_response_time_bucket{le=\"0.05\"} 2\n\
             kes_http_response_time_bucket{le=\"0.1\"} 3\n\
             kes_http_response_time_bucket{le=\"0.25\"} 3\n\
             kes_http_response_time_bucket{le=\"0.5\"} 3\n\
             kes_http_response_time_bucket{le=\"1\"} 3\n\
             kes_http_response_time_bucket{le=\"1.5\"} 3\n\
             kes_http_response_time_bucket{le=\"3\"} 3\n\
             kes_http_response_time_bucket{le=\"5\"} 3\n\
             kes_http_response_time_bucket{le=\"10\"} 3\n\
             kes_http_response_time_bucket{le=\"+Inf\"} 4\n\
             kes_http_response_time_sum 20.075\n\
             kes_http_response_time_count 4\n\
             # HELP kes_log_audit_events Number of audit log events written.\n\
             # TYPE kes_log_audit_events counter\n\
             kes_log_audit_events 1\n\
             # HELP kes_log_dropped_events Number of log lines dropped because a stream subscriber or an output fell behind.\n\
             # TYPE kes_log_dropped_events counter\n\
             kes_log_dropped_events 3\n\
             # HELP kes_log_error_events Number of error log events written.\n\
             # TYPE kes_log_error_events counter\n\
             kes_log_error_events 0\n"
        );
        // The system gauges follow, one unlabelled sample each, in name order.
        let names: Vec<&str> = text[end..]
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' ').map(|(name, _)| name))
            .collect();
        assert_eq!(
            names,
            [
                "kes_system_mem_heap_objects",
                "kes_system_mem_heap_used",
                "kes_system_mem_stack_used",
                "kes_system_num_cpu",
                "kes_system_num_cpu_used",
                "kes_system_num_threads",
                "kes_system_up_time",
            ]
        );
    }

    #[test]
    fn proc_status_parsing() {
        let s = System::parse("Name:\tkes\nVmData:\t  2048 kB\nVmStk:\t 132 kB\nThreads:\t7\n");
        assert_eq!((s.threads, s.heap, s.stack), (7, 2048 * 1024, 132 * 1024));
    }
}
