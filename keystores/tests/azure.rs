//! [`AzureKeystore`](keystores::AzureKeystore) against the HTTPS contract
//! mock of Key Vault and Entra ID (`azure_mock`): the conformance suite,
//! authentication, paging over several pages, soft-deleted names, disabled,
//! expired and not-yet-valid secrets, KES's layout, unreachable vaults,
//! detection of a concurrent writer, and the section's validation.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "tests: a panic is the failure report"
)]

mod azure_mock;

use std::sync::Arc;

use azure_mock::{CLIENT_SECRET, Mock};
use keystores::conformance::run_suite;
use keystores::{Error, Keystore, KeystoreConfig};
use serde::Deserialize as _;
use serde_json::{Value, json};

fn parse(section: Value) -> Result<KeystoreConfig, String> {
    KeystoreConfig::deserialize(json!({ "azure": { "keyvault": section } }))
        .map_err(|e| e.to_string())
}

async fn open_with(section: Value) -> Arc<dyn Keystore> {
    keystores::open(&parse(section).unwrap()).await.unwrap()
}

async fn open(mock: &Mock) -> Arc<dyn Keystore> {
    open_with(mock.section(CLIENT_SECRET)).await
}

/// Unix seconds from now.
fn unix_in(secs: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    now + secs
}

fn assert_backend(res: Result<impl std::fmt::Debug, Error>, needle: &str) {
    match res {
        Err(Error::Backend(e)) => {
            let text = e.to_string();
            assert!(text.contains(needle), "want {needle:?} in: {text}");
        }
        other => panic!("want a backend error with {needle:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms_against_the_contract_mock() {
    let mock = Mock::start(3).await;
    let store = open(&mock).await;
    run_suite(Arc::clone(&store)).await;
    assert_eq!(
        mock.unexpected(),
        Vec::<String>::new(),
        "requests outside the contract"
    );
    let log = mock.log();
    assert!(
        log.iter().any(|l| l.starts_with("GET /secrets?")
            && (l.contains("%24skiptoken=") || l.contains("$skiptoken="))),
        "the suite's listings must have followed a nextLink: {:?}",
        &log[..log.len().min(20)]
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("POST /") && l.contains("/oauth2/v2.0/token")),
        "the token came from the mock's authority"
    );
}

#[tokio::test]
async fn listing_follows_next_link_over_several_pages() {
    let mock = Mock::start(2).await;
    let store = open(&mock).await;
    let names: Vec<String> = (0..7).map(|i| format!("page-{i}")).collect();
    for n in names.iter().rev() {
        store.create(n, b"v").await.unwrap();
    }
    let page = store.list("", "", 0).await.unwrap();
    assert_eq!(page.names, names);
    let lists = mock
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GET /secrets?"))
        .count();
    assert_eq!(lists, 4, "7 secrets in pages of 2 take 4 requests");
    let page = store.list("page-", "page-3", 2).await.unwrap();
    assert_eq!(page.names, ["page-3", "page-4"]);
    assert_eq!(page.next.as_deref(), Some("page-5"));
    assert!(mock.unexpected().is_empty(), "{:?}", mock.unexpected());
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_backend_error_not_unreachable() {
    let mock = Mock::start(25).await;
    let store = open_with(mock.section("not-the-secret")).await;
    assert_backend(store.get("k").await, "AADSTS7000215");
    assert_backend(store.create("k", b"v").await, "access denied");
    store.status().await.expect("the vault itself is reachable");
    assert!(mock.vault(|v| v.live.is_empty()), "nothing was written");
}

#[tokio::test]
async fn a_revoked_token_is_a_backend_error() {
    let mock = Mock::start(25).await;
    let store = open(&mock).await;
    store.create("k", b"v").await.unwrap();
    mock.revoke_tokens();
    assert_backend(store.get("k").await, "Unauthorized");
}

#[tokio::test]
async fn an_unreachable_vault_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mock = Mock::start(25).await;
    let mut section = mock.section(CLIENT_SECRET);
    section["endpoint"] = json!(format!("https://127.0.0.1:{port}"));
    let store = open_with(section).await;
    assert!(matches!(store.status().await, Err(Error::Unreachable(_))));
    let res = store.get("k").await;
    assert!(matches!(res, Err(Error::Unreachable(_))), "{res:?}");

    // The vault answers, the token endpoint does not.
    let mut section = mock.section(CLIENT_SECRET);
    section["authority_host"] = json!(format!("https://127.0.0.1:{port}"));
    let store = open_with(section).await;
    store.status().await.expect("the vault is reachable");
    let res = store.get("k").await;
    assert!(matches!(res, Err(Error::Unreachable(_))), "{res:?}");
}

#[tokio::test]
async fn a_soft_deleted_name_exists_for_create() {
    let mock = Mock::start(25).await;
    let store = open(&mock).await;
    store.create("k", b"v").await.unwrap();
    mock.vault(|v| v.soft_delete("k"));
    assert!(matches!(store.get("k").await, Err(Error::NotFound)));
    assert!(matches!(
        store.create("k", b"w").await,
        Err(Error::KeyExists)
    ));
    assert!(store.list("", "", 0).await.unwrap().names.is_empty());
    // Our own delete purges: the name is free again at once.
    store.create("other", b"v").await.unwrap();
    store.delete("other").await.unwrap();
    assert!(mock.vault(|v| v.deleted.contains_key("k") && !v.deleted.contains_key("other")));
    store.create("other", b"again").await.unwrap();
}

#[tokio::test]
async fn disabled_expired_and_not_yet_valid_secrets_read_as_errors() {
    let mock = Mock::start(25).await;
    let store = open(&mock).await;
    store.create("k", b"v").await.unwrap();

    mock.vault(|v| v.latest("k").enabled = false);
    assert_backend(store.get("k").await, "disabled in Azure Key Vault");
    assert_backend(store.get_versioned("k").await, "disabled");
    assert!(matches!(
        store.create("k", b"w").await,
        Err(Error::KeyExists)
    ));
    assert_eq!(
        store.list("", "", 0).await.unwrap().names,
        ["k"],
        "still listed"
    );
    mock.vault(|v| v.latest("k").enabled = true);
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"v");

    mock.vault(|v| v.latest("k").exp = Some(unix_in(-60)));
    assert_backend(store.get("k").await, "expired");
    mock.vault(|v| v.latest("k").exp = Some(unix_in(3600)));
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"v");

    mock.vault(|v| v.latest("k").nbf = Some(unix_in(3600)));
    assert_backend(store.get("k").await, "not valid before");
    mock.vault(|v| v.latest("k").nbf = Some(unix_in(-60)));
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"v");
}

