//! Identity forgery: a client must never be identified by a certificate
//! whose private key it did not prove to hold in the TLS handshake.
//!
//! The attack (upstream KES's default mode accepts it): sign the handshake
//! with your own self-signed CA:TRUE certificate and append a CA:FALSE
//! certificate that carries the victim's public key, signed by your CA.
//! Public keys are not secret, so anyone could become the admin. Here the
//! identity is the first certificate only; these tests try every order and
//! validity of such chains against the admin and a policy identity, over
//! real TLS, and check that legitimate chains still work.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::sync::Arc;

use client::{ApiKey, CertifiedKey};
use common::{TestServer, raw_request};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ED25519,
    PublicKeyData, SignatureAlgorithm,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A public key taken from someone else's certificate: all an attacker has.
struct StolenPublicKey(Vec<u8>);

impl PublicKeyData for StolenPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        // API-key certificates are Ed25519 (kes-api.md §3.2).
        &PKCS_ED25519
    }
}

fn stolen_public_key(victim: &ApiKey) -> StolenPublicKey {
    let der = victim.certificate().unwrap().cert_der;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    StolenPublicKey(cert.public_key().subject_public_key.data.to_vec())
}

/// The attacker's own CA: CA:TRUE, self-signed, and its key.
struct AttackerCa {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

fn attacker_ca() -> AttackerCa {
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "evil CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let der = params.self_signed(&key).unwrap().der().to_vec();
    AttackerCa { params, key, der }
}

/// A CA:FALSE certificate carrying `victim`'s public key, signed by the
/// attacker's CA; `expired` puts its validity in the past.
fn forged_leaf(ca: &AttackerCa, victim: &ApiKey, expired: bool) -> Vec<u8> {
    let mut params = CertificateParams::new(vec!["victim".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "victim");
    params.is_ca = IsCa::ExplicitNoCa;
    if expired {
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(2002, 1, 1);
    }
    let issuer = Issuer::from_params(&ca.params, &ca.key);
    params
        .signed_by(&stolen_public_key(victim), &issuer)
        .unwrap()
        .der()
        .to_vec()
}

/// Always presents `chain`, signing the handshake with `key`, without the
/// client-side check that the key matches the first certificate (an attacker
/// controls their own client).
#[derive(Debug)]
struct ForcedChain(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for ForcedChain {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// Where a request goes: a server's address and the certificate to trust.
struct Target {
    addr: std::net::SocketAddr,
    server_cert_pem: String,
}

impl From<&TestServer> for Target {
    fn from(s: &TestServer) -> Self {
        Target {
            addr: s.addr,
            server_cert_pem: s.server_cert_pem.clone(),
        }
    }
}

/// One HTTP/1.1 request presenting `chain` and signing with `key_pem`.
/// `Err` when the server refuses the handshake.
async fn forged_request(
    s: &Target,
    chain: Vec<Vec<u8>>,
    key_pem: &str,
    method: &str,
    path: &str,
) -> std::io::Result<(u16, Value)> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let signer = provider.key_provider.load_private_key(key).unwrap();
    let chain = chain.into_iter().map(CertificateDer::from).collect();
    let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, signer));
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(s.server_cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::new(ForcedChain(certified)));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(s.addr).await?;
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await?;
    tls.flush().await?;
    let mut buf = Vec::new();
    // TLS 1.3: a refused client certificate surfaces at the first read.
    tls.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no response: {text:?}")))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// Every request an attacker would try with a forged chain.
const ATTEMPTS: &[(&str, &str)] = &[
    ("GET", "/v1/identity/self/describe"),
    ("GET", "/v1/key/list/"),
    ("POST", "/v1/key/create/forged-key"),
    ("DELETE", "/v1/key/delete/victims-key"),
    ("POST", "/v1/key/generate/victims-key"),
];

/// Asserts that `chain` (signed with `key_pem`) never acts as anyone:
/// refused at the handshake, or answered 400 without an identity.
async fn never_identified(s: &TestServer, chain: Vec<Vec<u8>>, key_pem: &str, what: &str) {
    let target = Target::from(s);
    for (method, path) in ATTEMPTS {
        match forged_request(&target, chain.clone(), key_pem, method, path).await {
            Err(_) => {} // handshake refused
            Ok((status, body)) => {
                assert_eq!(
                    (status, body["message"].as_str()),
                    (400, Some("tls: client certificate is required")),
                    "{what}: {method} {path} must not be served"
                );
            }
        }
    }
}

async fn victims_key_is_intact(s: &TestServer) {
    let admin = s.client(&s.admin);
    let r = admin
        .get(s.url("/v1/key/describe/victims-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the victim's key must survive");
    let r = admin
        .get(s.url("/v1/key/describe/forged-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the forger must not have created a key");
}

#[tokio::test]
async fn forged_chain_with_the_ca_first_is_never_the_victim() {
    let s = TestServer::start().await;
    let admin = s.client(&s.admin);
    let r = admin
        .post(s.url("/v1/key/create/victims-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ca = attacker_ca();
    let ca_key = ca.key.serialize_pem();
    for victim in [&s.admin, &s.minio] {
        for expired in [false, true] {
            let chain = vec![ca.der.clone(), forged_leaf(&ca, victim, expired)];
            never_identified(
                &s,
                chain,
                &ca_key,
                &format!("[CA, forged expired={expired}]"),
            )
            .await;
        }
    }
    victims_key_is_intact(&s).await;
    s.running.stop().await;
}

#[tokio::test]
async fn forged_chain_with_the_forged_leaf_first_fails_the_handshake() {
    let s = TestServer::start().await;
    s.client(&s.admin)
        .post(s.url("/v1/key/create/victims-key"))
        .send()
        .await
        .unwrap();
    let ca = attacker_ca();
    let ca_key = ca.key.serialize_pem();
    for victim in [&s.admin, &s.minio] {
        for expired in [false, true] {
            // The attacker cannot sign with the victim's key: it signs with its own.
            let chain = vec![forged_leaf(&ca, victim, expired), ca.der.clone()];
            for (method, path) in ATTEMPTS {
                let r =
                    forged_request(&Target::from(&s), chain.clone(), &ca_key, method, path).await;
                assert!(
                    r.is_err(),
                    "[forged expired={expired}, CA]: {method} {path} got past the handshake: {r:?}"
                );
            }
        }
    }
    victims_key_is_intact(&s).await;
    // and the real admin still works
    let r = s
        .client(&s.admin)
        .get(s.url("/v1/identity/self/describe"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["admin"], true);
    s.running.stop().await;
}

/// A leaf issued by an intermediate CA, as PKI deployments present it.
fn leaf_under_intermediate(expired: bool) -> (CertifiedKey, Vec<u8>, Vec<u8>) {
    let root_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
    root.distinguished_name.push(DnType::CommonName, "root");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_der = root.self_signed(&root_key).unwrap().der().to_vec();
    let int_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut int = CertificateParams::new(Vec::<String>::new()).unwrap();
    int.distinguished_name
        .push(DnType::CommonName, "intermediate");
    int.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let int_der = int
        .signed_by(&int_key, &Issuer::from_params(&root, &root_key))
        .unwrap()
        .der()
        .to_vec();
    let leaf_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut leaf = CertificateParams::new(vec!["client".to_owned()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "client");
    leaf.is_ca = IsCa::ExplicitNoCa;
    if expired {
        leaf.not_before = rcgen::date_time_ymd(2001, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(2002, 1, 1);
    }
    let leaf_cert = leaf
        .signed_by(&leaf_key, &Issuer::from_params(&int, &int_key))
        .unwrap();
    let ck = CertifiedKey {
        cert_pem: leaf_cert.pem(),
        cert_der: leaf_cert.der().to_vec(),
        key_pem: leaf_key.serialize_pem().into(),
    };
    (ck, int_der, root_der)
}

#[tokio::test]
async fn leaf_then_intermediate_identifies_the_leaf() {
    // A server whose admin is the leaf's identity.
    let (leaf, int_der, root_der) = leaf_under_intermediate(false);
    let want = client::identity::of_certificate(&leaf.cert_der).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server_cert_pem = common::write_server_cert(dir.path());
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {want}\n\
             tls:\n  key: server.key\n  cert: server.crt\nkeystore:\n  fs:\n    path: keys\n"
        ),
    )
    .unwrap();
    let running = kes::server::Builder::from_file(&config)
        .unwrap()
        .start()
        .await
        .unwrap();
    let target = Target {
        addr: running.addr,
        server_cert_pem,
    };
    for chain in [
        vec![leaf.cert_der.clone()],
        vec![leaf.cert_der.clone(), int_der.clone()],
        vec![leaf.cert_der.clone(), int_der.clone(), root_der.clone()],
    ] {
        let n = chain.len();
        let (status, v) = forged_request(
            &target,
            chain,
            leaf.key_pem.as_str(),
            "GET",
            "/v1/identity/self/describe",
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "chain of {n}: {v}");
        assert_eq!(v["identity"], want.as_str());
        assert_eq!(v["admin"], true);
    }
    // The intermediate's own key cannot pass for the leaf.
    let r = forged_request(
        &target,
        vec![int_der, leaf.cert_der.clone()],
        leaf.key_pem.as_str(),
        "GET",
        "/v1/identity/self/describe",
    )
    .await;
    assert!(r.is_err(), "{r:?}");
    running.stop().await;
}

#[tokio::test]
async fn an_expired_identifying_certificate_fails_the_handshake() {
    let s = TestServer::start().await;
    let (leaf, int_der, _) = leaf_under_intermediate(true);
    let r = raw_request(
        s.addr,
        &s.server_cert_pem,
        vec![&leaf],
        "GET",
        "/v1/identity/self/describe",
        b"",
    )
    .await;
    assert!(r.is_err(), "an expired certificate identified: {r:?}");
    let r = forged_request(
        &Target::from(&s),
        vec![leaf.cert_der.clone(), int_der],
        leaf.key_pem.as_str(),
        "GET",
        "/v1/identity/self/describe",
    )
    .await;
    assert!(r.is_err(), "an expired certificate identified: {r:?}");
    s.running.stop().await;
}

/// A CA (self-signed, CA:TRUE) for the `tls.auth: on` cases.
struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
    pem: String,
}

fn test_ca(name: &str) -> TestCa {
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    TestCa {
        der: cert.der().to_vec(),
        pem: cert.pem(),
        params,
        key,
    }
}

/// A client certificate signed by `ca`: CA:FALSE, EKU clientAuth, valid now,
/// unless `tweak` changes it.
fn issued_by(ca: &TestCa, tweak: impl FnOnce(&mut CertificateParams)) -> CertifiedKey {
    let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
    let mut params = CertificateParams::new(vec!["client".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "client");
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    tweak(&mut params);
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
        .unwrap();
    CertifiedKey {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem().into(),
    }
}

/// A server with `tls.auth: on`, trusting `ca_pem`, whose admin is `admin_id`
/// and where `user_id` has a policy (allowed `/v1/status`).
async fn auth_on_server(
    admin_id: &str,
    user_id: &str,
    ca_pem: &str,
) -> (kes::server::Running, Target, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server_cert_pem = common::write_server_cert(dir.path());
    std::fs::write(dir.path().join("ca.crt"), ca_pem).unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {admin_id}\n\
             tls:\n  key: server.key\n  cert: server.crt\n  auth: on\n  ca: ca.crt\n\
             policy:\n  user:\n    allow:\n    - /v1/status\n    identities:\n    - {user_id}\n\
             keystore:\n  fs:\n    path: keys\n"
        ),
    )
    .unwrap();
    let running = kes::server::Builder::from_file(&config)
        .unwrap()
        .start()
        .await
        .unwrap();
    let target = Target {
        addr: running.addr,
        server_cert_pem,
    };
    (running, target, dir)
}

/// `Ok(identity)` when `chain` (signed with `key_pem`) was identified,
/// `Err(why)` when the handshake or the request was refused.
async fn identified_as(
    target: &Target,
    chain: Vec<Vec<u8>>,
    key_pem: &str,
) -> Result<String, String> {
    match forged_request(target, chain, key_pem, "GET", "/v1/identity/self/describe").await {
        Err(e) => Err(format!("handshake refused: {e}")),
        Ok((200, v)) => Ok(v["identity"].as_str().unwrap_or_default().to_owned()),
        Ok((status, v)) => Err(format!("{status} {v}")),
    }
}

#[tokio::test]
async fn with_auth_on_only_valid_client_certificates_of_the_trusted_ca_identify() {
    let root = test_ca("trusted root");
    let admin = issued_by(&root, |_| {});
    let admin_id = client::identity::of_certificate(&admin.cert_der).unwrap();

    // An intermediate CA under the trusted root, and a leaf it issued.
    let int = {
        let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "intermediate");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params
            .signed_by(&key, &Issuer::from_params(&root.params, &root.key))
            .unwrap();
        TestCa {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            params,
            key,
        }
    };
    let pki_leaf = issued_by(&int, |_| {});
    let pki_id = client::identity::of_certificate(&pki_leaf.cert_der).unwrap();
    let (running, target, _dir) = auth_on_server(&admin_id, &pki_id, &root.pem).await;
    // The genuine admin, alone or with extra (even unrelated) CA certificates.
    let stranger_ca = test_ca("unrelated CA");
    for chain in [
        vec![admin.cert_der.clone()],
        vec![admin.cert_der.clone(), root.der.clone()],
        vec![
            admin.cert_der.clone(),
            stranger_ca.der.clone(),
            root.der.clone(),
        ],
    ] {
        let n = chain.len();
        assert_eq!(
            identified_as(&target, chain, admin.key_pem.as_str()).await,
            Ok(admin_id.clone()),
            "genuine admin, chain of {n}"
        );
    }
    // The intermediate's leaf, presented with its intermediate.
    assert_eq!(
        identified_as(
            &target,
            vec![pki_leaf.cert_der.clone(), int.der.clone()],
            pki_leaf.key_pem.as_str()
        )
        .await,
        Ok(pki_id.clone())
    );
    // Without the intermediate the chain does not verify.
    assert!(
        identified_as(
            &target,
            vec![pki_leaf.cert_der.clone()],
            pki_leaf.key_pem.as_str()
        )
        .await
        .is_err()
    );

    // Certificates that must never identify anyone, let alone the admin.
    let attacker = attacker_ca();
    let attacker_key = attacker.key.serialize_pem();
    // A CA:FALSE certificate re-using the admin's public key, not signed by the trusted CA.
    let admin_pub = {
        let (_, cert) = x509_parser::parse_x509_certificate(&admin.cert_der).unwrap();
        StolenPublicKey(cert.public_key().subject_public_key.data.to_vec())
    };
    let mut forged_params = CertificateParams::new(vec!["client".to_owned()]).unwrap();
    forged_params.is_ca = IsCa::ExplicitNoCa;
    forged_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let forged_admin = forged_params
        .signed_by(
            &admin_pub,
            &Issuer::from_params(&attacker.params, &attacker.key),
        )
        .unwrap()
        .der()
        .to_vec();
    assert_eq!(
        client::identity::of_certificate(&forged_admin).unwrap(),
        admin_id,
        "the forged certificate carries the admin's identity"
    );
    let refused: Vec<(&str, Vec<Vec<u8>>, String)> = vec![
        (
            "forged admin key, attacker CA",
            vec![forged_admin.clone(), attacker.der.clone()],
            attacker_key.clone(),
        ),
        (
            "attacker CA first, forged admin key second",
            vec![attacker.der.clone(), forged_admin.clone()],
            attacker_key.clone(),
        ),
        (
            "forged admin key with the trusted root appended",
            vec![forged_admin.clone(), root.der.clone()],
            attacker_key.clone(),
        ),
        (
            "self-signed certificate",
            vec![ApiKey::generate().unwrap().certificate().unwrap().cert_der],
            attacker_key.clone(),
        ),
    ];
    for (what, chain, key) in refused {
        let r = identified_as(&target, chain, &key).await;
        assert!(r.is_err(), "{what}: identified as {r:?}");
    }
    // Own valid certificate + the forged admin certificate: at most the attacker, never the admin.
    let attacker_leaf = issued_by(&root, |_| {});
    let r = identified_as(
        &target,
        vec![attacker_leaf.cert_der.clone(), forged_admin.clone()],
        attacker_leaf.key_pem.as_str(),
    )
    .await;
    assert_ne!(r, Ok(admin_id.clone()), "own leaf + forged admin: {r:?}");
    assert!(r.is_err(), "a second leaf in the chain is refused: {r:?}");

    // Signed by the trusted CA, but not a valid client certificate.
    let invalid: Vec<(&str, CertifiedKey)> = vec![
        (
            "CA:TRUE",
            issued_by(&root, |p| {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained)
            }),
        ),
        (
            "expired",
            issued_by(&root, |p| {
                p.not_before = rcgen::date_time_ymd(2001, 1, 1);
                p.not_after = rcgen::date_time_ymd(2002, 1, 1);
            }),
        ),
        (
            "not yet valid",
            issued_by(&root, |p| {
                p.not_before = rcgen::date_time_ymd(2090, 1, 1);
                p.not_after = rcgen::date_time_ymd(2091, 1, 1);
            }),
        ),
        (
            "serverAuth only (wrong EKU)",
            issued_by(&root, |p| {
                p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
            }),
        ),
    ];
    for (what, ck) in invalid {
        let r = identified_as(&target, vec![ck.cert_der.clone()], ck.key_pem.as_str()).await;
        assert!(r.is_err(), "{what}: identified as {r:?}");
    }
    // The server still serves the admin.
    assert_eq!(
        identified_as(
            &target,
            vec![admin.cert_der.clone()],
            admin.key_pem.as_str()
        )
        .await,
        Ok(admin_id)
    );
    running.stop().await;
}

#[tokio::test]
async fn default_mode_refuses_certificates_outside_their_validity_and_ca_true() {
    let s = TestServer::start().await;
    let target = Target::from(&s);
    let ca = test_ca("any CA");
    let not_yet = issued_by(&ca, |p| {
        p.not_before = rcgen::date_time_ymd(2090, 1, 1);
        p.not_after = rcgen::date_time_ymd(2091, 1, 1);
    });
    let expired = issued_by(&ca, |p| {
        p.not_before = rcgen::date_time_ymd(2001, 1, 1);
        p.not_after = rcgen::date_time_ymd(2002, 1, 1);
    });
    for (what, ck) in [("not yet valid", &not_yet), ("expired", &expired)] {
        let r = identified_as(&target, vec![ck.cert_der.clone()], ck.key_pem.as_str()).await;
        assert!(r.is_err(), "{what}: identified as {r:?}");
    }
    // CA:TRUE as the identifying certificate: no identity (spec §3.1), 400.
    let r = identified_as(&target, vec![ca.der.clone()], &ca.key.serialize_pem()).await;
    assert_eq!(
        r,
        Err(format!(
            "400 {}",
            serde_json::json!({"message": "tls: client certificate is required"})
        ))
    );
    // Default mode pins public keys and checks no EKU (as upstream's
    // RequireAnyClientCert): a serverAuth-only certificate is identified (as
    // an identity without a policy here).
    let server_eku = issued_by(&ca, |p| {
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    });
    assert_eq!(
        identified_as(
            &target,
            vec![server_eku.cert_der.clone()],
            server_eku.key_pem.as_str()
        )
        .await,
        Err(format!(
            "404 {}",
            serde_json::json!({"message": "identity does not exist"})
        ))
    );
    s.running.stop().await;
}
