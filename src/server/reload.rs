//! [`reload`]: re-reads the config file of a running server and switches to
//! it atomically (SIGHUP in `kes server`).
//!
//! # Contract
//! - Everything is built and checked before anything is switched: config,
//!   TLS files, the keystore (when its section changed) and the `keys:`
//!   entries (created when missing). Any failure rejects the reload and the
//!   old configuration keeps serving unchanged.
//! - Then the TLS config and the API state are each swapped in one step.
//!   Requests in flight finish on the state they started with; new
//!   connections use the new certificate.
//! - The keystore and its key cache are kept (with their cached keys) when
//!   the `keystore` and `cache` sections are unchanged. A changed `cache`
//!   section gets a new cache over the same keystore; a changed `keystore`
//!   section opens the new keystore.
//! - Metrics and open log streams survive; `log.error` and `log.audit`
//!   levels take effect at once.
//! - `address` and `limits` cannot change without a restart (the listener
//!   stays); the `--addr` override stays in force. A reload that asks for
//!   either keeps them and logs a warning.
//! - Reloads run one at a time.

use std::path::Path;
use std::sync::Arc;

use keystores::Keystore;
use tracing::instrument::WithSubscriber as _;

use super::lifecycle::{self as run, Running, StartError};
use crate::config;
use crate::keycache::KeyCache;

/// What a successful reload changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloaded {
    /// A new keystore was opened (its section changed).
    pub new_keystore: bool,
    /// A new key cache was built (keystore or cache section changed).
    pub new_cache: bool,
    /// The config asks for another address; it needs a restart.
    pub address_ignored: bool,
    /// The config changes `limits:`; they need a restart.
    pub limits_ignored: bool,
}

/// Reloads `running` from the config file at `path`; see the module docs.
pub async fn reload(running: &Running, path: &Path) -> Result<Reloaded, StartError> {
    let telemetry = running.telemetry();
    reload_inner(running, path)
        .with_subscriber(telemetry.dispatch.clone())
        .await
}

async fn reload_inner(running: &Running, path: &Path) -> Result<Reloaded, StartError> {
    let mut current = running.current.lock().await;
    let mut settings = config::load(path)?;
    let address_ignored = settings.address != current.settings.address;
    let limits_ignored = settings.limits != current.settings.limits;
    // The listener stays; keep reporting the address and limits in force.
    settings.address = current.settings.address;
    settings.limits = current.settings.limits;
    let tls = run::tls_config(&settings)?;

    let old = running.state();
    let new_keystore = settings.keystore != current.settings.keystore;
    let new_cache = new_keystore || settings.cache != current.settings.cache;
    let inner: Arc<dyn Keystore> = if new_keystore {
        run::open_keystore(&settings.keystore).await?
    } else {
        current.inner.clone()
    };
    let cache = if new_cache {
        KeyCache::new(
            inner.clone(),
            run::cache_config(&settings, current.probe_interval),
        )
    } else {
        old.cache.clone()
    };
    run::create_missing_keys(&settings, inner.as_ref()).await?;

    let state = run::build_state(
        &settings,
        inner.clone(),
        cache,
        old.telemetry.clone(),
        old.started_at,
        old.started,
    );
    old.telemetry.set_levels(&settings.log);
    running.shared.tls.store(Arc::new(tls));
    running.shared.state.store(Arc::new(state));
    current.settings = settings;
    current.inner = inner;
    if address_ignored {
        tracing::warn!("reload: the address cannot change without a restart; keeping it");
    }
    if limits_ignored {
        tracing::warn!("reload: limits cannot change without a restart; keeping them");
    }
    tracing::info!(new_keystore, new_cache, "configuration reloaded");
    Ok(Reloaded {
        new_keystore,
        new_cache,
        address_ignored,
        limits_ignored,
    })
}
