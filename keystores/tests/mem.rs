//! The conformance suite over [`MemKeystore`].
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
