//! The error log: every `tracing` event of this server at or above the
//! `log.error` level, rendered as a Go slog *text* line
//! (`time=… level=… msg=… key=value …`) and sent to the `/v1/log/error`
//! subscribers as `{"message":"<line>"}`; written to stderr as the same text
//! line or, with [`LogFormat::Json`], as one slog-style JSON object
//! (`{"time","level","msg",…}`).
//!
//! [`ErrorLogLayer`] is the `tracing_subscriber` layer that feeds an
//! [`ErrorLog`]. Only events whose target belongs to this project (`kes…`,
//! `keystores…`) are logged; library internals (hyper, h2, rustls) are not.
//! The level can change at run time (reload).
//!
//! # Security
//! Event fields are printed as given: callers must never pass key material,
//! API keys or plaintexts to `tracing` (the end-to-end suite greps for them).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::hub::Hub;
use super::level::LogLevel;
use super::writer::LineWriter;
use crate::metrics::Metrics;

/// Go slog's text time layout (`2006-01-02T15:04:05.000Z07:00`), in UTC.
const TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// How stdout/stderr lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Go slog text lines (`time=… level=… msg=…`), as KES.
    #[default]
    Text,
    /// One JSON object per line (`{"time","level","msg",…}`).
    Json,
}

/// The error log of one server.
pub struct ErrorLog {
    /// Lowest slog level logged (`log.error`); above ERROR = nothing.
    level: AtomicI64,
    format: LogFormat,
    /// `/v1/log/error` subscribers.
    pub hub: Hub,
    out: LineWriter,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for ErrorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorLog")
            .field("level", &self.level.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// slog's number for a tracing level (TRACE has none: DEBUG-4).
pub fn slog_level(level: tracing::Level) -> i64 {
    match level {
        tracing::Level::ERROR => 8,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 0,
        tracing::Level::DEBUG => -4,
        tracing::Level::TRACE => -8,
    }
}

/// slog's name of a level: `INFO`, `WARN+2`, `DEBUG-4`, …
pub fn level_name(level: i64) -> String {
    let (name, base) = match level {
        i64::MIN..=-1 => ("DEBUG", -4),
        0..=3 => ("INFO", 0),
        4..=7 => ("WARN", 4),
        _ => ("ERROR", 8),
    };
    let delta = level - base;
    if delta == 0 {
        name.to_owned()
    } else {
        format!("{name}{delta:+}")
    }
}

/// Whether a target is this project's (and not a library's).
fn ours(target: &str) -> bool {
    ["kes", "keystores"].iter().any(|crate_name| {
        target
            .strip_prefix(crate_name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

impl ErrorLog {
    /// An error log at `level` writing lines to `out`.
    pub fn new(
        level: LogLevel,
        format: LogFormat,
        out: LineWriter,
        metrics: Arc<Metrics>,
    ) -> ErrorLog {
        ErrorLog {
            level: AtomicI64::new(level.0),
            format,
            hub: Hub::new(metrics.clone()),
            out,
            metrics,
        }
    }

    /// Waits up to `limit` until queued stderr lines are written.
    pub fn flush(&self, limit: std::time::Duration) -> bool {
        self.out.flush(limit)
    }

    /// Changes the level (reload).
    pub fn set_level(&self, level: LogLevel) {
        self.level.store(level.0, Ordering::Relaxed);
    }

    /// Whether events of `level` are logged.
    pub fn enabled(&self, level: tracing::Level) -> bool {
        slog_level(level) >= self.level.load(Ordering::Relaxed)
    }

    /// Logs one event: counts it, queues it for stderr and sends its text
    /// line to the stream subscribers.
    pub fn emit(&self, time: OffsetDateTime, level: i64, msg: &str, pairs: &[(&str, String)]) {
        self.metrics.error_event();
        let text = render(time, level, msg, pairs);
        let mut raw = match self.format {
            LogFormat::Text => text.clone().into_bytes(),
            LogFormat::Json => render_json(time, level, msg, pairs).into_bytes(),
        };
        raw.push(b'\n');
        self.out.write(raw);
        if self.hub.has_subscribers() {
            let event = client::wire::ErrorEvent { message: text };
            if let Ok(json) = serde_json::to_vec(&event) {
                let mut json = super::escape::json(json);
                json.push(b'\n');
                self.hub.publish(Bytes::from(json));
            }
        }
    }
}

/// Feeds an [`ErrorLog`] from `tracing`.
#[derive(Debug, Clone)]
pub struct ErrorLogLayer(pub Arc<ErrorLog>);

impl<S: Subscriber> Layer<S> for ErrorLogLayer {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // The level can change at run time, so our callsites are "sometimes".
        if ours(meta.target()) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        ours(meta.target()) && self.0.enabled(*meta.level())
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if !ours(meta.target()) || !self.0.enabled(*meta.level()) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.emit(
            OffsetDateTime::now_utc(),
            slog_level(*meta.level()),
            &fields.message,
            &fields.pairs,
        );
    }
}

/// An event's message and key/value pairs, in order.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.pairs.push((field.name(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.pairs.push((field.name(), text));
        }
    }
}

/// One slog text line: `time=… level=… msg=… k=v …`.
pub fn render(time: OffsetDateTime, level: i64, msg: &str, pairs: &[(&str, String)]) -> String {
    render_text(time, level, msg, pairs)
}

/// [`render`] over values of any string type (no copies of borrowed values).
pub fn render_text<V: AsRef<str>>(
    time: OffsetDateTime,
    level: i64,
    msg: &str,
    pairs: &[(&str, V)],
) -> String {
    let mut line = String::with_capacity(128 + msg.len());
    start_text(&mut line, time, level, msg);
    for (key, value) in pairs {
        push_pair(&mut line, key, value.as_ref());
    }
    line
}

/// Appends the head of a slog text line, `time=… level=… msg=…`.
pub fn start_text(line: &mut String, time: OffsetDateTime, level: i64, msg: &str) {
    line.push_str("time=");
    push_stamp(line, time);
    line.push_str(" level=");
    match level {
        0 => line.push_str("INFO"),
        4 => line.push_str("WARN"),
        8 => line.push_str("ERROR"),
        -4 => line.push_str("DEBUG"),
        _ => line.push_str(&level_name(level)),
    }
    line.push_str(" msg=");
    push_value(line, msg);
}

/// Appends ` key=value` to a slog text line (both quoted as slog does).
pub fn push_pair(line: &mut String, key: &str, value: &str) {
    line.push(' ');
    push_value(line, key);
    line.push('=');
    push_value(line, value);
}

/// Appends `time` in UTC as `2006-01-02T15:04:05.000Z` (the [`TIME`] format,
/// written by hand: the log line is built on every request).
fn push_stamp(out: &mut String, time: OffsetDateTime) {
    let t = time.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&t.format(TIME).unwrap_or_default());
        return;
    }
    let mut buf = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for digit in buf.iter_mut().skip(at).take(width).rev() {
            // v % 10 < 10: the cast cannot truncate.
            *digit = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year.unsigned_abs());
    put(5, 2, u32::from(u8::from(t.month())));
    put(8, 2, u32::from(t.day()));
    put(11, 2, u32::from(t.hour()));
    put(14, 2, u32::from(t.minute()));
    put(17, 2, u32::from(t.second()));
    put(20, 3, u32::from(t.millisecond()));
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// One slog-style JSON line: `{"time":…,"level":…,"msg":…,"k":"v",…}`
/// (keys in this order; values are strings).
pub fn render_json(
    time: OffsetDateTime,
    level: i64,
    msg: &str,
    pairs: &[(&str, String)],
) -> String {
    let stamp = time
        .to_offset(time::UtcOffset::UTC)
        .format(TIME)
        .unwrap_or_default();
    let mut line = String::with_capacity(96 + msg.len());
    let mut field = |key: &str, value: &str| {
        line.push(if line.is_empty() { '{' } else { ',' });
        line.push_str(&serde_json::Value::from(key).to_string());
        line.push(':');
        line.push_str(&serde_json::Value::from(value).to_string());
    };
    field("time", &stamp);
    field("level", &level_name(level));
    field("msg", msg);
    for (key, value) in pairs {
        field(key, value);
    }
    line.push('}');
    // Bidi overrides, zero-width and separator characters as \u escapes.
    String::from_utf8(super::escape::json(line.into_bytes())).unwrap_or_default()
}

/// Appends `v` as slog's text handler does: bare, or Go-quoted when empty
/// or containing a space, `=`, `"` or a character [`super::escape`] escapes
/// (controls, format characters such as bidi overrides, line separators).
fn push_value(out: &mut String, v: &str) {
    // Printable ASCII other than space, `=` and `"` is written bare, as the general rule
    // would, without its per-character checks.
    if !v.is_empty()
        && v.bytes()
            .all(|b| b > b' ' && b < 0x7f && b != b'=' && b != b'"')
    {
        out.push_str(v);
        return;
    }
    push_value_general(out, v);
}

/// [`push_value`] without its ASCII shortcut: the general quoting rule.
fn push_value_general(out: &mut String, v: &str) {
    let needs_quotes = v.is_empty()
        || v.chars().any(|c| {
            c == ' ' || c == '=' || c == '"' || c.is_whitespace() || super::escape::is_suspicious(c)
        });
    if !needs_quotes {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if super::escape::is_suspicious(c) => super::escape::push_go_escape(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn slog_text_lines() {
        let t = datetime!(2024-03-01 10:20:30.123456 UTC);
        assert_eq!(
            render(
                t,
                8,
                "request failed",
                &[("path", "/v1/key/generate/k".into())]
            ),
            "time=2024-03-01T10:20:30.123Z level=ERROR msg=\"request failed\" path=/v1/key/generate/k"
        );
        assert_eq!(
            render(
                t,
                0,
                "ok",
                &[("e", "a=b \"c\"\n".into()), ("x", String::new())]
            ),
            "time=2024-03-01T10:20:30.123Z level=INFO msg=ok e=\"a=b \\\"c\\\"\\n\" x=\"\""
        );
    }

    #[test]
    fn json_lines() {
        let t = datetime!(2024-03-01 10:20:30.123456 UTC);
        let line = render_json(t, 4, "a \"b\"", &[("k", "v\n".into())]);
        assert_eq!(
            line,
            r#"{"time":"2024-03-01T10:20:30.123Z","level":"WARN","msg":"a \"b\"","k":"v\n"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["k"], "v\n");
    }

    #[test]
    fn levels() {
        assert_eq!(level_name(-4), "DEBUG");
        assert_eq!(level_name(-8), "DEBUG-4");
        assert_eq!(level_name(2), "INFO+2");
        assert_eq!(level_name(9), "ERROR+1");
        assert!(ours("kes"));
        assert!(ours("kes::api"));
        assert!(ours("keystores::cache"));
        assert!(!ours("kestrel"));
        assert!(!ours("h2::codec"));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn hand_written_stamp_matches_the_format_description() {
        for unix_nanos in [
            0_i128,
            1_700_000_000_123_456_789,
            1_709_164_799_999_999_999,
            253_402_300_799_999_000_000,
        ] {
            let t = OffsetDateTime::from_unix_timestamp_nanos(unix_nanos).unwrap();
            let mut hand = String::new();
            push_stamp(&mut hand, t);
            assert_eq!(hand, t.format(TIME).unwrap(), "{unix_nanos}");
        }
    }

    #[test]
    fn ascii_fast_path_agrees_with_the_general_rule() {
        // Every printable ASCII character alone and between letters, plus usual shapes.
        let mut values: Vec<String> = (0x20u8..0x7f).map(|b| char::from(b).to_string()).collect();
        values.extend((0x20u8..0x7f).map(|b| format!("a{}b", char::from(b))));
        values.extend(["", "/v1/key/generate/k-1", "tab\there", "\u{202e}x"].map(String::from));
        for v in &values {
            let (mut fast, mut general) = (String::new(), String::new());
            push_value(&mut fast, v);
            push_value_general(&mut general, v);
            assert_eq!(fast, general, "{v:?}");
        }
    }
}
