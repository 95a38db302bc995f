//! [`VaultKeystore`] against a real OpenBao: the conformance suite on K/V v1,
//! K/V v2, K/V v2 with a prefix and K/V v2 with transit (all under AppRole
//! login), KES's storage layout in both directions, and check-and-set
//! across two stores sharing one Vault.
//!
//! Auth, TLS, namespaces and error mapping: `vault_auth.rs`.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod vault_support;

use std::sync::Arc;

use keystores::conformance::run_suite;
use keystores::{Error, Keystore, KeystoreConfig};
use serde::Deserialize as _;
use serde_json::{Value, json};
use vault_support::{OpenBao, kes_policy};

/// Opens a keystore on `bao` with the given `keystore.vault` fields.
async fn open(bao: &OpenBao, fields: Value) -> Arc<dyn Keystore> {
    let mut section = json!({ "endpoint": bao.endpoint() });
    section
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    let config = KeystoreConfig::deserialize(json!({ "vault": section })).unwrap();
    keystores::open(&config)
        .await
        .unwrap_or_else(|e| panic!("open: {e}; log:\n{}", bao.log()))
}

/// Mounts K/V `version` at `mount` (and transit `(engine, key)`), creates
/// an AppRole limited to them and returns its `approle` section.
async fn kes_approle(
    bao: &OpenBao,
    mount: &str,
    version: u8,
    transit: Option<(&str, &str)>,
) -> Value {
    bao.mount_kv(None, mount, version).await;
    if let Some((engine, key)) = transit {
        bao.mount_transit(None, engine, key).await;
    }
    let policy = kes_policy(mount, version, transit);
    let (id, secret) = bao
        .approle(None, &format!("kes-{mount}"), &policy, json!({}))
        .await;
    json!({ "id": id, "secret": secret })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms_on_kv_v1_with_approle() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let approle = kes_approle(&bao, "kv1", 1, None).await;
    let store = open(
        &bao,
        json!({"engine": "kv1", "version": "v1", "approle": approle}),
    )
    .await;
    run_suite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms_on_kv_v2_with_approle() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let approle = kes_approle(&bao, "kv", 2, None).await;
    // `engine` defaults to "kv".
    let store = open(&bao, json!({"version": "v2", "approle": approle})).await;
    run_suite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms_on_kv_v2_with_a_prefix() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let approle = kes_approle(&bao, "secrets", 2, None).await;
    let store = open(
        &bao,
        json!({"engine": "secrets", "version": "v2", "prefix": "/kes/keys/", "approle": approle}),
    )
    .await;
    // A secret outside the prefix, and a sub-folder inside it.
    bao.ok(
        "POST",
        "secrets/data/other",
        Some(json!({"data": {"other": "x"}})),
    )
    .await;
    bao.ok(
        "POST",
        "secrets/data/kes/keys/folder/deep",
        Some(json!({"data": {"deep": "x"}})),
    )
    .await;
    run_suite(Arc::clone(&store)).await;
    let page = store.list("", "", 0).await.unwrap();
    assert!(
        page.names.is_empty(),
        "neither the outside secret nor the folder is listed: {page:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms_on_kv_v2_with_transit() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let approle = kes_approle(&bao, "kv", 2, Some(("transit", "kes"))).await;
    let store = open(
        &bao,
        json!({"version": "v2", "prefix": "kes", "transit": {"key": "kes"}, "approle": approle}),
    )
    .await;
    run_suite(Arc::clone(&store)).await;

    store.create("wrapped", b"encoded-key").await.unwrap();
    let raw = bao.ok("GET", "kv/data/kes/wrapped", None).await;
    let stored = raw["data"]["data"]["wrapped"].as_str().unwrap();
    assert!(stored.starts_with("vault:v1:"), "stored wrapped: {stored}");
    assert!(!stored.contains("encoded-key"));
    assert_eq!(
        store.get("wrapped").await.unwrap().as_slice(),
        b"encoded-key"
    );
}

#[tokio::test]
async fn stores_in_kes_layout_both_ways() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let approle = kes_approle(&bao, "kv", 2, None).await;
    let v2 = open(
        &bao,
        json!({"version": "v2", "prefix": "kes", "approle": approle}),
    )
    .await;
    v2.create("written-by-us", b"CiIKIBAB").await.unwrap();
    let raw = bao.ok("GET", "kv/data/kes/written-by-us", None).await;
    assert_eq!(
        raw["data"]["data"],
        json!({"written-by-us": "CiIKIBAB"}),
        "one field named after the key"
    );
    assert_eq!(raw["data"]["metadata"]["version"], 1);

    // Written by hand the way KES writes (cas 0), read by us.
    bao.ok(
        "POST",
        "kv/data/kes/written-by-kes",
        Some(json!({"data": {"written-by-kes": "{\"bytes\":\"AAAA\"}"}, "options": {"cas": 0}})),
    )
    .await;
    assert_eq!(
        v2.get("written-by-kes").await.unwrap().as_slice(),
        b"{\"bytes\":\"AAAA\"}"
    );

    // An update is a new version; delete removes every version.
    let first = v2.get_versioned("written-by-us").await.unwrap();
    v2.update("written-by-us", &first.revision, b"second")
        .await
        .unwrap();
    let meta = bao.ok("GET", "kv/metadata/kes/written-by-us", None).await;
    assert_eq!(meta["data"]["current_version"], 2);
    v2.delete("written-by-us").await.unwrap();
    let gone = bao
        .call(None, "GET", "kv/metadata/kes/written-by-us", None)
        .await;
    assert_eq!(
        gone.map(|(s, _)| s),
        Some(404),
        "metadata and all versions deleted"
    );

    // K/V v1: `<engine>/<prefix>/<name>`.
    let approle = kes_approle(&bao, "kv1", 1, None).await;
    let v1 = open(
        &bao,
        json!({"engine": "kv1", "prefix": "kes", "approle": approle}),
    )
    .await;
    v1.create("k1", b"value-1").await.unwrap();
    let raw = bao.ok("GET", "kv1/kes/k1", None).await;
    assert_eq!(raw["data"], json!({"k1": "value-1"}));
    bao.ok("POST", "kv1/kes/by-kes", Some(json!({"by-kes": "value-2"})))
        .await;
    assert_eq!(v1.get("by-kes").await.unwrap().as_slice(), b"value-2");
    assert_eq!(v1.list("", "", 0).await.unwrap().names, ["by-kes", "k1"]);

    // A value that is not UTF-8 (KES never writes one) round-trips.
    v1.create("binary", &[0xff, 0x00, 0xfe]).await.unwrap();
    let raw = bao.ok("GET", "kv1/kes/binary", None).await;
    assert_eq!(
        raw["data"],
        json!({"binary": "/wD+", ".encoding": "base64"})
    );
    assert_eq!(
        v1.get("binary").await.unwrap().as_slice(),
        [0xff, 0x00, 0xfe]
    );
}

