//! Listing cost against bucket size: fills one bucket with `LIST_BENCH_OBJECTS` objects
//! (default 1,000,000) by writing object files straight into the store's layout (no HTTP, no
//! fsync: the fill is setup, not what is measured), then times, through the same storage calls
//! ListObjects/V2 makes (`FsStore::list_keys` + `FsStore::current_metas`):
//!
//! * the first page after a start with no saved index (as after a crash: one scan of `obj/`),
//! * 1000-key pages at the start, middle and end of the bucket,
//! * saving the index (`FsStore::save_indexes`, what a clean shutdown does) and the first page
//!   after the clean restart that follows (loads the saved index),
//! * for comparison, one full-bucket read as the listing did before the key index
//!   (`FsStore::list_objects`).
//!
//! A benchmark, not a test: it prints figures and asserts only that the pages hold the right
//! keys.
//!
//! ```sh
//! cargo run --release -p object-server --example list_bench          # LIST_BENCH_OBJECTS=100000 for a quick run
//! ```
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark driver: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)]

use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

use object_server::storage::{FsStore, ObjectMeta, file};
use sha2::{Digest, Sha256};

const PAGE: usize = 1000;

fn key(i: usize) -> String {
    format!("data/{:03}/object-{i:08}", i % 1000)
}

fn meta(key: &str) -> ObjectMeta {
    serde_json::from_value(serde_json::json!({
        "format": file::FORMAT, "key": key, "size": 0, "stored_size": 0,
        "etag": "d41d8cd98f00b204e9800998ecf8427e", "last_modified_ns": 0,
    }))
    .unwrap()
}

/// Writes objects `range` of the bucket directory `obj` (data region empty).
fn fill(obj: &Path, range: std::ops::Range<usize>) {
    for i in range {
        let k = key(i);
        let name = hex::encode(Sha256::digest(k.as_bytes()));
        std::fs::write(obj.join(name), file::encode_trailer(&meta(&k)).unwrap()).unwrap();
    }
}

async fn page(store: &FsStore, after: Option<String>) -> (Duration, Vec<ObjectMeta>) {
    let t = Instant::now();
    let from = after.map_or(Bound::Unbounded, Bound::Excluded);
    let keys = store
        .list_keys("bench", "", from, None, PAGE + 1)
        .await
        .unwrap();
    let metas = store.current_metas("bench", keys).await.unwrap();
    (t.elapsed(), metas)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("LIST_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).await.unwrap();
    store.create_bucket("bench").await.unwrap();
    drop(store);
    let obj = dir.path().join("bench/obj");
    let t = Instant::now();
    let threads = 4;
    std::thread::scope(|s| {
        for t in 0..threads {
            let obj = &obj;
            s.spawn(move || fill(obj, (t * n / threads)..((t + 1) * n / threads)));
        }
    });
    println!("filled {n} objects in {:.1?}", t.elapsed());

    // A fresh store with no saved index, as after a crash: the first listing scans.
    let store = FsStore::open(dir.path()).await.unwrap();
    let (first, metas) = page(&store, None).await;
    assert_eq!(metas.len(), PAGE.min(n) + usize::from(n > PAGE));
    println!(
        "first page after a crash restart (no saved index: one scan of the bucket): {first:.1?}"
    );

    let mut sorted: Vec<String> = Vec::new();
    for (name, at) in [
        ("start", 0),
        ("middle", n / 2),
        ("end", n.saturating_sub(PAGE)),
    ] {
        // The marker is the key just before position `at` in key order.
        let after = if at == 0 {
            None
        } else {
            if sorted.is_empty() {
                sorted = (0..n).map(key).collect();
                sorted.sort();
            }
            Some(sorted[at - 1].clone())
        };
        let mut times = Vec::new();
        for _ in 0..5 {
            let (d, metas) = page(&store, after.clone()).await;
            assert!(!metas.is_empty());
            if let Some(a) = &after {
                assert!(metas[0].key > *a);
            }
            times.push(d);
        }
        times.sort();
        println!(
            "page of {PAGE} at the {name:<6}: median {:.2?} (min {:.2?}, max {:.2?})",
            times[2], times[0], times[4]
        );
    }

    // Clean shutdown (save) and restart (load).
    let t = Instant::now();
    let saved = store.save_indexes().await.unwrap();
    assert_eq!(saved, 1);
    println!("clean shutdown: saving the index: {:.1?}", t.elapsed());
    drop(store);
    let store = FsStore::open(dir.path()).await.unwrap();
    let (first, metas) = page(&store, None).await;
    assert_eq!(metas.len(), PAGE.min(n) + usize::from(n > PAGE));
    println!("first page after a clean restart (loads the saved index): {first:.1?}");

    let t = Instant::now();
    let all = store.list_objects("bench", "").await.unwrap();
    assert_eq!(all.len(), n);
    println!(
        "for comparison, reading the whole bucket as every page did before the index: {:.1?}",
        t.elapsed()
    );
}
