//! The KES HTTP API: routing, authentication, body limits, timeouts and the
//! handlers (kes-api.md §1).
//!
//! # Layout
//! - [`routes`]: the declarative route table and canonical path rule.
//! - [`error`]: [`ApiError`], every (status, message) pair.
//! - [`names`]: name and pattern validation.
//! - `key`, `policy`, `identity`, `status`: handlers, one file per group.
//!
//! Order of checks for every request (as KES): canonical path → route (404) →
//! method (405) → authentication and policy on the routed path (400/403) →
//! body limit (400) → handler, all inside the route's timeout.

pub mod error;
mod identity;
mod key;
pub mod names;
mod policy;
pub mod routes;
mod status;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{ApiError, KeystoreOp};
pub use routes::is_route_path;
use routes::{Auth, Handler, Route};

use crate::auth::Peer;
use crate::policy::Identity;
use crate::state::State;

/// Response body type of every route.
pub type Body = BoxBody<Bytes, Infallible>;

/// A routed, authenticated request as handlers see it.
pub struct Request {
    /// The route's resource (key name, pattern, policy or identity).
    pub resource: String,
    /// The caller, when the route identified one.
    pub identity: Option<Identity>,
    /// The request body (empty for routes without a body).
    pub body: Bytes,
    /// Request headers.
    pub headers: HeaderMap,
}

impl Request {
    /// Decodes the JSON body, mapping any failure to `err`.
    pub fn json<T: DeserializeOwned>(&self, err: ApiError) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|_| err)
    }
}

/// Serves one request. Never fails: every error becomes a KES error response.
pub async fn handle<B>(state: Arc<State>, peer: &Peer, req: http::Request<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(path) = routes::canonical_path(req.uri().path()) else {
        return error_response(&ApiError::InvalidPath);
    };
    let Some((route, resource)) = routes::find(&path) else {
        return not_found();
    };
    let timeout = state
        .api
        .get(route.path)
        .and_then(|o| o.timeout)
        .unwrap_or(route.timeout);
    let resource = resource.to_owned();
    let path = routes::routed_path(route, &resource);
    let work = serve_route(state, peer, route, &path, resource, req);
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(err)) => {
            log_error(&path, &err);
            error_response(&err)
        }
        Err(_) => error_response(&ApiError::Timeout),
    }
}

async fn serve_route<B>(
    state: Arc<State>,
    peer: &Peer,
    route: &'static Route,
    path: &str,
    resource: String,
    req: http::Request<B>,
) -> Result<Response<Body>, ApiError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if !route.method.accepts(req.method()) {
        return Err(ApiError::MethodNotAllowed {
            got: req.method().to_string(),
            expected: route.method.as_str(),
        });
    }
    let skip_auth = state.api.get(route.path).is_some_and(|o| o.skip_auth);
    let identity = match (route.auth, skip_auth) {
        (Auth::None, _) | (_, true) => peer.identity().ok().cloned(),
        (Auth::IdentifyOnly, false) => Some(peer.identity()?.clone()),
        (Auth::Policy, false) => {
            let id = peer.identity()?;
            authorize(&state, id, path)?;
            Some(id.clone())
        }
    };
    let (parts, body) = req.into_parts();
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
        headers: parts.headers,
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
        Handler::PolicyDescribe => policy::describe(state, req),
        Handler::PolicyRead => policy::read(state, req),
        Handler::PolicyList => policy::list(state, req),
        Handler::IdentityDescribe => identity::describe(state, req),
        Handler::IdentityList => identity::list(state, req),
        Handler::IdentitySelf => identity::self_describe(state, req),
    }
}

fn log_error(path: &str, err: &ApiError) {
    if err.is_server_error() {
        let cause = std::error::Error::source(err)
            .map(|s| s.to_string())
            .unwrap_or_default();
        tracing::error!(path, error = %err, cause = %cause, "request failed");
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// 200 with an empty body (`Content-Length: 0`, no content type).
pub fn empty() -> Result<Response<Body>, ApiError> {
    let mut resp = Response::new(full(Bytes::new()));
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    Ok(resp)
}

/// 200 with a JSON body.
pub fn json<T: Serialize>(value: &T) -> Result<Response<Body>, ApiError> {
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
pub fn error_response(err: &ApiError) -> Response<Body> {
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
