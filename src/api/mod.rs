//! The KES HTTP API: routing, authentication, body limits, timeouts and the
//! handlers (kes-api.md §1).
//!
//! # Layout
//! - [`routes`]: the declarative route table and canonical path rule.
//! - [`error`]: [`ApiError`], every (status, message) pair.
//! - [`names`]: name and pattern validation.
//! - `key`, `policy`, `identity`, `status`: handlers, one file per group.
//! - `ext`: the key lifecycle extension (`/v1/ext/key/…`: disable, enable,
//!   rotate, rewrap, describe) and its compare-and-swap write loop.
//!
//! Order of checks for every request (as KES): canonical path → route (404) →
//! method (405) → authentication and policy on the routed path (400/403) →
//! [metrics start] → body limit (400) → handler, inside the route's timeout
//! (none for the log streams) → [audit event for every answered request].

pub(crate) mod error;
mod ext;
mod identity;
mod key;
mod policy;
mod status;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::routes::{self, Auth, Handler, Route};
pub(crate) use error::{ApiError, KeystoreOp};

pub(crate) use crate::auth::Conn;
use crate::auth::Peer;
use crate::logs::audit;
use crate::policy::Identity;
use crate::state::State;

/// Response body type of every route.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// A routed, authenticated request as handlers see it.
pub(crate) struct Request {
    /// The route's resource (key name, pattern, policy or identity).
    pub resource: String,
    /// The caller, when the route identified one.
    pub identity: Option<Identity>,
    /// The request body (empty for routes without a body).
    pub body: Bytes,
}

impl Request {
    /// Decodes the JSON body, mapping any failure to `err`.
    pub(crate) fn json<T: DeserializeOwned>(&self, err: ApiError) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|_| err)
    }
}

/// Serves one request. Never fails: every error becomes a KES error response.
///
/// Every answered request is audited. Requests that pass authentication are
/// also counted in the metrics (active gauge, per-code counters, latency).
pub(crate) async fn handle<B>(
    state: Arc<State>,
    conn: &Conn,
    req: http::Request<B>,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let telemetry = state.telemetry.clone();
    let (parts, body) = req.into_parts();
    let raw = parts.uri.path();
    let canonical = routes::canonical_path(raw);
    let resp = match &canonical {
        None => error_response(&ApiError::InvalidPath),
        Some(path) => route(state, conn, path, &parts.method, body).await,
    };
    telemetry.audit.record(audit::Record {
        ip: conn.remote.ip(),
        path: canonical.as_deref().unwrap_or(raw),
        identity: conn.peer.identity().ok(),
        code: resp.status().as_u16(),
        elapsed: started.elapsed(),
    });
    resp
}

/// Routes a canonical path: 404, 405 and authentication failures are
/// answered here (not counted in the metrics); the rest is counted and runs
/// in the route's timeout.
async fn route<B>(
    state: Arc<State>,
    conn: &Conn,
    path: &str,
    method: &http::Method,
    body: B,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some((route, resource)) = routes::find(path) else {
        return not_found();
    };
    let path = routes::routed_path(route, resource, path);
    let identity = match authenticate(&state, &conn.peer, route, &path, method) {
        Ok(identity) => identity,
        Err(err) => return error_response(&err),
    };
    let timeout = state
        .api
        .get(route.path)
        .and_then(|o| o.timeout)
        .unwrap_or(route.timeout);
    let telemetry = state.telemetry.clone();
    let active = telemetry.metrics.begin();
    let work = serve_route(state, route, resource.to_owned(), identity, body);
    let result = if timeout.is_zero() {
        work.await
    } else {
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(Err(ApiError::Timeout))
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            log_error(&path, &err);
            error_response(&err)
        }
    };
    active.finish(resp.status().as_u16());
    resp
}

/// Method check, then identity and policy on the routed path (`skip_auth`
/// routes only identify, like `/v1/identity/self/describe`).
fn authenticate(
    state: &State,
    peer: &Peer,
    route: &Route,
    path: &str,
    method: &http::Method,
) -> Result<Option<Identity>, ApiError> {
    if !route.method.accepts(method) {
        return Err(ApiError::MethodNotAllowed {
            got: method.to_string(),
            expected: route.method.as_str(),
        });
    }
    let skip_auth = state.api.get(route.path).is_some_and(|o| o.skip_auth);
    Ok(match (route.auth, skip_auth) {
        (Auth::None, _) | (_, true) => peer.identity().ok().cloned(),
        (Auth::IdentifyOnly, false) => Some(peer.identity()?.clone()),
        (Auth::Policy, false) => {
            let id = peer.identity()?;
            authorize(state, id, path)?;
            Some(id.clone())
        }
    })
}

