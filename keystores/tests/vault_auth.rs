//! [`VaultKeystore`] against a real OpenBao: token renewal and re-login
//! (short TTLs, max TTL, batch tokens, a revoked token), Kubernetes-style
//! login with a JWT file re-read at each login, namespaces, mTLS, and the
//! mapping of Vault's failures (permission denied, wrong mount, sealed,
//! stopped) to the keystore error kinds.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod vault_support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keystores::{Error, Keystore, KeystoreConfig};
use serde::Deserialize as _;
use serde_json::{Value, json};
use vault_support::{OpenBao, kes_policy, poll};

fn config(bao: &OpenBao, fields: Value) -> KeystoreConfig {
    let mut section = json!({ "endpoint": bao.endpoint() });
    section
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    KeystoreConfig::deserialize(json!({ "vault": section })).unwrap()
}

async fn open(bao: &OpenBao, fields: Value) -> Arc<dyn Keystore> {
    keystores::open(&config(bao, fields))
        .await
        .unwrap_or_else(|e| panic!("open: {e}; log:\n{}", bao.log()))
}

/// K/V v2 at `kv` and an AppRole `kes` for it with extra role settings.
async fn approle(bao: &OpenBao, opts: Value) -> Value {
    bao.mount_kv(None, "kv", 2).await;
    let (id, secret) = bao
        .approle(None, "kes", &kes_policy("kv", 2, None), opts)
        .await;
    json!({ "id": id, "secret": secret })
}

/// Reads `name` every 50 ms for `how_long`; every read must succeed.
async fn keep_reading(store: &dyn Keystore, name: &str, how_long: Duration) -> usize {
    let end = Instant::now() + how_long;
    let mut reads = 0;
    while Instant::now() < end {
        match store.get(name).await {
            Ok(v) => assert_eq!(v.as_slice(), b"v"),
            Err(e) => panic!(
                "read {reads} after {:?} failed: {e}",
                how_long - (end - Instant::now())
            ),
        }
        reads += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reads
}

#[tokio::test]
async fn a_short_lived_token_is_renewed_then_replaced_without_failed_requests() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    // Renewals every 1.5 s; the max TTL forces new logins every ~6 s.
    let role = approle(&bao, json!({"token_ttl": "3s", "token_max_ttl": "7s"})).await;
    let store = open(&bao, json!({"version": "v2", "approle": role})).await;
    store.create("k", b"v").await.unwrap();
    keep_reading(store.as_ref(), "k", Duration::from_secs(13)).await;
}

#[tokio::test]
async fn renewal_alone_keeps_a_short_lived_token_alive() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    // The secret ID allows one login: only renewal can keep the token.
    let role = approle(
        &bao,
        json!({"token_ttl": "3s", "token_max_ttl": "1h", "secret_id_num_uses": 1}),
    )
    .await;
    let store = open(&bao, json!({"version": "v2", "approle": role.clone()})).await;
    store.create("k", b"v").await.unwrap();
    keep_reading(store.as_ref(), "k", Duration::from_secs(8)).await;
    let login = json!({"role_id": role["id"], "secret_id": role["secret"]});
    let (status, _) = bao
        .call(None, "POST", "auth/approle/login", Some(login))
        .await
        .unwrap();
    assert_eq!(status, 400, "the secret ID was used up by the one login");
}

#[tokio::test]
async fn batch_tokens_are_replaced_by_logging_in_again() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let role = approle(&bao, json!({"token_type": "batch", "token_ttl": "3s"})).await;
    let store = open(&bao, json!({"version": "v2", "approle": role})).await;
    store.create("k", b"v").await.unwrap();
    keep_reading(store.as_ref(), "k", Duration::from_secs(8)).await;
}

#[tokio::test]
async fn a_revoked_token_is_replaced_after_the_first_denied_request() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let role = approle(&bao, json!({"token_ttl": "1h"})).await;
    let store = open(&bao, json!({"version": "v2", "approle": role})).await;
    store.create("k", b"v").await.unwrap();
    // Revoke every token of the role (renewal alone would wait 30 min).
    let accessors = bao.ok("LIST", "auth/token/accessors", None).await;
    for accessor in accessors["data"]["keys"].as_array().unwrap() {
        let info = bao
            .ok(
                "POST",
                "auth/token/lookup-accessor",
                Some(json!({ "accessor": accessor })),
            )
            .await;
        if info["data"]["meta"]["role_name"] == "kes" {
            bao.ok(
                "POST",
                "auth/token/revoke-accessor",
                Some(json!({ "accessor": accessor })),
            )
            .await;
        }
    }
    match store.get("k").await {
        Err(Error::Backend(e)) => assert!(e.to_string().contains("permission denied"), "{e}"),
        other => panic!("a revoked token must be denied first: {other:?}"),
    }
    poll(
        "a new login after the 403",
        Duration::from_secs(10),
        || async { store.get("k").await.ok() },
    )
    .await;
}

