//! Connection limits end to end, over real TLS against a real server: the
//! stall bound (h2 zero window, HTTP/1.1 client that stops reading), log
//! streams that are quiet but read, the per-client-IP cap, the handshake
//! deadline and the first request head counted from TCP accept, and the head
//! timeout following the protocol spoken rather than the ALPN label.
//!
//! Attackers connect from 127.0.0.2 (Linux routes all of 127/8 on `lo`), so
//! the per-IP cap of the admin's 127.0.0.1 stays separate. Closes are
//! observed (a connection ending, a freed slot), never waited for by sleeping;
//! the sleeps below are the slowness or quietness under test.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use client::CertifiedKey;
use common::{TestServer, connect_from, tls_over};
use futures_util::StreamExt as _;
use kes::server::timeouts::Timeouts;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const VERSION: &[u8] = b"GET /version HTTP/1.1\r\nHost: localhost\r\n\r\n";
const VERSION_CLOSE: &[u8] =
    b"GET /version HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// A server with `extra` YAML and the given header and idle timeouts.
async fn server_with_timeouts(extra: &str, header: Duration, idle: Duration) -> TestServer {
    TestServer::start_with_options(extra, |_| kes::server::Options {
        timeouts: Timeouts { header, idle },
        ..kes::server::Options::default()
    })
    .await
}

/// Reads one HTTP/1.1 response (head + Content-Length body); its status.
async fn read_response<S: AsyncRead + Unpin>(io: &mut S) -> std::io::Result<u16> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if io.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(head.split(' ').nth(1).unwrap().parse().unwrap())
}

/// One `GET /version` on a new connection from `source`; its status.
async fn version_from(s: &TestServer, source: IpAddr, ck: &CertifiedKey) -> std::io::Result<u16> {
    let tcp = connect_from(source, s.addr, None).await?;
    let mut tls = tls_over(tcp, &s.server_cert_pem, ck, &[b"http/1.1"]).await?;
    tls.write_all(VERSION_CLOSE).await?;
    read_response(&mut tls).await
}

/// Polls until a new connection from `source` is served (its slot is free),
/// failing after `within`; returns when it was.
async fn served_again(
    s: &TestServer,
    source: IpAddr,
    ck: &CertifiedKey,
    within: Duration,
) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(200) = version_from(s, source, ck).await {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "no connection from {source} served within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // polling interval
    }
}

/// Reads `io` until it ends (EOF or error) within `within`; what was read.
async fn read_until_closed<S: AsyncRead + Unpin>(io: &mut S, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(within, io.read_to_end(&mut got))
        .await
        .expect("the server closes the connection");
    got
}

enum Attack {
    /// Closed by the server during the TLS handshake (over the per-IP cap).
    Refused,
    /// Got its response head, then held until the server closed it.
    Held { head: Instant, ended: Instant },
}

