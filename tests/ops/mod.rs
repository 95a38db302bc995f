//! Support shared by the operations tests (cache, metrics, logs, reload,
//! signals): a polling wait with a deadline, a keystore test double with
//! availability, a read counter and a gate, small request helpers, an NDJSON
//! stream reader and a request sent in two halves.
//!
//! Time-dependent tests shorten the key cache's health probe to [`PROBE`] via
//! `kes::server::Options` and wait by polling a condition with a deadline.
#![allow(
    unreachable_pub,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support shared by test binaries: `pub` is for them, a panic is the failure report"
)]
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use client::{ApiKey, CertifiedKey};
use futures_util::StreamExt as _;
use keystores::{Keystore, MemKeystore, Page, Status};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::common::{Outputs, TestServer, tls_client};

pub const PROBE: Duration = Duration::from_millis(50);

/// Polls `cond` every 20 ms until it holds; panics after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------
// A keystore test double: availability, a read counter, a gate on reads.

pub struct Double {
    inner: MemKeystore,
    pub up: AtomicBool,
    gets: AtomicUsize,
    /// While `false`, reads wait (lets a test pile up concurrent misses).
    pub gate: tokio::sync::watch::Sender<bool>,
}

impl Double {
    pub fn new() -> Arc<Double> {
        Arc::new(Double {
            inner: MemKeystore::new(),
            up: AtomicBool::new(true),
            gets: AtomicUsize::new(0),
            gate: tokio::sync::watch::channel(true).0,
        })
    }
    fn down(&self) -> Result<(), keystores::Error> {
        if self.up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(keystores::Error::unreachable("connection refused"))
        }
    }
    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Keystore for Double {
    async fn status(&self) -> Result<Status, keystores::Error> {
        self.down()?;
        self.inner.status().await
    }
    async fn create(&self, name: &str, value: &[u8]) -> Result<(), keystores::Error> {
        self.down()?;
        self.inner.create(name, value).await
    }
    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, keystores::Error> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate.subscribe();
        let _ = gate.wait_for(|open| *open).await;
        self.down()?;
        if name == "broken" {
            return Err(keystores::Error::backend("disk on fire"));
        }
        self.inner.get(name).await
    }
    async fn delete(&self, name: &str) -> Result<(), keystores::Error> {
        self.down()?;
        self.inner.delete(name).await
    }
    async fn list(&self, p: &str, c: &str, l: usize) -> Result<Page, keystores::Error> {
        self.down()?;
        self.inner.list(p, c, l).await
    }
}

pub async fn on_double(extra: &str) -> (TestServer, Arc<Double>, Outputs) {
    let double = Double::new();
    let outputs = Outputs::default();
    let s = TestServer::start_custom(extra, Some(double.clone()), PROBE, &outputs).await;
    (s, double, outputs)
}

pub async fn generate(c: &reqwest::Client, s: &TestServer, key: &str) -> (u16, Value) {
    let resp = c
        .post(s.url(&format!("/v1/key/generate/{key}")))
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap_or_default();
    if let Some(p) = v["plaintext"].as_str() {
        crate::common::secrets::record_b64("generated data key", p);
    }
    (st, v)
}

pub async fn decrypt(c: &reqwest::Client, s: &TestServer, key: &str, ct: &Value) -> (u16, Value) {
    let resp = c
        .post(s.url(&format!("/v1/key/decrypt/{key}")))
        .json(&json!({ "ciphertext": ct }))
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    (st, resp.json().await.unwrap_or_default())
}

pub async fn get_status(c: &reqwest::Client, s: &TestServer, path: &str) -> u16 {
    c.get(s.url(path)).send().await.unwrap().status().as_u16()
}

/// Reads NDJSON lines from a streaming response.
pub struct Lines {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl Lines {
    pub async fn open(c: &reqwest::Client, url: String) -> Lines {
        let resp = c.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
        Lines {
            stream: resp.bytes_stream().boxed(),
            buf: Vec::new(),
        }
    }

    /// The next line, or `None` at the end of the stream; panics after 20 s.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line[..line.len() - 1]).unwrap());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.stream.next())
                .await
                .expect("a line within 20 s")?;
            self.buf.extend_from_slice(&chunk.unwrap());
        }
    }

    /// Reads until a line satisfies `pred`.
    pub async fn until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.next().await.expect("stream open");
            if pred(&v) {
                return v;
            }
        }
    }
}

/// Writes `text` to `path` atomically (temp file + rename).
pub fn write_atomic(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

pub fn reqwest_trusting(pem: &str, key: &ApiKey) -> reqwest::Client {
    let ck = key.certificate().unwrap();
    let id = format!("{}{}", ck.key_pem.as_str(), ck.cert_pem);
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(id.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// A request whose head and first half of body are sent; `finish` sends the
/// rest and reads the whole response.
pub struct Partial {
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    rest: Vec<u8>,
}

impl Partial {
    pub async fn finish(mut self) -> String {
        self.tls.write_all(&self.rest).await.unwrap();
        self.tls.flush().await.unwrap();
        let mut buf = Vec::new();
        self.tls.read_to_end(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    }
}

pub async fn partial_request_to(
    addr: SocketAddr,
    server_pem: &str,
    key: &ApiKey,
    method: &str,
    path: &str,
    body: &[u8],
) -> Partial {
    let ck: CertifiedKey = key.certificate().unwrap();
    let config = tls_client(server_pem, &[&ck]);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let half = body.len() / 2;
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&body[..half]).await.unwrap();
    tls.flush().await.unwrap();
    Partial {
        tls,
        rest: body[half..].to_vec(),
    }
}

pub async fn partial_request(
    s: &TestServer,
    key: &ApiKey,
    method: &str,
    path: &str,
    body: &[u8],
) -> Partial {
    partial_request_to(s.addr, &s.server_cert_pem, key, method, path, body).await
}
