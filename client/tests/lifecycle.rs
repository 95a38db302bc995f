//! The key lifecycle extension methods against a scripted TLS server: `rotate_key`, `rewrap` and
//! `describe_key_ext` (method, path and body on the wire, decoding of the answer, errors).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests may panic")]

mod common;

use std::sync::Arc;

use client::{ApiKey, Client};
use common::{Recorded, Reply, TestServer};
use serde_json::{Value, json};

fn fake_kes(r: &Recorded) -> Reply {
    match (r.method.as_str(), r.path.as_str()) {
        ("PUT", "/v1/ext/key/rotate/k") => Reply::json(200, r#"{"version":3}"#),
        ("PUT", "/v1/ext/key/rewrap/k") => Reply::json(200, r#"{"ciphertext":"bmV3"}"#),
        ("PUT", "/v1/ext/key/rewrap/off") => Reply::error(403, "key is disabled"),
        ("GET", "/v1/ext/key/describe/k") => Reply::json(
            200,
            r#"{"name":"k","algorithm":"AES256","created_at":"2024-01-02T03:04:05Z","created_by":"a",
               "enabled":false,"versions":[
                 {"version":0,"created_at":"2024-01-02T03:04:05Z","created_by":"a"},
                 {"version":1,"created_at":"2024-02-02T03:04:05.5Z","created_by":"b"}]}"#,
        ),
        _ => Reply::error(404, "key does not exist"),
    }
}

async fn setup() -> (TestServer, Client) {
    let server = TestServer::start(Arc::new(fake_kes)).await;
    let c = Client::builder()
        .endpoint(format!("https://{}", server.endpoint()))
        .api_key(ApiKey::generate().unwrap())
        .ca_pem(server.cert_pem.clone())
        .build()
        .unwrap();
    (server, c)
}

fn last(s: &TestServer) -> Recorded {
    s.requests().pop().unwrap()
}

#[tokio::test]
async fn rotate_rewrap_and_describe_ext() {
    let (s, c) = setup().await;
    assert_eq!(c.rotate_key("k").await.unwrap(), 3);
    let r = last(&s);
    assert_eq!((r.method.as_str(), r.body.len()), ("PUT", 0));

    assert_eq!(c.rewrap("k", b"old", b"ctx").await.unwrap(), b"new");
    let r = last(&s);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, json!({"ciphertext": "b2xk", "context": "Y3R4"}));
    c.rewrap("k", b"old", b"").await.unwrap();
    let body: Value = serde_json::from_slice(&last(&s).body).unwrap();
    assert_eq!(body, json!({"ciphertext": "b2xk"}), "no context when empty");
    let err = c.rewrap("off", b"old", b"").await.unwrap_err();
    assert!(
        err.is(client::Error::KEY_DISABLED.0, client::Error::KEY_DISABLED.1),
        "{err:?}"
    );

    let d = c.describe_key_ext("k").await.unwrap();
    assert_eq!((d.name.as_str(), d.enabled), ("k", false));
    let versions: Vec<(u32, &str)> = d
        .versions
        .iter()
        .map(|v| (v.version, v.created_by.as_str()))
        .collect();
    assert_eq!(versions, [(0, "a"), (1, "b")]);
    assert_eq!(d.versions[1].created_at.nanosecond(), 500_000_000);
    let err = c.describe_key_ext("missing").await.unwrap_err();
    assert!(err.is(404, "key does not exist"), "{err:?}");
    assert_eq!(last(&s).path, "/v1/ext/key/describe/missing");
}
