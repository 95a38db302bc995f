//! Key disable/enable end to end over real TLS (kes-api.md "Extension: key disable/enable"):
//! a disabled key refuses every key operation with 403 `key is disabled` (admin included) while
//! describe, list, delete and enable keep working; enable restores; the state survives a
//! restart; the stored value of a key only disabled and enabled is byte-identical and readable
//! by upstream's rules (§6.1); the extension routes are listed, policy-checked and audited.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod lc;
mod ops;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::Error as E;
use common::{Outputs, TestServer};
use lc::{Upstream, call, upstream_decode};
use ops::eventually;
use serde_json::{Value, json};

fn disabled() -> (u16, Value) {
    (403, json!({"message": E::KEY_DISABLED.1}))
}

/// Every key operation the extension must refuse on a disabled key, with a valid body.
async fn key_operations(
    c: &reqwest::Client,
    s: &TestServer,
    name: &str,
    ct: &Value,
) -> Vec<(String, (u16, Value))> {
    let u = |op: &str| s.url(&format!("/v1/key/{op}/{name}"));
    let ext = |op: &str| s.url(&format!("/v1/ext/key/{op}/{name}"));
    vec![
        (
            "generate".into(),
            call(c, "POST", u("generate"), None).await,
        ),
        (
            "encrypt".into(),
            call(
                c,
                "POST",
                u("encrypt"),
                Some(json!({"plaintext": B64.encode(b"x")})),
            )
            .await,
        ),
        (
            "decrypt".into(),
            call(c, "POST", u("decrypt"), Some(json!({"ciphertext": ct}))).await,
        ),
        (
            "bulk decrypt".into(),
            call(
                c,
                "POST",
                u("bulk/decrypt"),
                Some(json!([{"ciphertext": ct}])),
            )
            .await,
        ),
        (
            "hmac".into(),
            call(
                c,
                "PUT",
                u("hmac"),
                Some(json!({"message": B64.encode(b"m")})),
            )
            .await,
        ),
        (
            "rewrap".into(),
            call(c, "PUT", ext("rewrap"), Some(json!({"ciphertext": ct}))).await,
        ),
    ]
}

