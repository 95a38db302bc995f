//! One logical request over all endpoints: retries on one endpoint, failover to the next, quarantine bookkeeping,
//! bounded body reads and error-response decoding. The policy is described in the parent module.

use std::ops::ControlFlow;
use std::time::Instant;

use bytes::Bytes;
use rand::Rng as _;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Client, error_chain};
use crate::error::{Error, Result};

/// Largest error or JSON response body the client reads (bytes).
const MAX_RESPONSE_BODY: usize = 16 << 20;

/// A request body: bytes plus its content type (`None` = no `Content-Type` header, as for HMAC).
struct Body {
    bytes: Bytes,
    content_type: Option<&'static str>,
}

/// One logical request (resent unchanged on retries and failover).
pub(super) struct Req<'a> {
    method: Method,
    segments: &'a [&'a str],
    query: &'a [(&'a str, &'a str)],
    body: Option<Body>,
}

impl<'a> Req<'a> {
    /// A request without query or body to the path made of `segments` (each one percent-encoded).
    pub(super) fn new(method: Method, segments: &'a [&'a str]) -> Self {
        Req {
            method,
            segments,
            query: &[],
            body: None,
        }
    }

    /// Sets the query parameters (none when empty).
    pub(super) fn query(self, query: &'a [(&'a str, &'a str)]) -> Self {
        Req { query, ..self }
    }

    /// Sets a JSON body with `Content-Type: application/json`.
    ///
    /// # Errors
    /// [`Error::Config`] if `value` cannot be encoded.
    pub(super) fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        self.body(value, Some("application/json"))
    }

    /// Sets a JSON body without a `Content-Type` header (how the Go SDK sends HMAC requests).
    ///
    /// # Errors
    /// [`Error::Config`] if `value` cannot be encoded.
    pub(super) fn json_untyped<T: Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        self.body(value, None)
    }

    fn body<T: Serialize + ?Sized>(
        self,
        value: &T,
        content_type: Option<&'static str>,
    ) -> Result<Self> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::Config(format!("cannot encode request: {e}")))?;
        let body = Some(Body {
            bytes: Bytes::from(bytes),
            content_type,
        });
        Ok(Req { body, ..self })
    }

    /// The full URL on the endpoint `base`.
    fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        // A base from `endpoints::normalize` always has a host, so it can be a base for path segments; each
        // segment is percent-encoded, so a name cannot change the path.
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty();
            for s in self.segments {
                p.push(s);
            }
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(self.query);
        }
        url
    }
}

/// What one attempt on one endpoint produced.
enum Attempt {
    /// A response with status < 400.
    Ok(reqwest::Response),
    /// An error response; `failover` says whether the next endpoint should be tried.
    Status { err: Error, failover: bool },
    /// No response (transport failure).
    Transport(Error),
}

/// How trying one endpoint failed.
struct Failure {
    /// The error to report if no other endpoint succeeds.
    err: Error,
    /// The next endpoint should be tried (transport error, 5xx other than 501).
    failover: bool,
    /// The endpoint answered with a status (it is alive).
    responded: bool,
}

