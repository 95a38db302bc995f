//! The key cache behind the API, end to end on a keystore test double: the
//! offline window (generate and decrypt keep working while the keystore is
//! down, then stop), no offline cache, single flight (100 concurrent first
//! requests make one keystore read) and eviction of unused entries.
//!
//! Time-dependent tests shorten the key cache's health probe to 50 ms via
//! `kes::server::Options` and wait by polling a condition with a deadline.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod ops;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::prom::parse_prometheus;
use common::status_message;
use ops::{decrypt, eventually, generate, get_status, on_double};
use serde_json::{Value, json};

#[tokio::test]
async fn offline_window_keeps_generate_and_decrypt_working_then_ends() {
    const WINDOW: Duration = Duration::from_secs(3);
    let (s, double, _) =
        on_double("cache:\n  expiry:\n    any: 1h\n    unused: 1h\n    offline: 3s\n").await;
    let c = s.client(&s.admin);
    assert_eq!(
        c.post(s.url("/v1/key/create/k"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (st, first) = generate(&c, &s, "k").await;
    assert_eq!(st, 200);
    assert_eq!(get_status(&c, &s, "/v1/ready").await, 200);

    // The keystore goes away.
    let down_at = Instant::now();
    double.up.store(false, Ordering::SeqCst);
    eventually("ready reports 504", Duration::from_secs(10), || async {
        get_status(&c, &s, "/v1/ready").await == 504
    })
    .await;
    let r = c.get(s.url("/v1/ready")).send().await.unwrap();
    assert_eq!(
        status_message(r).await,
        (504, "key store is not reachable".to_owned())
    );
    let st: Value = c
        .get(s.url("/v1/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["keystore_unreachable"], true);
    assert_eq!(st["keystore_unavailable"], true);
    assert!(st.get("keystore_latency").is_none());

    // Served from the cache while offline: generate, decrypt, encrypt, hmac, describe.
    let (st, fresh) = generate(&c, &s, "k").await;
    assert_eq!(st, 200);
    let (st, pt) = decrypt(&c, &s, "k", &first["ciphertext"]).await;
    assert_eq!((st, &pt["plaintext"]), (200, &first["plaintext"]));
    let (st, pt) = decrypt(&c, &s, "k", &fresh["ciphertext"]).await;
    assert_eq!((st, &pt["plaintext"]), (200, &fresh["plaintext"]));
    assert_eq!(get_status(&c, &s, "/v1/key/describe/k").await, 200);
    let hm = c
        .put(s.url("/v1/key/hmac/k"))
        .json(&json!({"message": B64.encode(b"m")}))
        .send()
        .await
        .unwrap();
    assert_eq!(hm.status(), 200);
    // Writes and lists go to the keystore: they fail.
    let (st, _) = status_message(c.post(s.url("/v1/key/create/k2")).send().await.unwrap()).await;
    assert_eq!(st, 502);
    let (st, _) = status_message(c.get(s.url("/v1/key/list/")).send().await.unwrap()).await;
    assert_eq!(st, 502);

    // After the offline window the cache is dropped: reads fail with 502.
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed_at = loop {
        let (st, _) = generate(&c, &s, "k").await;
        if st == 502 {
            break Instant::now();
        }
        assert_eq!(
            st, 200,
            "generate either succeeds from cache or fails with 502"
        );
        assert!(Instant::now() < deadline, "the offline window never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        failed_at - down_at >= WINDOW,
        "the cache served for the whole offline window"
    );
    let (st, msg) = status_message(
        c.post(s.url("/v1/key/decrypt/k"))
            .json(&json!({"ciphertext": first["ciphertext"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, msg.as_str()), (502, "failed to read key"));

    // The keystore comes back: ready, and reads work again.
    double.up.store(true, Ordering::SeqCst);
    eventually("ready reports 200", Duration::from_secs(10), || async {
        get_status(&c, &s, "/v1/ready").await == 200
    })
    .await;
    let (st, pt) = decrypt(&c, &s, "k", &first["ciphertext"]).await;
    assert_eq!((st, &pt["plaintext"]), (200, &first["plaintext"]));
    s.running.stop().await;
}

#[tokio::test]
async fn without_offline_cache_reads_fail_while_down_after_eviction() {
    // offline: 0 (default): going offline changes nothing; a miss goes to the store.
    let (s, double, _) = on_double("cache:\n  expiry:\n    any: 1h\n    unused: 1h\n").await;
    let c = s.client(&s.admin);
    c.post(s.url("/v1/key/create/k")).send().await.unwrap();
    double.up.store(false, Ordering::SeqCst);
    eventually("ready reports 504", Duration::from_secs(10), || async {
        get_status(&c, &s, "/v1/ready").await == 504
    })
    .await;
    // never read, so never cached: 502
    let (st, _) = generate(&c, &s, "k").await;
    assert_eq!(st, 502);
    s.running.stop().await;
}

#[tokio::test]
async fn hundred_concurrent_first_requests_make_one_keystore_read() {
    let (s, double, _) = on_double("cache:\n  expiry:\n    any: 1h\n    unused: 1h\n").await;
    let c = s.client(&s.admin);
    assert_eq!(
        c.post(s.url("/v1/key/create/hot"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(double.gets(), 0, "create does not read");
    double.gate.send_replace(false); // reads wait until every request is in flight
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let c = c.clone();
        let url = s.url("/v1/key/generate/hot");
        tasks.push(tokio::spawn(async move {
            c.post(url).send().await.unwrap().status().as_u16()
        }));
    }
    // All 100 are authenticated and waiting (the metrics request is the 101st).
    eventually(
        "100 requests in flight",
        Duration::from_secs(30),
        || async {
            let text = c
                .get(s.url("/v1/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let m = parse_prometheus(&text).unwrap();
            m["kes_http_request_active"].samples[0].value >= 101.0
        },
    )
    .await;
    double.gate.send_replace(true);
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(
        double.gets(),
        1,
        "one keystore read for 100 concurrent misses"
    );
    // and later requests are served from the cache
    assert_eq!(generate(&c, &s, "hot").await.0, 200);
    assert_eq!(double.gets(), 1);
    s.running.stop().await;
}

#[tokio::test]
async fn unused_entries_are_evicted_used_ones_kept() {
    // Sweeps every unused/2 = 500 ms; an entry read at t is gone by t + 1 s
    // unless read again, and survives at least 500 ms.
    let (s, double, _) = on_double("cache:\n  expiry:\n    any: 1h\n    unused: 1s\n").await;
    let c = s.client(&s.admin);
    c.post(s.url("/v1/key/create/k")).send().await.unwrap();
    assert_eq!(generate(&c, &s, "k").await.0, 200);
    assert_eq!(double.gets(), 1);
    // Kept while used (a read every 100 ms for 2.5 s: more than two sweeps).
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        assert_eq!(generate(&c, &s, "k").await.0, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(double.gets(), 1, "a used entry is not evicted");
    // Idle for longer than `unused` (the stimulus under test): evicted.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(generate(&c, &s, "k").await.0, 200);
    assert_eq!(
        double.gets(),
        2,
        "an unused entry is evicted and read again"
    );
    // delete evicts at once
    assert_eq!(
        c.delete(s.url("/v1/key/delete/k"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(generate(&c, &s, "k").await.0, 404);
    s.running.stop().await;
}
