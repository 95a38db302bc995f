//! `GET /v1/metrics` end to end: every `kes_*` family KES exposes is present,
//! typed and documented, the request counters count only authenticated
//! requests by status class, and the whole output passes a strict Prometheus
//! text 0.0.4 parser (tests/common/prom.rs) plus the Go SDK's constraints.
//! Also checks that the strict parser itself rejects what the SDK cannot read.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod ops;

use common::prom::{REQUEST_COUNTERS, counter, metrics, parse_prometheus};
use ops::{get_status, on_double};
use serde_json::{Value, json};

#[test]
fn the_strict_parser_rejects_what_the_sdk_cannot_read() {
    let good = "# HELP a x\n# TYPE a counter\na 1\n";
    assert!(parse_prometheus(good).is_ok());
    for bad in [
        "# HELP a x\n# TYPE a counter\n", // no samples
        "# TYPE a counter\na 1\n# TYPE b gauge\n# TYPE c gauge\nc 1\n", // b empty
        "a 1\n",                          // no TYPE
        "# TYPE a counter\na{code=200} 1\n", // unquoted label
        "# TYPE a counter\na{1x=\"2\"} 1\n", // bad label name
        "# TYPE a counter\na 1\na 2\n",   // duplicate series
        "# TYPE a counter\na one\n",      // bad value
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n", // not contiguous
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 2\n",
        "# TYPE a counter\na 1", // no final newline
        "# EOF\n",
    ] {
        assert!(parse_prometheus(bad).is_err(), "{bad:?} must be rejected");
    }
}

#[tokio::test]
async fn metrics_every_family_present_and_strictly_parseable() {
    let (s, _double, _) = on_double("").await;
    // Before any counted request: no empty request-counter families.
    let first = metrics(&s, &s.minio).await;
    for c in REQUEST_COUNTERS {
        assert!(!first.contains_key(c), "{c} has no samples yet");
    }
    let admin = s.client(&s.admin);
    admin.post(s.url("/v1/key/create/k")).send().await.unwrap(); // 200
    admin.post(s.url("/v1/key/create/k")).send().await.unwrap(); // 400
    admin
        .get(s.url("/v1/key/describe/missing"))
        .send()
        .await
        .unwrap(); // 404
    admin
        .post(s.url("/v1/key/create/broken"))
        .send()
        .await
        .unwrap(); // 200
    admin
        .post(s.url("/v1/key/generate/broken"))
        .send()
        .await
        .unwrap(); // 502
    // Not counted: refused by policy (403), wrong method (405), unknown path (404).
    let unknown = s.client(&s.unknown);
    assert_eq!(get_status(&unknown, &s, "/v1/status").await, 403);
    assert_eq!(get_status(&unknown, &s, "/v1/metrics").await, 403);
    assert_eq!(get_status(&admin, &s, "/v1/key/create/x").await, 405);
    assert_eq!(get_status(&admin, &s, "/v1/nothing").await, 404);

    let m = metrics(&s, &s.minio).await;
    let expected = [
        ("kes_http_request_success", "counter"),
        ("kes_http_request_error", "counter"),
        ("kes_http_request_failure", "counter"),
        ("kes_http_request_active", "gauge"),
        ("kes_http_response_time", "histogram"),
        ("kes_log_error_events", "counter"),
        ("kes_log_audit_events", "counter"),
        ("kes_system_up_time", "gauge"),
        ("kes_system_num_cpu", "gauge"),
        ("kes_system_num_cpu_used", "gauge"),
        ("kes_system_num_threads", "gauge"),
        ("kes_system_mem_heap_used", "gauge"),
        ("kes_system_mem_heap_objects", "gauge"),
        ("kes_system_mem_stack_used", "gauge"),
    ];
    for (name, kind) in expected {
        let f = m.get(name).unwrap_or_else(|| panic!("{name} present"));
        assert_eq!(f.kind, kind, "{name}");
        assert!(f.help, "{name} has HELP");
    }
    // metrics (1st call) + 2 creates = 3 successes; 400 and 404 errors; one 502.
    assert_eq!(counter(&m, "kes_http_request_success", "200"), 3.0);
    assert_eq!(counter(&m, "kes_http_request_error", "400"), 1.0);
    assert_eq!(counter(&m, "kes_http_request_error", "404"), 1.0);
    assert_eq!(counter(&m, "kes_http_request_error", "403"), 0.0);
    assert_eq!(counter(&m, "kes_http_request_error", "405"), 0.0);
    assert_eq!(counter(&m, "kes_http_request_failure", "502"), 1.0);
    let count = m["kes_http_response_time"]
        .samples
        .iter()
        .find(|s| s.name == "kes_http_response_time_count")
        .unwrap()
        .value;
    assert_eq!(count, 6.0, "latency observed for every counted request");
    let les: Vec<&str> = m["kes_http_response_time"]
        .samples
        .iter()
        .filter_map(|s| s.labels.get("le").map(String::as_str))
        .collect();
    assert_eq!(
        les,
        [
            "0.01", "0.05", "0.1", "0.25", "0.5", "1", "1.5", "3", "5", "10", "+Inf"
        ]
    );
    assert_eq!(m["kes_http_request_active"].samples[0].value, 1.0, "itself");
    assert!(m["kes_log_audit_events"].samples[0].value >= 10.0);
    assert!(m["kes_log_error_events"].samples[0].value >= 1.0, "the 502");
    assert!(m["kes_system_num_cpu"].samples[0].value >= 1.0);
    if cfg!(target_os = "linux") {
        assert!(m["kes_system_num_threads"].samples[0].value >= 1.0);
        assert!(m["kes_system_mem_heap_used"].samples[0].value > 0.0);
        let st: Value = admin
            .get(s.url("/v1/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(st["mem_heap_used"].as_u64().unwrap() > 0, "{st}");
    }
    // the route is listed in /v1/api
    let api: Vec<Value> = admin
        .get(s.url("/v1/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        api.contains(
            &json!({"method": "GET", "path": "/v1/metrics", "max_body": 0, "timeout": 15})
        )
    );
    for p in ["/v1/log/error", "/v1/log/audit"] {
        assert!(api.contains(&json!({"method": "GET", "path": p, "max_body": 0, "timeout": 0})));
    }
    s.running.stop().await;
}
