//! End to end on a real OpenBao: a `kes` server whose `keystore.vault`
//! section points at OpenBao serves create / generate / decrypt; OpenBao is
//! stopped mid-run (cached keys keep working with `cache.expiry.offline`,
//! 502 without it, the server stays up, and it recovers when OpenBao
//! returns); a token living three seconds is renewed without failed requests;
//! secrets written by hand in KES's layout (legacy JSON and protobuf values)
//! are read and decrypt KES's known-answer ciphertexts.
//!
//! The key cache's health probe is shortened to 100 ms; waits poll a
//! condition with a deadline.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
#[path = "../keystores/tests/vault_support/mod.rs"]
mod vault_support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use vault_support::{OpenBao, kes_policy};

use common::backend::Kes;

/// Starts a server whose `keystore.vault` section is `vault` (its lines,
/// indented by four spaces), with extra top-level YAML `extra`.
async fn start(vault: &str, extra: &str) -> Kes {
    Kes::start(&format!("  vault:\n{vault}"), extra).await
}

/// K/V v2 at `kv` and an AppRole limited to it; the YAML for it (its
/// secret ID is the line's last word after `secret: `).
async fn vault_section(bao: &OpenBao, role_opts: Value) -> String {
    bao.mount_kv(None, "kv", 2).await;
    let (id, secret) = bao
        .approle(None, "kes", &kes_policy("kv", 2, None), role_opts)
        .await;
    format!(
        "    endpoint: {}\n    engine: kv\n    version: v2\n    prefix: kes\n    approle:\n      id: {id}\n      secret: {secret}\n    status:\n      ping: 1s\n",
        bao.endpoint()
    )
}

#[tokio::test]
async fn a_kes_server_on_openbao_creates_generates_and_decrypts() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let kes = start(&vault_section(&bao, json!({})).await, "").await;
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
        kes.get("/v1/key/describe/my-key").await.1["algorithm"],
        "AES256"
    );
    assert_eq!(
        kes.get("/v1/status").await.1["keystore_unreachable"],
        Value::Null
    );

    // Stored where KES stores it, as base64(protobuf KeyVersion).
    let raw = bao.ok("GET", "kv/data/kes/my-key", None).await;
    let stored = raw["data"]["data"]["my-key"].as_str().unwrap();
    let proto = B64.decode(stored).unwrap();
    assert_eq!(proto[0], 0x0a, "field 1 (SecretKey), length-delimited");

    let resp = kes
        .client
        .delete(kes.url("/v1/key/delete/my-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        bao.call(None, "GET", "kv/metadata/kes/my-key", None)
            .await
            .map(|r| r.0),
        Some(404)
    );
    assert_eq!(kes.generate("my-key").await.0, 404);
    kes.running.stop().await;
}