#[tokio::test]
async fn keys_are_stored_in_kes_layout() {
    let mock = Mock::start(25).await;
    let store = open(&mock).await;
    let encoded = "CiIKIKq7zN3u/wARIjNEVWZ3iJmqu8zd7v8AESIzRFVmd4iZEAE=";
    store.create("my-key", encoded.as_bytes()).await.unwrap();
    let (value, content_type) = mock.vault(|v| {
        let l = v.latest("my-key");
        (l.value.clone(), l.content_type.clone())
    });
    assert_eq!(value, encoded, "the secret value is the encoded key");
    assert_eq!(content_type, None);

    mock.vault(|v| v.set("from-kes", "{\"bytes\":\"AAAA\"}"));
    assert_eq!(
        store.get("from-kes").await.unwrap().as_slice(),
        b"{\"bytes\":\"AAAA\"}"
    );

    store.create("binary", &[0xff, 0x00, 0xfe]).await.unwrap();
    let (value, content_type) = mock.vault(|v| {
        let l = v.latest("binary");
        (l.value.clone(), l.content_type.clone())
    });
    assert_eq!(value, "/wD+");
    assert_eq!(
        content_type.as_deref(),
        Some("application/vnd.kes-rs.base64")
    );
    assert_eq!(
        store.get("binary").await.unwrap().as_slice(),
        [0xff, 0x00, 0xfe]
    );

    assert!(matches!(
        store.create("a_b", b"v").await,
        Err(Error::InvalidName)
    ));
}

#[tokio::test]
async fn a_concurrent_writer_in_another_process_is_detected() {
    let mock = Mock::start(25).await;
    let store = open(&mock).await;

    mock.vault(|v| v.interpose.insert("new".to_owned(), "theirs".to_owned()));
    assert_backend(
        store.create("new", b"ours").await,
        "another client wrote the secret concurrently",
    );

    store.create("k", b"1").await.unwrap();
    let read = store.get_versioned("k").await.unwrap();
    mock.vault(|v| v.interpose.insert("k".to_owned(), "theirs".to_owned()));
    assert_backend(
        store.update("k", &read.revision, b"2").await,
        "another client wrote the secret concurrently",
    );

    // A write between our read and our update is a plain conflict.
    let read = store.get_versioned("k").await.unwrap();
    mock.vault(|v| v.set("k", "third"));
    assert!(matches!(
        store.update("k", &read.revision, b"3").await,
        Err(Error::Conflict)
    ));
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"third");
}

#[test]
fn the_section_is_validated() {
    let creds = json!({"tenant_id": "t", "client_id": "c", "client_secret": "s"});
    let ok =
        parse(json!({"endpoint": "https://v.vault.azure.net/", "credentials": creds})).unwrap();
    let debug = format!("{ok:?}");
    assert!(debug.contains("https://v.vault.azure.net\""), "{debug}");
    assert!(
        !debug.contains("\"s\""),
        "the client secret is never shown: {debug}"
    );
    parse(json!({"endpoint": "https://v", "managed_identity": {"client_id": "m"}})).unwrap();
    let cases = [
        (
            json!({"credentials": creds}),
            "keystore.azure.keyvault.endpoint: no endpoint specified",
        ),
        (
            json!({"endpoint": "http://v", "credentials": creds}),
            "keystore.azure.keyvault.endpoint: invalid URL 'http://v': not an https URL",
        ),
        (
            json!({"endpoint": "https://v"}),
            "keystore.azure.keyvault: no authentication method specified (credentials or managed_identity; this build has no default Azure credential chain)",
        ),
        (
            json!({"endpoint": "https://v", "credentials": creds, "managed_identity": {"client_id": "m"}}),
            "keystore.azure.keyvault: more than one authentication method specified",
        ),
        (
            json!({"endpoint": "https://v", "credentials": {"tenant_id": "t", "client_id": "c"}}),
            "keystore.azure.keyvault.credentials.client_secret: no client secret specified",
        ),
        (
            json!({"endpoint": "https://v", "credentials": creds, "authority_host": "ftp://x"}),
            "keystore.azure.keyvault.authority_host: invalid URL 'ftp://x': not an https URL",
        ),
    ];
    for (section, want) in cases {
        assert_eq!(parse(section.clone()).unwrap_err(), want, "{section}");
    }
}
