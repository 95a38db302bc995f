//! The library's `spawn` helper: an in-process server on port 0, raw HTTP/1.1 requests, graceful
//! shutdown, and leftover temp files removed at start.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

use object_server::{Config, Credentials};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn spawn_serve_and_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join(".objsrv/tmp")).unwrap();
    std::fs::write(data.join(".objsrv/tmp/leftover"), b"partial upload").unwrap();
    let (credentials, _) = Credentials::from_lookup(&|k| match k {
        "MINIO_ROOT_USER" => Some("admin".to_owned()),
        "MINIO_ROOT_PASSWORD" => Some("password123".to_owned()),
        _ => None,
    })
    .unwrap();
    let server = object_server::spawn(Config {
        address: "127.0.0.1:0".to_owned(),
        data_dir: data.clone(),
        certs_dir: Some(dir.path().join("no-certs")),
        credentials,
        limits: Default::default(),
        kms: Default::default(),
        domains: Vec::new(),
        metrics_public: false,
    })
    .await
    .unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert!(
        !data.join(".objsrv/tmp/leftover").exists(),
        "temp files must be removed at start"
    );

    // Anonymous requests are denied with an S3 XML error.
    let resp = raw_request(
        server.local_addr(),
        "GET /bucket/key HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    assert!(resp.contains("<Code>AccessDenied</Code>"), "{resp}");

    // A bad signature is rejected.
    let resp = raw_request(
        server.local_addr(),
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nx-amz-date: 20250101T000000Z\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-HMAC-SHA256 Credential=admin/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");

    // Garbage does not take the server down.
    let resp = raw_request(server.local_addr(), "NOT HTTP\r\n\r\n").await;
    assert!(
        resp.starts_with("HTTP/1.1 400") || resp.is_empty(),
        "{resp}"
    );
    let resp = raw_request(
        server.local_addr(),
        "GET /bucket HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");

    let addr = server.local_addr();
    server.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener still open after shutdown"
    );
}
