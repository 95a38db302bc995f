//! The audit log: one event per request answered (client IP, path,
//! identity, status, response time), sent to the `/v1/log/audit`
//! subscribers as KES's JSON line and, when `log.audit` is set, written to
//! stdout as a slog text line.
//!
//! Project decisions (kes-api.md "Known upstream bugs"): the audit log to
//! stdout is **off** unless `log.audit` is set; every request is audited
//! (as legacy KES did), not only key create/import/delete. Audit events are
//! INFO (slog level 0): `log.audit: WARN` or higher writes nothing to stdout.
//! On stdout, [`LogFormat::Json`] writes the stream's JSON event instead of
//! the text line.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use client::wire::{AuditEvent, AuditRequest, AuditResponse};
use time::OffsetDateTime;

use super::errlog::{LogFormat, push_pair, start_text};
use super::hub::Hub;
use super::level::LogLevel;
use super::writer::LineWriter;
use crate::metrics::Metrics;
use crate::policy::Identity;

/// `level` value meaning "stdout off".
const OFF: i64 = i64::MAX;
/// slog level of audit events (INFO).
const AUDIT_LEVEL: i64 = 0;

/// What one audit event records.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Client IP address.
    pub ip: IpAddr,
    /// Request path (decoded when it was canonical, else as received).
    pub path: &'a str,
    /// The caller's identity, if its certificate identified one.
    pub identity: Option<&'a Identity>,
    /// Response status.
    pub code: u16,
    /// Time to the response head.
    pub elapsed: Duration,
}

/// The audit log of one server.
pub struct AuditLog {
    level: AtomicI64,
    format: LogFormat,
    /// `/v1/log/audit` subscribers.
    pub hub: Hub,
    out: LineWriter,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("level", &self.level.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn level_value(level: Option<LogLevel>) -> i64 {
    level.map_or(OFF, |l| l.0)
}

impl AuditLog {
    /// An audit log writing to `out` at `level` (`None` = stdout off).
    pub fn new(
        level: Option<LogLevel>,
        format: LogFormat,
        out: LineWriter,
        metrics: Arc<Metrics>,
    ) -> AuditLog {
        AuditLog {
            level: AtomicI64::new(level_value(level)),
            format,
            hub: Hub::new(metrics.clone()),
            out,
            metrics,
        }
    }

    /// Waits up to `limit` until queued stdout lines are written.
    pub fn flush(&self, limit: Duration) -> bool {
        self.out.flush(limit)
    }

    /// Changes the stdout level (reload).
    pub fn set_level(&self, level: Option<LogLevel>) {
        self.level.store(level_value(level), Ordering::Relaxed);
    }

    /// Records one answered request. Never blocks.
    pub fn record(&self, r: Record<'_>) {
        self.metrics.audit_event();
        let to_stdout = AUDIT_LEVEL >= self.level.load(Ordering::Relaxed);
        let streaming = self.hub.has_subscribers();
        if !to_stdout && !streaming {
            return;
        }
        let now = OffsetDateTime::now_utc();
        let millis = u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX);
        let ip = r.ip.to_string();
        let identity = r.identity.map_or("", Identity::as_str);
        if to_stdout && self.format == LogFormat::Text {
            let mut line = String::with_capacity(192 + r.path.len());
            start_text(&mut line, now, AUDIT_LEVEL, "audit");
            push_pair(&mut line, "req.ip", &ip);
            push_pair(&mut line, "req.path", r.path);
            push_pair(&mut line, "req.identity", identity);
            let _ = writeln!(line, " res.code={} res.time={millis}ms", r.code);
            self.out.write_bytes(line.as_bytes());
        }
        // The JSON event: the stream's line, and stdout's in JSON format (built once).
        let json_out = to_stdout && self.format == LogFormat::Json;
        if !json_out && !streaming {
            return;
        }
        let event = AuditEvent {
            time: now,
            request: AuditRequest {
                ip,
                path: r.path.to_owned(),
                identity: identity.to_owned(),
            },
            response: AuditResponse {
                code: r.code,
                time: millis,
            },
        };
        let Ok(json) = serde_json::to_vec(&event) else {
            return;
        };
        let mut line = super::escape::json(json);
        line.push(b'\n');
        if json_out {
            self.out.write_bytes(&line);
        }
        if streaming {
            self.hub.publish(Bytes::from(line));
        }
    }
}
