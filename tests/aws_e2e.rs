//! End to end on a real moto server: a `kes` server whose
//! `keystore.aws.secretsmanager` section points at moto serves create /
//! generate / decrypt, and awscli sees the key stored in KES's format; moto
//! stopped mid-run (cached keys keep working with `cache.expiry.offline`,
//! 502 without it, the server stays up) and back on the same port (moto is
//! in memory: the server recovers, new keys can be created again).
//!
//! The key cache's health probe is shortened to 100 ms; waits poll a
//! condition with a deadline.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

#[path = "../keystores/tests/aws_support/mod.rs"]
mod aws_support;
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use aws_support::{ACCESS_KEY, Moto, REGION, SECRET_KEY, poll};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::ApiKey;
use serde_json::{Value, json};

use common::backend::Kes;

/// Starts a server on `moto` (static credentials) with extra top-level YAML
/// `extra`.
async fn start(moto: &Moto, extra: &str) -> Kes {
    let section = format!(
        "  aws:\n    secretsmanager:\n      endpoint: {}\n      region: {REGION}\n\
         \x20     credentials:\n        accesskey: {ACCESS_KEY}\n        secretkey: {SECRET_KEY}\n",
        moto.endpoint(),
    );
    Kes::start(&section, extra).await
}

#[tokio::test]
async fn a_kes_server_on_moto_creates_generates_and_decrypts() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let kes = start(&moto, "").await;
    assert_eq!(kes.create("my-key").await, 200);
    assert_eq!(kes.create("my-key").await, 400, "key already exists");
    let (st, dek) = kes.generate("my-key").await;
    assert_eq!(st, 200);
    let ctx = B64.encode(b"{\"bucket\":\"b/o\"}");
    let (st, sealed) = kes
        .post(
            "/v1/key/encrypt/my-key",
            json!({"plaintext": dek["plaintext"], "context": ctx}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, pt) = kes.decrypt("my-key", &dek["ciphertext"], "").await;
    assert_eq!((st, &pt["plaintext"]), (200, &dek["plaintext"]));
    let (st, pt) = kes.decrypt("my-key", &sealed["ciphertext"], &ctx).await;
    assert_eq!((st, &pt["plaintext"]), (200, &dek["plaintext"]));
    let (st, list) = kes.get("/v1/key/list/my").await;
    assert_eq!((st, &list["names"]), (200, &json!(["my-key"])));
    assert_eq!(
        kes.get("/v1/status").await.1["keystore_unreachable"],
        Value::Null
    );

    // awscli sees it where KES stores it: secret "my-key", SecretString =
    // base64(protobuf KeyVersion) with a 32-byte AES256 key.
    let got = moto.aws_ok(&[
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "my-key",
    ]);
    let stored = got["SecretString"].as_str().unwrap();
    let proto = B64.decode(stored).unwrap();
    assert_eq!(proto[0], 0x0a, "field 1 (SecretKey), length-delimited");
    assert_eq!(proto[2..4], [0x0a, 32], "SecretKey.Key: 32 bytes");

    let resp = kes
        .client
        .delete(kes.url("/v1/key/delete/my-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let err = moto
        .aws(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "my-key",
        ])
        .unwrap_err();
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    assert_eq!(kes.generate("my-key").await.0, 404);
    kes.running.stop().await;
}

#[tokio::test]
async fn moto_stopped_mid_run_then_back() {
    let Some(mut moto) = Moto::start().await else {
        return;
    };
    let long = "cache:\n  expiry:\n    any: 1h\n    unused: 1h\n";
    let offline = start(&moto, &format!("{long}    offline: 10m\n")).await;
    let plain = start(&moto, long).await;

    assert_eq!(offline.create("cached").await, 200);
    let (st, dek) = offline.generate("cached").await;
    assert_eq!(st, 200, "read once: now cached");
    assert_eq!(plain.create("never-read").await, 200);

    moto.stop().await;
    offline.ready_becomes(504).await;
    plain.ready_becomes(504).await;
    assert_eq!(
        offline.get("/v1/status").await.1["keystore_unreachable"],
        true
    );

    // With the offline cache: cached keys keep working, the store does not.
    let (st, fresh) = offline.generate("cached").await;
    assert_eq!(st, 200);
    let (st, pt) = offline.decrypt("cached", &dek["ciphertext"], "").await;
    assert_eq!((st, &pt["plaintext"]), (200, &dek["plaintext"]));
    assert_eq!(offline.create("new-while-down").await, 502);

    // Without it: 502 for a key not in the cache; the server stays up.
    let (st, body) = plain.generate("never-read").await;
    assert_eq!(
        (st, body["message"].as_str()),
        (502, Some("failed to read key"))
    );
    assert_eq!(plain.get("/version").await.0, 200);
    assert_eq!(plain.get("/v1/key/list/").await.0, 502);

    // Back on the same port, empty (moto keeps state in memory).
    moto.restart().await;
    offline.ready_becomes(200).await;
    plain.ready_becomes(200).await;
    assert_eq!(plain.create("after").await, 200, "recovered");
    assert_eq!(plain.generate("after").await.0, 200);
    assert_eq!(plain.generate("never-read").await.0, 404, "moto lost it");
    assert_eq!(offline.create("new-while-down").await, 200);
    let (st, pt) = offline.decrypt("cached", &fresh["ciphertext"], "").await;
    assert_eq!((st, &pt["plaintext"]), (200, &fresh["plaintext"]));

    // The failures were logged, without credentials.
    let logs = plain.log_text();
    assert!(logs.contains("failed to read key"), "{logs}");
    assert!(
        !logs.contains(SECRET_KEY) && !offline.log_text().contains(SECRET_KEY),
        "the secret key must never be logged"
    );
    offline.running.stop().await;
    plain.running.stop().await;
}

/// `kes server` as its own process, with no `credentials:` in the section:
/// the SDK's default chain finds the keys in the environment.
#[tokio::test]
async fn a_kes_process_uses_the_default_credential_chain() {
    use tokio::io::AsyncReadExt as _;

    let Some(moto) = Moto::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let admin = ApiKey::generate().unwrap();
    let config = format!(
        "admin:\n  identity: {}\ntls:\n  key: server.key\n  cert: server.crt\n\
         keystore:\n  aws:\n    secretsmanager:\n      endpoint: {}\n      region: {REGION}\n      credentials:\n        accesskey: \"\"\n",
        admin.identity(),
        moto.endpoint(),
    );
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["server", "--addr", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("no-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut pipe = child.stdout.take().unwrap();
    let sink = std::sync::Arc::clone(&stdout);
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf).await {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let addr: SocketAddr = poll("the Endpoint line", Duration::from_secs(60), || {
        let text = stdout.lock().unwrap().clone();
        async move {
            text.lines().find_map(|l| {
                l.strip_prefix("Endpoint     https://")
                    .and_then(|a| a.trim().parse().ok())
            })
        }
    })
    .await;
    let ck = admin.certificate().unwrap();
    let pem = format!("{}{}", ck.key_pem.as_str(), ck.cert_pem);
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.as_bytes()).unwrap()])
        .identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = client
        .post(format!("https://{addr}/v1/key/create/from-env"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = moto.aws_ok(&[
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "from-env",
    ]);
    assert!(
        got["SecretString"].as_str().is_some_and(|s| !s.is_empty()),
        "{got}"
    );
    child.kill().await.unwrap();
}