/// Signs a JWT (ES256) with `claims`.
fn jwt(key: &EcdsaKeyPair, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{body}");
    let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `kubernetes` login (`POST auth/<engine>/login {role, jwt}`) against
/// OpenBao's JWT auth method mounted at `kubernetes`: same request, but the
/// token is checked against a key we hold instead of a Kubernetes API.
#[tokio::test]
async fn kubernetes_login_rereads_the_jwt_file_at_each_login() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    bao.mount_kv(None, "kv", 2).await;
    let signer = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = signer.public_key().as_der().unwrap();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der.as_ref())
    );
    bao.ok("POST", "sys/auth/kubernetes", Some(json!({"type": "jwt"})))
        .await;
    bao.ok(
        "POST",
        "auth/kubernetes/config",
        Some(json!({"jwt_validation_pubkeys": [pem]})),
    )
    .await;
    bao.ok(
        "PUT",
        "sys/policies/acl/kes",
        Some(json!({"policy": kes_policy("kv", 2, None)})),
    )
    .await;
    bao.ok(
        "POST",
        "auth/kubernetes/role/kes",
        Some(json!({
            "role_type": "jwt", "bound_audiences": ["kes"], "user_claim": "sub",
            "token_policies": ["kes"], "token_type": "batch", "token_ttl": "3s",
            "expiration_leeway": -1, "not_before_leeway": -1, "clock_skew_leeway": -1,
        })),
    )
    .await;
    let claims = |exp: u64| json!({"sub": "system:serviceaccount:kes", "aud": "kes", "iat": now(), "exp": exp});
    let short = jwt(&signer, &claims(now() + 4));
    let file = bao.dir.path().join("sa").join("token");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!("{short}\n")).unwrap();

    let store = open(
        &bao,
        json!({"version": "v2", "kubernetes": {"role": "kes", "jwt": file.to_str().unwrap()}}),
    )
    .await;
    store.create("k", b"v").await.unwrap();
    // Kubernetes rotates the projected token; the old one expires soon.
    std::fs::write(&file, jwt(&signer, &claims(now() + 600))).unwrap();
    keep_reading(store.as_ref(), "k", Duration::from_secs(8)).await;
    let (status, _) = bao
        .call(
            None,
            "POST",
            "auth/kubernetes/login",
            Some(json!({"role": "kes", "jwt": short})),
        )
        .await
        .unwrap();
    assert_eq!(
        status, 400,
        "the first JWT has expired: later logins used the new file content"
    );

    // The token itself (no `/`) works too.
    let inline = jwt(&signer, &claims(now() + 600));
    let store = open(
        &bao,
        json!({"version": "v2", "kubernetes": {"role": "kes", "jwt": inline}}),
    )
    .await;
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"v");
}

#[tokio::test]
async fn namespaces_for_kv_and_for_the_login() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    bao.ok("POST", "sys/namespaces/tenant", Some(json!({})))
        .await;
    let ns = Some("tenant");
    bao.mount_kv(ns, "kv", 2).await;
    let (id, secret) = bao
        .approle(ns, "kes", &kes_policy("kv", 2, None), json!({}))
        .await;

    // Login in the keystore's namespace (approle.namespace empty).
    let store = open(
        &bao,
        json!({"version": "v2", "namespace": "tenant", "approle": {"id": id, "secret": secret}}),
    )
    .await;
    store
        .status()
        .await
        .expect("health is asked in the root namespace");
    store.create("k", b"v").await.unwrap();
    let raw = bao.ok_ns(ns, "GET", "kv/data/k", None).await;
    assert_eq!(
        raw["data"]["data"],
        json!({"k": "v"}),
        "stored inside the namespace"
    );
    assert_eq!(
        bao.call(None, "GET", "kv/data/k", None).await.map(|r| r.0),
        Some(404)
    );

    // Login in the root namespace (`/`), K/V in the tenant's.
    let policy = kes_policy("tenant/kv", 2, None);
    let (id, secret) = bao.approle(None, "kes-root", &policy, json!({})).await;
    let store = open(
        &bao,
        json!({"version": "v2", "namespace": "tenant",
               "approle": {"id": id, "secret": secret, "namespace": "/"}}),
    )
    .await;
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"v");
    assert_eq!(store.list("", "", 0).await.unwrap().names, ["k"]);
}