/// An h2 client that announces a zero stream window, asks for `/version`
/// and never opens the window: the body can never be sent. Reports on
/// `ready` once refused or stalled, then waits for the connection to end.
async fn zero_window(
    addr: std::net::SocketAddr,
    pem: String,
    ck: CertifiedKey,
    ready: tokio::sync::mpsc::Sender<()>,
) -> Attack {
    let tcp = connect_from(ATTACKER, addr, None).await.unwrap();
    let tls = match tls_over(tcp, &pem, &ck, &[b"h2"]).await {
        Ok(tls) => tls,
        Err(_) => {
            ready.send(()).await.unwrap();
            return Attack::Refused;
        }
    };
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (client, conn) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, Bytes>(tls)
        .await
        .unwrap();
    let driver = tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let request = http::Request::get("https://localhost/version")
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    let head = Instant::now();
    ready.send(()).await.unwrap();
    let _ = driver.await.unwrap(); // ends when the server closes the connection
    let ended = Instant::now();
    drop((client, response));
    Attack::Held { head, ended }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_window_h2_clients_do_not_lock_out_the_admin() {
    const STALL: Duration = Duration::from_secs(3);
    // Without the per-IP cap, 64 attackers would fill every slot.
    let s = TestServer::start_with(
        "limits:\n  connections: 64\n  connections_per_ip: 50\n  stall_timeout: 3s\n",
    )
    .await;
    let ck = s.unknown.certificate().unwrap();
    let (ready, mut readies) = tokio::sync::mpsc::channel(100);
    let attackers: Vec<_> = (0..100)
        .map(|_| {
            tokio::spawn(zero_window(
                s.addr,
                s.server_cert_pem.clone(),
                ck.clone(),
                ready.clone(),
            ))
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(30), async {
        for _ in 0..100 {
            readies.recv().await.unwrap();
        }
    })
    .await
    .expect("every attacker is refused or stalled within 30 s");
    // Every attacker is refused or stalled now: the admin still gets in.
    let admin = s.client(&s.admin);
    let resp = tokio::time::timeout(
        Duration::from_secs(1),
        admin.get(s.url("/v1/status")).send(),
    )
    .await
    .expect("the admin is served within 1 s")
    .unwrap();
    assert_eq!(resp.status(), 200);

    let (mut refused, mut held) = (0, 0);
    for attacker in attackers {
        let outcome = tokio::time::timeout(STALL + Duration::from_secs(10), attacker)
            .await
            .expect("every attacker's connection ends");
        match outcome.unwrap() {
            Attack::Refused => refused += 1,
            Attack::Held { head, ended } => {
                held += 1;
                let kept = ended - head;
                assert!(
                    kept >= STALL - Duration::from_millis(300),
                    "held until the stall bound, closed after {kept:?}"
                );
                assert!(
                    kept < STALL + Duration::from_secs(3),
                    "closed within the stall bound, took {kept:?}"
                );
            }
        }
    }
    assert_eq!(refused + held, 100);
    assert!(held >= 50, "the first 50 are served: {held}");
    assert!(refused >= 1, "the ones over the per-IP cap are refused");
    s.running.stop().await;
}

/// Opens `/v1/log/audit` over HTTP/1.1 and keeps reading it in a task that
/// forwards what it reads.
async fn h1_stream(s: &TestServer) -> tokio::sync::mpsc::UnboundedReceiver<Vec<u8>> {
    let ck = s.admin.certificate().unwrap();
    let tcp = connect_from(IpAddr::V4(Ipv4Addr::LOCALHOST), s.addr, None)
        .await
        .unwrap();
    let mut tls = tls_over(tcp, &s.server_cert_pem, &ck, &[b"http/1.1"])
        .await
        .unwrap();
    tls.write_all(b"GET /v1/log/audit HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = tls.read(&mut buf).await {
            if tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test]
async fn quiet_log_streams_that_are_read_are_not_cut() {
    const STALL: Duration = Duration::from_secs(1);
    let s = TestServer::start_with("limits:\n  stall_timeout: 1s\n").await;
    let admin = s.client(&s.admin);
    let h2 = admin.get(s.url("/v1/log/audit")).send().await.unwrap();
    assert_eq!(h2.status(), 200);
    assert_eq!(h2.version(), http::Version::HTTP_2);
    let mut h2 = h2.bytes_stream();
    let mut h1 = h1_stream(&s).await;
    tokio::time::sleep(STALL * 3).await; // quiet for three stall bounds: under test
    let resp = admin.get(s.url("/v1/status")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // Both streams are still open and deliver the event.
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("/v1/status") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), h2.next())
            .await
            .expect("an event within 10 s")
            .expect("the h2 stream is open");
        seen.extend_from_slice(&chunk.unwrap());
    }
    let mut seen = Vec::new();
    while !String::from_utf8_lossy(&seen).contains("/v1/status") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), h1.recv())
            .await
            .expect("an event within 10 s")
            .expect("the HTTP/1.1 stream is open");
        seen.extend_from_slice(&chunk);
    }
    s.running.stop().await;
}

#[tokio::test]
async fn an_http1_client_that_stops_reading_is_closed_at_the_stall_bound() {
    const STALL: Duration = Duration::from_secs(1);
    const REQUESTS: usize = 4000;
    // Long head and idle timeouts: only the stall bound can close it soon.
    let s = server_with_timeouts(
        "limits:\n  connections_per_ip: 1\n  stall_timeout: 1s\n",
        Duration::from_secs(30),
        Duration::from_secs(60),
    )
    .await;
    let ck = s.admin.certificate().unwrap();
    // A tiny receive buffer, and pipelined /v1/metrics requests whose
    // responses (megabytes) are never read.
    let tcp = connect_from(ATTACKER, s.addr, Some(4096)).await.unwrap();
    let tls = tls_over(tcp, &s.server_cert_pem, &ck, &[b"http/1.1"])
        .await
        .unwrap();
    let (mut rd, mut wr) = tokio::io::split(tls);
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for _ in 0..REQUESTS {
            let req = b"GET /v1/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
            if wr.write_all(req).await.is_err() {
                break;
            }
        }
        wr
    });
    // It holds the only slot of 127.0.0.2 ...
    assert!(
        version_from(&s, ATTACKER, &ck).await.is_err(),
        "a second connection from 127.0.0.2 is over the cap"
    );
    // ... which frees once the server closes the stalled connection.
    let freed = served_again(&s, ATTACKER, &ck, Duration::from_secs(20)).await;
    let took = freed - start;
    assert!(took >= STALL, "not closed before the stall bound: {took:?}");
    assert!(
        took < STALL + Duration::from_secs(10),
        "closed at the stall bound, took {took:?}"
    );
    // And it is closed: reading it now ends, short of all the responses.
    let got = read_until_closed(&mut rd, Duration::from_secs(20)).await;
    let served = String::from_utf8_lossy(&got)
        .matches("HTTP/1.1 200")
        .count();
    assert!(
        served < REQUESTS,
        "cut short: {served} of {REQUESTS} responses"
    );
    writer.abort();
    s.running.stop().await;
}