#[tokio::test]
async fn a_disabled_key_refuses_use_but_not_management() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    let path = s.dir.path().join("keys").join("k");
    assert_eq!(
        call(&c, "POST", s.url("/v1/key/create/k"), None).await.0,
        200
    );
    let original = std::fs::read(&path).unwrap();
    let (st, gen_) = call(&c, "POST", s.url("/v1/key/generate/k"), None).await;
    assert_eq!(st, 200);
    let ct = gen_["ciphertext"].clone();

    // Disable: 200 with an empty body; PUT and POST both work, twice is fine.
    let r = c.put(s.url("/v1/ext/key/disable/k")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "0");
    assert_eq!(
        call(&c, "POST", s.url("/v1/ext/key/disable/k"), None)
            .await
            .0,
        200
    );
    let stored = std::fs::read(&path).unwrap();
    assert!(
        stored.starts_with(b"kes:ring:v1:"),
        "{}",
        String::from_utf8_lossy(&stored)
    );
    assert!(
        upstream_decode(&stored).is_err(),
        "upstream KES fails closed on a disabled key"
    );

    for (op, got) in key_operations(&c, &s, "k", &ct).await {
        assert_eq!(got, disabled(), "{op}");
    }
    // Describe (both), list and create-conflict keep working.
    let (st, d) = call(&c, "GET", s.url("/v1/key/describe/k"), None).await;
    assert_eq!((st, d["name"].as_str()), (200, Some("k")));
    let (st, d) = call(&c, "GET", s.url("/v1/ext/key/describe/k"), None).await;
    assert_eq!((st, &d["enabled"]), (200, &json!(false)));
    assert_eq!(d["versions"].as_array().unwrap().len(), 1);
    let (st, l) = call(&c, "GET", s.url("/v1/key/list/"), None).await;
    assert_eq!((st, &l["names"]), (200, &json!(["k"])));
    assert_eq!(
        call(&c, "POST", s.url("/v1/key/create/k"), None).await,
        (400, json!({"message": E::KEY_EXISTS.1}))
    );

    // Enable restores every operation, and the exact stored bytes.
    assert_eq!(
        call(&c, "PUT", s.url("/v1/ext/key/enable/k"), None).await.0,
        200
    );
    assert_eq!(
        call(&c, "POST", s.url("/v1/ext/key/enable/k"), None)
            .await
            .0,
        200
    );
    assert_eq!(std::fs::read(&path).unwrap(), original, "byte-identical");
    for (op, (st, body)) in key_operations(&c, &s, "k", &ct).await {
        assert_eq!(st, 200, "{op}: {body}");
    }
    let (_, pt) = call(
        &c,
        "POST",
        s.url("/v1/key/decrypt/k"),
        Some(json!({"ciphertext": ct})),
    )
    .await;
    assert_eq!(pt["plaintext"], gen_["plaintext"]);

    // The original value follows upstream's rules (kes-api.md §6.1) to the letter.
    match upstream_decode(&original).unwrap() {
        Upstream::Current {
            key,
            key_type,
            hmac_key,
            hmac_hash,
            created_seconds,
            created_by,
        } => {
            assert_eq!((key.len(), key_type), (32, 1), "a 32-byte AES256 key");
            assert_eq!(
                (hmac_key.len(), hmac_hash),
                (32, 1),
                "a 32-byte SHA-256 HMAC key"
            );
            assert_ne!(key, hmac_key);
            assert!(created_seconds > 1_700_000_000);
            assert_eq!(created_by, s.admin.identity());
        }
        other => panic!("{other:?}"),
    }

    // Delete works while disabled; then everything is 404.
    assert_eq!(
        call(&c, "PUT", s.url("/v1/ext/key/disable/k"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&c, "DELETE", s.url("/v1/key/delete/k"), None).await.0,
        200
    );
    let gone = (404, json!({"message": E::KEY_NOT_FOUND.1}));
    for op in ["disable", "enable", "rotate", "describe"] {
        let method = if op == "describe" { "GET" } else { "PUT" };
        let got = call(&c, method, s.url(&format!("/v1/ext/key/{op}/k")), None).await;
        assert_eq!(got, gone, "{op}");
    }
    assert_eq!(
        call(&c, "POST", s.url("/v1/key/generate/k"), None).await,
        gone
    );
    s.running.stop().await;
}

#[tokio::test]
async fn a_legacy_json_key_keeps_its_exact_bytes_through_disable_and_enable() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    let path = s.dir.path().join("keys").join("old");
    let legacy = format!(
        r#"{{"bytes":"{}","algorithm":"AES256-GCM_SHA256","created_at":"2021-03-04T05:06:07Z","created_by":"someone","version":"v1"}}"#,
        B64.encode([0x11u8; 32])
    );
    std::fs::write(&path, &legacy).unwrap();
    let (st, g) = call(&c, "POST", s.url("/v1/key/generate/old"), None).await;
    assert_eq!(st, 200);
    assert_eq!(
        call(&c, "PUT", s.url("/v1/ext/key/disable/old"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(
            &c,
            "POST",
            s.url("/v1/key/decrypt/old"),
            Some(json!({"ciphertext": g["ciphertext"]}))
        )
        .await,
        disabled()
    );
    assert_eq!(
        call(&c, "PUT", s.url("/v1/ext/key/enable/old"), None)
            .await
            .0,
        200
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), legacy);
    assert!(matches!(
        upstream_decode(legacy.as_bytes()),
        Ok(Upstream::Legacy(_))
    ));
    let (st, pt) = call(
        &c,
        "POST",
        s.url("/v1/key/decrypt/old"),
        Some(json!({"ciphertext": g["ciphertext"]})),
    )
    .await;
    assert_eq!((st, &pt["plaintext"]), (200, &g["plaintext"]));
    s.running.stop().await;
}

