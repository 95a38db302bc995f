//! Output helpers: `--json`, `--color`, aligned key/value tables, and quiet handling of closed pipes.

use std::io::{IsTerminal as _, Write as _};

use serde::Serialize;

/// When to colour output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour only when stdout is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Never colour.
    Never,
    /// Always colour.
    Always,
}

/// Output flags shared by all client commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OutputArgs {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Colour the output.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
}

/// Where and how to print.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// JSON mode.
    pub json: bool,
    color: bool,
}

impl Out {
    /// Decides colour from the flag, the terminal and `NO_COLOR`.
    pub fn new(args: &OutputArgs) -> Self {
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Out {
            json: args.json,
            color: color && !args.json,
        }
    }

    /// `s` in bold (when colouring).
    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }

    /// `s` in green (when colouring).
    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }

    /// `s` in red (when colouring).
    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }

    /// `s` dimmed (when colouring).
    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// Prints `value` as one line of JSON.
    pub fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let text = serde_json::to_string(value)?;
        line(&text)
    }

    /// Prints rows as an aligned two-column table (label in bold).
    pub fn table(&self, rows: &[(&str, String)]) -> anyhow::Result<()> {
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut text = String::new();
        for (k, v) in rows {
            let pad = " ".repeat(width - k.len());
            text.push_str(&format!("{}{pad}  {v}\n", self.bold(k)));
        }
        write(text.as_bytes())
    }
}

/// Writes bytes to stdout. A closed pipe (e.g. `| head`) ends output silently.
pub fn write(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes one line to stdout.
pub fn line(s: &str) -> anyhow::Result<()> {
    let mut buf = String::with_capacity(s.len() + 1);
    buf.push_str(s);
    buf.push('\n');
    write(buf.as_bytes())
}

/// RFC 3339 text of a time, or `-` if it cannot be formatted.
pub fn time(t: &time::OffsetDateTime) -> String {
    client::wire::rfc3339::format(t).unwrap_or_else(|_| "-".into())
}

/// `1h2m3s`-style text of a number of seconds.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if d > 0 {
        out.push_str(&format!("{d}d"));
    }
    if d > 0 || h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if d > 0 || h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

/// Human size of a byte count (KiB, MiB, GiB).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(61), "1m1s");
        assert_eq!(duration(3600), "1h0m0s");
        assert_eq!(duration(90061), "1d1h1m1s");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = Out::new(&OutputArgs {
            json: false,
            color: ColorChoice::Never,
        });
        assert_eq!(plain.bold("x"), "x");
        let col = Out::new(&OutputArgs {
            json: false,
            color: ColorChoice::Always,
        });
        assert_eq!(col.bold("x"), "\x1b[1mx\x1b[0m");
        let json = Out::new(&OutputArgs {
            json: true,
            color: ColorChoice::Always,
        });
        assert_eq!(json.bold("x"), "x", "JSON output is never coloured");
    }
}