#[tokio::test]
async fn a_transit_wrapped_value_needs_the_transit_section() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let approle = kes_approle(&bao, "kv", 2, Some(("transit", "kes"))).await;
    let wrapped = open(
        &bao,
        json!({"version": "v2", "transit": {"key": "kes"}, "approle": approle.clone()}),
    )
    .await;
    let plain = open(&bao, json!({"version": "v2", "approle": approle})).await;
    wrapped.create("k", b"v").await.unwrap();
    match plain.get("k").await {
        Err(Error::Backend(e)) => assert!(e.to_string().contains("transit"), "{e}"),
        other => panic!("want a backend error naming transit, got {other:?}"),
    }
    // A value stored before transit was configured is still read as is.
    plain.create("old", b"plain-value").await.unwrap();
    assert_eq!(wrapped.get("old").await.unwrap().as_slice(), b"plain-value");
}

/// Two stores (two servers) on one K/V v2 mount: Vault's check-and-set
/// makes creates and updates atomic across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_and_set_holds_across_two_stores() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let approle = kes_approle(&bao, "kv", 2, None).await;
    let section = json!({"version": "v2", "approle": approle});
    let (a, b) = (open(&bao, section.clone()).await, open(&bao, section).await);

    for round in 0..10 {
        let name = format!("race-{round}");
        let (ra, rb) = tokio::join!(a.create(&name, b"from-a"), b.create(&name, b"from-b"));
        let results = [ra, rb];
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(
            results.iter().any(|r| matches!(r, Err(Error::KeyExists))),
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
        assert_eq!(&now.revision, winner, "both stores agree on the revision");
    }
}
