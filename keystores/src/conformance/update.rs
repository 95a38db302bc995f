//! Conformance checks of conditional update ([`Keystore::get_versioned`] and
//! [`Keystore::update`]): compare-and-swap semantics, conflicts, missing and
//! deleted keys, exactly one winner among concurrent updates from one
//! revision, no lost update among concurrent read-modify-write loops, and an
//! update racing a delete never bringing the key back.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a test suite: a panic is the failure report"
)]

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::{Error, Keystore, Revision};

/// Concurrent updates from one starting revision.
const RACERS: usize = 32;
/// Concurrent read-modify-write loops, and the increments each makes.
const WORKERS: usize = 8;
const INCREMENTS: usize = 8;
/// Update/delete races.
const DELETE_ROUNDS: usize = 16;
/// Attempts one increment may take before the store counts as livelocked.
const MAX_ATTEMPTS: usize = 10_000;

/// Runs every conditional-update check; names start with `p`.
pub(super) async fn run(store: &Arc<dyn Keystore>, p: &str) {
    let s = store.as_ref();
    compare_and_swap(s, p).await;
    missing_and_deleted(s, p).await;
    invalid_names(s).await;
    concurrent_updates(Arc::clone(store), p).await;
    incrementers(Arc::clone(store), p).await;
    update_races_delete(Arc::clone(store), p).await;
}

async fn value(s: &dyn Keystore, name: &str, what: &str) -> Vec<u8> {
    match s.get(name).await {
        Ok(v) => v.to_vec(),
        Err(err) => panic!("{what}: get({name}) failed with {err:?}"),
    }
}

async fn compare_and_swap(s: &dyn Keystore, p: &str) {
    let name = format!("{p}-cas");
    s.create(&name, b"v1").await.expect("create must succeed");
    // A plain read first, so a caching store has the old value cached.
    assert_eq!(value(s, &name, "before update").await, b"v1");
    let first = s
        .get_versioned(&name)
        .await
        .expect("get_versioned of an existing key must succeed");
    assert_eq!(
        first.value.as_slice(),
        b"v1",
        "get_versioned must return the stored value"
    );
    let again = s
        .get_versioned(&name)
        .await
        .expect("get_versioned must succeed");
    assert_eq!(
        again.revision, first.revision,
        "two reads with no write in between must return equal revisions"
    );

    let second = s
        .update(&name, &first.revision, b"v2")
        .await
        .expect("update with the current revision must succeed");
    assert_ne!(
        second, first.revision,
        "an update must produce a new revision"
    );
    assert_eq!(
        value(s, &name, "after update").await,
        b"v2",
        "get after update must return the new value"
    );
    let now = s
        .get_versioned(&name)
        .await
        .expect("get_versioned must succeed");
    assert_eq!(now.value.as_slice(), b"v2");
    assert_eq!(
        now.revision, second,
        "get_versioned must return the revision update returned"
    );

    assert_err!(
        s.update(&name, &first.revision, b"v3").await,
        Error::Conflict,
        "update with a stale revision must be Conflict"
    );
    assert_eq!(
        value(s, &name, "after a conflict").await,
        b"v2",
        "a conflicting update must not change the value"
    );

    let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
    s.update(&name, &second, &bytes)
        .await
        .expect("update with arbitrary bytes must succeed");
    assert!(
        value(s, &name, "binary update").await == bytes,
        "arbitrary bytes must round trip through update"
    );
    assert_err!(
        s.create(&name, b"other").await,
        Error::KeyExists,
        "create of an updated key must be KeyExists"
    );
    let page = s.list(&name, "", 0).await.expect("list must succeed");
    assert_eq!(page.names, [name], "an updated key is listed once");
}

async fn missing_and_deleted(s: &dyn Keystore, p: &str) {
    let missing = format!("{p}-upd-missing");
    let any = Revision::from_bytes(vec![0u8; 8]);
    assert_err!(
        s.update(&missing, &any, b"x").await,
        Error::NotFound,
        "update of a missing key must be NotFound"
    );
    assert_err!(
        s.get_versioned(&missing).await,
        Error::NotFound,
        "get_versioned of a missing key must be NotFound"
    );
    assert_err!(
        s.get(&missing).await,
        Error::NotFound,
        "an update of a missing key must not create it"
    );

    let name = format!("{p}-upd-deleted");
    s.create(&name, b"a").await.expect("create must succeed");
    let before = s
        .get_versioned(&name)
        .await
        .expect("get_versioned must succeed");
    s.delete(&name).await.expect("delete must succeed");
    assert_err!(
        s.update(&name, &before.revision, b"b").await,
        Error::NotFound,
        "update after delete must be NotFound"
    );
    assert_err!(
        s.get(&name).await,
        Error::NotFound,
        "an update after delete must not re-create the key"
    );
    s.create(&name, b"c")
        .await
        .expect("create after delete must succeed");
    assert_err!(
        s.update(&name, &before.revision, b"d").await,
        Error::Conflict,
        "a revision read before a delete must not match a re-created key with another value"
    );
    assert_eq!(value(s, &name, "re-created").await, b"c");
}

