//! Every (status, message) pair of kes-api.md §2.2 that a client can provoke,
//! compared with the client crate's canonical constants, plus the bad-input
//! table: each gets its documented 4xx and the server keeps serving.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::Error as E;
use common::{TestServer, status_message};
use keystores::{Keystore, Page, Status};
use serde_json::json;
use zeroize::Zeroizing;

fn pair(c: client::Canonical) -> (u16, String) {
    (c.0, c.1.to_owned())
}

#[tokio::test]
async fn canonical_errors() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    let u = |p: &str| s.url(p);
    assert_eq!(
        c.post(u("/v1/key/create/k")).send().await.unwrap().status(),
        200
    );

    let cases: Vec<(reqwest::RequestBuilder, (u16, String))> = vec![
        (c.post(u("/v1/key/create/k")), pair(E::KEY_EXISTS)),
        (c.get(u("/v1/key/describe/nope")), pair(E::KEY_NOT_FOUND)),
        (c.post(u("/v1/key/generate/nope")), pair(E::KEY_NOT_FOUND)),
        (
            c.post(u("/v1/key/encrypt/nope"))
                .json(&json!({"plaintext": ""})),
            pair(E::KEY_NOT_FOUND),
        ),
        (
            c.post(u("/v1/key/decrypt/nope"))
                .json(&json!({"ciphertext": ""})),
            pair(E::KEY_NOT_FOUND),
        ),
        (
            c.put(u("/v1/key/hmac/nope")).json(&json!({"message": ""})),
            pair(E::KEY_NOT_FOUND),
        ),
        (c.delete(u("/v1/key/delete/nope")), pair(E::KEY_NOT_FOUND)),
        (
            s.client(&s.unknown).get(u("/v1/status")),
            pair(E::NOT_ALLOWED),
        ),
        (
            c.post(u("/v1/key/decrypt/k"))
                .json(&json!({"ciphertext": B64.encode([0u8; 64])})),
            pair(E::DECRYPT_FAILED),
        ),
        (
            c.get(u("/v1/policy/describe/nope")),
            pair(E::POLICY_NOT_FOUND),
        ),
        (c.get(u("/v1/policy/read/nope")), pair(E::POLICY_NOT_FOUND)),
        (
            c.get(u(&format!("/v1/identity/describe/{}", "a".repeat(64)))),
            pair(E::IDENTITY_NOT_FOUND),
        ),
        (
            c.post(u("/v1/key/encrypt/k")).body("{"),
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            c.post(u("/v1/key/import/i")).body("[]"),
            pair(E::INVALID_IMPORT_BODY),
        ),
        (
            c.post(u("/v1/key/import/i"))
                .json(&json!({"key": B64.encode([1u8; 32]), "cipher": "DES"})),
            (406, "algorithm 'DES' is not supported".into()),
        ),
        (
            c.post(u("/v1/key/import/i"))
                .json(&json!({"key": B64.encode([1u8; 31]), "cipher": "AES256"})),
            (406, "invalid key size for 'AES256'".into()),
        ),
        (
            c.post(u("/v1/key/bulk/decrypt/k"))
                .json(&vec![json!({"ciphertext": ""}); 1001]),
            pair(E::TOO_MANY_CIPHERTEXTS),
        ),
        (
            c.get(u("/v1/key/create/k")),
            (405, "received method 'GET' expected 'PUT'".into()),
        ),
        (
            c.post(u("/v1/key/describe/k")),
            (405, "received method 'POST' expected 'GET'".into()),
        ),
        (
            c.get(u("/v1/key/create/-bad")),
            (405, "received method 'GET' expected 'PUT'".into()),
        ),
        (
            c.post(u("/v1/key/create/-bad")),
            (
                400,
                "key name '-bad' is empty, too long or contains invalid characters".into(),
            ),
        ),
        (
            c.get(u("/v1/policy/read/-x")),
            (
                400,
                "policy name '-x' is empty, too long or contains invalid characters".into(),
            ),
        ),
        (
            c.get(u("/v1/identity/describe/-x")),
            (
                400,
                "identity '-x' is empty, too long or contains invalid characters".into(),
            ),
        ),
        (
            c.get(u("/v1/key/list/a*b")),
            (
                400,
                "listing pattern 'a*b' is empty, too long or is invalid".into(),
            ),
        ),
    ];
    for (req, want) in cases {
        let got = status_message(req.send().await.unwrap()).await;
        assert_eq!(got, want);
    }
    let r = c.get(u("/v1/key/create/k")).send().await.unwrap();
    assert_eq!(r.headers().get("accept").unwrap(), "PUT");
    let r = c.get(u("/v1/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "404 page not found\n");

    // 409: a key stored in the legacy JSON format has no HMAC key.
    let legacy = json!({"bytes": B64.encode([3u8; 32]), "algorithm": "AES256-GCM_SHA256", "created_by": "x"});
    std::fs::write(s.dir.path().join("keys/legacy"), legacy.to_string()).unwrap();
    let got = status_message(
        c.put(u("/v1/key/hmac/legacy"))
            .json(&json!({"message": ""}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, pair(E::HMAC_NOT_SUPPORTED));
    let d: serde_json::Value = c
        .get(u("/v1/key/describe/legacy"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["algorithm"], "AES256");
    assert_eq!(
        d["created_at"], "0001-01-01T00:00:00Z",
        "no date stored: Go's zero time, as KES"
    );
    // 502: a stored value that cannot be read is a keystore read failure, without detail.
    std::fs::write(s.dir.path().join("keys/broken"), "!!not a key!!").unwrap();
    let got = status_message(c.post(u("/v1/key/generate/broken")).send().await.unwrap()).await;
    assert_eq!(got, pair(E::READ_KEY_FAILED));
    s.running.stop().await;
}

/// A keystore that is down: unreachable or failing.
struct Down {
    unreachable: bool,
}

impl Down {
    fn err(&self) -> keystores::Error {
        if self.unreachable {
            keystores::Error::unreachable("connection refused")
        } else {
            keystores::Error::backend("permission denied")
        }
    }
}

#[async_trait]
impl Keystore for Down {
    async fn status(&self) -> Result<Status, keystores::Error> {
        Err(self.err())
    }
    async fn create(&self, _: &str, _: &[u8]) -> Result<(), keystores::Error> {
        Err(self.err())
    }
    async fn get(&self, _: &str) -> Result<Zeroizing<Vec<u8>>, keystores::Error> {
        Err(self.err())
    }
    async fn delete(&self, _: &str) -> Result<(), keystores::Error> {
        Err(self.err())
    }
    async fn list(&self, _: &str, _: &str, _: usize) -> Result<Page, keystores::Error> {
        Err(self.err())
    }
}

#[tokio::test]
async fn keystore_failures_are_502_and_ready_reports_them() {
    for unreachable in [true, false] {
        let s = common::TestServer::start_on(Arc::new(Down { unreachable })).await;
        let c = s.client(&s.admin);
        let cases = [
            (
                c.post(s.url("/v1/key/create/k")),
                pair(E::CREATE_KEY_FAILED),
            ),
            (
                c.post(s.url("/v1/key/generate/k")),
                pair(E::READ_KEY_FAILED),
            ),
            (
                c.delete(s.url("/v1/key/delete/k")),
                pair(E::DELETE_KEY_FAILED),
            ),
            (c.get(s.url("/v1/key/list/")), pair(E::LIST_KEYS_FAILED)),
            (
                c.get(s.url("/v1/ready")),
                if unreachable {
                    pair(E::KEYSTORE_UNREACHABLE)
                } else {
                    pair(E::KEYSTORE_UNAVAILABLE)
                },
            ),
        ];
        for (req, want) in cases {
            let resp = req.send().await.unwrap();
            let body = format!("{:?}", resp.headers());
            let got = status_message(resp).await;
            assert_eq!(got, want);
            assert!(!body.contains("permission denied") && !body.contains("connection refused"));
        }
        let st: serde_json::Value = c
            .get(s.url("/v1/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                st["keystore_unreachable"].as_bool(),
                st["keystore_unavailable"].as_bool()
            ),
            (Some(true), Some(true))
        );
        s.running.stop().await;
    }
}

#[tokio::test]
async fn bad_input_table_then_a_valid_request_succeeds() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    assert_eq!(
        c.post(s.url("/v1/key/create/good"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let long = "a".repeat(81);
    let name_err = |n: &str| {
        (
            400u16,
            format!("key name '{n}' is empty, too long or contains invalid characters"),
        )
    };
    let body = |v: serde_json::Value| v.to_string().into_bytes();
    let big = vec![b'a'; (1 << 20) + 1];
    let mut big_json = b"{\"plaintext\":\"".to_vec();
    big_json.extend(std::iter::repeat_n(b'A', 1 << 20));
    big_json.extend(b"\"}");
    type Case = (&'static str, String, Vec<u8>, (u16, String));
    let cases: Vec<Case> = vec![
        ("POST", "/v1/key/create/".into(), vec![], name_err("")),
        (
            "POST",
            format!("/v1/key/create/{long}"),
            vec![],
            name_err(&long),
        ),
        ("POST", "/v1/key/create/a/b".into(), vec![], name_err("a/b")),
        (
            "POST",
            "/v1/key/create/%C3%A9".into(),
            vec![],
            name_err("é"),
        ),
        (
            "POST",
            "/v1/key/create/-lead".into(),
            vec![],
            name_err("-lead"),
        ),
        (
            "POST",
            "/v1/key/create/trail-".into(),
            vec![],
            name_err("trail-"),
        ),
        ("POST", "/v1/key/create/_".into(), vec![], name_err("_")),
        (
            "POST",
            "/v1/key/encrypt/good".into(),
            body(json!({"plaintext": "%%%"})),
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "POST",
            "/v1/key/decrypt/good".into(),
            body(json!({"ciphertext": "not base64!"})),
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "POST",
            "/v1/key/decrypt/good".into(),
            body(json!({"ciphertext": 5})),
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "POST",
            "/v1/key/import/x".into(),
            body(json!({"key": "@@", "cipher": "AES256"})),
            pair(E::INVALID_IMPORT_BODY),
        ),
        (
            "POST",
            "/v1/key/import/x".into(),
            body(json!({"key": B64.encode([0u8; 31]), "cipher": "AES256"})),
            (406, "invalid key size for 'AES256'".into()),
        ),
        (
            "POST",
            "/v1/key/import/x".into(),
            body(json!({"key": B64.encode([0u8; 33]), "cipher": "AES256"})),
            (406, "invalid key size for 'AES256'".into()),
        ),
        (
            "POST",
            "/v1/key/encrypt/good".into(),
            big.clone(),
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "POST",
            "/v1/key/encrypt/good".into(),
            big_json,
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "POST",
            "/v1/key/import/y".into(),
            big,
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "POST",
            "/v1/key/encrypt/good".into(),
            b"{\"plaintext\":".to_vec(),
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "POST",
            "/v1/key/generate/good".into(),
            b"{not json".to_vec(),
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "PUT",
            "/v1/key/hmac/good".into(),
            b"null".to_vec(),
            pair(E::INVALID_REQUEST_BODY),
        ),
        (
            "DELETE",
            "/v1/key/create/good".into(),
            vec![],
            (405, "received method 'DELETE' expected 'PUT'".into()),
        ),
        (
            "PATCH",
            "/v1/status".into(),
            vec![],
            (405, "received method 'PATCH' expected 'GET'".into()),
        ),
        (
            "GET",
            "/v1/key/delete/good".into(),
            vec![],
            (405, "received method 'GET' expected 'DELETE'".into()),
        ),
        (
            "PUT",
            "/v1/key/bulk/decrypt/good".into(),
            vec![],
            (405, "received method 'PUT' expected 'POST'".into()),
        ),
    ];
    let admin_cert = s.admin.certificate().unwrap();
    for (method, path, body, want) in cases {
        let r = s.raw(Some(&admin_cert), method, &path, &body).await;
        assert_eq!((r.status, r.message()), want, "{method} {path}");
        // the server keeps serving, and nothing was created by the bad request
        let ok = c.post(s.url("/v1/key/generate/good")).send().await.unwrap();
        assert_eq!(ok.status(), 200, "after {method} {path}");
    }
    let l: serde_json::Value = c
        .get(s.url("/v1/key/list/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        l["names"],
        json!(["good"]),
        "no bad request left a key behind"
    );
    s.running.stop().await;
}
