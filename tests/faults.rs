//! Fault injection against the real `kes` binary (issue 16, item 3):
//!
//! - its keystore (a real OpenBao, reached through the fault proxy of
//!   `common/proxy.rs`) answers after 5 s, fails intermittently, or is down:
//!   the client that needs the keystore gets the answer or the spec's error
//!   (502 `failed to read key` / `failed to create key`), while clients of
//!   cached keys are answered before the slow keystore answers;
//! - TLS handshakes and requests that stall, and clients that drop
//!   mid-body, do not hold up other clients;
//! - the disk of the filesystem keystore is full (a 256 KiB tmpfs the test
//!   mounts): creates fail with 502 `failed to create key`, no temp file is
//!   left, reads keep working, and creates work again once space is freed.
//!
//! After every case the server's open file descriptors (less the keystore
//! connections the proxy holds) and threads return to their baseline
//! (polled with a deadline): nothing leaks.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
#[path = "common/kes_child.rs"]
mod kes_child;
mod ops;
#[path = "common/proxy.rs"]
mod proxy;
#[path = "../keystores/tests/vault_support/mod.rs"]
mod vault_support;

use std::path::Path;
use std::time::{Duration, Instant};

use client::ApiKey;
use kes_child::{KesChild, resources};
use ops::reqwest_trusting;
use proxy::{Mode, Proxy};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use vault_support::{OpenBao, kes_policy};

/// How long the slow keystore holds each request.
const SLOW: Duration = Duration::from_secs(5);

/// A config with the admin identity, `keystore` (lines under `keystore:`)
/// and a cache that keeps read keys for the whole test, also offline.
fn write_config(dir: &Path, admin: &ApiKey, keystore: &str) -> std::path::PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {}\ntls:\n  key: server.key\n  cert: server.crt\n\
             cache:\n  expiry:\n    any: 1h\n    unused: 1h\n    offline: 1h\nkeystore:\n{keystore}",
            admin.identity()
        ),
    )
    .unwrap();
    path
}

async fn call(req: reqwest::RequestBuilder) -> (u16, String) {
    let resp = req.send().await.unwrap();
    let st = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or_default();
    (st, body["message"].as_str().unwrap_or_default().to_owned())
}

/// The server and what the leak check compares with.
struct Setup {
    kes: KesChild,
    cert: String,
    admin: ApiKey,
    proxy: Option<Proxy>,
    /// (fds less keystore connections, threads) when idle.
    baseline: (usize, usize),
}

impl Setup {
    fn client(&self) -> reqwest::Client {
        reqwest_trusting(&self.cert, &self.admin)
    }

    async fn generate(&self, c: &reqwest::Client, name: &str) -> (u16, String) {
        call(c.post(self.kes.url(&format!("/v1/key/generate/{name}")))).await
    }

    async fn create(&self, c: &reqwest::Client, name: &str) -> (u16, String) {
        call(c.post(self.kes.url(&format!("/v1/key/create/{name}")))).await
    }

    /// File descriptors less the keystore connections, and threads.
    fn now(&self) -> (usize, usize) {
        let (fds, threads) = resources(self.kes.pid());
        (fds - self.proxy.as_ref().map_or(0, Proxy::live), threads)
    }

