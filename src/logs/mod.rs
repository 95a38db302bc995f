//! Logs and telemetry of one server: error log, audit log, their NDJSON
//! streams, and the [`Telemetry`] bundle that outlives reloads.
//!
//! # Layout
//! - [`hub`]: fan-out of lines to stream subscribers (bounded, drop and count)
//!   and the streaming HTTP body.
//! - [`writer`]: a bounded queue and thread in front of stdout/stderr.
//! - [`errlog`]: the `tracing` layer behind the error log (slog text lines).
//! - [`audit`]: one event per answered request.
//! - [`level`]: log levels and the `log:` settings.
//! - [`escape`]: controls, bidi overrides and other invisible characters
//!   escaped in every text and JSON line, so a line shows what was received.
//!
//! # Non-blocking
//! No log path ever waits on a consumer: stream subscribers and the
//! stdout/stderr writers each have a bounded buffer; overflow is dropped
//! and counted (`kes_log_dropped_events`).

pub mod audit;
pub mod errlog;
pub mod escape;
pub mod hub;
pub mod level;
pub mod writer;

use std::sync::Arc;

use crate::metrics::Metrics;

pub use audit::AuditLog;
pub use errlog::{ErrorLog, ErrorLogLayer, LogFormat};
pub use level::{LogLevel, LogSettings};
pub use writer::{LineWriter, Sink, on_runtime_park};

/// Where the audit log (stdout) and the error log (stderr) are written.
pub struct Sinks {
    /// Audit log output (normally stdout).
    pub audit: Sink,
    /// Error log output (normally stderr).
    pub error: Sink,
    /// Line format of both outputs (the streams keep KES's formats).
    pub format: LogFormat,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks").finish_non_exhaustive()
    }
}

impl Sinks {
    /// The process's stdout (audit) and stderr (errors), in `format`.
    pub fn stdio(format: LogFormat) -> Sinks {
        Sinks {
            audit: Box::new(std::io::stdout()),
            error: Box::new(std::io::stderr()),
            format,
        }
    }
}

/// Metrics and logs of one server. Built once at start; reloads keep it
/// (and change only the log levels), so counters and open streams survive.
pub struct Telemetry {
    /// `/v1/metrics`.
    pub metrics: Arc<Metrics>,
    /// The audit log and its stream.
    pub audit: AuditLog,
    /// The error log and its stream.
    pub errors: Arc<ErrorLog>,
    /// A `tracing` dispatcher feeding [`Telemetry::errors`]. The server runs
    /// every connection and request under it; `kes server` also installs it
    /// as the global default.
    pub dispatch: tracing::Dispatch,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("audit", &self.audit)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Telemetry for `log` settings writing to `sinks`.
    pub fn new(log: &LogSettings, sinks: Sinks) -> Arc<Telemetry> {
        use tracing_subscriber::layer::SubscriberExt as _;
        let metrics = Arc::new(Metrics::new());
        let errors = Arc::new(ErrorLog::new(
            log.error,
            sinks.format,
            LineWriter::spawn("kes-error-log", sinks.error, metrics.clone()),
            metrics.clone(),
        ));
        let audit = AuditLog::new(
            log.audit,
            sinks.format,
            LineWriter::spawn("kes-audit-log", sinks.audit, metrics.clone()),
            metrics.clone(),
        );
        let dispatch = tracing::Dispatch::new(
            tracing_subscriber::registry().with(ErrorLogLayer(errors.clone())),
        );
        Arc::new(Telemetry {
            metrics,
            audit,
            errors,
            dispatch,
        })
    }

    /// Applies new log levels (reload).
    pub fn set_levels(&self, log: &LogSettings) {
        self.errors.set_level(log.error);
        self.audit.set_level(log.audit);
    }

    /// Writes out the queued stdout/stderr lines, waiting at most `limit`
    /// for each (call before the process exits).
    pub fn flush(&self, limit: std::time::Duration) {
        self.audit.flush(limit);
        self.errors.flush(limit);
    }

    /// Ends every open log stream and refuses new ones (shutdown).
    pub fn close_streams(&self) {
        self.errors.hub.close();
        self.audit.hub.close();
    }
}
