//! [`keystores::AwsKeystore`] against a real moto server: the conformance
//! suite without and with `kmskey`, KES's storage layout in both directions
//! (checked with awscli), listing next to foreign secrets, error mapping for
//! an unreachable service and for refused credentials (moto's IAM checks).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

mod aws_support;

use std::sync::Arc;

use aws_support::Moto;
use keystores::conformance::run_suite;
use keystores::{Error, Keystore, KeystoreConfig};
use serde::Deserialize as _;
use serde_json::{Value, json};

/// Opens a keystore with the `keystore.aws.secretsmanager` section `section`.
async fn open(section: Value) -> Arc<dyn Keystore> {
    let config = KeystoreConfig::deserialize(json!({ "aws": { "secretsmanager": section } }))
        .unwrap_or_else(|e| panic!("config: {e}"));
    keystores::open(&config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms_without_kmskey() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let store = open(moto.section(None)).await;
    run_suite(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conforms_with_kmskey_and_encrypts_under_it() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let key = moto.kms_key();
    let store = open(moto.section(Some(&key))).await;
    run_suite(Arc::clone(&store)).await;

    store.create("under-kms", b"c2VjcmV0").await.unwrap();
    let described = moto.aws_ok(&[
        "secretsmanager",
        "describe-secret",
        "--secret-id",
        "under-kms",
    ]);
    assert_eq!(described["KmsKeyId"], json!(key), "{described}");
    assert_eq!(
        store.get("under-kms").await.unwrap().as_slice(),
        b"c2VjcmV0"
    );
}

#[tokio::test]
async fn values_are_stored_in_kes_layout_both_ways() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let store = open(moto.section(None)).await;

    // Written here, read with awscli: the secret is named after the key
    // and its SecretString is the value.
    store.create("my-key", b"c2VjcmV0").await.unwrap();
    let got = moto.aws_ok(&[
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "my-key",
    ]);
    assert_eq!(got["Name"], "my-key");
    assert_eq!(got["SecretString"], "c2VjcmV0");
    assert_eq!(got.get("SecretBinary"), None);

    // Written as KES writes it (and by hand), read here; an update is a new
    // current version of the same secret.
    let legacy = r#"{"bytes":"AAAA","algorithm":"AES256-GCM_SHA256"}"#;
    moto.aws_ok(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "kes-written",
        "--secret-string",
        legacy,
    ]);
    let read = store.get_versioned("kes-written").await.unwrap();
    assert_eq!(read.value.as_slice(), legacy.as_bytes());
    let next = store
        .update("kes-written", &read.revision, b"bmV3")
        .await
        .unwrap();
    let got = moto.aws_ok(&[
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "kes-written",
    ]);
    assert_eq!(got["SecretString"], "bmV3");
    assert_eq!(
        got["VersionId"].as_str().unwrap().as_bytes(),
        next.as_bytes()
    );
    assert!(
        got["VersionStages"]
            .as_array()
            .unwrap()
            .contains(&json!("AWSCURRENT"))
    );

    // Secrets whose names are no key names are not listed.
    moto.aws_ok(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "other/app.password",
        "--secret-string",
        "x",
    ]);
    let page = store.list("", "", 0).await.unwrap();
    assert_eq!(page.names, ["kes-written", "my-key"]);

    // Deleted without a recovery window: gone for awscli at once.
    store.delete("my-key").await.unwrap();
    let err = moto
        .aws(&[
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "my-key",
        ])
        .unwrap_err();
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    assert!(matches!(store.delete("my-key").await, Err(Error::NotFound)));
}

#[tokio::test]
async fn list_pages_through_more_than_one_service_page() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let store = open(moto.section(None)).await;
    let mut want = Vec::new();
    for i in 0..130 {
        let name = format!("k{i:03}");
        store.create(&name, b"v").await.unwrap();
        want.push(name);
    }
    assert_eq!(store.list("k", "", 0).await.unwrap().names, want);
    let page = store.list("k1", "k105", 10).await.unwrap();
    assert_eq!(page.names, want[105..115]);
    assert_eq!(page.next.as_deref(), Some("k115"));
}

#[tokio::test]
async fn a_stopped_service_is_unreachable_and_comes_back() {
    let Some(mut moto) = Moto::start().await else {
        return;
    };
    let store = open(moto.section(None)).await;
    store.create("k", b"v").await.unwrap();
    moto.stop().await;
    assert!(matches!(store.status().await, Err(Error::Unreachable(_))));
    let res = store.get("k").await;
    assert!(matches!(res, Err(Error::Unreachable(_))), "{res:?}");
    assert!(matches!(
        store.create("k2", b"v").await,
        Err(Error::Unreachable(_))
    ));
    assert!(matches!(
        store.list("", "", 0).await,
        Err(Error::Unreachable(_))
    ));

    moto.restart().await;
    store.status().await.unwrap();
    // moto keeps state in memory: the restarted service is empty.
    assert!(matches!(store.get("k").await, Err(Error::NotFound)));
    store.create("k", b"again").await.unwrap();
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"again");
}

#[tokio::test]
async fn refused_credentials_are_backend_errors_not_unreachable() {
    // IAM checks start after the three requests that create the user.
    let Some(moto) = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]).await else {
        return;
    };
    moto.aws_ok(&["iam", "create-user", "--user-name", "kes"]);
    let key = moto.aws_ok(&["iam", "create-access-key", "--user-name", "kes"]);
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["secretsmanager:ListSecrets", "secretsmanager:GetSecretValue"],
        "Resource": "*",
    }]});
    moto.aws_ok(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "kes",
        "--policy-name",
        "read-only",
        "--policy-document",
        &policy.to_string(),
    ]);
    let (id, secret) = (
        key["AccessKey"]["AccessKeyId"].as_str().unwrap(),
        key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
    );

    // A user that may list and read but not create.
    let mut section = moto.section(None);
    section["credentials"] = json!({"accesskey": id, "secretkey": secret});
    let store = open(section).await;
    store.status().await.unwrap();
    match store.create("k", b"v").await {
        Err(Error::Backend(e)) => {
            let msg = e.to_string();
            assert!(msg.contains("access denied"), "{msg}");
            assert!(msg.contains("'k'"), "{msg}");
            assert!(!msg.contains(secret), "{msg}");
        }
        other => panic!("want Backend, got {other:?}"),
    }

    // Credentials the service does not know: reachable, but refused.
    let unknown = open(moto.section(None)).await;
    match unknown.status().await {
        Err(Error::Backend(e)) => assert!(e.to_string().contains("access denied"), "{e}"),
        other => panic!("want Backend, got {other:?}"),
    }
    assert!(matches!(unknown.get("k").await, Err(Error::Backend(_))));
}
