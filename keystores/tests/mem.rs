//! The conformance suite over [`MemKeystore`].
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::sync::Arc;

use keystores::{Keystore, MemKeystore, conformance::run_suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mem_keystore_conforms() {
    run_suite(Arc::new(MemKeystore::new())).await;
}

#[tokio::test]
async fn mem_keystore_conforms_on_a_current_thread_runtime() {
    run_suite(Arc::new(MemKeystore::new())).await;
}

#[tokio::test]
async fn debug_does_not_show_names_or_values() {
    let store = MemKeystore::new();
    store.create("secret-name", b"secret-value").await.unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("secret"), "{debug}");
    assert!(debug.contains("entries: 1"), "{debug}");
}

#[tokio::test]
async fn revisions_are_never_reused_not_even_after_delete() {
    let store = MemKeystore::new();
    store.create("k", b"same").await.unwrap();
    let first = store.get_versioned("k").await.unwrap().revision;
    store.delete("k").await.unwrap();
    store.create("k", b"same").await.unwrap();
    let second = store.get_versioned("k").await.unwrap().revision;
    assert_ne!(first, second, "a re-created key gets a new revision");
    assert!(matches!(
        store.update("k", &first, b"x").await,
        Err(keystores::Error::Conflict)
    ));
    let third = store.update("k", &second, b"same").await.unwrap();
    assert_ne!(
        third, second,
        "an update to the same value is a new revision"
    );
}
