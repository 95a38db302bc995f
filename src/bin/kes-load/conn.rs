//! Connections: TCP + TLS + an HTTP/1.1 or h2 client connection (hyper 1), and one
//! request/response exchange on it with the body read to its end.
//!
//! A keep-alive run gives every HTTP/1.1 worker its own connection and shares one h2
//! connection between all workers (as Go's and reqwest's clients do); the new-connection
//! mode opens a connection per request and drops it after the answer.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Where and how to connect; cheap to clone.
#[derive(Clone)]
pub(crate) struct Target {
    addr: SocketAddr,
    name: ServerName<'static>,
    /// `host:port` as given (Host header / `:authority`).
    authority: String,
    tls: TlsConnector,
    http1: bool,
}

/// An open client connection.
pub(crate) enum Conn {
    /// HTTP/1.1: one request at a time.
    H1(http1::SendRequest<Full<Bytes>>),
    /// h2: any number of concurrent streams (clones share the connection).
    H2(http2::SendRequest<Full<Bytes>>),
}

/// What a finished connect reports besides the connection.
pub(crate) struct Connected {
    /// The connection.
    pub(crate) conn: Conn,
    /// Whether the TLS handshake resumed a session.
    pub(crate) resumed: bool,
}

/// A response: status and the whole body.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl Target {
    /// Resolves `server` (`https://host:port`) once.
    ///
    /// # Errors
    /// Not an `https://` URL with a host, or the host does not resolve.
    pub(crate) async fn new(
        server: &str,
        tls: Arc<ClientConfig>,
        http1: bool,
    ) -> anyhow::Result<Target> {
        let uri: http::Uri = server
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("invalid server URL '{server}'"))?;
        if uri.scheme_str() != Some("https") {
            anyhow::bail!("the server URL must start with https://");
        }
        let host = uri.host().context("the server URL has no host")?;
        let port = uri.port_u16().unwrap_or(443);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addr = tokio::net::lookup_host((bare, port))
            .await
            .with_context(|| format!("resolving {host}"))?
            .next()
            .with_context(|| format!("{host} has no address"))?;
        let name = ServerName::try_from(bare.to_owned()).context("invalid server name")?;
        Ok(Target {
            addr,
            name,
            authority: format!("{host}:{port}"),
            tls: TlsConnector::from(tls),
            http1,
        })
    }

    /// The protocol this target speaks: `"http1"` or `"h2"`.
    pub(crate) fn protocol(&self) -> &'static str {
        if self.http1 { "http1" } else { "h2" }
    }

    /// Opens a connection: TCP (no Nagle), TLS, HTTP handshake; the connection's driver
    /// runs as its own task until the connection closes.
    ///
    /// # Errors
    /// Any connect, handshake or protocol failure.
    pub(crate) async fn connect(&self) -> anyhow::Result<Connected> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let tls = self.tls.connect(self.name.clone(), tcp).await?;
        let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let io = TokioIo::new(tls);
        let conn = if self.http1 {
            let (send, driver) = http1::handshake(io).await?;
            tokio::spawn(driver);
            Conn::H1(send)
        } else {
            let (send, driver) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(driver);
            Conn::H2(send)
        };
        Ok(Connected { conn, resumed })
    }

    /// Builds a request for `path` with a JSON `body` (empty = no body).
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut b = Request::builder().method(method);
        b = if self.http1 {
            b.uri(path).header(header::HOST, &self.authority)
        } else {
            b.uri(format!("https://{}{path}", self.authority))
        };
        if !body.is_empty() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        Ok(b.body(Full::new(body))?)
    }
}

impl Conn {
    /// Another handle on the same h2 connection (`None` for HTTP/1.1, which is not shared).
    pub(crate) fn share(&self) -> Option<Conn> {
        match self {
            Conn::H1(_) => None,
            Conn::H2(s) => Some(Conn::H2(s.clone())),
        }
    }

    /// Whether the connection can take no more requests.
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Conn::H1(s) => s.is_closed(),
            Conn::H2(s) => s.is_closed(),
        }
    }

    /// Sends `req` and reads the whole answer.
    ///
    /// # Errors
    /// Any transport or protocol failure (a non-2xx status is an answer, not an error).
    pub(crate) async fn exchange(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        let resp = match self {
            Conn::H1(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            Conn::H2(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
        };
        let status = resp.status();
        // Read to the end: an h2 stream dropped unread is reset, and hyper answers many
        // resets with GOAWAY (rapid-reset protection).
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }
}
