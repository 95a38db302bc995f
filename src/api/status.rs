//! Server handlers: version, ready, status and the API listing.

use client::wire::{ApiRoute, StatusResponse, VersionResponse};
use http::Response;

use super::routes::ROUTES;
use super::{ApiError, Body, empty, json};
use crate::state::State;

/// The version this server reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit this server was built from (`KES_BUILD_COMMIT` at build time).
pub const COMMIT: &str = match option_env!("KES_BUILD_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// `GET /version`: no authentication.
pub fn version() -> Result<Response<Body>, ApiError> {
    json(&VersionResponse {
        version: VERSION.to_owned(),
        commit: COMMIT.to_owned(),
    })
}

/// `GET /v1/ready`: 200, or 504 when the keystore is unreachable, 502 when
/// it fails otherwise.
pub async fn ready(state: &State) -> Result<Response<Body>, ApiError> {
    match state.keystore.status().await {
        Ok(_) => empty(),
        Err(keystores::Error::Unreachable(err)) => {
            tracing::warn!(error = %err, "keystore is not reachable");
            Err(ApiError::KeystoreUnreachable)
        }
        Err(err) => {
            tracing::warn!(error = %err, "keystore is unavailable");
            Err(ApiError::KeystoreUnavailable)
        }
    }
}

/// `GET /v1/status`. When the keystore is down both `keystore_unreachable`
/// and `keystore_unavailable` are set, so the current Go SDK still decodes it.
pub async fn status(state: &State) -> Result<Response<Body>, ApiError> {
    let (latency, unreachable) = match state.keystore.status().await {
        Ok(s) => (
            Some(
                u64::try_from(s.latency.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            ),
            false,
        ),
        Err(_) => (None, true),
    };
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    json(&StatusResponse {
        version: VERSION.to_owned(),
        os: std::env::consts::OS.to_owned(),
        arch: go_arch().to_owned(),
        uptime: state.started.elapsed().as_secs(),
        num_cpu: cpus,
        num_cpu_used: cpus,
        mem_heap_used: 0,
        mem_stack_used: 0,
        keystore_latency: latency,
        keystore_unreachable: unreachable,
        keystore_unavailable: unreachable,
    })
}

/// Go's GOARCH spelling of this machine's architecture.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// `GET /v1/api`: every route with its method, body limit and timeout in seconds.
pub fn api(state: &State) -> Result<Response<Body>, ApiError> {
    let routes: Vec<ApiRoute> = ROUTES
        .iter()
        .map(|r| {
            let timeout = state
                .api
                .get(r.path)
                .and_then(|o| o.timeout)
                .unwrap_or(r.timeout);
            ApiRoute {
                method: r.method.as_str().to_owned(),
                path: r.path.to_owned(),
                max_body: r.max_body as i64,
                timeout: timeout.as_secs() as i64,
            }
        })
        .collect();
    json(&routes)
}
