//! [`Health`] and the key cache's background task: the any/unused/offline sweeps and the
//! keystore health probe (kes-api.md §8; the parent module's docs state the semantics).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keystores::Keystore;
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::{KeyCacheConfig, Shared};

/// The keystore's reachability as the cache's health probe last saw it; what `/v1/ready` and
/// `/v1/status` report, separate from the cached keys.
#[derive(Debug, Default)]
pub struct Health {
    offline: AtomicBool,
}

impl Health {
    /// Whether the last health probe failed (the keystore is unreachable).
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// Records a probe result; returns the previous offline flag.
    fn set_offline(&self, offline: bool) -> bool {
        self.offline.swap(offline, Ordering::AcqRel)
    }
}

/// A ticker whose first tick is one `period` from now; `None` if disabled.
fn ticker(period: Duration) -> Option<Interval> {
    if period.is_zero() {
        return None;
    }
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Some(interval)
}

/// Waits for the next tick, or forever if the ticker is disabled.
async fn tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The background task. Returns when the cache is dropped (the stop sender closes).
pub(super) async fn run(
    shared: Arc<Shared>,
    health: Arc<Health>,
    store: Arc<dyn Keystore>,
    cfg: KeyCacheConfig,
    mut stop: watch::Receiver<()>,
) {
    let suspended = |health: &Health| !cfg.offline.is_zero() && health.is_offline();
    let mut any = ticker(cfg.any);
    let half_unused = if cfg.unused.is_zero() {
        Duration::ZERO
    } else {
        (cfg.unused / 2).max(Duration::from_millis(1))
    };
    let mut unused = ticker(half_unused);
    let mut offline = ticker(cfg.offline);
    let mut probe = (!cfg.probe_interval.is_zero()).then(|| {
        // First probe immediately.
        let mut interval = tokio::time::interval(cfg.probe_interval);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval
    });
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tick(&mut any) => {
                if !suspended(&health) {
                    shared.flush();
                }
            }
            () = tick(&mut unused) => {
                if !suspended(&health) {
                    shared.sweep_unused();
                }
            }
            () = tick(&mut offline) => {
                if health.is_offline() {
                    shared.flush();
                }
            }
            () = tick(&mut probe) => {
                let healthy = tokio::select! {
                    _ = stop.changed() => return,
                    res = tokio::time::timeout(cfg.probe_interval, store.status()) => matches!(res, Ok(Ok(_))),
                };
                match (health.set_offline(!healthy), healthy) {
                    (false, false) => {
                        tracing::warn!("keystore unreachable: key cache is offline");
                        // The first offline flush comes one full `offline` from now.
                        if let Some(offline) = offline.as_mut() {
                            offline.reset();
                        }
                    }
                    (true, true) => tracing::info!("keystore reachable again: key cache is online"),
                    (false, true) | (true, false) => {}
                }
            }
        }
    }
}
