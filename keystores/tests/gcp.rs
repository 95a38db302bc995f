//! [`GcpKeystore`](keystores::GcpKeystore) against the Secret Manager
//! contract mock (`gcp_mock`): the conformance suite, KES's layout, paging
//! over several pages, authentication failures, a version disabled in GCP,
//! create of an existing name and the half-written-key rule, an
//! unreachable endpoint.
//!
//! `harness = false`: the official Google client trusts only the system
//! roots (or the bundle named by `SSL_CERT_FILE`) and offers no way to pass
//! a CA. So `main` writes a test CA and the mock's certificate to a temp
//! dir, then runs this same binary again with `SSL_CERT_FILE` pointing at
//! the CA (and `KEYSTORES_GCP_TEST_DIR` at the dir); that child runs the
//! tests, each on a fresh mock, and exits non-zero on the first failure. An
//! optional argument runs only the tests whose name contains it.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod gcp_mock;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;

use gcp_mock::{Mock, ServiceAccount, VersionState};
use keystores::{Error, Keystore, KeystoreConfig};
use serde::Deserialize as _;
use serde_json::{Value, json};

const CHILD_ENV: &str = "KEYSTORES_GCP_TEST_DIR";
const PROJECT: &str = "kes-test";
const PROJECT_NUMBER: &str = "123456789012";

type Test = fn(PathBuf) -> Pin<Box<dyn Future<Output = ()>>>;

const TESTS: &[(&str, Test)] = &[
    ("conforms_against_the_mock", |d| Box::pin(conforms(d))),
    ("stores_in_kes_layout_and_updates_by_version", |d| {
        Box::pin(kes_layout(d))
    }),
    ("lists_over_several_pages", |d| Box::pin(paging(d))),
    ("authentication_failures_are_backend_errors", |d| {
        Box::pin(auth_failures(d))
    }),
    ("a_version_disabled_in_gcp_reads_as_a_clear_error", |d| {
        Box::pin(disabled(d))
    }),
    ("create_of_an_existing_name_and_half_written_keys", |d| {
        Box::pin(existing(d))
    }),
    ("concurrent_updates_from_two_stores", |d| {
        Box::pin(two_stores(d))
    }),
    ("an_unreachable_endpoint_is_unreachable", |d| {
        Box::pin(unreachable(d))
    }),
];

