//! From an accepted TCP socket to a TLS stream, within one deadline counted
//! from TCP accept: the plain-HTTP check (peek at the first byte) and the TLS
//! handshake share it, so a client that sends nothing, or stops half-way
//! through its handshake, holds its connection slot for at most
//! `limits.handshake_timeout` in all.

use std::fmt;

use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Why an accepted socket did not become a TLS connection.
#[derive(Debug)]
pub(super) enum NoTls {
    /// The client spoke plain HTTP; it was answered with KES's 400.
    PlainHttp,
    /// The deadline passed before the handshake finished.
    TimedOut,
    /// The handshake failed.
    Failed(std::io::Error),
}

impl fmt::Display for NoTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoTls::PlainHttp => f.write_str("plain HTTP refused"),
            NoTls::TimedOut => f.write_str("TLS handshake timed out"),
            NoTls::Failed(err) => write!(f, "TLS handshake failed: {err}"),
        }
    }
}

/// Runs the plain-HTTP check and the TLS handshake on `tcp`, both before
/// `deadline`.
pub(super) async fn accept(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    deadline: Instant,
) -> Result<TlsStream<TcpStream>, NoTls> {
    match tokio::time::timeout_at(deadline, is_plain_http(&tcp)).await {
        Err(_) => return Err(NoTls::TimedOut),
        Ok(true) => {
            refuse_plain_http(tcp, deadline).await;
            return Err(NoTls::PlainHttp);
        }
        Ok(false) => {}
    }
    match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(err)) => Err(NoTls::Failed(err)),
        Err(_) => Err(NoTls::TimedOut),
    }
}

/// Whether the client opened with plain HTTP instead of a TLS handshake
/// (a TLS record starts with 0x16; an HTTP request with an ASCII method).
/// Waits for the first byte.
async fn is_plain_http(tcp: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(tcp.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

/// Answers a plain-HTTP client with KES's 400 `insecure connection: TLS is
/// required` and closes the connection.
async fn refuse_plain_http(mut tcp: TcpStream, deadline: Instant) {
    use tokio::io::AsyncWriteExt as _;
    const BODY: &str = "{\"message\":\"insecure connection: TLS is required\"}";
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout_at(deadline, async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await
    })
    .await;
}
