//! Configuration applied to a running server, through the library: the
//! `api.<path>` overrides (`skip_auth` on `/v1/ready`, `timeout` shown in
//! `/v1/api`) and `kes::server::reload::reload` switching policies, TLS certificate
//! and keys, keeping or rebuilding the key cache, finishing requests in flight
//! on the old state and rejecting broken configs while the old one serves.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod ops;

use std::sync::Arc;
use std::time::Duration;

use client::ApiKey;
use common::prom::metrics;
use common::{Outputs, TestServer};
use ops::{
    PROBE, eventually, generate, get_status, partial_request, reqwest_trusting, write_atomic,
};
use serde_json::{Value, json};

#[tokio::test]
async fn skip_auth_on_ready_lets_clients_without_certificate_call_it_only() {
    let outputs = Outputs::default();
    let s = TestServer::start_custom(
        "api:\n  /v1/ready:\n    skip_auth: true\n",
        None,
        PROBE,
        &outputs,
    )
    .await;
    let r = common::raw_request(s.addr, &s.server_cert_pem, vec![], "GET", "/v1/ready", b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    for path in ["/v1/status", "/v1/metrics", "/v1/key/list/", "/version"] {
        let r = common::raw_request(s.addr, &s.server_cert_pem, vec![], "GET", path, b"")
            .await
            .unwrap();
        if path == "/version" {
            assert_eq!(r.status, 200, "/version needs no identity");
            continue;
        }
        assert_eq!(
            (r.status, r.message().as_str()),
            (400, "tls: client certificate is required"),
            "{path}"
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    // /v1/ready skips the policy check too: an identity without policy passes.
    assert_eq!(
        get_status(&s.client(&s.unknown), &s, "/v1/ready").await,
        200
    );
    assert_eq!(
        get_status(&s.client(&s.unknown), &s, "/v1/status").await,
        403
    );
    s.running.stop().await;
}

#[tokio::test]
async fn timeout_override_shows_in_the_api_listing() {
    let outputs = Outputs::default();
    let s = TestServer::start_custom(
        "api:\n  /v1/key/generate/:\n    timeout: 42s\n  /v1/status:\n    timeout: 1m\n",
        None,
        PROBE,
        &outputs,
    )
    .await;
    let api: Vec<Value> = s
        .client(&s.admin)
        .get(s.url("/v1/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let find = |p: &str| api.iter().find(|r| r["path"] == p).unwrap().clone();
    assert_eq!(find("/v1/key/generate/")["timeout"], 42);
    assert_eq!(find("/v1/status")["timeout"], 60);
    assert_eq!(find("/v1/key/decrypt/")["timeout"], 15);
    s.running.stop().await;
}

#[tokio::test]
async fn reload_switches_policies_tls_and_keys_and_rejects_broken_configs() {
    let outputs = Outputs::default();
    let s = TestServer::start_custom("", None, PROBE, &outputs).await;
    let path = s.config_path();
    let unknown = s.client(&s.unknown);
    assert_eq!(get_status(&unknown, &s, "/v1/status").await, 403);
    let cache_before = s.running.state().cache.clone();

    // A broken config is rejected; the old one keeps serving.
    let original = std::fs::read_to_string(&path).unwrap();
    for broken in [
        "version: v2\n".to_owned() + &original[original.find('\n').unwrap() + 1..],
        original.replace("keystore:", "keystore:\n  vault: {}\n  other:"),
        original.clone() + "keys:\n  - name: \"bad name!\"\n",
        "::: not yaml".to_owned(),
        original.replace("server.crt", "missing.crt"),
    ] {
        write_atomic(&path, &broken);
        let err = kes::server::reload::reload(&s.running, &path).await;
        assert!(err.is_err(), "rejected: {broken}");
        assert_eq!(get_status(&unknown, &s, "/v1/status").await, 403);
        assert_eq!(get_status(&s.client(&s.admin), &s, "/v1/status").await, 200);
    }

    // A request in flight when the reload happens finishes on the old state.
    let admin = s.client(&s.admin);
    admin.post(s.url("/v1/key/create/k")).send().await.unwrap();
    let (_, g) = generate(&admin, &s, "k").await;
    let body = serde_json::to_vec(&json!({"ciphertext": g["ciphertext"]})).unwrap();
    let slow = partial_request(&s, &s.minio, "POST", "/v1/key/decrypt/k", &body).await;
    eventually(
        "the slow request is in flight",
        Duration::from_secs(10),
        || async {
            let m = metrics(&s, &s.admin).await;
            m["kes_http_request_active"].samples[0].value >= 2.0
        },
    )
    .await;

    // A valid config: new policy assignment (unknown takes the auditor's
    // place, minio loses its policy), a new server certificate, a new key.
    let cert = common::write_server_cert(s.dir.path());
    common::write_config(
        s.dir.path(),
        &s.admin,
        &s.auditor,
        &s.unknown,
        "keys:\n  - name: from-reload\n",
    );
    let done = kes::server::reload::reload(&s.running, &path)
        .await
        .unwrap();
    assert!(!done.new_keystore && !done.new_cache);
    assert!(
        Arc::ptr_eq(&cache_before, &s.running.state().cache),
        "the key cache is kept when keystore and cache are unchanged"
    );

    // the in-flight request (minio, which just lost its policy) completes
    let resp = slow.finish().await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains(g["plaintext"].as_str().unwrap()), "{resp}");

    let new_tls = |k: &ApiKey| reqwest_trusting(&cert, k);
    assert_eq!(
        get_status(&new_tls(&s.unknown), &s, "/v1/status").await,
        200
    );
    assert_eq!(
        get_status(&new_tls(&s.minio), &s, "/v1/key/describe/k").await,
        403
    );
    assert_eq!(
        get_status(&new_tls(&s.admin), &s, "/v1/key/describe/from-reload").await,
        200
    );
    // new connections no longer present the old certificate
    assert!(
        reqwest_trusting(&s.server_cert_pem, &s.admin)
            .get(s.url("/version"))
            .send()
            .await
            .is_err()
    );

    // A cache section change builds a new cache over the same keystore.
    common::write_config(
        s.dir.path(),
        &s.admin,
        &s.auditor,
        &s.unknown,
        "cache:\n  expiry:\n    unused: 1m\n",
    );
    let done = kes::server::reload::reload(&s.running, &path)
        .await
        .unwrap();
    assert!(!done.new_keystore && done.new_cache);
    assert!(!Arc::ptr_eq(&cache_before, &s.running.state().cache));
    assert_eq!(
        get_status(&new_tls(&s.admin), &s, "/v1/key/describe/from-reload").await,
        200
    );
    eventually("the reload is logged", Duration::from_secs(10), || async {
        outputs
            .error
            .text()
            .contains("msg=\"configuration reloaded\"")
    })
    .await;
    s.running.stop().await;
}