impl Client {
    /// Sends `req` with retries and failover; returns the successful (< 400) response or the error to report.
    pub(super) async fn send(&self, req: &Req<'_>) -> Result<reqwest::Response> {
        let eps = &self.inner.endpoints;
        let order = eps.rotation();
        let mut skipped = Vec::new();
        let mut last_err = None;
        let mut got_response = false;

        for &i in &order {
            if order.len() > 1 && eps.is_quarantined(i, Instant::now()) {
                skipped.push(i);
                continue;
            }
            if let ControlFlow::Break(done) =
                self.step(i, req, &mut last_err, &mut got_response).await
            {
                return done;
            }
        }
        if !got_response {
            // No endpoint answered: give the quarantined ones one more try.
            for i in skipped {
                if let ControlFlow::Break(done) =
                    self.step(i, req, &mut last_err, &mut got_response).await
                {
                    return done;
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Connection("no server endpoint reachable".into())))
    }

    /// Tries endpoint `i`; breaks with the final result unless the request should fail over, in which case the
    /// error is kept in `last_err`.
    async fn step(
        &self,
        i: usize,
        req: &Req<'_>,
        last_err: &mut Option<Error>,
        got_response: &mut bool,
    ) -> ControlFlow<Result<reqwest::Response>> {
        match self.try_one(i, req).await {
            Ok(r) => ControlFlow::Break(Ok(r)),
            Err(f) if !f.failover => ControlFlow::Break(Err(f.err)),
            Err(f) => {
                *got_response |= f.responded;
                *last_err = Some(f.err);
                ControlFlow::Continue(())
            }
        }
    }

    /// Tries endpoint `i` and updates its quarantine mark.
    async fn try_one(
        &self,
        i: usize,
        req: &Req<'_>,
    ) -> std::result::Result<reqwest::Response, Failure> {
        let eps = &self.inner.endpoints;
        let Some(base) = eps.urls().get(i) else {
            return Err(Failure {
                err: Error::Config("endpoint index out of range".into()),
                failover: false,
                responded: false,
            });
        };
        match self.attempt(base, req).await {
            Attempt::Ok(r) => {
                eps.mark_ok(i);
                Ok(r)
            }
            Attempt::Status { err, failover } => {
                if failover {
                    eps.mark_failed(i, Instant::now());
                } else {
                    // 4xx and 501 prove the endpoint is alive.
                    eps.mark_ok(i);
                }
                Err(Failure {
                    err,
                    failover,
                    responded: true,
                })
            }
            Attempt::Transport(err) => {
                eps.mark_failed(i, Instant::now());
                Err(Failure {
                    err,
                    failover: true,
                    responded: false,
                })
            }
        }
    }

    /// One endpoint, with retries on network errors and 503.
    async fn attempt(&self, base: &Url, req: &Req<'_>) -> Attempt {
        let url = req.url(base);
        let endpoint = base.as_str().trim_end_matches('/');
        let mut tries = 0u32;
        loop {
            let mut rb = self.inner.http.request(req.method.clone(), url.clone());
            if let Some(b) = &req.body {
                if let Some(ct) = b.content_type {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
                }
                rb = rb.body(b.bytes.clone());
            }
            let retryable;
            let outcome = match rb.send().await {
                Ok(resp) if resp.status().as_u16() < 400 => return Attempt::Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let err = read_error(resp).await;
                    retryable = status == StatusCode::SERVICE_UNAVAILABLE;
                    let failover =
                        status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED;
                    Attempt::Status { err, failover }
                }
                Err(e) => {
                    retryable = !e.is_connect() || e.is_timeout();
                    Attempt::Transport(Error::Connection(format!(
                        "{endpoint}: {}",
                        error_chain(&e)
                    )))
                }
            };
            if retryable && tries < self.inner.max_retries {
                tries += 1;
                tracing::debug!(endpoint, tries, "retrying KES request");
                self.pause().await;
                continue;
            }
            return outcome;
        }
    }

    /// Sleeps for a random time in the retry-delay range (its start when the range is empty).
    async fn pause(&self) {
        let r = &self.inner.retry_delay;
        let d = if r.start < r.end {
            rand::rng().random_range(r.clone())
        } else {
            r.start
        };
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// Sends `req` and reads the whole response body (at most [`MAX_RESPONSE_BODY`] bytes).
    pub(super) async fn call_bytes(&self, req: Req<'_>) -> Result<Bytes> {
        let resp = self.send(&req).await?;
        read_limited(resp).await
    }

    /// Sends `req` and decodes the JSON response body.
    pub(super) async fn call_json<T: DeserializeOwned>(&self, req: Req<'_>) -> Result<T> {
        let bytes = self.call_bytes(req).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Sends `req` and discards the response body (read so the connection can be reused).
    pub(super) async fn call_empty(&self, req: Req<'_>) -> Result<()> {
        self.call_bytes(req).await.map(|_| ())
    }
}

/// Reads a response body up to [`MAX_RESPONSE_BODY`].
async fn read_limited(mut resp: reqwest::Response) -> Result<Bytes> {
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > MAX_RESPONSE_BODY {
                    return Err(Error::Decode("response body too large".into()));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Err(e) => {
                return Err(Error::Connection(format!(
                    "reading response: {}",
                    error_chain(&e)
                )));
            }
        }
    }
}

/// Turns an error response into [`Error::Api`] (with the HTTP reason phrase as message if the body cannot be read).
async fn read_error(resp: reqwest::Response) -> Error {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match read_limited(resp).await {
        Ok(body) => Error::from_response(status, ct.as_deref(), &body),
        Err(_) => Error::from_response(status, None, b""),
    }
}
