//! Log levels and the validated `log:` settings (parsed by `config`).

/// A log level in slog's numbering (DEBUG -4, INFO 0, WARN 4, ERROR 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogLevel(pub i64);

impl LogLevel {
    /// INFO.
    pub const INFO: LogLevel = LogLevel(0);
    /// One above ERROR: nothing is logged.
    pub const OFF: LogLevel = LogLevel(9);
}

/// `log.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// Error log level (default INFO).
    pub error: LogLevel,
    /// Audit log level; `None` = audit log to stdout off (project default).
    pub audit: Option<LogLevel>,
}
