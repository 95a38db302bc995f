//! Every typed client method against a scripted TLS server: method, path, headers and body on the wire, decoding
//! of the answer, error parsing, the client certificate's identity and builder validation.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests may panic")]

mod common;

use std::sync::Arc;

use client::wire::{BulkDecryptItem, b64_encode};
use client::{ApiKey, Client, Error};
use common::{Recorded, Reply, TestServer};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

/// A fake KES answering by path.
fn fake_kes(r: &Recorded) -> Reply {
    let p = r.path.as_str();
    match (r.method.as_str(), p) {
        ("GET", "/version") => {
            Reply::json(200, r#"{"version":"2025-03-12T09-35-18Z","commit":"abc"}"#)
        }
        ("GET", "/v1/ready") => Reply::empty(),
        ("GET", "/v1/status") => Reply::json(
            200,
            r#"{"version":"v","os":"linux","arch":"amd64","uptime":7,"num_cpu":2,"num_cpu_used":2,"mem_heap_used":1,"mem_stack_used":2,"keystore_latency":1}"#,
        ),
        ("GET", "/v1/api") => Reply::json(
            200,
            r#"[{"method":"GET","path":"/version","max_body":0,"timeout":10}]"#,
        ),
        ("GET", "/v1/metrics") => {
            Reply::text(200, "text/plain; version=0.0.4", "kes_system_up_time 7\n")
        }
        ("POST", "/v1/key/create/my-key") => Reply::empty(),
        ("POST", "/v1/key/create/exists") => Reply::error(400, "key already exists"),
        ("POST", "/v1/key/import/imp") => Reply::empty(),
        ("GET", "/v1/key/describe/my-key") => Reply::json(
            200,
            r#"{"name":"my-key","algorithm":"AES256","created_at":"2024-01-02T03:04:05.5Z","created_by":"id"}"#,
        ),
        ("GET", "/v1/key/describe/missing") => Reply::error(404, "key does not exist"),
        ("GET", p) if p.starts_with("/v1/key/list/") => {
            let continued = r.query.as_deref() == Some("continue=k2");
            if continued {
                Reply::json(200, r#"{"names":["k2","k3"]}"#)
            } else {
                Reply::json(200, r#"{"names":["k1"],"continue_at":"k2"}"#)
            }
        }
        ("DELETE", "/v1/key/delete/my-key") => Reply::empty(),
        ("POST", "/v1/key/encrypt/my-key") => Reply::json(200, r#"{"ciphertext":"Y3Q="}"#),
        ("POST", "/v1/key/generate/my-key") => {
            Reply::json(200, r#"{"plaintext":"cHQ=","ciphertext":"Y3Q="}"#)
        }
        ("POST", "/v1/key/decrypt/my-key") => Reply::json(200, r#"{"plaintext":"cHQ="}"#),
        ("POST", "/v1/key/decrypt/bad") => {
            Reply::error(400, "decryption failed: ciphertext is not authentic")
        }
        ("POST", "/v1/key/bulk/decrypt/my-key") => {
            Reply::json(200, r#"[{"plaintext":"YQ=="},{"plaintext":"Yg=="}]"#)
        }
        ("PUT", "/v1/key/hmac/my-key") => {
            Reply::json(200, &format!(r#"{{"hmac":"{}"}}"#, b64_encode(&[9; 32])))
        }
        ("PUT", "/v1/ext/key/disable/my-key") | ("PUT", "/v1/ext/key/enable/my-key") => {
            Reply::empty()
        }
        ("GET", "/v1/policy/describe/p") => Reply::json(
            200,
            r#"{"name":"p","created_at":"2024-01-02T03:04:05Z","created_by":"admin"}"#,
        ),
        ("GET", "/v1/policy/read/p") => Reply::json(
            200,
            r#"{"name":"p","allow":{"/v1/key/*":{}},"deny":{"/v1/key/delete/*":{}},"created_at":"2024-01-02T03:04:05Z","created_by":"admin"}"#,
        ),
        ("GET", "/v1/policy/list/") => Reply::json(200, r#"{"names":["p","q"],"continue_at":""}"#),
        ("GET", "/v1/identity/describe/abc") => Reply::json(
            200,
            r#"{"policy":"p","created_at":"2024-01-02T03:04:05Z","created_by":"admin"}"#,
        ),
        ("GET", "/v1/identity/list/a*") => {
            Reply::json(200, r#"{"identities":["abc"],"continue_at":""}"#)
        }
        ("GET", "/v1/identity/self/describe") => Reply::json(
            200,
            r#"{"identity":"abc","admin":true,"created_at":"2024-01-02T03:04:05Z"}"#,
        ),
        ("GET", "/v1/log/audit") => Reply::text(
            200,
            "application/x-ndjson",
            concat!(
                r#"{"time":"2025-01-01T00:00:00Z","request":{"ip":"127.0.0.1","path":"/v1/key/create/a","identity":"x"},"response":{"code":200,"time":2}}"#,
                "\n\n",
                r#"{"time":"2025-01-01T00:00:01Z","request":{"path":"/v1/key/delete/a"},"response":{"code":200,"time":1}}"#,
                "\n"
            ),
        ),
        ("GET", "/v1/log/error") => Reply::text(
            200,
            "application/x-ndjson",
            "{\"message\":\"level=INFO msg=hi\"}\n{broken\n",
        ),
        ("GET", "/plain-error") => {
            Reply::text(404, "text/plain; charset=utf-8", "404 page not found\n")
        }
        _ => Reply::text(404, "text/plain; charset=utf-8", "404 page not found\n"),
    }
}

async fn setup() -> (TestServer, Client, ApiKey) {
    let server = TestServer::start(Arc::new(fake_kes)).await;
    let key = ApiKey::generate().unwrap();
    let c = Client::builder()
        .endpoint(format!("https://{}", server.endpoint()))
        .api_key(key.clone())
        .ca_pem(server.cert_pem.clone())
        .build()
        .unwrap();
    (server, c, key)
}

fn last(s: &TestServer) -> Recorded {
    s.requests().pop().unwrap()
}

fn body_json(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn server_endpoints_and_client_identity() {
    let (s, c, key) = setup().await;
    assert_eq!(c.identity(), Some(key.identity().as_str()));
    assert_eq!(c.version().await.unwrap().commit, "abc");
    assert_eq!(
        last(&s).identity.as_deref(),
        Some(key.identity().as_str()),
        "API-key certificate presented"
    );
    c.ready().await.unwrap();
    let st = c.status().await.unwrap();
    assert_eq!(
        (st.uptime, st.keystore_latency, st.keystore_unreachable),
        (7, Some(1), false)
    );
    assert_eq!(c.api().await.unwrap()[0].timeout, 10);
    assert_eq!(c.metrics().await.unwrap(), "kes_system_up_time 7\n");
    for r in s.requests() {
        assert_eq!(r.method, "GET");
        assert!(r.body.is_empty());
    }
}

#[tokio::test]
async fn key_endpoints_send_what_kes_expects() {
    let (s, c, _) = setup().await;

    c.create_key("my-key").await.unwrap();
    let r = last(&s);
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/key/create/my-key")
    );
    assert!(r.body.is_empty());

    let err = c.create_key("exists").await.unwrap_err();
    assert!(
        err.matches(Error::KEY_EXISTS) && err.is_key_exists(),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "key already exists");

    c.import_key("imp", &[7; 32], "AES256").await.unwrap();
    let r = last(&s);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        body_json(&r),
        json!({"key": b64_encode(&[7; 32]), "cipher": "AES256"})
    );

    let d = c.describe_key("my-key").await.unwrap();
    assert_eq!(
        (d.name.as_str(), d.algorithm.as_str()),
        ("my-key", "AES256")
    );
    assert_eq!(d.created_at.nanosecond(), 500_000_000);
    assert!(
        c.describe_key("missing")
            .await
            .unwrap_err()
            .is_key_not_found()
    );

    let page = c.list_keys("k*", None).await.unwrap();
    assert_eq!(
        (page.names, page.continue_at.as_str()),
        (vec!["k1".to_string()], "k2")
    );
    let r = last(&s);
    assert_eq!(
        (r.path.as_str(), r.query.as_deref()),
        ("/v1/key/list/k*", None)
    );
    assert_eq!(c.list_all_keys("").await.unwrap(), ["k1", "k2", "k3"]);
    let r = last(&s);
    assert_eq!(
        (r.path.as_str(), r.query.as_deref()),
        ("/v1/key/list/", Some("continue=k2"))
    );

    c.delete_key("my-key").await.unwrap();
    assert_eq!(last(&s).method, "DELETE");

    assert_eq!(c.encrypt("my-key", b"pt", b"").await.unwrap(), b"ct");
    let r = last(&s);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        body_json(&r),
        json!({"plaintext": "cHQ="}),
        "empty context omitted"
    );
    c.encrypt("my-key", b"pt", b"ctx").await.unwrap();
    assert_eq!(
        body_json(&last(&s)),
        json!({"plaintext": "cHQ=", "context": "Y3R4"})
    );

    let g = c.generate("my-key", b"ctx").await.unwrap();
    assert_eq!(
        (g.plaintext.as_bytes(), g.ciphertext.as_bytes()),
        (&b"pt"[..], &b"ct"[..])
    );
    assert_eq!(body_json(&last(&s)), json!({"context": "Y3R4"}));
    c.generate("my-key", b"").await.unwrap();
    assert_eq!(body_json(&last(&s)), json!({}));

    assert_eq!(
        c.decrypt("my-key", b"ct", b"ctx").await.unwrap().as_slice(),
        b"pt"
    );
    assert_eq!(
        body_json(&last(&s)),
        json!({"ciphertext": "Y3Q=", "context": "Y3R4"})
    );
    let err = c.decrypt("bad", b"ct", b"").await.unwrap_err();
    assert!(err.matches(Error::DECRYPT_FAILED), "{err:?}");

    let items = vec![
        BulkDecryptItem {
            ciphertext: b"c1".to_vec().into(),
            context: Some(b"x".to_vec().into()),
        },
        BulkDecryptItem {
            ciphertext: b"c2".to_vec().into(),
            context: None,
        },
    ];
    let pts = c.bulk_decrypt("my-key", &items).await.unwrap();
    assert_eq!(
        pts.iter().map(|p| p.as_slice()).collect::<Vec<_>>(),
        [b"a", b"b"]
    );
    assert_eq!(
        body_json(&last(&s)),
        json!([{"ciphertext":"YzE=","context":"eA=="},{"ciphertext":"YzI="}])
    );
    assert!(matches!(
        c.bulk_decrypt("my-key", &items[..1]).await,
        Err(Error::Decode(_))
    ));

    assert_eq!(c.hmac("my-key", b"msg").await.unwrap(), [9; 32]);
    let r = last(&s);
    assert_eq!(r.method, "PUT");
    assert_eq!(r.content_type, None, "HMAC is sent without Content-Type");
    assert_eq!(body_json(&r), json!({"message": "bXNn"}));

    c.disable_key("my-key").await.unwrap();
    assert_eq!(last(&s).path, "/v1/ext/key/disable/my-key");
    c.enable_key("my-key").await.unwrap();
    assert_eq!(last(&s).path, "/v1/ext/key/enable/my-key");
}

#[tokio::test]
async fn names_are_escaped_into_one_path_segment() {
    let (s, c, _) = setup().await;
    let err = c.describe_key("../../version").await.unwrap_err();
    assert!(
        err.is(404, "404 page not found"),
        "non-JSON error body is the message: {err:?}"
    );
    assert_eq!(last(&s).path, "/v1/key/describe/..%2F..%2Fversion");
    let _ = c.describe_key("a?b#c").await;
    assert_eq!(last(&s).path, "/v1/key/describe/a%3Fb%23c");
    assert_eq!(last(&s).query, None);
}

#[tokio::test]
async fn policy_and_identity_endpoints() {
    let (s, c, _) = setup().await;
    assert_eq!(c.describe_policy("p").await.unwrap().created_by, "admin");
    let p = c.read_policy("p").await.unwrap();
    assert!(p.allow.contains_key("/v1/key/*") && p.deny.contains_key("/v1/key/delete/*"));
    assert_eq!(c.list_policies("").await.unwrap().names, ["p", "q"]);
    assert_eq!(last(&s).path, "/v1/policy/list/");
    let id = c.describe_identity("abc").await.unwrap();
    assert_eq!((id.admin, id.policy.as_deref()), (false, Some("p")));
    assert_eq!(c.list_identities("a*").await.unwrap().identities, ["abc"]);
    let me = c.self_describe().await.unwrap();
    assert!(me.admin);
    assert_eq!(me.identity, "abc");
}

#[tokio::test]
async fn log_streams_parse_ndjson_and_report_bad_lines() {
    let (_s, c, _) = setup().await;
    let events: Vec<_> = c.audit_log().await.unwrap().collect().await;
    assert_eq!(events.len(), 2, "blank lines are skipped");
    let first = events[0].as_ref().unwrap();
    assert_eq!(
        (
            first.request.path.as_str(),
            first.response.code,
            first.response.time
        ),
        ("/v1/key/create/a", 200, 2)
    );
    assert_eq!(events[1].as_ref().unwrap().request.ip, "");

    let mut errs = c.error_log().await.unwrap();
    assert_eq!(
        errs.next().await.unwrap().unwrap().message,
        "level=INFO msg=hi"
    );
    assert!(matches!(errs.next().await.unwrap(), Err(Error::Decode(_))));
    assert!(errs.next().await.is_none());
}

#[tokio::test]
async fn identity_from_pem_files_and_ca_directory() {
    let server = TestServer::start(Arc::new(fake_kes)).await;
    let dir = tempfile::tempdir().unwrap();
    let key = ApiKey::generate().unwrap();
    let cert = key.certificate().unwrap();
    std::fs::write(dir.path().join("client.crt"), &cert.cert_pem).unwrap();
    std::fs::write(dir.path().join("client.key"), cert.key_pem.as_bytes()).unwrap();
    let cas = dir.path().join("cas");
    std::fs::create_dir(&cas).unwrap();
    std::fs::write(cas.join("server.pem"), &server.cert_pem).unwrap();
    std::fs::write(cas.join("README"), "not a certificate").unwrap();

    let c = Client::builder()
        .endpoint(server.endpoint())
        .identity_files(dir.path().join("client.crt"), dir.path().join("client.key"))
        .ca_file(&cas)
        .build()
        .unwrap();
    assert_eq!(c.identity(), Some(key.identity().as_str()));
    c.version().await.unwrap();
    assert_eq!(
        server.requests()[0].identity.as_deref(),
        Some(key.identity().as_str())
    );

    // Single CA file and in-memory PEM identity work too.
    let c = Client::builder()
        .endpoint(server.endpoint())
        .identity_pem(cert.cert_pem.clone(), cert.key_pem.as_bytes().to_vec())
        .ca_file(cas.join("server.pem"))
        .build()
        .unwrap();
    c.version().await.unwrap();
}

#[test]
fn builder_rejects_bad_configuration() {
    let key = ApiKey::generate().unwrap();
    let cert = key.certificate().unwrap();
    let cfg = |r: client::Result<Client>| match r {
        Err(e @ Error::Config(_)) => e.to_string(),
        other => panic!("expected a config error, got {other:?}"),
    };
    assert!(cfg(Client::builder().build()).contains("no server endpoint"));
    assert!(
        cfg(Client::builder()
            .endpoint("http://kes.example.net:7373")
            .build())
        .contains("requires TLS")
    );
    let both = Client::builder()
        .endpoint("kes.example.net:7373")
        .api_key(key.clone())
        .identity_pem(cert.cert_pem.clone(), cert.key_pem.as_bytes().to_vec())
        .build();
    assert!(cfg(both).contains("cannot be used together"));

    let missing = Client::builder()
        .endpoint("kes.example.net:7373")
        .ca_file("/nonexistent/ca.pem")
        .build();
    assert!(matches!(missing, Err(Error::Io { .. })), "{missing:?}");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "junk").unwrap();
    let r = Client::builder()
        .endpoint("kes.example.net:7373")
        .ca_file(&junk)
        .build();
    assert!(matches!(r, Err(Error::Tls(_))), "{r:?}");
    let r = Client::builder()
        .endpoint("kes.example.net:7373")
        .identity_pem(
            cert.cert_pem.clone(),
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n".to_vec(),
        )
        .build();
    assert!(matches!(r, Err(Error::Tls(_))), "{r:?}");
    let r = Client::builder()
        .endpoint("kes.example.net:7373")
        .identity_pem(b"no cert".to_vec(), cert.key_pem.as_bytes().to_vec())
        .build();
    assert!(matches!(r, Err(Error::Tls(_))), "{r:?}");
}