#[tokio::test]
async fn openbao_stopped_mid_run_then_back() {
    let Some(mut bao) = OpenBao::persistent().await else {
        return;
    };
    let section = vault_section(&bao, json!({})).await;
    let long = "cache:\n  expiry:\n    any: 1h\n    unused: 1h\n";
    let offline = start(&section, &format!("{long}    offline: 10m\n")).await;
    let plain = start(&section, long).await;

    assert_eq!(offline.create("cached").await, 200);
    let (st, dek) = offline.generate("cached").await;
    assert_eq!(st, 200, "read once: now cached");
    assert_eq!(plain.create("never-read").await, 200);

    bao.stop().await;
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

    bao.restart().await;
    offline.ready_becomes(200).await;
    plain.ready_becomes(200).await;
    assert_eq!(plain.generate("never-read").await.0, 200, "recovered");
    assert_eq!(offline.create("new-while-down").await, 200);
    let (st, pt) = offline.decrypt("cached", &fresh["ciphertext"], "").await;
    assert_eq!((st, &pt["plaintext"]), (200, &fresh["plaintext"]));
    // The failures were logged, without credentials.
    let secret = section
        .split("secret: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    let logs = plain.log_text();
    assert!(logs.contains("failed to read key"), "{logs}");
    assert!(
        !logs.contains(secret),
        "the AppRole secret must never be logged"
    );
    offline.running.stop().await;
    plain.running.stop().await;
}

#[tokio::test]
async fn a_three_second_token_is_renewed_without_failed_requests() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let section = vault_section(&bao, json!({"token_ttl": "3s", "token_max_ttl": "7s"})).await;
    let kes = start(&section, "").await;
    // Every request reaches OpenBao: a create, and the first read of it.
    let end = Instant::now() + Duration::from_secs(10);
    let mut i = 0;
    while Instant::now() < end {
        let name = format!("k{i}");
        assert_eq!(kes.create(&name).await, 200, "create {i}");
        assert_eq!(kes.generate(&name).await.0, 200, "generate {i}");
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kes.running.stop().await;
}

/// Protobuf: a length-delimited field.
fn pb_bytes(field: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![(field << 3) | 2];
    pb_varint_raw(&mut out, data.len() as u64);
    out.extend_from_slice(data);
    out
}

/// Protobuf: a varint field.
fn pb_varint(field: u8, v: u64) -> Vec<u8> {
    let mut out = vec![field << 3];
    pb_varint_raw(&mut out, v);
    out
}

fn pb_varint_raw(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `base64(KeyVersion)` for an AES256 key, built by hand from
/// `internal/protobuf/crypto.proto`.
fn protobuf_value(key: &[u8], hmac: &[u8]) -> String {
    let secret = [pb_bytes(1, key), pb_varint(2, 1)].concat();
    let hmac = [pb_bytes(1, hmac), pb_varint(2, 1)].concat();
    let created = pb_varint(1, 1_700_000_000);
    let version = [
        pb_bytes(1, &secret),
        pb_bytes(2, &hmac),
        pb_bytes(3, &created),
        pb_bytes(
            4,
            b"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22",
        ),
    ]
    .concat();
    B64.encode(version)
}

/// The decrypt vectors of `kes-vectors.json` with `cipher` and `format`.
fn vectors(cipher: &str, format: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/kes-vectors.json"),
    )
    .unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all["decrypt"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["cipher"] == cipher && v["format"] == format)
        .cloned()
        .collect()
}

#[tokio::test]
async fn secrets_written_by_hand_in_kes_layout_decrypt_kes_ciphertexts() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let section = vault_section(&bao, json!({})).await;
    let mut cases = Vec::new();
    for (cipher, format, algorithm) in [
        ("AES256", "raw", None),
        ("AES256", "json", Some("AES256-GCM_SHA256")),
        ("ChaCha20", "json", Some("XCHACHA20-POLY1305")),
    ] {
        let vector = vectors(cipher, format).into_iter().next().unwrap();
        let key = B64.decode(vector["key_b64"].as_str().unwrap()).unwrap();
        let (name, value) = match algorithm {
            None => ("proto-key".to_owned(), protobuf_value(&key, &[7u8; 32])),
            Some(alg) => (
                format!("legacy-{}", cipher.to_lowercase()),
                json!({
                    "bytes": vector["key_b64"], "algorithm": alg,
                    "created_at": "2021-01-01T00:00:00Z", "created_by": "legacy",
                })
                .to_string(),
            ),
        };
        // As KES writes it: one field named after the key, cas 0.
        let body = json!({"data": { name.clone(): value }, "options": {"cas": 0}});
        bao.ok("POST", &format!("kv/data/kes/{name}"), Some(body))
            .await;
        cases.push((name, vector));
    }

    let kes = start(&section, "").await;
    for (name, vector) in &cases {
        let ciphertext = match vector.get("ciphertext_text") {
            Some(text) => json!(B64.encode(text.as_str().unwrap())),
            None => vector["ciphertext_b64"].clone(),
        };
        let context = vector["context_b64"].as_str().unwrap();
        let (st, pt) = kes.decrypt(name, &ciphertext, context).await;
        assert_eq!(
            (st, &pt["plaintext"]),
            (200, &vector["plaintext_b64"]),
            "{name}"
        );
    }
    let (st, list) = kes.get("/v1/key/list/").await;
    assert_eq!(
        (st, &list["names"]),
        (
            200,
            &json!(["legacy-aes256", "legacy-chacha20", "proto-key"])
        )
    );
    let hmac = |name: &str| {
        let (kes, name) = (&kes, name.to_owned());
        async move {
            let resp = kes
                .client
                .put(kes.url(&format!("/v1/key/hmac/{name}")))
                .json(&json!({"message": B64.encode(b"m")}))
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }
    };
    assert_eq!(
        hmac("proto-key").await,
        200,
        "the protobuf value carries an HMAC key"
    );
    assert_eq!(
        hmac("legacy-aes256").await,
        409,
        "legacy JSON values have none"
    );
    kes.running.stop().await;
}

