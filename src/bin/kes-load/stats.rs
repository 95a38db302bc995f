//! Per-worker tallies (an HDR histogram of latencies, operation and error counts), their
//! merge, and the run report (text or one JSON object).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in nanoseconds, 1 ns .. 60 s, 3 significant digits.
const MAX_NS: u64 = 60_000_000_000;

/// What one worker counted inside the timed window.
pub(crate) struct Tally {
    pub(crate) latency: Histogram<u64>,
    pub(crate) ops: u64,
    /// Errors by kind: `status_<code>`, `transport`, `timeout`, `invalid_response`.
    pub(crate) errors: BTreeMap<String, u64>,
    /// TLS handshakes done in the window, and how many of them resumed a session.
    pub(crate) handshakes: u64,
    pub(crate) resumed: u64,
}

impl Tally {
    pub(crate) fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            latency: Histogram::new_with_bounds(1, MAX_NS, 3)?,
            ops: 0,
            errors: BTreeMap::new(),
            handshakes: 0,
            resumed: 0,
        })
    }

    /// One successful operation that took `d`.
    pub(crate) fn ok(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos())
            .unwrap_or(MAX_NS)
            .clamp(1, MAX_NS);
        // Cannot fail: the value is clamped into the histogram's range.
        let _ = self.latency.record(ns);
        self.ops += 1;
    }

    /// One failed operation of `kind`.
    pub(crate) fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_owned()).or_default() += 1;
    }

    /// Adds `other` into `self`.
    pub(crate) fn merge(&mut self, other: &Tally) -> anyhow::Result<()> {
        self.latency.add(&other.latency)?;
        self.ops += other.ops;
        for (k, n) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += n;
        }
        self.handshakes += other.handshakes;
        self.resumed += other.resumed;
        Ok(())
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
}

impl Latency {
    pub(crate) fn of(h: &Histogram<u64>) -> Latency {
        let us = |ns: u64| (ns as f64 / 1000.0 * 10.0).round() / 10.0;
        Latency {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            max: us(h.max()),
            mean: (h.mean() / 100.0).round() / 10.0,
        }
    }
}

/// The server's side of the window (with `--server-pid`).
#[derive(Debug, Serialize)]
pub(crate) struct ServerCost {
    pub(crate) pid: u32,
    /// User + system CPU seconds the server used in the window.
    pub(crate) cpu_s: f64,
    /// Operations per server CPU-second (the figure of merit).
    pub(crate) ops_per_cpu_s: Option<f64>,
    /// Server CPU microseconds per operation.
    pub(crate) cpu_us_per_op: Option<f64>,
    pub(crate) rss_kb_before: u64,
    pub(crate) rss_kb_after: u64,
    /// Peak RSS of the server's life so far (VmHWM) at the end of the window.
    pub(crate) hwm_kb_after: u64,
    /// Server instructions in the window (`--perf`), and per operation.
    pub(crate) instructions: Option<u64>,
    pub(crate) instructions_per_op: Option<f64>,
}

/// One run, as printed with `--json` (one object per line).
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) label: Option<String>,
    pub(crate) op: &'static str,
    pub(crate) protocol: &'static str,
    pub(crate) concurrency: usize,
    pub(crate) new_connection: bool,
    pub(crate) resumption: bool,
    pub(crate) warmup_s: f64,
    pub(crate) duration_s: f64,
    pub(crate) ops: u64,
    pub(crate) ops_per_s: f64,
    pub(crate) errors: u64,
    pub(crate) errors_by_kind: BTreeMap<String, u64>,
    pub(crate) handshakes: u64,
    pub(crate) resumed_handshakes: u64,
    pub(crate) latency_us: Latency,
    pub(crate) server: Option<ServerCost>,
}

impl Report {
    /// Human-readable lines.
    pub(crate) fn print_text(&self) {
        let conn = if self.new_connection {
            if self.resumption {
                "new connection per request (resumption on)"
            } else {
                "new connection per request (no resumption)"
            }
        } else {
            "keep-alive"
        };
        println!(
            "{} {} c={} {}: {} ops in {:.2}s = {:.0} ops/s, errors {}",
            self.protocol,
            self.op,
            self.concurrency,
            conn,
            self.ops,
            self.duration_s,
            self.ops_per_s,
            self.errors
        );
        for (kind, n) in &self.errors_by_kind {
            println!("  error {kind}: {n}");
        }
        if self.handshakes > 0 {
            println!(
                "  TLS handshakes {} (resumed {})",
                self.handshakes, self.resumed_handshakes
            );
        }
        let l = &self.latency_us;
        println!(
            "  latency µs: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}",
            l.p50, l.p90, l.p99, l.max, l.mean
        );
        if let Some(s) = &self.server {
            println!(
                "  server pid {}: {:.3} CPU-s, {} ops per CPU-s, {} µs CPU per op",
                s.pid,
                s.cpu_s,
                s.ops_per_cpu_s.map_or("-".into(), |v| format!("{v:.0}")),
                s.cpu_us_per_op.map_or("-".into(), |v| format!("{v:.1}")),
            );
            println!(
                "  server RSS {} kB before, {} kB after, peak {} kB",
                s.rss_kb_before, s.rss_kb_after, s.hwm_kb_after
            );
            if let (Some(i), Some(per)) = (s.instructions, s.instructions_per_op) {
                println!("  server instructions {i} ({per:.0} per op)");
            }
        }
    }
}