#[tokio::test]
async fn mutual_tls_with_a_ca_file_or_directory() {
    let Some(bao) = OpenBao::persistent_mtls().await else {
        return;
    };
    let role = approle(&bao, json!({})).await;
    let tls = bao.tls.as_ref().unwrap();
    let with_cert = |ca: &std::path::Path| {
        json!({"version": "v2", "approle": role.clone(), "tls": {
            "ca": ca.to_str().unwrap(),
            "cert": tls.client_cert.to_str().unwrap(),
            "key": tls.client_key.to_str().unwrap(),
        }})
    };
    let store = open(&bao, with_cert(&tls.ca)).await;
    store.status().await.unwrap();
    store.create("k", b"v").await.unwrap();

    let ca_dir = bao.dir.path().join("cas");
    std::fs::create_dir(&ca_dir).unwrap();
    std::fs::copy(&tls.ca, ca_dir.join("ca.pem")).unwrap();
    std::fs::write(ca_dir.join("README"), "not a certificate").unwrap();
    let store = open(&bao, with_cert(&ca_dir)).await;
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"v");

    let without = config(
        &bao,
        json!({"version": "v2", "approle": role.clone(), "tls": {"ca": tls.ca.to_str().unwrap()}}),
    );
    assert!(
        keystores::open(&without).await.is_err(),
        "no client certificate, no login"
    );
    let untrusted = config(&bao, json!({"version": "v2", "approle": role}));
    assert!(
        keystores::open(&untrusted).await.is_err(),
        "the test CA is not a system root"
    );
}

#[tokio::test]
async fn failures_map_to_the_keystore_error_kinds() {
    let Some(mut bao) = OpenBao::persistent().await else {
        return;
    };
    bao.mount_kv(None, "kv", 2).await;
    let only_allowed =
        "path \"kv/data/allowed/*\" { capabilities = [\"create\", \"read\", \"update\"] }\n";
    let (id, secret) = bao.approle(None, "kes", only_allowed, json!({})).await;
    let role = json!({ "id": id, "secret": secret });

    let denied = open(
        &bao,
        json!({"version": "v2", "prefix": "denied", "approle": role.clone()}),
    )
    .await;
    for res in [
        denied.get("k").await.map(|_| ()),
        denied.create("k", b"v").await,
    ] {
        match res {
            Err(Error::Backend(e)) => assert!(e.to_string().contains("permission denied"), "{e}"),
            other => panic!("permission denied must be a backend error (502): {other:?}"),
        }
    }
    let wrong_mount = open(
        &bao,
        json!({"engine": "nope", "version": "v2", "approle": role.clone()}),
    )
    .await;
    assert!(
        matches!(wrong_mount.get("k").await, Err(Error::Backend(_))),
        "a missing mount is not a missing key"
    );

    let store = open(
        &bao,
        json!({"version": "v2", "prefix": "allowed", "approle": role.clone()}),
    )
    .await;
    store.create("k", b"v").await.unwrap();
    assert!(matches!(store.get("missing").await, Err(Error::NotFound)));

    bao.seal().await;
    match store.status().await {
        Err(Error::Unreachable(e)) => assert!(e.to_string().contains("sealed"), "{e}"),
        other => panic!("a sealed Vault is unreachable: {other:?}"),
    }
    assert!(matches!(store.get("k").await, Err(Error::Unreachable(_))));
    bao.unseal().await;
    store.status().await.unwrap();
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"v");

    bao.stop().await;
    assert!(matches!(store.status().await, Err(Error::Unreachable(_))));
    assert!(matches!(store.get("k").await, Err(Error::Unreachable(_))));
    assert!(matches!(
        store.create("k2", b"v").await,
        Err(Error::Unreachable(_))
    ));
    assert!(matches!(
        keystores::open(&config(
            &bao,
            json!({"version": "v2", "approle": role.clone()})
        ))
        .await,
        Err(Error::Unreachable(_))
    ));
    bao.restart().await;
    assert_eq!(
        store.get("k").await.unwrap().as_slice(),
        b"v",
        "recovers when Vault returns"
    );

    let bad_secret = config(&bao, json!({"approle": {"id": "nope", "secret": "nope"}}));
    assert!(matches!(
        keystores::open(&bad_secret).await,
        Err(Error::Backend(_))
    ));
}

#[tokio::test]
async fn debug_output_holds_no_credentials() {
    let Some(bao) = OpenBao::dev().await else {
        return;
    };
    let role = approle(&bao, json!({})).await;
    let KeystoreConfig::Vault(section) =
        config(&bao, json!({"version": "v2", "approle": role.clone()}))
    else {
        panic!("a vault section")
    };
    let store = keystores::VaultKeystore::connect(&section).await.unwrap();
    let debug = format!(
        "{store:?} {:?}",
        config(&bao, json!({"approle": role.clone()}))
    );
    let secret = role["secret"].as_str().unwrap();
    assert!(!debug.contains(secret), "{debug}");
    assert!(debug.contains("VaultKeystore"), "{debug}");
}
