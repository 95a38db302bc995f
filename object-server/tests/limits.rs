//! Resource bounds of the real binary over real TLS: unauthorised POST forms refused before
//! their file is read, connection deadlines (handshake and first request from accept, HTTP/1.1 heads by the
//! protocol actually spoken, h2 idle), stalled responses (h2 zero window, unread socket) and
//! the per-client connection cap.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::raw::{self, Frame, WAIT};
use common::{BOTO3_PRELUDE, Env, Launch, ok};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Asserts a close happened no earlier than `min` and well within `max`.
fn closed_within(what: &str, elapsed: Duration, min: Duration, max: Duration) {
    assert!(
        elapsed >= min && elapsed < max,
        "{what}: closed after {elapsed:?}, expected between {min:?} and {max:?}"
    );
}

async fn connect(env: &Env, from: IpAddr, alpn: &[&[u8]]) -> raw::TlsClient {
    let connector = raw::tls_connector(&env.path("certs"), alpn);
    let tcp = raw::tcp_from(env.addr(), from, None).await;
    raw::tls(&connector, tcp).await.unwrap()
}

/// An anonymous `GET /` on a new HTTP/1.1 connection from `from`; returns the status and body.
async fn anonymous_get(env: &Env, from: IpAddr) -> (u16, String) {
    let mut s = connect(env, from, &[b"http/1.1"]).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (status, _, body) = raw::read_response(&mut s).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn assert_serving(env: &Env) {
    let (status, body) = anonymous_get(env, LOCALHOST).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorised_post_form_is_refused_unread() {
    const FILE: u64 = 256 << 20;
    let env = Env::new(true);
    let (mut rd, mut wr) = tokio::io::split(connect(&env, LOCALHOST, &[b"http/1.1"]).await);
    // A complete browser form: a field, then a 256 MiB file part streamed 1 MiB at a time.
    let fields = "--B0undary\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nupload\r\n\
                  --B0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\
                  Content-Type: application/octet-stream\r\n\r\n";
    let tail = "\r\n--B0undary--\r\n";
    let len = fields.len() as u64 + FILE + tail.len() as u64;
    let head = format!(
        "POST /no-such-bucket HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: multipart/form-data; boundary=B0undary\r\nContent-Length: {len}\r\n\r\n{fields}"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![0x5a_u8; 1 << 20];
        for _ in 0..(FILE >> 20) {
            wr.write_all(&chunk).await?;
        }
        wr.write_all(tail.as_bytes()).await?;
        wr.flush().await
    });
    let (status, head, body) = raw::read_response(&mut rd).await;
    let body = String::from_utf8_lossy(&body);
    // Anonymous, and no bucket policy grants it: refused after the fields, the file unread.
    assert_eq!(status, 403, "{head}{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    // The server closes the connection instead of reading the form: the upload stops early.
    let upload = tokio::time::timeout(WAIT, writer)
        .await
        .expect("the upload is neither read nor cut off")
        .unwrap();
    assert!(upload.is_err(), "the server read the whole form");
    let rss = raw::vm_rss(env.pid());
    assert!(
        rss < 64 << 20,
        "server RSS {} MiB after a 256 MiB form",
        rss >> 20
    );
    assert_serving(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_h2_connection_closes_at_idle_timeout() {
    let env = Env::with(true, Launch::args(&["--idle-timeout", "2s"]));
    let mut s = connect(&env, LOCALHOST, &[b"h2"]).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    s.write_all(&raw::h2_start(&[])).await.unwrap();
    s.write_all(&raw::h2_get_root(1)).await.unwrap();
    let end = raw::h2_until(&mut s, |f: &Frame| {
        f.stream == 1
            && f.flags & raw::END_STREAM != 0
            && matches!(f.kind, raw::HEADERS | raw::DATA)
    })
    .await;
    assert!(end.is_some(), "no complete response on stream 1");
    // Nothing in flight now: the connection lives for the idle timeout (2 s), not longer.
    let start = Instant::now();
    assert!(raw::h2_until(&mut s, |_| false).await.is_none());
    closed_within(
        "idle h2",
        start.elapsed(),
        Duration::from_secs(1),
        Duration::from_secs(12),
    );
    assert_serving(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_request_is_due_within_header_timeout_of_accept() {
    let env = Env::with(
        true,
        Launch::args(&["--read-header-timeout", "2s", "--idle-timeout", "60s"]),
    );
    // h2: preface and settings, never a request.
    let start = Instant::now();
    let mut s = connect(&env, LOCALHOST, &[b"h2"]).await;
    s.write_all(&raw::h2_start(&[])).await.unwrap();
    assert!(raw::h2_until(&mut s, |_| false).await.is_none());
    closed_within(
        "h2 without a request",
        start.elapsed(),
        Duration::from_secs(1),
        Duration::from_secs(12),
    );
    // HTTP/1.1: half a request line.
    let start = Instant::now();
    let mut s = connect(&env, LOCALHOST, &[b"http/1.1"]).await;
    s.write_all(b"GET / HT").await.unwrap();
    raw::until_closed(&mut s).await;
    closed_within(
        "HTTP/1.1 partial first head",
        start.elapsed(),
        Duration::from_secs(1),
        Duration::from_secs(12),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_head_timeout_follows_the_spoken_protocol() {
    let env = Env::with(
        true,
        Launch::args(&["--read-header-timeout", "2s", "--idle-timeout", "60s"]),
    );
    // ALPN says h2, the client speaks HTTP/1.1: the HTTP/1.1 head timeout applies.
    let mut s = connect(&env, LOCALHOST, &[b"h2"]).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let (status, head, _) = raw::read_response(&mut s).await;
    assert_eq!(status, 403, "{head}");
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.").await.unwrap();
    let (elapsed, _) = raw::until_closed(&mut s).await;
    closed_within(
        "slow second head",
        elapsed,
        Duration::from_secs(1),
        Duration::from_secs(12),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tcp_connection_closes_at_handshake_bound() {
    let env = Env::with(true, Launch::args(&["--tls-handshake-timeout", "1s"]));
    let mut tcp = raw::tcp_from(env.addr(), LOCALHOST, None).await;
    let (elapsed, received) = raw::until_closed(&mut tcp).await;
    assert_eq!(received, 0);
    closed_within(
        "silent TLS client",
        elapsed,
        Duration::from_millis(500),
        Duration::from_secs(9),
    );
    assert_serving(&env).await;

    // Plain HTTP has no handshake: the first request head is due within its timeout.
    let env = Env::with(false, Launch::args(&["--read-header-timeout", "1s"]));
    let mut tcp = raw::tcp_from(env.addr(), LOCALHOST, None).await;
    let (elapsed, received) = raw::until_closed(&mut tcp).await;
    assert_eq!(received, 0);
    closed_within(
        "silent HTTP client",
        elapsed,
        Duration::from_millis(500),
        Duration::from_secs(9),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_connection_cap() {
    let env = Env::with(true, Launch::args(&["--max-connections-per-ip", "3"]));
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&env, OTHER_CLIENT, &[b"http/1.1"]).await);
    }
    let connector = raw::tls_connector(&env.path("certs"), &[b"http/1.1"]);
    let over = raw::tls(
        &connector,
        raw::tcp_from(env.addr(), OTHER_CLIENT, None).await,
    )
    .await;
    assert!(
        over.is_err(),
        "a fourth connection from 127.0.0.2 was served"
    );
    // Other clients are not affected.
    assert_serving(&env).await;
    // A closed connection frees its place (the server notices the close asynchronously).
    drop(held.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        let tcp = raw::tcp_from(env.addr(), OTHER_CLIENT, None).await;
        if raw::tls(&connector, tcp).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the freed place never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_zero_window_response_stalls_out() {
    let env = Env::with(
        true,
        Launch::args(&[
            "--stall-timeout",
            "2s",
            "--idle-timeout",
            "60s",
            "--read-header-timeout",
            "60s",
        ]),
    );
    let mut s = connect(&env, LOCALHOST, &[b"h2"]).await;
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: the server may send headers but no data.
    s.write_all(&raw::h2_start(&[(0x4, 0)])).await.unwrap();
    s.write_all(&raw::h2_get_root(1)).await.unwrap();
    let headers = raw::h2_until(&mut s, |f: &Frame| f.kind == raw::HEADERS && f.stream == 1)
        .await
        .expect("response headers");
    assert_eq!(headers.flags & raw::END_STREAM, 0, "the error has a body");
    let start = Instant::now();
    let data = raw::h2_until(&mut s, |f: &Frame| f.kind == raw::DATA).await;
    assert!(
        data.is_none(),
        "data sent through a closed window: {data:?}"
    );
    closed_within(
        "stalled h2 response",
        start.elapsed(),
        Duration::from_secs(1),
        Duration::from_secs(12),
    );
    assert_serving(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_response_stalls_out() {
    const SIZE: u64 = 16 << 20;
    let env = Env::with(
        true,
        Launch {
            log: "warn,s3s=off,object_server::server=debug".to_owned(),
            stderr: Some("server.log".into()),
            ..Launch::args(&["--stall-timeout", "2s"])
        },
    );
    let script = format!(
        "{BOTO3_PRELUDE}\ns3.create_bucket(Bucket='big')\n\
         s3.put_object(Bucket='big', Key='blob', Body=b'\\x00' * {SIZE})\n\
         print(s3.generate_presigned_url('get_object', Params={{'Bucket': 'big', 'Key': 'blob'}}, ExpiresIn=600))\n"
    );
    let url = tokio::task::block_in_place(|| ok(&env.python(&script, &[])));
    let target = url
        .trim()
        .split_once(&env.addr().to_string())
        .unwrap()
        .1
        .to_owned();
    // A small receive buffer, and the client never reads while the server sends.
    let tcp = raw::tcp_from(env.addr(), LOCALHOST, Some(32 * 1024)).await;
    let connector = raw::tls_connector(&env.path("certs"), &[b"http/1.1"]);
    let mut s = raw::tls(&connector, tcp).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", env.addr());
    s.write_all(request.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
    let log = env.path("server.log");
    let deadline = Instant::now() + WAIT;
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("response stalled")
    {
        assert!(Instant::now() < deadline, "no stall reported");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut status = [0u8; 12];
    s.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 200");
    let (_, rest) = raw::until_closed(&mut s).await;
    assert!(rest < SIZE, "the whole object arrived ({rest} bytes)");
    assert_serving(&env).await;
}