fn main() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        return child(PathBuf::from(dir));
    }
    let tmp = tempfile::tempdir().unwrap();
    write_tls(tmp.path());
    let status = Command::new(std::env::current_exe().unwrap())
        .args(std::env::args().skip(1))
        .env(CHILD_ENV, tmp.path())
        .env("SSL_CERT_FILE", tmp.path().join("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .status()
        .unwrap();
    assert!(status.success(), "the GCP tests failed: {status}");
}

fn child(dir: PathBuf) {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let mut ran = 0;
    for (name, test) in TESTS {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        println!("test gcp::{name} ...");
        rt.block_on(test(dir.clone()));
        println!("test gcp::{name} ... ok");
        ran += 1;
    }
    println!("gcp: {ran} tests passed");
}

/// A test CA, and a server certificate for 127.0.0.1 signed by it.
fn write_tls(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, PKCS_ECDSA_P256_SHA256, SanType,
    };
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "gcp mock test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "secretmanager mock");
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

fn account(name: &str) -> ServiceAccount {
    ServiceAccount::generate(
        &format!("{name}@{PROJECT}.iam.gserviceaccount.com"),
        &format!("{:040x}", rand::random::<u128>()),
    )
}

/// A mock knowing `kes` (allowed) and `reader` (no IAM access); the
/// credentials of `kes`.
async fn mock(dir: &Path) -> (Mock, Value) {
    let (mock, kes, _) = mock_with_reader(dir).await;
    (mock, kes)
}

/// The same, with the credentials of both accounts.
async fn mock_with_reader(dir: &Path) -> (Mock, Value, Value) {
    let (kes, reader) = (account("kes"), account("reader"));
    let creds = (kes.credentials(), reader.credentials());
    let mock = Mock::start(
        dir,
        PROJECT,
        PROJECT_NUMBER,
        vec![(kes, true), (reader, false)],
    )
    .await;
    (mock, creds.0, creds.1)
}

/// Opens a keystore on `endpoint` with `credentials`, as a KES config does.
async fn open(endpoint: &str, credentials: Value) -> Arc<dyn Keystore> {
    let cfg = KeystoreConfig::deserialize(json!({"gcp": {"secretmanager": {
        "project_id": PROJECT,
        "endpoint": endpoint,
        "credentials": credentials,
    }}}))
    .unwrap();
    keystores::open(&cfg).await.unwrap()
}

fn version_state(mock: &Mock, id: &str, n: usize) -> Option<VersionState> {
    mock.with(|s| {
        s.secrets
            .get(id)
            .and_then(|s| s.versions.get(n - 1))
            .map(|v| v.state)
    })
}

async fn conforms(dir: PathBuf) {
    let (mock, creds) = mock(&dir).await;
    let store = open(&mock.endpoint(), creds).await;
    keystores::conformance::run_suite(store).await;
    assert_eq!(mock.unexpected(), Vec::<String>::new());
}

async fn kes_layout(dir: PathBuf) {
    let (mock, creds) = mock(&dir).await;
    // A host:port endpoint, as KES's default is written, gets https://.
    let endpoint = mock.endpoint().trim_start_matches("https://").to_owned();
    let store = open(&endpoint, creds).await;
    store.create("my-key", b"CiIKIBAB").await.unwrap();
    mock.with(|s| {
        let secret = &s.secrets["my-key"];
        assert_eq!(secret.versions.len(), 1, "the value is version 1");
        assert_eq!(secret.versions[0].data, b"CiIKIBAB");
        assert!(secret.annotations.is_empty(), "KES's layout: no annotation");
        // Written by hand the way KES writes it.
        let mut by_kes = s.new_secret();
        by_kes
            .versions
            .push(s.new_version(b"{\"bytes\":\"AAAA\"}".to_vec()));
        s.secrets.insert("by-kes".to_owned(), by_kes);
    });
    assert_eq!(
        store.get("by-kes").await.unwrap().as_slice(),
        b"{\"bytes\":\"AAAA\"}"
    );

    // An update is a new version named by the annotation; the old one is
    // disabled so that a reader of version 1 fails instead of reading it.
    let first = store.get_versioned("my-key").await.unwrap();
    let second = store
        .update("my-key", &first.revision, b"second")
        .await
        .unwrap();
    mock.with(|s| {
        let secret = &s.secrets["my-key"];
        assert_eq!(
            secret.annotations.get("kes-version").map(String::as_str),
            Some("2")
        );
        assert_eq!(secret.versions[1].data, b"second");
    });
    assert_eq!(
        version_state(&mock, "my-key", 1),
        Some(VersionState::Disabled)
    );
    let now = store.get_versioned("my-key").await.unwrap();
    assert_eq!(now.value.as_slice(), b"second");
    assert_eq!(now.revision, second);
    // The stale revision conflicts; no version is left behind by it.
    assert!(matches!(
        store.update("my-key", &first.revision, b"third").await,
        Err(Error::Conflict)
    ));
    assert_eq!(mock.with(|s| s.secrets["my-key"].versions.len()), 2);
    store.delete("my-key").await.unwrap();
    assert!(
        mock.with(|s| !s.secrets.contains_key("my-key")),
        "all versions deleted"
    );
    assert_eq!(mock.unexpected(), Vec::<String>::new());
}

async fn paging(dir: PathBuf) {
    let (mock, creds) = mock(&dir).await;
    let store = open(&mock.endpoint(), creds).await;
    let mut names: Vec<String> = (0..8).map(|i| format!("page-{i}")).collect();
    for n in &names {
        store.create(n, b"v").await.unwrap();
    }
    // A secret that is not a valid key name is not listed.
    mock.with(|s| {
        let secret = s.new_secret();
        s.secrets.insert("x".repeat(100), secret);
    });
    store.create("other", b"v").await.unwrap();
    let before = mock.with(|s| s.list_continuations);
    let page = store.list("page-", "", 0).await.unwrap();
    names.sort();
    assert_eq!(page.names, names);
    assert_eq!(page.next, None);
    let pages = mock.with(|s| s.list_continuations) - before;
    assert!(
        pages >= 3,
        "10 secrets in pages of 3: {pages} follow-up pages"
    );
    let page = store.list("", "page-3", 2).await.unwrap();
    assert_eq!(page.names, ["page-3", "page-4"]);
    assert_eq!(page.next.as_deref(), Some("page-5"));
}

async fn auth_failures(dir: PathBuf) {
    let (mock, _, reader) = mock_with_reader(&dir).await;
    // A key Google does not know (same e-mail as a real account).
    let stranger = account("kes");
    let store = open(&mock.endpoint(), stranger.credentials()).await;
    for res in [
        store.get("k").await.map(|_| ()),
        store.status().await.map(|_| ()),
        store.create("k", b"v").await,
    ] {
        match res {
            Err(Error::Backend(e)) => {
                assert!(e.to_string().contains("UNAUTHENTICATED"), "{e}");
            }
            other => panic!("want a backend error (401), got {other:?}"),
        }
    }
    // A valid token of an account without IAM access: 403.
    let store = open(&mock.endpoint(), reader).await;
    match store.list("", "", 0).await {
        Err(Error::Backend(e)) => assert!(e.to_string().contains("PERMISSION_DENIED"), "{e}"),
        other => panic!("want a backend error (403), got {other:?}"),
    }
    assert!(mock.with(|s| s.secrets.is_empty()), "nothing was created");
}

async fn disabled(dir: PathBuf) {
    let (mock, creds) = mock(&dir).await;
    let store = open(&mock.endpoint(), creds).await;
    store.create("locked", b"value").await.unwrap();
    let set = |state| {
        mock.with(|s| s.secrets.get_mut("locked").unwrap().versions[0].state = state);
    };
    set(VersionState::Disabled);
    for res in [
        store.get("locked").await.map(|_| ()),
        store.get_versioned("locked").await.map(|_| ()),
    ] {
        match res {
            Err(Error::Backend(e)) => {
                let e = e.to_string();
                assert!(e.contains("version 1") && e.contains("not enabled"), "{e}");
                assert!(e.contains("is in DISABLED state"), "{e}");
            }
            other => panic!("want a backend error for a disabled version, got {other:?}"),
        }
    }
    set(VersionState::Enabled);
    assert_eq!(store.get("locked").await.unwrap().as_slice(), b"value");
    set(VersionState::Destroyed);
    assert!(matches!(store.get("locked").await, Err(Error::Backend(_))));
}

async fn existing(dir: PathBuf) {
    let (mock, creds) = mock(&dir).await;
    let store = open(&mock.endpoint(), creds).await;
    store.create("k", b"first").await.unwrap();
    assert!(matches!(
        store.create("k", b"second").await,
        Err(Error::KeyExists)
    ));
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"first");
    assert_eq!(mock.with(|s| s.secrets["k"].versions.len()), 1);

    // The first version cannot be added: the secret is removed again.
    mock.with(|s| s.fail_next_add = true);
    match store.create("failed", b"v").await {
        Err(Error::Backend(_) | Error::Unreachable(_)) => {}
        other => panic!("want the add's error, got {other:?}"),
    }
    assert!(
        mock.with(|s| !s.secrets.contains_key("failed")),
        "rolled back"
    );
    store.create("failed", b"v").await.unwrap();

    // A secret without versions (a create cut short) is not a key, but
    // holds the name until it is deleted.
    mock.with(|s| {
        let secret = s.new_secret();
        s.secrets.insert("half".to_owned(), secret);
    });
    assert!(matches!(store.get("half").await, Err(Error::NotFound)));
    assert!(matches!(
        store.create("half", b"v").await,
        Err(Error::KeyExists)
    ));
    store.delete("half").await.unwrap();
    store.create("half", b"v").await.unwrap();
    assert_eq!(store.get("half").await.unwrap().as_slice(), b"v");
    assert!(matches!(store.delete("nope").await, Err(Error::NotFound)));
}

