//! Path-normalisation attacks: an identity allowed to generate but denied
//! delete tries to reach delete (or any route its policy does not allow)
//! through `..`, `//`, `%2F`, `%2E`, trailing slashes and case tricks. Each
//! is refused and the key survives.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use common::TestServer;

#[tokio::test]
async fn path_tricks_never_reach_a_route_the_policy_denies() {
    let s = TestServer::start().await;
    let admin = s.client(&s.admin);
    assert_eq!(
        admin
            .post(s.url("/v1/key/create/k"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let minio = s.minio.certificate().unwrap();

    let attacks: &[(&str, &str, u16)] = &[
        ("DELETE", "/v1/key/generate/../delete/k", 400),
        ("DELETE", "/v1/key/generate/%2E%2E/delete/k", 400),
        ("DELETE", "/v1/key/generate/%2e%2e%2fdelete%2fk", 400),
        ("DELETE", "/v1/key/generate/k%2F..%2F..%2Fdelete%2Fk", 400),
        ("DELETE", "/v1/key/generate/k/../../delete/k", 400),
        ("DELETE", "/v1/key//delete/k", 400),
        ("DELETE", "//v1/key/delete/k", 400),
        ("DELETE", "/v1/key/./delete/k", 400),
        ("DELETE", "/v1/key/%2E/delete/k", 400),
        ("DELETE", "/v1/key/generate/%00/../delete/k", 400),
        ("DELETE", "/v1/key/generate\\..\\delete/k", 400),
        ("DELETE", "/v1/key/delete/k/", 403),
        ("DELETE", "/v1/key/delete%2Fk", 403),
        ("DELETE", "/V1/key/delete/k", 404),
        ("DELETE", "/v1/KEY/DELETE/k", 404),
        ("DELETE", "/v1/key/list/../../key/delete/k", 400),
        ("POST", "/v1/key/delete/k", 405),
        ("GET", "/v1/policy/list/../../key/list/", 400),
        ("GET", "/v1/key/generate/../../v1/policy/list/", 400),
    ];
    for (method, target, want) in attacks {
        let r = s.raw(Some(&minio), method, target, b"").await;
        assert_eq!(
            r.status,
            *want,
            "{method} {target}: {:?}",
            String::from_utf8_lossy(&r.body)
        );
        assert_ne!(r.status, 200);
    }
    // The admin's malformed variants are refused too (the routed resource is never `k`).
    let admin_cert = s.admin.certificate().unwrap();
    for target in [
        "/v1/key/delete/k/",
        "/v1/key/delete/k/..",
        "/v1/key/delete/./k",
        "/v1/key/delete/%6B%2F",
    ] {
        let r = s.raw(Some(&admin_cert), "DELETE", target, b"").await;
        assert_eq!(r.status, 400, "admin {target}");
    }
    // The key is still there, and the allowed route works.
    assert_eq!(
        admin
            .get(s.url("/v1/key/describe/k"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = s
        .raw(Some(&minio), "POST", "/v1/key/generate/k?enclave=x", b"")
        .await;
    assert_eq!(r.status, 200);
    // Percent-encoded names are decoded once, exactly as routed: %6B is `k`.
    let r = s
        .raw(Some(&minio), "POST", "/v1/key/generate/%6B", b"")
        .await;
    assert_eq!(r.status, 200);
    s.running.stop().await;
}
