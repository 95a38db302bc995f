//! Raw clients for connection-level tests: TLS over a TCP socket bound to a chosen local
//! address, HTTP/1.1 response reading, a minimal h2 framer (enough for one GET), waiting for a
//! connection to close, and the server's resident memory.
#![allow(
    unreachable_pub,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support shared by test binaries: `pub` is for them, a panic is the failure report"
)]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A client TLS connection.
pub type TlsClient = TlsStream<TcpStream>;

/// Upper bound on any wait in these tests (a failing server must not hang them).
pub const WAIT: Duration = Duration::from_secs(60);

/// The h2 connection preface.
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A TCP connection to `addr` from `local` (any port), with an optional receive buffer size.
pub async fn tcp_from(addr: SocketAddr, local: IpAddr, rcvbuf: Option<u32>) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size).unwrap();
    }
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// A rustls client trusting the test certificate in `certs_dir`, offering `alpn`.
pub fn tls_connector(certs_dir: &Path, alpn: &[&[u8]]) -> TlsConnector {
    let pem = std::fs::read(certs_dir.join("public.crt")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(cfg))
}

/// TLS handshake over `tcp` for 127.0.0.1.
pub async fn tls(connector: &TlsConnector, tcp: TcpStream) -> std::io::Result<TlsClient> {
    let name =
        rustls_pki_types::ServerName::IpAddress("127.0.0.1".parse::<IpAddr>().unwrap().into());
    tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .expect("TLS handshake hangs")
}

/// Reads one HTTP/1.1 response with a `Content-Length`; returns (status, head, body).
pub async fn read_response<R: AsyncRead + Unpin>(r: &mut R) -> (u16, String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, r.read(&mut byte))
            .await
            .expect("response head hangs")
            .unwrap();
        assert_eq!(n, 1, "connection closed in the response head: {buf:?}");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    tokio::time::timeout(WAIT, r.read_exact(&mut body))
        .await
        .expect("response body hangs")
        .unwrap();
    (status, head, body)
}

/// Reads (and discards) until the peer closes (EOF or error); returns how long that took and
/// how many bytes arrived. Panics after [`WAIT`].
pub async fn until_closed<R: AsyncRead + Unpin>(r: &mut R) -> (Duration, u64) {
    let start = Instant::now();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(WAIT, r.read(&mut buf))
            .await
            .expect("connection still open")
        {
            Ok(0) | Err(_) => return (start.elapsed(), total),
            Ok(n) => total += n as u64,
        }
    }
}

/// One h2 frame.
#[derive(Debug)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// Encodes a frame.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The client preface followed by a SETTINGS frame with `settings` (id, value).
pub fn h2_start(settings: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::new();
    for (id, value) in settings {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    let mut out = H2_PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &payload));
    out
}

/// A HEADERS frame for an anonymous `GET /` on `stream` (HPACK without Huffman or indexing).
pub fn h2_get_root(stream: u32) -> Vec<u8> {
    // :method GET (static 2), :scheme https (static 7), :path / (static 4),
    // :authority (static 1, literal value without indexing).
    let mut block = vec![0x82, 0x87, 0x84, 0x01, 9];
    block.extend_from_slice(b"127.0.0.1");
    frame(HEADERS, END_HEADERS | END_STREAM, stream, &block)
}

/// Reads one frame; `None` once the connection is closed.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<Frame> {
    let mut head = [0u8; 9];
    match tokio::time::timeout(WAIT, r.read_exact(&mut head))
        .await
        .expect("no h2 frame")
    {
        Ok(_) => {}
        Err(_) => return None,
    }
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    if tokio::time::timeout(WAIT, r.read_exact(&mut payload))
        .await
        .expect("h2 frame payload hangs")
        .is_err()
    {
        return None;
    }
    Some(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

/// Reads frames, acknowledging SETTINGS and PINGs, until `stop` holds for one (returned) or the
/// connection closes (`None`).
pub async fn h2_until<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    stop: impl Fn(&Frame) -> bool,
) -> Option<Frame> {
    loop {
        let f = read_frame(s).await?;
        if f.kind == SETTINGS && f.flags & ACK == 0 {
            s.write_all(&frame(SETTINGS, ACK, 0, &[])).await.ok()?;
        } else if f.kind == PING && f.flags & ACK == 0 {
            s.write_all(&frame(PING, ACK, 0, &f.payload)).await.ok()?;
        }
        if stop(&f) {
            return Some(f);
        }
    }
}

/// The resident set size of process `pid`, in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn vm_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .map(|v| v.trim().parse().unwrap())
        .expect("VmRSS line");
    kib * 1024
}
