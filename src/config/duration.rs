//! Go duration strings (`5m`, `30s`, `1h30m`, `1.5h`, `100ms`, `0`), parsed as Go's
//! `time.ParseDuration` does.
//!
//! Kept by hand: no maintained crate parses this syntax exactly. `humantime` and `duration-str`
//! accept a different (wider) grammar and no Go fractions of units; `go-parse-duration` 0.1.1 (last
//! released 2021) panics on `µs`/`μs` (it mixes char and byte indices), loops forever on a
//! fraction longer than 18 digits and caps values at 2^62 ns instead of 2^63 - 1.

use std::time::Duration;

/// Largest magnitude Go's parser accumulates (`1 << 63`; only `-(1 << 63)` may reach it).
const LIMIT: u64 = 1 << 63;

/// Parses a Go duration: `[-+]?([0-9]*(\.[0-9]*)?unit)+` or `0`, units `ns`, `us`/`µs`/`μs`,
/// `ms`, `s`, `m`, `h`, each number with digits before or after the dot. The value is computed
/// in integer nanoseconds exactly as Go does (a fraction is scaled in `f64` and truncated to
/// whole nanoseconds; more than `i64::MAX` ns is an error). Surrounding whitespace is ignored.
///
/// # Errors
/// A message quoting the input: `invalid duration`, `missing unit in duration`,
/// `unknown unit 'x' in duration`, or `negative duration` (negative values are refused;
/// `-0` is zero).
pub fn parse(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let invalid = || format!("invalid duration '{text}'");
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let int_len = digits(rest);
        let value = leading_int(&rest[..int_len]).ok_or_else(invalid)?;
        rest = &rest[int_len..];
        let (fraction, scale, frac_len) = match rest.strip_prefix('.') {
            Some(after) => {
                rest = after;
                let n = digits(rest);
                let (f, scale) = leading_fraction(&rest[..n]);
                rest = &rest[n..];
                (f, scale, n)
            }
            None => (0, 1.0, 0),
        };
        if int_len == 0 && frac_len == 0 {
            return Err(invalid()); // no digits: ".s", "-.s", "s"
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit: u64 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("missing unit in duration '{text}'")),
            u => return Err(format!("unknown unit '{u}' in duration '{text}'")),
        };
        rest = &rest[unit_len..];
        if value > LIMIT / unit {
            return Err(invalid());
        }
        let mut v = value * unit;
        if fraction > 0 {
            // As Go: f64 keeps fractions of hours nanosecond-exact; truncation intended.
            v += (fraction as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(v)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if negative && total > 0 {
        return Err(format!("negative duration '{text}'"));
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total))
}

/// Length of the leading ASCII digits of `s`.
fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// The value of an all-digit string (empty → 0); `None` above `1 << 63`.
fn leading_int(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |x, d| {
        x.checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(d - b'0')))
            .filter(|x| *x <= LIMIT)
    })
}

/// The digits after a dot as `(value, 10^count)`; digits past what fits are ignored (as Go).
fn leading_fraction(digits: &str) -> (u64, f64) {
    let mut x = 0u64;
    let mut scale = 1.0f64;
    for d in digits.bytes() {
        match x
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(d - b'0')))
        {
            Some(y) if x <= (LIMIT - 1) / 10 && y <= LIMIT => {
                x = y;
                scale *= 10.0;
            }
            _ => break,
        }
    }
    (x, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(n: u64) -> Result<Duration, String> {
        Ok(Duration::from_nanos(n))
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert!(parse("-1s").is_err());
        assert!(parse("5").is_err());
        assert!(parse("5x").is_err());
        assert!(parse("").is_err());
    }

    /// The valid cases of Go's own `time.ParseDuration` tests (negatives excepted: refused here).
    #[test]
    fn go_test_table() {
        let s = 1_000_000_000u64;
        for (text, want) in [
            ("0", 0),
            ("5s", 5 * s),
            ("30s", 30 * s),
            ("1478s", 1478 * s),
            ("+5s", 5 * s),
            ("-0", 0),
            ("+0", 0),
            ("-0s", 0),
            ("5.0s", 5 * s),
            ("5.6s", 5 * s + 600_000_000),
            ("5.s", 5 * s),
            (".5s", 500_000_000),
            ("1.0s", s),
            ("1.00s", s),
            ("1.004s", s + 4_000_000),
            ("1.0040s", s + 4_000_000),
            ("100.00100s", 100 * s + 1_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14 * s),
            ("15m", 15 * 60 * s),
            ("16h", 16 * 3600 * s),
            ("3h30m", 12_600 * s),
            ("10.5s4m", 4 * 60 * s + 10 * s + 500_000_000),
            ("1h2m3s4ms5us6ns", 3723 * s + 4_005_006),
            ("39h9m14.425s", 140_954 * s + 425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * 60 * s),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX as u64),
            ("9223372036854775.807us", i64::MAX as u64),
            ("9223372036s854ms775us807ns", i64::MAX as u64),
            ("0.100000000000000000000h", 6 * 60 * s),
            (
                "0.830103483285477580700h",
                49 * 60 * s + 48 * s + 372_539_827,
            ),
        ] {
            assert_eq!(parse(text), ns(want), "{text}");
        }
    }

    #[test]
    fn go_errors() {
        for (text, msg) in [
            ("", "invalid duration ''"),
            ("3", "missing unit in duration '3'"),
            ("-", "invalid duration '-'"),
            ("s", "invalid duration 's'"),
            (".", "invalid duration '.'"),
            ("-.", "invalid duration '-.'"),
            (".s", "invalid duration '.s'"),
            ("+.s", "invalid duration '+.s'"),
            ("1d", "unknown unit 'd' in duration '1d'"),
            ("1h-5m", "unknown unit 'h-' in duration '1h-5m'"),
            (
                "9223372036854775808ns",
                "invalid duration '9223372036854775808ns'",
            ),
            (
                "9223372036854775.808us",
                "invalid duration '9223372036854775.808us'",
            ),
            (
                "9223372036854ms775us808ns",
                "invalid duration '9223372036854ms775us808ns'",
            ),
            (
                "99999999999999999999s",
                "invalid duration '99999999999999999999s'",
            ),
            ("-1m", "negative duration '-1m'"),
            (
                "-9223372036854775808ns",
                "negative duration '-9223372036854775808ns'",
            ),
        ] {
            assert_eq!(parse(text), Err(msg.to_owned()), "{text}");
        }
    }
}
