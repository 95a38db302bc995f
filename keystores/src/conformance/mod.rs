//! The conformance suite every [`Keystore`] backend must pass (feature `testing`).
//!
//! [`run_suite`] exercises the trait contract: create/get round trip, create
//! never overwrites, `NotFound` for missing names, delete then re-create,
//! sorted paging without loss or duplicates, `InvalidName` for names that
//! could escape the backend's namespace, exactly one winner among 100
//! concurrent creates, arbitrary byte values, and conditional update (module
//! `update`: compare-and-swap, conflicts, races with updates and deletes, no
//! lost update among concurrent read-modify-write loops).
//!
//! # Layout
//! - this module: [`run_suite`] and the create/get/delete/list checks;
//! - `update`: the conditional-update checks.
//!
//! All names it uses start with a random prefix (`conf<hex>-`), so the suite
//! can run against a store that already holds other keys (a shared Vault, a
//! cloud account). It deletes what it created before returning. It panics with
//! a descriptive message on the first violation, which is what a test wants.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a test suite: a panic is the failure report"
)]

use std::sync::Arc;

use crate::{Error, Keystore, MAX_NAME_LEN, Page};

/// Asserts that `$res` is `Err($pat)`, naming the check on failure.
macro_rules! assert_err {
    ($res:expr, $pat:pat, $($msg:tt)+) => {{
        let res = $res;
        assert!(matches!(res, Err($pat)), "{}: got {:?}", format!($($msg)+), res.map(|_| ()));
    }};
}

mod update;

/// Runs every check against `store`. Panics on the first failure.
///
/// Needs a Tokio runtime (the concurrency check spawns tasks) and a store in
/// which no other client touches names starting with the suite's random prefix.
pub async fn run_suite(store: Arc<dyn Keystore>) {
    let p = format!("conf{:08x}", rand::random::<u32>());
    let s = store.as_ref();

    store
        .status()
        .await
        .expect("status of a healthy store must be Ok");
    round_trip_and_no_overwrite(s, &p).await;
    missing_names(s, &p).await;
    delete_then_create(s, &p).await;
    listing(s, &p).await;
    invalid_names(s).await;
    concurrent_creates(Arc::clone(&store), &p).await;
    binary_values(s, &p).await;
    update::run(&store, &p).await;
    cleanup(s, &p).await;
}

async fn round_trip_and_no_overwrite(s: &dyn Keystore, p: &str) {
    let name = format!("{p}-rt");
    s.create(&name, b"first value")
        .await
        .expect("create of a new name must succeed");
    let got = s.get(&name).await.expect("get after create must succeed");
    assert_eq!(
        got.as_slice(),
        b"first value",
        "get must return the created value"
    );

    assert_err!(
        s.create(&name, b"second value").await,
        Error::KeyExists,
        "create of an existing name must be KeyExists"
    );
    let got = s
        .get(&name)
        .await
        .expect("get after a rejected create must succeed");
    assert_eq!(
        got.as_slice(),
        b"first value",
        "a rejected create must not change the stored value"
    );
}

async fn missing_names(s: &dyn Keystore, p: &str) {
    let name = format!("{p}-missing");
    assert_err!(
        s.get(&name).await,
        Error::NotFound,
        "get of a missing name must be NotFound"
    );
    assert_err!(
        s.delete(&name).await,
        Error::NotFound,
        "delete of a missing name must be NotFound"
    );
}

async fn delete_then_create(s: &dyn Keystore, p: &str) {
    let name = format!("{p}-again");
    s.create(&name, b"one").await.expect("create must succeed");
    s.delete(&name)
        .await
        .expect("delete of an existing name must succeed");
    assert_err!(
        s.get(&name).await,
        Error::NotFound,
        "get after delete must be NotFound"
    );
    assert_err!(
        s.delete(&name).await,
        Error::NotFound,
        "a second delete must be NotFound"
    );
    s.create(&name, b"two")
        .await
        .expect("create after delete must succeed");
    let got = s
        .get(&name)
        .await
        .expect("get after re-create must succeed");
    assert_eq!(
        got.as_slice(),
        b"two",
        "get after re-create must return the new value"
    );
}

/// Pages through `prefix` with `limit`, checking each page's shape.
async fn page_through(s: &dyn Keystore, prefix: &str, limit: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut continue_at = String::new();
    for _ in 0..1_000_000 {
        let Page { names, next } = s
            .list(prefix, &continue_at, limit)
            .await
            .expect("list must succeed");
        assert!(
            names.len() <= limit,
            "a page must hold at most `limit` names, got {names:?}"
        );
        assert!(
            names.iter().all(|n| n.starts_with(prefix)),
            "every name must match the prefix: {names:?}"
        );
        match next {
            Some(next) => {
                assert_eq!(names.len(), limit, "a page followed by more must be full");
                assert!(
                    names.last().is_some_and(|last| *last < next),
                    "`next` ({next}) must come after the page's last name ({names:?})"
                );
                all.extend(names);
                continue_at = next;
            }
            None => {
                all.extend(names);
                return all;
            }
        }
    }
    panic!("paging with limit {limit} did not terminate");
}

fn assert_sorted_unique(names: &[String], what: &str) {
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "{what}: names must be strictly ascending: {names:?}"
    );
}