/// Runs `kes migrate --from <from> --to <to>` and asserts it succeeds.
async fn migrate(from: &std::path::Path, to: &std::path::Path) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["migrate", "-q", "--from"])
        .arg(from)
        .arg("--to")
        .arg(to)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "kes migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn migrate_fs_to_openbao_and_back_keeps_every_key_and_its_state() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    // Keys on the filesystem: plain, rotated twice, disabled, legacy-free.
    let fs = common::TestServer::start().await;
    let admin = fs.client(&fs.admin);
    let call = |path: &str| admin.post(fs.url(path)).json(&json!({})).send();
    for k in ["k0", "k1", "k2", "k3"] {
        assert_eq!(
            call(&format!("/v1/key/create/{k}")).await.unwrap().status(),
            200
        );
    }
    for _ in 0..2 {
        assert_eq!(call("/v1/ext/key/rotate/k1").await.unwrap().status(), 200);
    }
    let dek1: Value = call("/v1/key/generate/k1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dek2: Value = call("/v1/key/generate/k2")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(call("/v1/ext/key/disable/k2").await.unwrap().status(), 200);
    fs.running.stop().await;
    let keys = fs.dir.path().join("keys");
    let work = tempfile::tempdir().unwrap();
    let from = work.path().join("fs.yaml");
    std::fs::write(
        &from,
        format!("keystore:\n  fs:\n    path: {}\n", keys.display()),
    )
    .unwrap();
    let section = vault_section(&bao, json!({})).await;
    let to = work.path().join("vault.yaml");
    std::fs::write(&to, format!("keystore:\n  vault:\n{section}")).unwrap();

    migrate(&from, &to).await;
    let kes = start(&section, "").await;
    let (st, list) = kes.get("/v1/key/list/").await;
    assert_eq!(
        (st, &list["names"]),
        (200, &json!(["k0", "k1", "k2", "k3"]))
    );
    let (st, d) = kes.get("/v1/ext/key/describe/k1").await;
    assert_eq!(st, 200);
    assert_eq!(d["versions"].as_array().map(Vec::len), Some(3), "{d}");
    let (st, pt) = kes.decrypt("k1", &dek1["ciphertext"], "").await;
    assert_eq!((st, &pt["plaintext"]), (200, &dek1["plaintext"]));
    let (st, e) = kes.generate("k2").await;
    assert_eq!((st, e["message"].as_str()), (403, Some("key is disabled")));
    kes.running.stop().await;

    // And back to a new filesystem keystore: every stored value byte for byte.
    let back = work.path().join("back");
    let to_fs = work.path().join("back.yaml");
    std::fs::write(
        &to_fs,
        format!("keystore:\n  fs:\n    path: {}\n", back.display()),
    )
    .unwrap();
    migrate(&to, &to_fs).await;
    for k in ["k0", "k1", "k2", "k3"] {
        assert_eq!(
            std::fs::read(back.join(k)).unwrap(),
            std::fs::read(keys.join(k)).unwrap(),
            "{k} round-trips unchanged"
        );
    }
    // The disabled key is still disabled after the round trip, and enabling
    // it on OpenBao makes the old ciphertext readable again.
    let kes = start(&section, "").await;
    let (st, _) = kes.post("/v1/ext/key/enable/k2", Value::Null).await;
    assert_eq!(st, 200);
    let (st, pt) = kes.decrypt("k2", &dek2["ciphertext"], "").await;
    assert_eq!((st, &pt["plaintext"]), (200, &dek2["plaintext"]));
    kes.running.stop().await;
}