#[tokio::test]
async fn the_per_ip_cap_closes_the_extra_connection_at_once() {
    let s = TestServer::start_with("limits:\n  connections_per_ip: 4\n  handshake_timeout: 10s\n")
        .await;
    let ck = s.minio.certificate().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        let tcp = connect_from(ATTACKER, s.addr, None).await.unwrap();
        let mut tls = tls_over(tcp, &s.server_cert_pem, &ck, &[b"http/1.1"])
            .await
            .unwrap();
        tls.write_all(VERSION).await.unwrap();
        assert_eq!(read_response(&mut tls).await.unwrap(), 200);
        held.push(tls);
    }
    // The fifth from 127.0.0.2 is closed at once (not at the 10 s handshake bound).
    let t = Instant::now();
    let tcp = connect_from(ATTACKER, s.addr, None).await.unwrap();
    assert!(
        tls_over(tcp, &s.server_cert_pem, &ck, &[b"http/1.1"])
            .await
            .is_err()
    );
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    // 127.0.0.1 is another address.
    assert_eq!(
        version_from(&s, IpAddr::V4(Ipv4Addr::LOCALHOST), &ck)
            .await
            .unwrap(),
        200
    );
    // The four held ones still work.
    for tls in &mut held[1..] {
        tls.write_all(VERSION).await.unwrap();
        assert_eq!(read_response(tls).await.unwrap(), 200);
    }
    // One of the four leaves: its slot is given back.
    let mut first = held.remove(0);
    first.write_all(VERSION_CLOSE).await.unwrap();
    assert_eq!(read_response(&mut first).await.unwrap(), 200);
    read_until_closed(&mut first, Duration::from_secs(5)).await;
    served_again(&s, ATTACKER, &ck, Duration::from_secs(5)).await;
    s.running.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_handshake_bound_from_accept() {
    const BOUND: Duration = Duration::from_secs(3);
    let s = TestServer::start_with("limits:\n  handshake_timeout: 3s\n").await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let t = Instant::now();
    read_until_closed(&mut tcp, Duration::from_secs(30)).await;
    let took = t.elapsed();
    // Before, the plain-HTTP check and the handshake each had the bound: 6 s.
    assert!(
        took >= BOUND - Duration::from_millis(100) && took < BOUND + Duration::from_millis(1500),
        "closed {took:?} after connecting"
    );
    s.running.stop().await;
}

#[tokio::test]
async fn the_first_request_head_is_due_from_accept() {
    const HEADER: Duration = Duration::from_secs(3);
    let s = server_with_timeouts(
        "limits:\n  handshake_timeout: 5s\n",
        HEADER,
        Duration::from_secs(60),
    )
    .await;
    let ck = s.admin.certificate().unwrap();
    let tcp = connect_from(IpAddr::V4(Ipv4Addr::LOCALHOST), s.addr, None)
        .await
        .unwrap();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await; // a slow handshake: under test
    let mut tls = tls_over(tcp, &s.server_cert_pem, &ck, &[b"http/1.1"])
        .await
        .unwrap();
    read_until_closed(&mut tls, Duration::from_secs(30)).await;
    let took = t.elapsed();
    // Counted from the handshake it would be 2 s + 3 s.
    assert!(
        took >= HEADER - Duration::from_millis(100) && took < HEADER + Duration::from_millis(1500),
        "closed {took:?} after connecting"
    );
    s.running.stop().await;
}

#[tokio::test]
async fn the_head_timeout_follows_the_protocol_spoken_not_alpn() {
    const HEADER: Duration = Duration::from_secs(2);
    let s = server_with_timeouts("", HEADER, Duration::from_secs(60)).await;
    let ck = s.admin.certificate().unwrap();
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);

    // ALPN h2, then a partial HTTP/1.1 head: cut at the head timeout.
    let tcp = connect_from(local, s.addr, None).await.unwrap();
    let t = Instant::now();
    let mut tls = tls_over(tcp, &s.server_cert_pem, &ck, &[b"h2"])
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    tls.write_all(b"GET /v1/status HTTP/1.1\r\n").await.unwrap();
    let got = read_until_closed(&mut tls, Duration::from_secs(30)).await;
    assert!(got.is_empty(), "no response to an incomplete head");
    assert!(
        t.elapsed() < HEADER + Duration::from_secs(3),
        "closed at the head timeout, not the 60 s idle timeout: {:?}",
        t.elapsed()
    );

    // Real h2 (the preface sent) idle for longer than the head timeout is
    // still open: h2 connections are only subject to the idle timeout.
    let tcp = connect_from(local, s.addr, None).await.unwrap();
    let tls = tls_over(tcp, &s.server_cert_pem, &ck, &[b"h2"])
        .await
        .unwrap();
    let (client, conn) = h2::client::handshake(tls).await.unwrap();
    let driver = tokio::spawn(conn);
    tokio::time::sleep(HEADER + Duration::from_secs(1)).await; // idle: under test
    let mut client = client.ready().await.unwrap();
    let request = http::Request::get("https://localhost/version")
        .body(())
        .unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    drop(client);
    driver.abort();
    s.running.stop().await;
}
