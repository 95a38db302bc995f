//! TLS and identity: no certificate, a CA:TRUE certificate, two leaf
//! certificates, the published API key vector, self-describe, version,
//! status and the API listing.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use client::{ApiKey, CertifiedKey};
use common::{TestServer, raw_request, status_message};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, PKCS_ED25519};
use serde_json::{Value, json};

/// A self-signed CA:TRUE certificate (like a default `openssl req -x509`).
fn ca_true_cert() -> CertifiedKey {
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, "a CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    CertifiedKey {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem().into(),
    }
}

#[tokio::test]
async fn no_client_certificate_fails_the_handshake() {
    let s = TestServer::start().await;
    let c = s.client_with_cert(None);
    for path in ["/version", "/v1/status"] {
        assert!(
            c.get(s.url(path)).send().await.is_err(),
            "{path} must not be served without a certificate"
        );
    }
    assert!(
        raw_request(s.addr, &s.server_cert_pem, vec![], "GET", "/version", b"")
            .await
            .is_err()
    );
    // and the server keeps serving
    assert_eq!(
        s.client(&s.admin)
            .get(s.url("/v1/status"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.running.stop().await;
}

#[tokio::test]
async fn ca_true_certificate_is_not_an_identity() {
    let s = TestServer::start().await;
    let ca = ca_true_cert();
    let r = s.raw(Some(&ca), "GET", "/v1/status", b"").await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (400, "tls: client certificate is required")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = s
        .raw(Some(&ca), "GET", "/v1/identity/self/describe", b"")
        .await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (400, "tls: client certificate is required")
    );
    s.running.stop().await;
}

#[tokio::test]
async fn two_leaf_certificates_are_refused() {
    let s = TestServer::start().await;
    let a = s.admin.certificate().unwrap();
    let b = s.minio.certificate().unwrap();
    let r = raw_request(
        s.addr,
        &s.server_cert_pem,
        vec![&a, &b],
        "GET",
        "/v1/status",
        b"",
    )
    .await
    .unwrap();
    assert_eq!(
        (r.status, r.message().as_str()),
        (400, "tls: received more than one client certificate")
    );
    // a CA in the chain after the leaf is skipped: the leaf alone identifies
    let ca = ca_true_cert();
    let r = raw_request(
        s.addr,
        &s.server_cert_pem,
        vec![&a, &ca],
        "GET",
        "/v1/status",
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    s.running.stop().await;
}

#[tokio::test]
async fn published_api_key_vector_is_the_admin() {
    // kes-vectors.json: minio/kes server_test.go API key and identity.
    let key = ApiKey::parse("kes:v1:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7UnjEepYDRc").unwrap();
    let id = "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22";
    assert_eq!(key.identity(), id);
    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let other = ApiKey::generate().unwrap();
    let path = common::write_config(dir.path(), &key, &other, &ApiKey::generate().unwrap(), "");
    let running = kes::server::Builder::from_file(&path)
        .unwrap()
        .start()
        .await
        .unwrap();
    let ck = key.certificate().unwrap();
    let r = raw_request(
        running.addr,
        &cert,
        vec![&ck],
        "GET",
        "/v1/identity/self/describe",
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["identity"], id);
    assert_eq!(v["admin"], true);
    let r = raw_request(running.addr, &cert, vec![&ck], "GET", "/v1/key/list/", b"")
        .await
        .unwrap();
    assert_eq!(
        r.status, 200,
        "the vector identity is admin: no policy needed"
    );
    running.stop().await;
}

#[tokio::test]
async fn self_describe_version_status_and_api() {
    let s = TestServer::start().await;
    let minio = s.client(&s.minio);
    let v: Value = minio
        .get(s.url("/v1/identity/self/describe"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["identity"], s.minio.identity());
    assert_eq!(v["policy"], "minio");
    assert_eq!(v["allow"]["/v1/key/generate/*"], json!({}));
    assert_eq!(v["deny"]["/v1/key/delete/*"], json!({}));
    assert_eq!(v["created_by"], s.admin.identity());

    let v: Value = minio
        .get(s.url("/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["version"].is_string() && v["commit"].is_string());

    let st: Value = minio
        .get(s.url("/v1/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["os"], std::env::consts::OS);
    assert!(st["uptime"].is_u64());
    assert!(st["keystore_latency"].as_u64().unwrap() >= 1);
    assert!(st.get("keystore_unreachable").is_none());

    let admin = s.client(&s.admin);
    let api: Vec<Value> = admin
        .get(s.url("/v1/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let find = |p: &str| {
        api.iter()
            .find(|r| r["path"] == p)
            .cloned()
            .unwrap_or_else(|| panic!("{p} listed"))
    };
    assert_eq!(
        find("/v1/key/bulk/decrypt/"),
        json!({"method": "POST", "path": "/v1/key/bulk/decrypt/", "max_body": 1048576, "timeout": 15})
    );
    assert_eq!(find("/v1/key/create/")["method"], "PUT");
    assert_eq!(find("/version")["timeout"], 10);

    assert_eq!(
        admin.get(s.url("/v1/ready")).send().await.unwrap().status(),
        200
    );

    let id: Value = admin
        .get(s.url(&format!("/v1/identity/describe/{}", s.minio.identity())))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(id["policy"], "minio");
    let id: Value = admin
        .get(s.url(&format!("/v1/identity/describe/{}", s.admin.identity())))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(id["admin"], true);
    let ids: Value = admin
        .get(s.url("/v1/identity/list/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids["identities"].as_array().unwrap().len(), 3);
    let pols: Value = admin
        .get(s.url("/v1/policy/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pols["names"], json!(["auditor", "minio"]));
    let pol: Value = admin
        .get(s.url("/v1/policy/read/minio"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pol["name"], "minio");
    assert_eq!(pol["deny"], json!({"/v1/key/delete/*": {}}));
    let pol: Value = admin
        .get(s.url("/v1/policy/describe/auditor"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pol["created_by"], s.admin.identity());
    let (st, _) =
        status_message(admin.get(s.url("/v1/policy/list/a*")).send().await.unwrap()).await;
    assert_eq!(st, 200);
    s.running.stop().await;
}

#[tokio::test]
async fn plain_http_gets_tls_is_required() {
    let s = TestServer::start().await;
    let r = reqwest::Client::new()
        .get(format!("http://{}/v1/status", s.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], client::Error::TLS_REQUIRED.1);
    // and TLS clients are still served
    assert_eq!(
        s.client(&s.admin)
            .get(s.url("/v1/status"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.running.stop().await;
}

#[tokio::test]
async fn auth_on_verifies_client_certificates_against_the_ca() {
    use rcgen::{ExtendedKeyUsagePurpose, Issuer};
    // A test CA and a client certificate it signs.
    let ca_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut leaf_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "client");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let signed = CertifiedKey {
        cert_pem: leaf.pem(),
        cert_der: leaf.der().to_vec(),
        key_pem: leaf_key.serialize_pem().into(),
    };
    let signed_id = client::identity::of_certificate(&signed.cert_der).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    std::fs::write(dir.path().join("ca.crt"), ca_cert.pem()).unwrap();
    let config = format!(
        "admin:\n  identity: {signed_id}\ntls:\n  key: server.key\n  cert: server.crt\n  auth: on\n  ca: ca.crt\naddress: 127.0.0.1:0\nkeystore:\n  fs:\n    path: keys\n"
    );
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let running = kes::server::Builder::from_file(&dir.path().join("config.yaml"))
        .unwrap()
        .start()
        .await
        .unwrap();

    // Signed by the CA: served, and identified by the leaf's public key.
    let r = raw_request(
        running.addr,
        &cert,
        vec![&signed],
        "GET",
        "/v1/identity/self/describe",
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["identity"], signed_id.as_str());
    // Self-signed (an API-key certificate): the handshake is refused.
    let self_signed = ApiKey::generate().unwrap().certificate().unwrap();
    assert!(
        raw_request(
            running.addr,
            &cert,
            vec![&self_signed],
            "GET",
            "/version",
            b""
        )
        .await
        .is_err()
    );
    running.stop().await;
}

/// Reads one HTTP/1.1 response (headers + Content-Length body) from `tls`.
async fn read_response<S: tokio::io::AsyncRead + Unpin>(tls: &mut S) -> u16 {
    use tokio::io::AsyncReadExt as _;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            tls.read(&mut byte).await.unwrap(),
            1,
            "connection closed mid-response"
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    tls.read_exact(&mut body).await.unwrap();
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn header_read_and_idle_timeouts() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = tempfile::tempdir().unwrap();
    let cert = common::write_server_cert(dir.path());
    let admin = ApiKey::generate().unwrap();
    let path = common::write_config(
        dir.path(),
        &admin,
        &ApiKey::generate().unwrap(),
        &ApiKey::generate().unwrap(),
        "",
    );
    let timeouts = kes::server::timeouts::Timeouts {
        header: Duration::from_millis(300),
        idle: Duration::from_secs(2),
    };
    let options = kes::server::Options {
        timeouts,
        ..kes::server::Options::default()
    };
    let running = kes::server::Builder::from_file(&path)
        .unwrap()
        .options(options)
        .start()
        .await
        .unwrap();
    let ck = admin.certificate().unwrap();
    let connect = || async {
        let config = common::tls_client(&cert, &[&ck]);
        let tcp = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap()
    };
    const REQUEST: &[u8] = b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n";

    // A request head that never completes is cut after the header timeout,
    // long before the idle timeout.
    let mut slow = connect().await;
    slow.write_all(b"GET /v1/status HTTP/1.1\r\n")
        .await
        .unwrap();
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "no response to an incomplete head");
    assert!(
        t.elapsed() < timeouts.idle,
        "closed by the header timeout, took {:?}",
        t.elapsed()
    );

    // A keep-alive connection idle for longer than the header timeout (but
    // less than the idle timeout) still serves its next request ...
    let mut tls = connect().await;
    tls.write_all(REQUEST).await.unwrap();
    assert_eq!(read_response(&mut tls).await, 200);
    tokio::time::sleep(timeouts.header * 3).await; // the idle time under test
    tls.write_all(REQUEST).await.unwrap();
    assert_eq!(read_response(&mut tls).await, 200);
    // ... and is closed once it has been idle for the idle timeout.
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest).await;
    assert!(rest.is_empty());
    assert!(
        t.elapsed() >= timeouts.idle - Duration::from_millis(200),
        "closed too early: {:?}",
        t.elapsed()
    );
    running.stop().await;
}

/// A reconnecting client resumes its TLS session with the server's ticket
/// (no full handshake), and the resumed connection has the identity of the
/// certificate of the first handshake.
#[tokio::test]
async fn resumed_sessions_keep_the_identity() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let s = TestServer::start().await;
    let cert = s.minio.certificate().unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(common::tls_client(
        &s.server_cert_pem,
        &[&cert],
    )));
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(
            b"GET /v1/identity/self/describe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        tls.read_to_end(&mut buf).await.unwrap();
        kinds.push(tls.get_ref().1.handshake_kind());
        let text = String::from_utf8_lossy(&buf);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.contains(&s.minio.identity()), "{text}");
    }
    assert_eq!(
        kinds,
        [
            Some(rustls::HandshakeKind::Full),
            Some(rustls::HandshakeKind::Resumed)
        ]
    );
    s.running.stop().await;
}

/// A resumption does not run the certificate verifier again; the server checks the leaf the
/// session was made with anyway, so a certificate that expired after its first handshake can no
/// longer resume (a full handshake refuses it too).
#[tokio::test]
async fn resumed_sessions_of_expired_certificates_are_closed() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let s = TestServer::start().await;
    // Valid from a minute ago until six seconds from now (room for the first full handshake
    // on a busy machine; the expiry is then awaited by polling).
    let now = time::OffsetDateTime::now_utc();
    let expiry = now + time::Duration::seconds(6);
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut params = CertificateParams::new(vec!["short-lived".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "short-lived");
    params.not_before = now - time::Duration::minutes(1);
    params.not_after = expiry;
    let cert = params.self_signed(&key).unwrap();
    let short = CertifiedKey {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: zeroize::Zeroizing::new(key.serialize_pem()),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(common::tls_client(
        &s.server_cert_pem,
        &[&short],
    )));
    let request = async |connector: &tokio_rustls::TlsConnector| {
        let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let mut buf = Vec::new();
        // The server may close before the request is written: both ends count as refused.
        let _ = tls
            .write_all(
                b"GET /v1/identity/self/describe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .await;
        let _ = tls.read_to_end(&mut buf).await;
        (
            tls.get_ref().1.handshake_kind(),
            String::from_utf8_lossy(&buf).into_owned(),
        )
    };
    // An identity without a policy: the server answers (404 "identity does not exist").
    let (kind, text) = request(&connector).await;
    assert_eq!(kind, Some(rustls::HandshakeKind::Full));
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");

    // Wait out the certificate's lifetime (wall-clock time, not synchronisation).
    let past = expiry + time::Duration::seconds(1);
    while time::OffsetDateTime::now_utc() < past {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (kind, text) = request(&connector).await;
    assert_eq!(kind, Some(rustls::HandshakeKind::Resumed));
    assert!(
        text.is_empty(),
        "an expired certificate resumed a session: {text}"
    );
    s.running.stop().await;
}
