//! `limits:`: the connection bounds of `kes server`, an extension of this
//! project (KES has no such section; KES itself ignores it).
//!
//! ```yaml
//! limits:
//!   connections: 4096        # open connections at most (more wait in the accept queue)
//!   connections_per_ip: 256  # from one client IP address (more are closed at once)
//!   handshake_timeout: 5s    # TCP accept → finished TLS handshake
//!   stall_timeout: 15s       # a response the client takes no bytes of ends its connection
//! ```
//!
//! Every key is optional (the defaults are shown). Unknown keys in this
//! section are refused, so a misspelt bound is not silently ignored. The
//! bounds are read at start-up; a reload does not change them.

use std::time::Duration;

use super::file::{self, Scalar};
use super::{ConfigError, duration};

/// Default for `limits.connections`.
pub const DEFAULT_CONNECTIONS: usize = 4096;
/// Default for `limits.connections_per_ip`: comfortably above the 64
/// connections the project's load generator opens from one address.
pub const DEFAULT_CONNECTIONS_PER_IP: usize = 256;
/// Default for `limits.handshake_timeout`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for `limits.stall_timeout` (KES's per-route write deadline).
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Validated `limits:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Most connections served at once; further ones wait in the kernel's
    /// accept queue until a slot frees.
    pub connections: usize,
    /// Most connections served at once from one client IP address; a
    /// connection over it is closed as soon as it is accepted.
    pub connections_per_ip: usize,
    /// Longest time from TCP accept to a finished TLS handshake (the
    /// plain-HTTP check included).
    pub handshake_timeout: Duration,
    /// Longest time a response may have bytes ready that the client takes
    /// none of (an HTTP/2 zero window, or a socket it stopped reading)
    /// before its connection is closed.
    pub stall_timeout: Duration,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            connections: DEFAULT_CONNECTIONS,
            connections_per_ip: DEFAULT_CONNECTIONS_PER_IP,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}

fn text(s: &Option<Scalar>) -> Option<&str> {
    s.as_ref().map(|s| s.0.trim()).filter(|s| !s.is_empty())
}

/// Validates the raw section: counts are whole numbers ≥ 1, timeouts are
/// Go durations > 0. Errors name the key (`limits.<key>: …`).
pub fn validate(raw: &file::Limits) -> Result<LimitSettings, ConfigError> {
    let mut out = LimitSettings::default();
    for (key, value, slot) in [
        ("connections", &raw.connections, &mut out.connections),
        (
            "connections_per_ip",
            &raw.connections_per_ip,
            &mut out.connections_per_ip,
        ),
    ] {
        if let Some(v) = text(value) {
            *slot = v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "limits.{key}: '{v}' is not a whole number of at least 1"
                ))
            })?;
        }
    }
    for (key, value, slot) in [
        (
            "handshake_timeout",
            &raw.handshake_timeout,
            &mut out.handshake_timeout,
        ),
        ("stall_timeout", &raw.stall_timeout, &mut out.stall_timeout),
    ] {
        if let Some(v) = text(value) {
            let d = duration::parse(v)
                .map_err(|e| ConfigError::Invalid(format!("limits.{key}: {e}")))?;
            if d.is_zero() {
                return Err(ConfigError::Invalid(format!(
                    "limits.{key}: must be longer than 0"
                )));
            }
            *slot = d;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;

    const BASE: &str =
        "admin:\n  identity: disabled\ntls:\n  key: k\n  cert: c\nkeystore:\n  fs:\n    path: p\n";

    fn parse(extra: &str) -> Result<LimitSettings, String> {
        crate::config::parse(&format!("{BASE}{extra}"), Path::new("."), |_| None)
            .map(|s| s.limits)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_when_absent_or_empty() {
        assert_eq!(parse("").unwrap(), LimitSettings::default());
        assert_eq!(parse("limits:\n").unwrap(), LimitSettings::default());
        let d = LimitSettings::default();
        assert_eq!(
            (d.connections, d.connections_per_ip),
            (4096, 256),
            "the documented defaults"
        );
        assert_eq!(
            (d.handshake_timeout, d.stall_timeout),
            (Duration::from_secs(5), Duration::from_secs(15))
        );
    }

    #[test]
    fn the_reference_config_shows_the_defaults() {
        let text = include_str!("../../server-config.yaml");
        assert!(text.contains("\nlimits:\n"));
        let id = "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22";
        let s = crate::config::parse(text, Path::new("."), |_| Some(id.to_owned())).unwrap();
        assert_eq!(s.limits, LimitSettings::default());
    }

    #[test]
    fn values_are_read() {
        let l = parse(
            "limits:\n  connections: 100\n  connections_per_ip: 4\n  handshake_timeout: 1500ms\n  stall_timeout: 2s\n",
        )
        .unwrap();
        assert_eq!(
            l,
            LimitSettings {
                connections: 100,
                connections_per_ip: 4,
                handshake_timeout: Duration::from_millis(1500),
                stall_timeout: Duration::from_secs(2),
            }
        );
        // Only some keys: the others keep their defaults.
        let l = parse("limits:\n  stall_timeout: 1m\n").unwrap();
        assert_eq!(l.stall_timeout, Duration::from_secs(60));
        assert_eq!(l.connections, DEFAULT_CONNECTIONS);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (extra, want) in [
            ("limits:\n  connections: 0\n", "limits.connections: '0'"),
            ("limits:\n  connections: -3\n", "limits.connections: '-3'"),
            (
                "limits:\n  connections_per_ip: many\n",
                "limits.connections_per_ip: 'many'",
            ),
            (
                "limits:\n  handshake_timeout: 0s\n",
                "limits.handshake_timeout: must be longer than 0",
            ),
            (
                "limits:\n  stall_timeout: -1s\n",
                "limits.stall_timeout: negative duration",
            ),
            ("limits:\n  stall_timeout: soon\n", "limits.stall_timeout"),
            ("limits:\n  stall_timout: 1s\n", "stall_timout"),
        ] {
            let err = parse(extra).unwrap_err();
            assert!(err.contains(want), "{extra:?}: {err}");
        }
    }
}