async fn invalid_names(s: &dyn Keystore) {
    let any = Revision::from_bytes(vec![0u8; 8]);
    for bad in ["../x", "a/b", "..", "", "a b", "/etc/passwd"] {
        assert_err!(
            s.update(bad, &any, b"v").await,
            Error::InvalidName,
            "update({bad:?}) must be InvalidName"
        );
        assert_err!(
            s.get_versioned(bad).await,
            Error::InvalidName,
            "get_versioned({bad:?}) must be InvalidName"
        );
    }
}

async fn concurrent_updates(store: Arc<dyn Keystore>, p: &str) {
    let name = format!("{p}-cas-race");
    store
        .create(&name, b"start")
        .await
        .expect("create must succeed");
    let start = store
        .get_versioned(&name)
        .await
        .expect("get_versioned must succeed")
        .revision;
    let mut tasks = JoinSet::new();
    for i in 0..RACERS {
        let (store, name, start) = (Arc::clone(&store), name.clone(), start.clone());
        tasks.spawn(async move {
            let value = format!("winner-{i}");
            (i, store.update(&name, &start, value.as_bytes()).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, res) = joined.expect("an update task panicked");
        match res {
            Ok(revision) => winners.push((i, revision)),
            Err(Error::Conflict) => {}
            Err(err) => panic!("concurrent update {i} failed with {err:?}"),
        }
    }
    let [(winner, revision)] = winners.as_slice() else {
        panic!(
            "exactly one of {RACERS} concurrent updates from one revision must succeed, the others Conflict: {} succeeded",
            winners.len()
        );
    };
    let now = store
        .get_versioned(&name)
        .await
        .expect("get_versioned must succeed");
    assert_eq!(
        now.value.as_slice(),
        format!("winner-{winner}").as_bytes(),
        "the stored value must be the winner's"
    );
    assert_eq!(
        now.revision, *revision,
        "the stored revision must be the winner's"
    );
}

/// One read-modify-write loop: adds 1 to the counter `INCREMENTS` times,
/// retrying on conflicts; returns the counts it wrote.
async fn increment(store: Arc<dyn Keystore>, name: String) -> Vec<u64> {
    let mut wrote = Vec::new();
    for _ in 0..INCREMENTS {
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(
                attempts <= MAX_ATTEMPTS,
                "an increment did not succeed in {MAX_ATTEMPTS} attempts"
            );
            let current = store
                .get_versioned(&name)
                .await
                .expect("get_versioned of the counter must succeed");
            let n: u64 = std::str::from_utf8(&current.value)
                .ok()
                .and_then(|t| t.parse().ok())
                .expect("the counter must hold a number");
            let next = (n + 1).to_string();
            match store
                .update(&name, &current.revision, next.as_bytes())
                .await
            {
                Ok(_) => {
                    wrote.push(n + 1);
                    break;
                }
                Err(Error::Conflict) => {}
                Err(err) => panic!("incrementing the counter failed with {err:?}"),
            }
        }
    }
    wrote
}

async fn incrementers(store: Arc<dyn Keystore>, p: &str) {
    let name = format!("{p}-counter");
    store
        .create(&name, b"0")
        .await
        .expect("create must succeed");
    let mut tasks = JoinSet::new();
    for _ in 0..WORKERS {
        tasks.spawn(increment(Arc::clone(&store), name.clone()));
    }
    let mut written = BTreeSet::new();
    let mut count = 0;
    while let Some(joined) = tasks.join_next().await {
        let wrote = joined.expect("an incrementer panicked");
        count += wrote.len();
        written.extend(wrote);
    }
    let total = (WORKERS * INCREMENTS) as u64;
    assert_eq!(
        value(store.as_ref(), &name, "counter").await,
        total.to_string().as_bytes(),
        "{WORKERS} concurrent incrementers of {INCREMENTS} each must end at {total}: an update was lost"
    );
    assert_eq!(
        (count, written),
        (WORKERS * INCREMENTS, (1..=total).collect()),
        "each count must be written by exactly one successful update"
    );
}

async fn update_races_delete(store: Arc<dyn Keystore>, p: &str) {
    for round in 0..DELETE_ROUNDS {
        let name = format!("{p}-upd-del-{round}");
        store
            .create(&name, b"a")
            .await
            .expect("create must succeed");
        let read = store
            .get_versioned(&name)
            .await
            .expect("get_versioned must succeed");
        let updater = tokio::spawn({
            let (store, name) = (Arc::clone(&store), name.clone());
            async move { store.update(&name, &read.revision, b"b").await }
        });
        let deleter = tokio::spawn({
            let (store, name) = (Arc::clone(&store), name.clone());
            async move { store.delete(&name).await }
        });
        let updated = updater.await.expect("the update task panicked");
        let deleted = deleter.await.expect("the delete task panicked");
        assert!(
            matches!(updated, Ok(_) | Err(Error::NotFound)),
            "an update racing a delete must succeed (before it) or be NotFound (after it): {:?}",
            updated.map(|_| ())
        );
        assert!(
            deleted.is_ok(),
            "a delete racing an update must succeed: {deleted:?}"
        );
        assert_err!(
            store.get(&name).await,
            Error::NotFound,
            "after an update raced a delete the key must be gone (round {round})"
        );
    }
}
