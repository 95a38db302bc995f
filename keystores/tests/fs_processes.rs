//! Several processes sharing one fs key directory (two servers on one
//! keystore): concurrent read-modify-write loops lose no update, and a store
//! opened while others write (its start-up cleanup of temp files) breaks no
//! write in progress.
//!
//! `harness = false`: `main` is the test. It runs this same binary again as
//! the worker processes, telling them apart by the `KEYSTORES_TEST_WORKER`
//! environment variable. The test passes when `main` returns and fails when
//! it panics (non-zero exit).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keystores::{Error, FsKeystore, Keystore};

/// The key directory, set for worker processes only.
const WORKER_ENV: &str = "KEYSTORES_TEST_WORKER";
const PROCESSES: usize = 3;
/// Concurrent tasks per process, and the increments each makes.
const TASKS: usize = 4;
const EACH: usize = 10;
const KEY: &str = "counter";

fn main() {
    match std::env::var_os(WORKER_ENV) {
        Some(dir) => worker(PathBuf::from(dir)),
        None => parent(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn parent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    runtime().block_on(async {
        let store = FsKeystore::open(&dir).unwrap();
        store.create(KEY, b"0").await.unwrap();
    });
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .env(WORKER_ENV, &dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut written = BTreeSet::new();
    let mut count = 0;
    for child in children {
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().unwrap();
        assert!(
            status.success(),
            "a worker failed ({status}):\n{}",
            String::from_utf8_lossy(&stderr)
        );
        for line in String::from_utf8(stdout).unwrap().lines() {
            if let Some(n) = line.strip_prefix("wrote ") {
                count += 1;
                written.insert(n.parse::<usize>().unwrap());
            }
        }
    }
    let total = PROCESSES * TASKS * EACH;
    let value = std::fs::read_to_string(dir.join(KEY)).unwrap();
    assert_eq!(
        value,
        total.to_string(),
        "{PROCESSES} processes × {TASKS} tasks × {EACH} increments: an update was lost"
    );
    assert_eq!(
        (count, written),
        (total, (1..=total).collect()),
        "every count must be written by exactly one successful update"
    );
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, [KEY], "no temp file is left");
    println!("fs_processes: {total} updates from {PROCESSES} processes, none lost: ok");
}

/// Increments the counter `TASKS × EACH` times, printing each count written.
/// Every increment opens the store afresh, so its temp-file cleanup runs
/// while the other processes are writing.
fn worker(dir: PathBuf) {
    runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..TASKS {
            let dir = dir.clone();
            tasks.spawn(async move {
                let mut wrote = Vec::new();
                for _ in 0..EACH {
                    wrote.push(increment(&dir).await);
                }
                wrote
            });
        }
        while let Some(joined) = tasks.join_next().await {
            for n in joined.unwrap() {
                println!("wrote {n}");
            }
        }
    });
}

async fn increment(dir: &Path) -> usize {
    loop {
        let dir = dir.to_owned();
        let store = tokio::task::spawn_blocking(move || FsKeystore::open(dir))
            .await
            .unwrap()
            .unwrap();
        let read = store.get_versioned(KEY).await.unwrap();
        let n: usize = std::str::from_utf8(&read.value).unwrap().parse().unwrap();
        match store
            .update(KEY, &read.revision, (n + 1).to_string().as_bytes())
            .await
        {
            Ok(_) => return n + 1,
            Err(Error::Conflict) => {}
            Err(err) => panic!("update failed: {err:?}"),
        }
    }
}
