//! The real `kes` binary as a child process: SIGHUP reloads a valid config and
//! keeps serving on a broken one, SIGTERM closes the listener, drains requests
//! in flight and exits 0 (with `--log-format json` lines), and no key
//! material, plaintext or API key appears in any log output or log stream.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod ops;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::ApiKey;
use common::prom::parse_prometheus;
use ops::{Lines, eventually, partial_request_to, reqwest_trusting, write_atomic};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

struct Kes {
    child: tokio::process::Child,
    addr: SocketAddr,
    stdout: Arc<std::sync::Mutex<String>>,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Kes {
    async fn spawn(config: &std::path::Path, extra_args: &[&str]) -> Kes {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
            .args(["server", "--config"])
            .arg(config)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra_args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        for (pipe, sink) in [
            (
                Box::new(child.stdout.take().unwrap())
                    as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                stdout.clone(),
            ),
            (Box::new(child.stderr.take().unwrap()), stderr.clone()),
        ] {
            tokio::spawn(async move {
                let mut pipe = pipe;
                let mut buf = [0u8; 8192];
                loop {
                    match pipe.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let text = String::from_utf8_lossy(&buf[..n]);
                            // Into the suite's output too, for the secrets scan of scripts/test.sh.
                            eprint!("{text}");
                            sink.lock().unwrap().push_str(&text);
                        }
                    }
                }
            });
        }
        let mut addr = None;
        eventually("the Endpoint line", Duration::from_secs(30), || {
            let text = stdout.lock().unwrap().clone();
            addr = text.lines().find_map(|l| {
                l.strip_prefix("Endpoint     https://")
                    .and_then(|a| a.trim().parse().ok())
            });
            async move { addr.is_some() }
        })
        .await;
        Kes {
            child,
            addr: addr.unwrap(),
            stdout,
            stderr,
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().unwrap().to_string();
        let st = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }

    fn output(&self) -> String {
        format!(
            "{}{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }
}

struct Files {
    dir: tempfile::TempDir,
    cert: String,
    admin: ApiKey,
    minio: ApiKey,
    auditor: ApiKey,
    unknown: ApiKey,
}

fn files(extra: &str) -> (Files, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let f = Files {
        dir,
        cert,
        admin: ApiKey::generate().unwrap(),
        minio: ApiKey::generate().unwrap(),
        auditor: ApiKey::generate().unwrap(),
        unknown: ApiKey::generate().unwrap(),
    };
    for k in [&f.admin, &f.minio, &f.auditor, &f.unknown] {
        common::secrets::record_api_key(k);
    }
    let path = common::write_config(f.dir.path(), &f.admin, &f.minio, &f.auditor, extra);
    (f, path)
}

#[tokio::test]
async fn sighup_reloads_a_valid_config_and_keeps_serving_on_a_broken_one() {
    let (f, path) = files("log:\n  error: INFO\n");
    let kes = Kes::spawn(&path, &[]).await;
    let st = |k: &ApiKey, pem: &str, p: &str| {
        let c = reqwest_trusting(pem, k);
        let url = kes.url(p);
        async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(st(&f.unknown, &f.cert, "/v1/status").await.unwrap(), 403);

    // valid: unknown gets the auditor policy, and a new server certificate
    let cert2 = common::write_server_cert(f.dir.path());
    common::write_config(f.dir.path(), &f.admin, &f.minio, &f.unknown, "");
    kes.signal("HUP");
    eventually(
        "SIGHUP applied the new config",
        Duration::from_secs(30),
        || st(&f.unknown, &cert2, "/v1/status").then_some_200(),
    )
    .await;
    assert_eq!(st(&f.auditor, &cert2, "/v1/status").await.unwrap(), 403);
    assert!(
        st(&f.admin, &f.cert, "/version").await.is_err(),
        "old cert gone"
    );

    // broken: rejected, logged, and the previous config keeps serving
    write_atomic(&path, "admin:\n  identity: ${KES_TEST_UNSET_VARIABLE}\n");
    kes.signal("HUP");
    eventually(
        "the reload failure is logged",
        Duration::from_secs(30),
        || {
            let text = kes.stderr.lock().unwrap().clone();
            async move { text.contains("reload failed") }
        },
    )
    .await;
    let err_line = kes
        .stderr
        .lock()
        .unwrap()
        .lines()
        .find(|l| l.contains("reload failed"))
        .unwrap()
        .to_owned();
    assert!(err_line.contains("level=ERROR"), "{err_line}");
    assert!(err_line.contains("KES_TEST_UNSET_VARIABLE"), "{err_line}");
    assert_eq!(st(&f.unknown, &cert2, "/v1/status").await.unwrap(), 200);
    assert_eq!(st(&f.admin, &cert2, "/v1/status").await.unwrap(), 200);
    let mut kes = kes;
    kes.signal("TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), kes.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// Turns a status future into "is it 200" for `eventually`.
trait ThenSome200 {
    fn then_some_200(self) -> impl std::future::Future<Output = bool>;
}

impl<F: std::future::Future<Output = reqwest::Result<u16>>> ThenSome200 for F {
    async fn then_some_200(self) -> bool {
        matches!(self.await, Ok(200))
    }
}

#[tokio::test]
async fn sigterm_drains_requests_in_flight_and_exits() {
    let (f, path) = files("log:\n  audit: on\n");
    let kes = Kes::spawn(&path, &["--log-format", "json"]).await;
    let admin = reqwest_trusting(&f.cert, &f.admin);
    assert_eq!(
        admin
            .post(kes.url("/v1/key/create/k"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let g: Value = admin
        .post(kes.url("/v1/key/generate/k"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = serde_json::to_vec(&json!({"ciphertext": g["ciphertext"]})).unwrap();
    let mut slow = Vec::new();
    for _ in 0..10 {
        slow.push(
            partial_request_to(
                kes.addr,
                &f.cert,
                &f.minio,
                "POST",
                "/v1/key/decrypt/k",
                &body,
            )
            .await,
        );
    }
    eventually("10 requests in flight", Duration::from_secs(30), || {
        let admin = admin.clone();
        let url = kes.url("/v1/metrics");
        async move {
            let text = admin.get(url).send().await.unwrap().text().await.unwrap();
            parse_prometheus(&text).unwrap()["kes_http_request_active"].samples[0].value >= 11.0
        }
    })
    .await;
    kes.signal("TERM");
    // the listener closes: new connections are refused
    eventually("the listener closed", Duration::from_secs(30), || {
        let addr = kes.addr;
        async move { tokio::net::TcpStream::connect(addr).await.is_err() }
    })
    .await;
    // every request in flight completes
    for p in slow {
        let resp = p.finish().await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(resp.contains(g["plaintext"].as_str().unwrap()));
    }
    let mut kes = kes;
    let status = tokio::time::timeout(Duration::from_secs(30), kes.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    // --log-format json: every stderr and stdout log line is a JSON object
    let stderr = kes.stderr.lock().unwrap().clone();
    let stdout = kes.stdout.lock().unwrap().clone();
    let mut msgs = Vec::new();
    for line in stderr.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("JSON: {line}"));
        assert!(v["time"].is_string() && v["level"].is_string(), "{line}");
        msgs.push(v["msg"].as_str().unwrap().to_owned());
    }
    assert!(msgs.iter().any(|m| m.contains("shutting down")), "{msgs:?}");
    let audit: Vec<Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        audit
            .iter()
            .filter(|v| v["request"]["path"] == "/v1/key/decrypt/k" && v["response"]["code"] == 200)
            .count()
            == 10,
        "one audit event per drained request: {stdout}"
    );
}

#[tokio::test]
async fn no_key_material_or_api_key_in_any_log_or_stream() {
    let (f, path) = files("log:\n  error: DEBUG\n  audit: on\n");
    let kes = Kes::spawn(&path, &[]).await;
    let admin = reqwest_trusting(&f.cert, &f.admin);
    let auditor = reqwest_trusting(&f.cert, &f.auditor);
    let mut audit = Lines::open(&auditor, kes.url("/v1/log/audit")).await;
    let mut errors = Lines::open(&auditor, kes.url("/v1/log/error")).await;

    let imported = [0x5au8; 32];
    let plaintext = b"top secret plaintext 1234";
    let post = |p: &str, body: Value| admin.post(kes.url(p)).json(&body).send();
    assert_eq!(
        post(
            "/v1/key/import/imp",
            json!({"key": B64.encode(imported), "cipher": "AES256"})
        )
        .await
        .unwrap()
        .status(),
        200
    );
    admin
        .post(kes.url("/v1/key/create/k"))
        .send()
        .await
        .unwrap();
    let g: Value = post("/v1/key/generate/k", json!({"context": B64.encode(b"ctx")}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let e: Value = post(
        "/v1/key/encrypt/imp",
        json!({"plaintext": B64.encode(plaintext)}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let d: Value = post(
        "/v1/key/decrypt/imp",
        json!({"ciphertext": e["ciphertext"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(d["plaintext"], B64.encode(plaintext));
    let h = admin
        .put(kes.url("/v1/key/hmac/k"))
        .json(&json!({"message": B64.encode(b"msg")}))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    // failures too: wrong context, bad bodies, a corrupted stored key
    post("/v1/key/decrypt/k", json!({"ciphertext": g["ciphertext"]}))
        .await
        .unwrap();
    post("/v1/key/import/imp2", json!({"key": B64.encode([1u8; 31])}))
        .await
        .unwrap();
    std::fs::write(f.dir.path().join("keys/corrupt"), B64.encode(imported)).unwrap();
    post("/v1/key/generate/corrupt", json!({})).await.unwrap();
    // a reload, at DEBUG
    kes.signal("HUP");
    errors
        .until(|v| {
            v["message"]
                .as_str()
                .unwrap()
                .contains("configuration reloaded")
        })
        .await;
    audit
        .until(|v| v["request"]["path"] == "/v1/key/generate/corrupt")
        .await;
    let mut streamed = String::new();
    // what the streams delivered so far
    while let Ok(Some(v)) = tokio::time::timeout(Duration::from_millis(300), audit.next()).await {
        streamed.push_str(&v.to_string());
    }
    while let Ok(Some(v)) = tokio::time::timeout(Duration::from_millis(300), errors.next()).await {
        streamed.push_str(&v.to_string());
    }
    drop((audit, errors));
    let mut kes = kes;
    kes.signal("TERM");
    tokio::time::timeout(Duration::from_secs(30), kes.child.wait())
        .await
        .unwrap()
        .unwrap();
    let logs = kes.output() + &streamed;
    assert!(
        logs.contains("req.path=/v1/key/generate/k"),
        "audit lines present"
    );
    assert!(logs.contains("level=ERROR"), "error lines present");

    let stored = std::fs::read_to_string(f.dir.path().join("keys/k")).unwrap();
    let api_key = f.admin.to_string();
    let mut secrets: Vec<(String, String)> = vec![
        ("admin API key".into(), api_key.clone()),
        (
            "admin API key (base64 part)".into(),
            api_key.trim_start_matches("kes:v1:").to_owned(),
        ),
        ("auditor API key".into(), f.auditor.to_string()),
        ("imported key (base64)".into(), B64.encode(imported)),
        ("imported key (hex)".into(), hex::encode(imported)),
        ("stored key value".into(), stored.trim().to_owned()),
        (
            "generated plaintext".into(),
            g["plaintext"].as_str().unwrap().to_owned(),
        ),
        (
            "encrypt plaintext".into(),
            String::from_utf8_lossy(plaintext).into_owned(),
        ),
        ("encrypt plaintext (base64)".into(), B64.encode(plaintext)),
    ];
    let dek = B64.decode(g["plaintext"].as_str().unwrap()).unwrap();
    secrets.push(("generated plaintext (hex)".into(), hex::encode(&dek)));
    for (what, secret) in secrets {
        common::secrets::record_text(&what, &secret);
        assert!(secret.len() >= 16, "{what} is a meaningful needle");
        assert!(!logs.contains(&secret), "{what} appears in the logs");
        // also a 16-character slice, against partial leaks
        assert!(
            !logs.contains(&secret[..16]),
            "part of {what} appears in the logs"
        );
    }
}
