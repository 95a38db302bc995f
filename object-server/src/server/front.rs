//! The hyper service in front of s3s: marks each request in flight on its connection's
//! [`Activity`], gives it a request id (a tracing span around the whole request, one log line
//! at its end), answers [`precheck`] refusals without touching the body, serves
//! [`metrics::PATH`] itself (bearer-token auth s3s would reject), hands browser-form POST
//! uploads to [`super::post`], finishes every response
//! with [`reply::finish`] (ids, S3 error shape, no HEAD bodies) and wraps its body in
//! [`ResponseBody`], which reports whether the peer is taking its frames.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use s3s::service::S3Service;

use tracing::Instrument as _;

use super::precheck;
use super::reply::{self, RequestFacts};
use super::watch::{Activity, RequestGuard};
use crate::metrics::{self, Metrics};

/// The per-connection service.
#[derive(Clone)]
pub(super) struct Front {
    s3: S3Service,
    metrics: Arc<Metrics>,
    activity: Arc<Activity>,
    host_id: Arc<str>,
    /// The TCP peer, given to the policy check as `aws:SourceIp`.
    peer: Option<std::net::SocketAddr>,
    /// The POST object handler (browser forms never reach s3s).
    post: Arc<super::post::PostUploads>,
}

impl Front {
    /// A service for one connection of the server whose host id is `host_id`; browser-form
    /// POST uploads go to `post`, never to s3s.
    pub(super) fn new(
        s3: S3Service,
        metrics: Arc<Metrics>,
        post: Arc<super::post::PostUploads>,
        activity: Arc<Activity>,
        host_id: Arc<str>,
    ) -> Self {
        Front {
            s3,
            metrics,
            activity,
            host_id,
            peer: None,
            post,
        }
    }

    /// Records the connection's peer address ([`crate::policy::ClientAddr`] on each request).
    pub(super) fn with_peer(mut self, peer: std::net::SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }
}

/// Logs the end of a request: failures at `info`, the rest at `debug`.
fn log_done(id: &str, method: &http::Method, path: &str, status: http::StatusCode) {
    if status.is_client_error() || status.is_server_error() {
        tracing::info!(request_id = %id, %method, path, status = status.as_u16(), "request failed");
    } else {
        tracing::debug!(request_id = %id, %method, path, status = status.as_u16(), "request");
    }
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, s3s::HttpError>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Front {
    type Response = Response<ResponseBody>;
    type Error = s3s::HttpError;
    type Future = ResponseFuture;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(crate::policy::ClientAddr(peer));
        }
        let done = Done {
            guard: self.activity.request_started(),
            activity: self.activity.clone(),
            id: reply::request_id(),
            host_id: self.host_id.clone(),
            method: req.method().clone(),
            path: req.uri().path().to_owned(),
        };
        if let Some(refusal) = precheck::check(req.uri()) {
            tracing::debug!(request_id = %done.id, ?refusal, method = %done.method, "request refused from its head");
            // `req` (and its unread body) is dropped here: hyper never reads it.
            let resp = refusal.response();
            return Box::pin(std::future::ready(Ok(done.respond(resp))));
        }
        let s3 = self.s3.clone();
        let metrics = self.metrics.clone();
        let post =
            super::post::is_form_post(req.method(), req.headers()).then(|| self.post.clone());
        let span = tracing::info_span!("request", request_id = %done.id);
        Box::pin(
            async move {
                let resp = if let Some(post) = post {
                    post.handle(req.map(s3s::Body::from)).await
                } else if req.uri().path() == metrics::PATH {
                    metrics.respond(req.method(), req.headers()).await
                } else {
                    s3.call(req.map(s3s::Body::from)).await?
                };
                Ok(done.respond(resp))
            }
            .instrument(span),
        )
    }
}

/// What the end of one request needs: its id, method and path for [`reply::finish`] and the
/// log line, and its in-flight mark on the connection.
struct Done {
    guard: RequestGuard,
    activity: Arc<Activity>,
    id: String,
    host_id: Arc<str>,
    method: http::Method,
    path: String,
}

impl Done {
    /// Finishes `resp` ([`reply::finish`]), logs the request's end and wraps the body so the
    /// request stays in flight until hyper has sent it.
    fn respond(self, resp: Response<s3s::Body>) -> Response<ResponseBody> {
        let resp = reply::finish(
            resp,
            &RequestFacts {
                id: &self.id,
                host_id: &self.host_id,
                head: RequestFacts::is_head(&self.method),
                path: &self.path,
            },
        );
        log_done(&self.id, &self.method, &self.path, resp.status());
        resp.map(|b| ResponseBody::new(b, self.activity, self.guard))
    }
}

/// A response body that keeps its request in flight until dropped and tells the
/// [`Activity`] when it has handed hyper a frame the peer has not made room for yet.
pub(super) struct ResponseBody {
    inner: s3s::Body,
    activity: Arc<Activity>,
    id: u64,
    _in_flight: RequestGuard,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ResponseBody {
    fn new(inner: s3s::Body, activity: Arc<Activity>, guard: RequestGuard) -> Self {
        let id = activity.body_id();
        // Until hyper first asks for data, the body waits on the peer (headers being sent).
        activity.body_handed(id);
        ResponseBody {
            inner,
            activity,
            id,
            _in_flight: guard,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        this.activity.body_polled(this.id);
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(poll, Poll::Ready(Some(Ok(_)))) {
            this.activity.body_handed(this.id);
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.activity.body_polled(self.id);
    }
}
