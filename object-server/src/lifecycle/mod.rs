//! Bucket lifecycle: configuration validation ([`config`]), rule evaluation ([`rules`]) and
//! the background task that applies the rules ([`spawn`]).
//!
//! * The S3 handlers are `s3::lifecycle` (Put/Get/DeleteBucketLifecycleConfiguration) and the
//!   per-pass work is [`crate::s3::ObjectServer::lifecycle_pass`] (`s3::lifecycle_sweep`).
//! * [`spawn`] runs a pass at start and then every `OBJECT_SERVER_LIFECYCLE_INTERVAL` seconds
//!   (default 3600) until aborted; passes never overlap and never stop the server.
//! * `OBJECT_SERVER_LIFECYCLE_CLOCK_OFFSET` (seconds, default 0) is a testing aid: the sweep
//!   evaluates rules as if that much later (so `Days` rules can be exercised end to end).

pub mod config;
pub mod rules;

use std::time::Duration;

use crate::config::ConfigError;
use crate::s3::ObjectServer;
use crate::storage::now_ns;

/// Interval variable.
pub const ENV_INTERVAL: &str = "OBJECT_SERVER_LIFECYCLE_INTERVAL";
/// Clock offset variable (testing aid).
pub const ENV_CLOCK_OFFSET: &str = "OBJECT_SERVER_LIFECYCLE_CLOCK_OFFSET";
/// Default interval between passes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(3600);

/// How the sweep runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Time between the starts of two passes.
    pub interval: Duration,
    /// Added to the wall clock when rules are evaluated.
    pub clock_offset: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interval: DEFAULT_INTERVAL,
            clock_offset: Duration::ZERO,
        }
    }
}

fn seconds(
    lookup: &dyn Fn(&str) -> Option<String>,
    var: &str,
    min: u64,
) -> Result<Option<Duration>, ()> {
    match lookup(var).filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= min && n <= 10 * 365 * 86_400 => Ok(Some(Duration::from_secs(n))),
            _ => Err(()),
        },
    }
}

impl Settings {
    /// Reads [`ENV_INTERVAL`] (whole seconds, 1 to ten years) and [`ENV_CLOCK_OFFSET`] (whole
    /// seconds, 0 to ten years) through `lookup`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let interval = seconds(lookup, ENV_INTERVAL, 1).map_err(|()| {
            ConfigError::Limit("OBJECT_SERVER_LIFECYCLE_INTERVAL must be whole seconds ≥ 1")
        })?;
        let offset = seconds(lookup, ENV_CLOCK_OFFSET, 0).map_err(|()| {
            ConfigError::Limit("OBJECT_SERVER_LIFECYCLE_CLOCK_OFFSET must be whole seconds ≥ 0")
        })?;
        Ok(Settings {
            interval: interval.unwrap_or(DEFAULT_INTERVAL),
            clock_offset: offset.unwrap_or(Duration::ZERO),
        })
    }

    /// The sweep's notion of now (Unix nanoseconds).
    pub fn now_ns(&self) -> u64 {
        now_ns().saturating_add(u64::try_from(self.clock_offset.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// Starts the sweep task over `server`; abort the handle to stop it.
pub fn spawn(server: ObjectServer, settings: Settings) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let stats = server.lifecycle_pass(settings.now_ns()).await;
            let acted = stats.expired
                + stats.noncurrent_deleted
                + stats.markers_removed
                + stats.uploads_aborted
                + stats.failed;
            if acted > 0 {
                tracing::info!(?stats, "lifecycle pass done");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(&move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn interval_and_offset_from_the_environment() {
        assert_eq!(settings(&[]).unwrap(), Settings::default());
        let s = settings(&[(ENV_INTERVAL, "5"), (ENV_CLOCK_OFFSET, "86400")]).unwrap();
        assert_eq!(s.interval, Duration::from_secs(5));
        assert_eq!(s.clock_offset, Duration::from_secs(86_400));
        assert!(s.now_ns() >= now_ns() + 86_399 * 1_000_000_000);
        for bad in ["0", "-1", "1.5", "soon", "999999999999"] {
            assert!(settings(&[(ENV_INTERVAL, bad)]).is_err(), "{bad}");
        }
        assert!(settings(&[(ENV_CLOCK_OFFSET, "-5")]).is_err());
        assert_eq!(
            settings(&[(ENV_CLOCK_OFFSET, "0")]).unwrap(),
            Settings::default()
        );
    }
}
