//! End-to-end key API over real TLS: every key endpoint with the admin API
//! key, the MinIO identity's policy, concurrency of create, and decrypt
//! failures (wrong context, wrong key, tampered ciphertext).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{TestServer, status_message};
use serde_json::{Value, json};

async fn post(c: &reqwest::Client, url: String, body: Value) -> reqwest::Response {
    c.post(url).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn admin_can_use_every_key_endpoint() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);

    let r = c.post(s.url("/v1/key/create/my-key")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-length").unwrap(), "0");
    assert!(r.headers().get("content-type").is_none());

    let d: Value = c
        .get(s.url("/v1/key/describe/my-key"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["name"], "my-key");
    assert_eq!(d["algorithm"], "AES256");
    assert_eq!(d["created_by"], s.admin.identity());
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'));

    // PUT works where PUT is declared, POST too.
    let r = c
        .put(s.url("/v1/key/create/other-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let l: Value = c
        .get(s.url("/v1/key/list/my-*"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l["names"], json!(["my-key"]));
    assert!(
        l.get("continue_at").is_none_or(|c| c == ""),
        "one page: {l}"
    );
    let l: Value = c
        .get(s.url("/v1/key/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l["names"], json!(["my-key", "other-key"]));
    let l: Value = c
        .get(s.url("/v1/key/list/*"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l["names"], json!(["my-key", "other-key"]));

    // generate (body optional) → decrypt with the same context
    let ctx = B64.encode(br#"{"bucket":"b/o"}"#);
    let g: Value = post(
        &c,
        s.url("/v1/key/generate/my-key"),
        json!({"context": ctx}),
    )
    .await
    .json()
    .await
    .unwrap();
    let dek = B64.decode(g["plaintext"].as_str().unwrap()).unwrap();
    assert_eq!(dek.len(), 32);
    assert_eq!(
        B64.decode(g["ciphertext"].as_str().unwrap()).unwrap().len(),
        32 + 44
    );
    let d: Value = post(
        &c,
        s.url("/v1/key/decrypt/my-key"),
        json!({"ciphertext": g["ciphertext"], "context": ctx}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(d["plaintext"], g["plaintext"]);
    let g2: Value = c
        .post(s.url("/v1/key/generate/my-key"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(g2["plaintext"], g["plaintext"]);

    // encrypt → decrypt, with unknown and version fields ignored
    let pt = B64.encode(b"hello world");
    let e: Value = post(
        &c,
        s.url("/v1/key/encrypt/my-key"),
        json!({"plaintext": pt, "version": "v1", "extra": 1}),
    )
    .await
    .json()
    .await
    .unwrap();
    let d: Value = post(
        &c,
        s.url("/v1/key/decrypt/my-key?enclave=foo"),
        json!({"Ciphertext": e["ciphertext"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(d["plaintext"], pt);

    // bulk decrypt
    let items =
        json!([{"ciphertext": e["ciphertext"]}, {"ciphertext": g["ciphertext"], "context": ctx}]);
    let b: Value = post(&c, s.url("/v1/key/bulk/decrypt/my-key"), items)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b, json!([{"plaintext": pt}, {"plaintext": g["plaintext"]}]));

    // hmac: PUT without content type, deterministic, per key
    let msg = B64.encode(b"root access key");
    let h1: Value = c
        .put(s.url("/v1/key/hmac/my-key"))
        .body(json!({"message": msg}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let h2: Value = post(&c, s.url("/v1/key/hmac/my-key"), json!({"message": msg}))
        .await
        .json()
        .await
        .unwrap();
    let h3: Value = post(&c, s.url("/v1/key/hmac/other-key"), json!({"message": msg}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(h1, h2);
    assert_ne!(h1, h3);
    assert_eq!(B64.decode(h1["hmac"].as_str().unwrap()).unwrap().len(), 32);

    // import (current and legacy bodies) then decrypt what it encrypts
    let raw = B64.encode([7u8; 32]);
    let r = post(
        &c,
        s.url("/v1/key/import/imported"),
        json!({"key": raw, "cipher": "AES256"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &c,
        s.url("/v1/key/import/legacy-imported"),
        json!({"bytes": raw}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let e1: Value = post(
        &c,
        s.url("/v1/key/encrypt/imported"),
        json!({"plaintext": pt}),
    )
    .await
    .json()
    .await
    .unwrap();
    let d: Value = post(
        &c,
        s.url("/v1/key/decrypt/legacy-imported"),
        json!({"ciphertext": e1["ciphertext"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        d["plaintext"], pt,
        "same imported key bytes decrypt each other's ciphertexts"
    );

    // delete, then it is gone
    let r = c
        .delete(s.url("/v1/key/delete/my-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (st, msg) = status_message(
        c.get(s.url("/v1/key/describe/my-key"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, msg.as_str()), (404, "key does not exist"));
    s.running.stop().await;
}

#[tokio::test]
async fn minio_identity_may_generate_but_not_delete() {
    let s = TestServer::start().await;
    let admin = s.client(&s.admin);
    let minio = s.client(&s.minio);
    assert_eq!(
        admin
            .post(s.url("/v1/key/create/minio-key"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let r = minio
        .post(s.url("/v1/key/generate/minio-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let g: Value = r.json().await.unwrap();
    let d = post(
        &minio,
        s.url("/v1/key/decrypt/minio-key"),
        json!({"ciphertext": g["ciphertext"]}),
    )
    .await;
    assert_eq!(d.status(), 200);
    // MinIO's empty-prefix listing form (no trailing slash) is checked as /v1/key/list/.
    assert_eq!(
        minio
            .get(s.url("/v1/key/list"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        minio
            .get(s.url("/v1/key/describe/minio-key"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        minio
            .get(s.url("/v1/status"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let (st, msg) = status_message(
        minio
            .delete(s.url("/v1/key/delete/minio-key"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (st, msg.as_str()),
        (403, "not authorized: insufficient permissions")
    );
    let (st, _) = status_message(minio.get(s.url("/v1/policy/list/")).send().await.unwrap()).await;
    assert_eq!(st, 403);
    // the key is still there
    assert_eq!(
        admin
            .get(s.url("/v1/key/describe/minio-key"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.running.stop().await;
}

#[tokio::test]
async fn unknown_identity_is_forbidden_everywhere_but_version_and_self() {
    let s = TestServer::start().await;
    let c = s.client(&s.unknown);
    for path in [
        "/v1/status",
        "/v1/key/list/",
        "/v1/api",
        "/v1/ready",
        "/v1/key/describe/x",
        "/v1/policy/list/",
    ] {
        let (st, msg) = status_message(c.get(s.url(path)).send().await.unwrap()).await;
        assert_eq!(
            (st, msg.as_str()),
            (403, "not authorized: insufficient permissions"),
            "{path}"
        );
    }
    let (st, msg) = status_message(c.post(s.url("/v1/key/create/k")).send().await.unwrap()).await;
    assert_eq!(
        (st, msg.as_str()),
        (403, "not authorized: insufficient permissions")
    );
    assert_eq!(c.get(s.url("/version")).send().await.unwrap().status(), 200);
    let (st, msg) = status_message(
        c.get(s.url("/v1/identity/self/describe"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, msg.as_str()), (404, "identity does not exist"));
    s.running.stop().await;
}

#[tokio::test]
async fn hundred_concurrent_creates_make_exactly_one_key() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let c = c.clone();
        let url = s.url("/v1/key/create/contended");
        tasks.push(tokio::spawn(async move {
            status_message(c.post(url).send().await.unwrap()).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            (200, _) => ok += 1,
            (400, m) => assert_eq!(m, "key already exists"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    // The key that won still decrypts what it encrypted before a re-create attempt.
    let e: Value = post(
        &c,
        s.url("/v1/key/encrypt/contended"),
        json!({"plaintext": B64.encode(b"x")}),
    )
    .await
    .json()
    .await
    .unwrap();
    let (st, _) = status_message(
        c.post(s.url("/v1/key/create/contended"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    let d = post(
        &c,
        s.url("/v1/key/decrypt/contended"),
        json!({"ciphertext": e["ciphertext"]}),
    )
    .await;
    assert_eq!(d.status(), 200, "the existing key was not overwritten");
    let files: Vec<_> = std::fs::read_dir(s.dir.path().join("keys"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1, "one key file, no temp files left");
    s.running.stop().await;
}

#[tokio::test]
async fn decrypt_fails_with_wrong_context_wrong_key_or_tampering() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    for k in ["k1", "k2"] {
        assert_eq!(
            c.post(s.url(&format!("/v1/key/create/{k}")))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let ctx = B64.encode(b"ctx-a");
    let g: Value = post(&c, s.url("/v1/key/generate/k1"), json!({"context": ctx}))
        .await
        .json()
        .await
        .unwrap();
    let ct = g["ciphertext"].as_str().unwrap().to_owned();
    let not_authentic = (
        400,
        "decryption failed: ciphertext is not authentic".to_owned(),
    );

    let wrong_ctx = post(
        &c,
        s.url("/v1/key/decrypt/k1"),
        json!({"ciphertext": ct, "context": B64.encode(b"ctx-b")}),
    )
    .await;
    assert_eq!(status_message(wrong_ctx).await, not_authentic);
    let no_ctx = post(&c, s.url("/v1/key/decrypt/k1"), json!({"ciphertext": ct})).await;
    assert_eq!(status_message(no_ctx).await, not_authentic);
    let wrong_key = post(
        &c,
        s.url("/v1/key/decrypt/k2"),
        json!({"ciphertext": ct, "context": ctx}),
    )
    .await;
    assert_eq!(status_message(wrong_key).await, not_authentic);
    let mut raw = B64.decode(&ct).unwrap();
    for i in [0, 10, raw.len() - 29, raw.len() - 1] {
        raw[i] ^= 1;
        let r = post(
            &c,
            s.url("/v1/key/decrypt/k1"),
            json!({"ciphertext": B64.encode(&raw), "context": ctx}),
        )
        .await;
        assert_eq!(status_message(r).await, not_authentic, "flipped byte {i}");
        raw[i] ^= 1;
    }
    let short = post(
        &c,
        s.url("/v1/key/decrypt/k1"),
        json!({"ciphertext": B64.encode([1u8; 28])}),
    )
    .await;
    assert_eq!(status_message(short).await, not_authentic);
    let ok = post(
        &c,
        s.url("/v1/key/decrypt/k1"),
        json!({"ciphertext": ct, "context": ctx}),
    )
    .await;
    assert_eq!(ok.status(), 200);
    s.running.stop().await;
}