#[tokio::test]
async fn the_disabled_state_survives_a_restart() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    assert_eq!(
        call(&c, "POST", s.url("/v1/key/create/k"), None).await.0,
        200
    );
    assert_eq!(
        call(&c, "PUT", s.url("/v1/ext/key/disable/k"), None)
            .await
            .0,
        200
    );
    let config = s.config_path();
    s.running.stop().await;

    let running = kes::server::Builder::from_file(&config)
        .unwrap()
        .start()
        .await
        .unwrap();
    let url = |p: &str| format!("https://{}{p}", running.addr);
    assert_eq!(
        call(&c, "POST", url("/v1/key/generate/k"), None).await,
        disabled()
    );
    assert_eq!(
        call(&c, "PUT", url("/v1/ext/key/enable/k"), None).await.0,
        200
    );
    assert_eq!(
        call(&c, "POST", url("/v1/key/generate/k"), None).await.0,
        200
    );
    running.stop().await;
}

#[tokio::test]
async fn extension_routes_are_listed_policy_checked_and_audited() {
    let outputs = Outputs::default();
    let s = TestServer::start_custom("log:\n  audit: on\n", None, ops::PROBE, &outputs).await;
    let admin = s.client(&s.admin);
    let (_, api) = call(&admin, "GET", s.url("/v1/api"), None).await;
    for (method, path, max_body) in [
        ("PUT", "/v1/ext/key/disable/", 0),
        ("PUT", "/v1/ext/key/enable/", 0),
        ("PUT", "/v1/ext/key/rotate/", 0),
        ("PUT", "/v1/ext/key/rewrap/", 1 << 20),
        ("GET", "/v1/ext/key/describe/", 0),
    ] {
        let route = api.as_array().unwrap().iter().find(|r| r["path"] == path);
        assert_eq!(
            route,
            Some(&json!({"method": method, "path": path, "max_body": max_body, "timeout": 15})),
            "{path}"
        );
    }
    assert_eq!(
        call(&admin, "POST", s.url("/v1/key/create/k"), None)
            .await
            .0,
        200
    );
    // MinIO's policy grants none of the extension paths: 403 before the key is looked at.
    let minio = s.client(&s.minio);
    let denied = (403, json!({"message": E::NOT_ALLOWED.1}));
    for (method, op) in [
        ("PUT", "disable"),
        ("PUT", "enable"),
        ("PUT", "rotate"),
        ("GET", "describe"),
    ] {
        assert_eq!(
            call(&minio, method, s.url(&format!("/v1/ext/key/{op}/k")), None).await,
            denied,
            "{op}"
        );
    }
    let body = json!({"ciphertext": B64.encode([1u8; 60])});
    assert_eq!(
        call(&minio, "PUT", s.url("/v1/ext/key/rewrap/k"), Some(body)).await,
        denied
    );
    // Wrong method and bad names get the usual answers.
    let (st, _) = call(&admin, "GET", s.url("/v1/ext/key/disable/k"), None).await;
    assert_eq!(st, 405);
    let (st, m) = call(&admin, "PUT", s.url("/v1/ext/key/disable/bad%20name"), None).await;
    assert_eq!(
        (st, m["message"].as_str().unwrap()),
        (
            400,
            "key name 'bad name' is empty, too long or contains invalid characters"
        )
    );
    let (st, _) = call(&admin, "PUT", s.url("/v1/ext/key/disable/k"), None).await;
    assert_eq!(st, 200);
    eventually(
        "the disable is audited",
        Duration::from_secs(10),
        || async { outputs.audit.text().contains("/v1/ext/key/disable/k") },
    )
    .await;
    eventually("the disable is logged", Duration::from_secs(10), || async {
        outputs.error.text().contains("secret key disabled")
    })
    .await;
    s.running.stop().await;
}