    /// Waits (up to 60 s: idle blocking-pool threads linger 10 s) until the
    /// server is back to its baseline.
    async fn back_to_baseline(&self, case: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = self.now();
            if now.0 <= self.baseline.0 && now.1 <= self.baseline.1 {
                eprintln!("{case}: fds/threads {now:?}, baseline {:?}", self.baseline);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{case}: fds/threads {now:?} did not return to {:?}",
                self.baseline
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Records the baseline once the server is idle and stable.
    async fn settle(&mut self) {
        let mut last = self.now();
        let mut stable_since = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(60);
        while stable_since.elapsed() < Duration::from_secs(1) {
            assert!(Instant::now() < deadline, "kes never became idle");
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.now();
            if now != last {
                (last, stable_since) = (now, Instant::now());
            }
        }
        self.baseline = last;
    }
}

/// A kes server on OpenBao behind the fault proxy, with key `warm` cached
/// and keys `cold-*` created but never read; `None` without OpenBao (outside CI).
async fn on_openbao(bao: &OpenBao, dir: &Path) -> Setup {
    bao.mount_kv(None, "kv", 2).await;
    let (id, secret) = bao
        .approle(None, "kes", &kes_policy("kv", 2, None), json!({}))
        .await;
    let upstream = bao
        .endpoint()
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap();
    let proxy = Proxy::start(upstream).await;
    let cert = common::write_server_cert(dir);
    let admin = ApiKey::generate().unwrap();
    common::secrets::record_api_key(&admin);
    let config = write_config(
        dir,
        &admin,
        &format!(
            "  vault:\n    endpoint: http://{}\n    engine: kv\n    version: v2\n    prefix: kes\n    \
             approle:\n      id: {id}\n      secret: {secret}\n    status:\n      ping: 1s\n",
            proxy.addr
        ),
    );
    let kes = KesChild::spawn(&config).await;
    let mut s = Setup {
        kes,
        cert,
        admin,
        proxy: Some(proxy),
        baseline: (0, 0),
    };
    let c = s.client();
    assert_eq!(s.create(&c, "warm").await.0, 200);
    assert_eq!(s.generate(&c, "warm").await.0, 200, "now cached");
    for i in 0..20 {
        assert_eq!(s.create(&c, &format!("cold-{i}")).await.0, 200);
    }
    drop(c);
    s.settle().await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_failing_and_down_keystore_only_affects_its_own_requests() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = on_openbao(&bao, dir.path()).await;
    let proxy = s.proxy.as_ref().unwrap();

    // Slow (5 s): the read of an uncached key waits for it and succeeds;
    // cached keys are answered meanwhile.
    proxy.set(Mode::Slow(SLOW));
    let (c, c2) = (s.client(), s.client());
    let started = Instant::now();
    let cold = tokio::spawn({
        let req = c.post(s.kes.url("/v1/key/generate/cold-0"));
        async move { call(req).await }
    });
    for _ in 0..20 {
        assert_eq!(s.generate(&c2, "warm").await, (200, String::new()));
    }
    assert!(
        !cold.is_finished(),
        "the slow keystore answered before 20 cached generates"
    );
    let warm_done = started.elapsed();
    assert_eq!(cold.await.unwrap(), (200, String::new()));
    eprintln!(
        "slow keystore: 20 cached generates in {warm_done:?}, the uncached one in {:?}",
        started.elapsed()
    );
    proxy.set(Mode::Pass);
    drop((c, c2));
    s.back_to_baseline("slow keystore").await;

    // Down: uncached reads and creates fail with the spec's errors, cached
    // keys and the server itself keep working.
    proxy.set(Mode::Down);
    let c = s.client();
    assert_eq!(
        s.generate(&c, "cold-1").await,
        (502, "failed to read key".to_owned())
    );
    assert_eq!(
        s.create(&c, "new-while-down").await,
        (502, "failed to create key".to_owned())
    );
    assert_eq!(s.generate(&c, "warm").await.0, 200);
    assert_eq!(call(c.get(s.kes.url("/version"))).await.0, 200);
    proxy.set(Mode::Pass);
    assert_eq!(s.generate(&c, "cold-1").await.0, 200, "recovered");
    drop(c);
    s.back_to_baseline("keystore down").await;

    // Intermittent: every second request to the keystore is cut. Each
    // uncached read succeeds or fails with the spec's error; cached keys
    // never fail.
    proxy.set(Mode::Flaky(2));
    let c = s.client();
    let (mut ok, mut failed) = (0, 0);
    for i in 2..20 {
        match s.generate(&c, &format!("cold-{i}")).await {
            (200, _) => ok += 1,
            (502, m) if m == "failed to read key" => failed += 1,
            other => panic!("cold-{i} under a flaky keystore: {other:?}"),
        }
        assert_eq!(s.generate(&c, "warm").await.0, 200);
    }
    eprintln!("flaky keystore: {ok} uncached reads succeeded, {failed} failed with 502");
    proxy.set(Mode::Pass);
    drop(c);
    s.back_to_baseline("flaky keystore").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_handshakes_stalled_bodies_and_dropped_clients_do_not_block_others() {
    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let admin = ApiKey::generate().unwrap();
    common::secrets::record_api_key(&admin);
    let config = write_config(dir.path(), &admin, "  fs:\n    path: keys\n");
    let kes = KesChild::spawn(&config).await;
    let mut s = Setup {
        kes,
        cert,
        admin,
        proxy: None,
        baseline: (0, 0),
    };
    let c = s.client();
    assert_eq!(s.create(&c, "k").await.0, 200);
    assert_eq!(s.generate(&c, "k").await.0, 200);
    drop(c);
    s.settle().await;
    let addr = s.kes.addr;

    // 20 TCP connections that never start TLS, 20 that send half a
    // ClientHello, 20 with TLS done and half a request body: all stalled.
    let mut stalled = Vec::new();
    for _ in 0..20 {
        stalled.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    for _ in 0..20 {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
            .await
            .unwrap();
        stalled.push(tcp);
    }
    let ck = s.admin.certificate().unwrap();
    let mut stalled_tls = Vec::new();
    for _ in 0..20 {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = common::tls_over(tcp, &s.cert, &ck, &[b"http/1.1"])
            .await
            .unwrap();
        tls.write_all(
            b"POST /v1/key/generate/k HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"con",
        )
        .await
        .unwrap();
        tls.flush().await.unwrap();
        stalled_tls.push(tls);
    }
    let during = s.now();
    assert!(
        during.0 >= s.baseline.0 + 60,
        "the stalled connections are open: {during:?}"
    );
    let c = s.client();
    for _ in 0..20 {
        assert_eq!(s.generate(&c, "k").await.0, 200);
    }
    assert_eq!(s.create(&c, "k2").await.0, 200);
    drop(c);
    drop(stalled);
    drop(stalled_tls);
    s.back_to_baseline("stalled handshakes and bodies").await;

    // Clients that send half a body and go away.
    for _ in 0..20 {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = common::tls_over(tcp, &s.cert, &ck, &[b"http/1.1"])
            .await
            .unwrap();
        tls.write_all(
            b"POST /v1/key/import/dropped HTTP/1.1\r\nHost: localhost\r\nContent-Length: 80\r\n\r\n{\"key\":\"AAAA",
        )
        .await
        .unwrap();
        tls.flush().await.unwrap();
    }
    let c = s.client();
    assert_eq!(s.generate(&c, "k").await.0, 200);
    assert_eq!(
        call(c.get(s.kes.url("/v1/key/describe/dropped"))).await.0,
        404,
        "a dropped import created nothing"
    );
    drop(c);
    s.back_to_baseline("clients dropped mid-body").await;
}

/// A tmpfs mounted for the test; unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a `size` tmpfs at `dir` (needs root); `None` if mounting is
    /// not permitted here (panics instead when `CI` is set).
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .unwrap();
        if out.status.success() {
            return Some(Tmpfs(dir.to_owned()));
        }
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot mount a tmpfs for the disk-full case: {why}"
        );
        eprintln!("skipped: cannot mount a tmpfs (not root?): {why}");
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_fails_creates_cleanly_and_reads_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let Some(_mount) = Tmpfs::mount(&keys, "256k") else {
        return;
    };
    let cert = common::write_server_cert(dir.path());
    let admin = ApiKey::generate().unwrap();
    common::secrets::record_api_key(&admin);
    let config = write_config(dir.path(), &admin, "  fs:\n    path: keys\n");
    let kes = KesChild::spawn(&config).await;
    let mut s = Setup {
        kes,
        cert,
        admin,
        proxy: None,
        baseline: (0, 0),
    };
    let c = s.client();
    assert_eq!(s.create(&c, "before").await.0, 200);
    drop(c);
    s.settle().await;

    // Fill the file system: data blocks first, then inodes are left, so
    // the key's temp file is created but its write fails.
    let filler = keys.join(".tmp-filler");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.write_all(&[0u8; 1]);
    }
    let c = s.client();
    for i in 0..5 {
        assert_eq!(
            s.create(&c, &format!("full-{i}")).await,
            (502, "failed to create key".to_owned())
        );
    }
    assert_eq!(s.generate(&c, "before").await.0, 200, "reads keep working");
    let left: Vec<_> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != ".tmp-filler")
        .collect();
    assert_eq!(left, ["before"], "a failed create leaves nothing behind");

    std::fs::remove_file(&filler).unwrap();
    assert_eq!(s.create(&c, "after").await.0, 200, "space freed");
    assert_eq!(s.generate(&c, "after").await.0, 200);
    drop(c);
    s.back_to_baseline("disk full").await;
}