/// Reads the body (up to the route's limit) and runs the handler.
async fn serve_route<B>(
    state: Arc<State>,
    route: &'static Route,
    resource: String,
    identity: Option<Identity>,
    body: B,
) -> Result<Response<Body>, ApiError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let body = if route.max_body == 0 {
        Bytes::new()
    } else {
        Limited::new(body, route.max_body)
            .collect()
            .await
            .map_err(|_| ApiError::InvalidBody)?
            .to_bytes()
    };
    let request = Request {
        resource,
        identity,
        body,
    };
    dispatch(&state, route.handler, request).await
}

/// Admin passes; otherwise the identity's policy must permit `path`.
fn authorize(state: &State, identity: &Identity, path: &str) -> Result<(), ApiError> {
    if state.is_admin(identity) {
        return Ok(());
    }
    match state.policies.policy_of(identity) {
        Some((_, policy)) if policy.permits(path) => Ok(()),
        _ => Err(ApiError::NotAllowed),
    }
}

async fn dispatch(
    state: &State,
    handler: Handler,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    match handler {
        Handler::Version => status::version(),
        Handler::Ready => status::ready(state).await,
        Handler::Status => status::status(state).await,
        Handler::Api => status::api(state),
        Handler::Metrics => status::metrics(state),
        Handler::LogError => status::error_log(state),
        Handler::LogAudit => status::audit_log(state),
        Handler::KeyCreate => key::create(state, req).await,
        Handler::KeyImport => key::import(state, req).await,
        Handler::KeyDescribe => key::describe(state, req).await,
        Handler::KeyList => key::list(state, req).await,
        Handler::KeyDelete => key::delete(state, req).await,
        Handler::KeyEncrypt => key::encrypt(state, req).await,
        Handler::KeyGenerate => key::generate(state, req).await,
        Handler::KeyDecrypt => key::decrypt(state, req).await,
        Handler::KeyBulkDecrypt => key::bulk_decrypt(state, req).await,
        Handler::KeyHmac => key::hmac(state, req).await,
        Handler::KeyDisable => ext::disable(state, req).await,
        Handler::KeyEnable => ext::enable(state, req).await,
        Handler::KeyRotate => ext::rotate(state, req).await,
        Handler::KeyRewrap => ext::rewrap(state, req).await,
        Handler::KeyDescribeExt => ext::describe(state, req).await,
        Handler::PolicyDescribe => policy::describe(state, req),
        Handler::PolicyRead => policy::read(state, req),
        Handler::PolicyList => policy::list(state, req),
        Handler::IdentityDescribe => identity::describe(state, req),
        Handler::IdentityList => identity::list(state, req),
        Handler::IdentitySelf => identity::self_describe(state, req),
    }
}

/// Logs a server-side failure with its cause (never sent to the client).
fn log_error(path: &str, err: &ApiError) {
    if !err.is_server_error() {
        return;
    }
    match std::error::Error::source(err) {
        Some(cause) => tracing::error!(path, error = %err, cause = %cause, "request failed"),
        None => tracing::error!(path, error = %err, "request failed"),
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// 200 with an empty body (`Content-Length: 0`, no content type).
pub(crate) fn empty() -> Result<Response<Body>, ApiError> {
    let mut resp = Response::new(full(Bytes::new()));
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    Ok(resp)
}

/// 200 with a JSON body.
pub(crate) fn json<T: Serialize>(value: &T) -> Result<Response<Body>, ApiError> {
    let body =
        serde_json::to_vec(value).map_err(|_| ApiError::Internal("failed to encode response"))?;
    Ok(json_response(StatusCode::OK, body))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let len = body.len();
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// The KES error response: `{"message": …}` with `application/json`.
pub(crate) fn error_response(err: &ApiError) -> Response<Body> {
    let body =
        serde_json::to_vec(&serde_json::json!({ "message": err.to_string() })).unwrap_or_default();
    let mut resp = json_response(err.status(), body);
    if let ApiError::MethodNotAllowed { expected, .. } = err {
        resp.headers_mut()
            .insert(ACCEPT, HeaderValue::from_static(expected));
    }
    resp
}

/// Go's default 404 for unknown paths: `text/plain`, `404 page not found`.
fn not_found() -> Response<Body> {
    let body = "404 page not found\n";
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    resp
}
