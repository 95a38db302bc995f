//! [`State`]: everything a request needs, swapped atomically on reload.
//!
//! Handlers take one `Arc<State>` snapshot per request and never lock: a
//! reload builds a new `State` and stores it in one step, so requests in
//! flight finish on the state they started with. What must outlive a reload
//! (metrics, log streams) is shared between states through
//! [`State::telemetry`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use keystores::Keystore;
use time::OffsetDateTime;

use crate::config::ApiOverride;
use crate::keycache::{Health, KeyCache};
use crate::logs::Telemetry;
use crate::policy::{Identity, PolicySet};

/// One consistent snapshot of the server's configuration and services.
pub struct State {
    /// Admin identity (bypasses policies); `None` = admin disabled.
    pub admin: Option<Identity>,
    /// Policies and identity assignments.
    pub policies: PolicySet,
    /// Per-route overrides (`api.<path>`).
    pub api: BTreeMap<String, ApiOverride>,
    /// The keystore itself: create, import, delete, list, status and the
    /// compare-and-swap mutations go here (each write then evicts the name
    /// from [`State::cache`]).
    pub keystore: Arc<dyn Keystore>,
    /// The decoded-key cache over [`State::keystore`]: every key use reads
    /// keys through it.
    pub cache: Arc<KeyCache>,
    /// The keystore's health as the cache's probe sees it (`/v1/ready`,
    /// `/v1/status`); the same object as `cache.health()`.
    pub health: Arc<Health>,
    /// Metrics and logs (shared by every state of one server).
    pub telemetry: Arc<Telemetry>,
    /// Server start time: `created_at` of static policies and identities.
    pub started_at: OffsetDateTime,
    /// Monotonic start, for uptime.
    pub started: Instant,
}

impl State {
    /// Whether `identity` is the admin.
    pub fn is_admin(&self, identity: &Identity) -> bool {
        self.admin.as_ref() == Some(identity)
    }

    /// The admin identity as KES prints it in `created_by` (empty if disabled).
    pub fn admin_text(&self) -> String {
        self.admin
            .as_ref()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default()
    }
}