/// Two stores (two servers) on one project: the etag makes updates atomic
/// across them, and Secret Manager decides concurrent creates.
async fn two_stores(dir: PathBuf) {
    let (mock, creds) = mock(&dir).await;
    let a = open(&mock.endpoint(), creds.clone()).await;
    let b = open(&mock.endpoint(), creds).await;
    for round in 0..5 {
        let name = format!("race-{round}");
        let (ra, rb) = tokio::join!(a.create(&name, b"from-a"), b.create(&name, b"from-b"));
        let results = [ra, rb];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        let start = a.get_versioned(&name).await.unwrap();
        let (ua, ub) = tokio::join!(
            a.update(&name, &start.revision, b"update-a"),
            b.update(&name, &start.revision, b"update-b")
        );
        let results = [ua, ub];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(
            results.iter().any(|r| matches!(r, Err(Error::Conflict))),
            "{results:?}"
        );
        let now = b.get_versioned(&name).await.unwrap();
        let winner = results.iter().flatten().next().unwrap();
        assert_eq!(&now.revision, winner);
        // The loser's version was destroyed; the winner's is current.
        let states: Vec<VersionState> =
            mock.with(|s| s.secrets[&name].versions.iter().map(|v| v.state).collect());
        assert_eq!(
            states
                .iter()
                .filter(|s| **s == VersionState::Enabled)
                .count(),
            1,
            "{states:?}"
        );
    }
    assert_eq!(mock.unexpected(), Vec::<String>::new());
}

async fn unreachable(dir: PathBuf) {
    let (mock, creds) = mock(&dir).await;
    let endpoint = mock.endpoint();
    drop(mock);
    // Nothing listens there any more (the listener is closed with the mock).
    let store = open(&endpoint, creds).await;
    wait_closed(&endpoint).await;
    match store.status().await {
        Err(Error::Unreachable(_)) => {}
        other => panic!("want Unreachable, got {other:?}"),
    }
    assert!(matches!(store.get("k").await, Err(Error::Unreachable(_))));
}

/// Waits until connecting to `endpoint` is refused.
async fn wait_closed(endpoint: &str) {
    let addr = endpoint.trim_start_matches("https://").to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "{addr} still accepts");
        tokio::task::yield_now().await;
    }
}
