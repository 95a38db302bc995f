//! Server handlers: version, ready, status, metrics, the API listing and the
//! two log streams.

use std::time::Duration;

use client::wire::{ApiRoute, StatusResponse, VersionResponse};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response};
use http_body_util::BodyExt as _;

use super::{ApiError, Body, empty, json};
use crate::logs::hub::LineStream;
use crate::routes::ROUTES;
use crate::state::State;

/// The version this server reports.
pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit this server was built from (`KES_BUILD_COMMIT` at build time).
pub(super) const COMMIT: &str = match option_env!("KES_BUILD_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// `GET /version`: no authentication.
pub(super) fn version() -> Result<Response<Body>, ApiError> {
    json(&VersionResponse {
        version: VERSION.to_owned(),
        commit: COMMIT.to_owned(),
    })
}

/// How long a live keystore check may take while the key cache reports the
/// keystore offline (it failed its last health probe).
pub(super) const OFFLINE_CHECK: Duration = Duration::from_secs(1);
/// How long a live keystore check may take otherwise.
pub(super) const ONLINE_CHECK: Duration = Duration::from_secs(5);

/// The keystore's health as ready and status report it.
enum Health {
    /// Status answered, with its round trip.
    Up(Duration),
    /// Not reachable (or no answer in time).
    Unreachable,
    /// Reachable but failing.
    Unavailable,
}

/// A live `status` call on the keystore, bounded by [`OFFLINE_CHECK`] when
/// the cache already flags it offline (so a hanging store answers fast),
/// else by [`ONLINE_CHECK`]. A timeout counts as unreachable.
async fn health(state: &State) -> Health {
    let limit = if state.health.is_offline() {
        OFFLINE_CHECK
    } else {
        ONLINE_CHECK
    };
    match tokio::time::timeout(limit, state.keystore.status()).await {
        Ok(Ok(s)) => Health::Up(s.latency),
        Ok(Err(keystores::Error::Unreachable(err))) => {
            tracing::warn!(error = %err, "keystore is not reachable");
            Health::Unreachable
        }
        Err(_) => {
            tracing::warn!("keystore status timed out");
            Health::Unreachable
        }
        Ok(Err(
            err @ (keystores::Error::KeyExists
            | keystores::Error::NotFound
            | keystores::Error::InvalidName
            | keystores::Error::Conflict
            | keystores::Error::Unsupported(_)
            | keystores::Error::Backend(_)),
        )) => {
            tracing::warn!(error = %err, "keystore is unavailable");
            Health::Unavailable
        }
    }
}

/// `GET /v1/ready`: 200, or 504 `key store is not reachable` when the
/// keystore cannot be reached (or does not answer within the check's
/// bound), 502 `key store is unavailable` when it answers with a failure.
pub(super) async fn ready(state: &State) -> Result<Response<Body>, ApiError> {
    match health(state).await {
        Health::Up(_) => empty(),
        Health::Unreachable => Err(ApiError::KeystoreUnreachable),
        Health::Unavailable => Err(ApiError::KeystoreUnavailable),
    }
}

/// `GET /v1/status`. `keystore_unreachable` is set when the live check fails
/// or the key cache flags the keystore offline; then `keystore_unavailable`
/// is set too, so the current Go SDK still decodes the response (§1.3).
pub(super) async fn status(state: &State) -> Result<Response<Body>, ApiError> {
    let offline = state.health.is_offline();
    let (latency, failed) = match health(state).await {
        Health::Up(latency) => (
            Some(
                u64::try_from(latency.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            ),
            false,
        ),
        Health::Unreachable | Health::Unavailable => (None, true),
    };
    let unreachable = offline || failed;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    let system = crate::metrics::System::read();
    json(&StatusResponse {
        version: VERSION.to_owned(),
        os: std::env::consts::OS.to_owned(),
        arch: go_arch().to_owned(),
        uptime: state.started.elapsed().as_secs(),
        num_cpu: cpus,
        num_cpu_used: cpus,
        mem_heap_used: system.heap,
        mem_stack_used: system.stack,
        keystore_latency: latency,
        keystore_unreachable: unreachable,
        keystore_unavailable: unreachable,
    })
}

/// `GET /v1/metrics`: Prometheus text format 0.0.4.
///
/// Content negotiation: KES serves the protobuf format only to clients that
/// ask for it; this server always answers in the text format, which every
/// Prometheus client accepts and the `Content-Type` declares.
pub(super) fn metrics(state: &State) -> Result<Response<Body>, ApiError> {
    let text = state.telemetry.metrics.render();
    let len = text.len();
    let mut resp = Response::new(super::full(text));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    Ok(resp)
}

/// `GET /v1/log/error`: the error log as a stream of `{"message":…}` lines.
pub(super) fn error_log(state: &State) -> Result<Response<Body>, ApiError> {
    Ok(ndjson_stream(state.telemetry.errors.hub.subscribe()))
}

/// `GET /v1/log/audit`: one audit event per answered request, as a stream.
pub(super) fn audit_log(state: &State) -> Result<Response<Body>, ApiError> {
    Ok(ndjson_stream(state.telemetry.audit.hub.subscribe()))
}

/// 200 and headers at once; then one JSON object per line until the client
/// disconnects or the server shuts down.
fn ndjson_stream(lines: LineStream) -> Response<Body> {
    let mut resp = Response::new(lines.boxed());
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    resp
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
pub(super) fn api(state: &State) -> Result<Response<Body>, ApiError> {
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