async fn listing(s: &dyn Keystore, p: &str) {
    let prefix = format!("{p}-list-");
    let ours: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|x| format!("{prefix}{x}"))
        .collect();
    // Created out of order; one more name shares a shorter prefix only.
    for name in [&ours[2], &ours[0], &ours[1]] {
        s.create(name, b"v").await.expect("create must succeed");
    }
    s.create(&format!("{p}-lisz"), b"v")
        .await
        .expect("create must succeed");

    let page = s.list(&prefix, "", 0).await.expect("list must succeed");
    assert_eq!(
        page.names, ours,
        "limit 0 must return every matching name, sorted"
    );
    assert_eq!(page.next, None, "limit 0 must return the last page");

    let page = s.list(&prefix, "", 3).await.expect("list must succeed");
    assert_eq!(
        page.names, ours,
        "limit == count must return every matching name"
    );
    assert_eq!(page.next, None, "limit == count must be the last page");

    let page = s.list(&prefix, "", 2).await.expect("list must succeed");
    assert_eq!(
        page.names,
        ours[..2],
        "limit 2 must return the first two names"
    );
    assert_eq!(
        page.next.as_deref(),
        Some(ours[2].as_str()),
        "`next` must be the first name not returned"
    );

    assert_eq!(
        page_through(s, &prefix, 1).await,
        ours,
        "paging with limit 1 must yield each name once"
    );
    assert_eq!(
        page_through(s, &prefix, 2).await,
        ours,
        "paging with limit 2 must yield each name once"
    );

    let page = s
        .list(&prefix, &ours[1], 0)
        .await
        .expect("list must succeed");
    assert_eq!(
        page.names,
        ours[1..],
        "continue_at must start at the first name >= it"
    );
    let page = s
        .list(&prefix, &format!("{prefix}zz"), 0)
        .await
        .expect("list must succeed");
    assert_eq!(
        page,
        Page::default(),
        "continue_at past the end must give an empty last page"
    );
    let page = s
        .list(&format!("{p}-nothing"), "", 0)
        .await
        .expect("list must succeed");
    assert_eq!(
        page,
        Page::default(),
        "a prefix matching nothing must give an empty last page"
    );

    // Empty prefix: everything, including names the suite did not create.
    let page = s
        .list("", "", 0)
        .await
        .expect("list with an empty prefix must succeed");
    assert_sorted_unique(&page.names, "empty prefix, limit 0");
    assert_eq!(
        page.next, None,
        "empty prefix, limit 0 must be the last page"
    );
    for name in ours
        .iter()
        .chain([&format!("{p}-lisz"), &format!("{p}-rt")])
    {
        assert!(page.names.contains(name), "empty prefix must list {name}");
    }
    let paged = page_through(s, "", 2).await;
    assert_sorted_unique(&paged, "empty prefix, paged by 2");
    assert_eq!(
        paged, page.names,
        "paging with an empty prefix must yield the same names as limit 0"
    );
}

async fn invalid_names(s: &dyn Keystore) {
    let long = "a".repeat(MAX_NAME_LEN + 1);
    for bad in [
        "../x",
        "a/b",
        ".",
        "..",
        "",
        &long,
        "k\u{e9}y",
        "a\\b",
        "a\0b",
        "a b",
        "/etc/passwd",
    ] {
        assert_err!(
            s.create(bad, b"v").await,
            Error::InvalidName,
            "create({bad:?}) must be InvalidName"
        );
        assert_err!(
            s.get(bad).await,
            Error::InvalidName,
            "get({bad:?}) must be InvalidName"
        );
        assert_err!(
            s.delete(bad).await,
            Error::InvalidName,
            "delete({bad:?}) must be InvalidName"
        );
    }
    let longest = "b".repeat(MAX_NAME_LEN);
    s.create(&longest, b"v")
        .await
        .expect("a name of exactly MAX_NAME_LEN bytes must be accepted");
    s.delete(&longest)
        .await
        .expect("delete of the longest name must succeed");
}

async fn concurrent_creates(store: Arc<dyn Keystore>, p: &str) {
    const N: usize = 100;
    let name = format!("{p}-race");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let (store, name) = (Arc::clone(&store), name.clone());
        tasks.spawn(async move {
            (
                i,
                store.create(&name, format!("value-{i}").as_bytes()).await,
            )
        });
    }
    let mut winners = Vec::new();
    let mut exists = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, res) = joined.expect("a create task panicked");
        match res {
            Ok(()) => winners.push(i),
            Err(Error::KeyExists) => exists += 1,
            Err(err) => panic!("concurrent create {i} failed with {err:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {N} concurrent creates must succeed: {winners:?}"
    );
    assert_eq!(
        exists,
        N - 1,
        "all other concurrent creates must be KeyExists"
    );
    let got = store
        .get(&name)
        .await
        .expect("get after concurrent creates must succeed");
    assert_eq!(
        got.as_slice(),
        format!("value-{}", winners[0]).as_bytes(),
        "get must return the winner's value"
    );
}

async fn binary_values(s: &dyn Keystore, p: &str) {
    let name = format!("{p}-bytes");
    let value: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    s.create(&name, &value)
        .await
        .expect("create with arbitrary bytes must succeed");
    let got = s.get(&name).await.expect("get must succeed");
    assert!(
        got.as_slice() == value.as_slice(),
        "arbitrary bytes 0x00..=0xff must round trip unchanged"
    );
}

async fn cleanup(s: &dyn Keystore, p: &str) {
    let names = s.list(p, "", 0).await.expect("list must succeed").names;
    for name in &names {
        s.delete(name)
            .await
            .expect("delete during cleanup must succeed");
    }
    assert_eq!(
        s.list(p, "", 0).await.expect("list must succeed"),
        Page::default(),
        "cleanup must leave nothing"
    );
}
