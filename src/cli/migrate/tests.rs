//! The engine on the memory backend, and config reading. The real binary on fs keystores: `tests/migrate.rs`.
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use keystores::{Error, Keystore, KeystoreConfig, MemKeystore, Page, Status};
use zeroize::Zeroizing;

use super::engine::{self, Event, MAX_FAILURES, Observer, Outcome, Plan, Stop, Tally};
use super::glob::Glob;
use super::parse_keystore;
use crate::config::ConfigError;

/// Records every key event.
#[derive(Default)]
struct Record {
    keys: Vec<(String, String)>,
    started: Option<Tally>,
}

impl Observer for Record {
    fn event(&mut self, event: Event<'_>, tally: &Tally) {
        match event {
            Event::Started => self.started = Some(*tally),
            Event::Key(name, outcome) => {
                let what = match outcome {
                    Outcome::Copied => "copied".to_owned(),
                    Outcome::Exists => "exists".to_owned(),
                    Outcome::Vanished => "vanished".to_owned(),
                    Outcome::Failed(side, e) => format!("{side}: {e}"),
                };
                self.keys.push((name.to_owned(), what));
            }
            Event::Listing(_) | Event::Tick => {}
        }
    }
}

fn plan(pattern: &str, merge: bool, dry_run: bool) -> Plan {
    Plan {
        pattern: Glob::parse(pattern).unwrap(),
        merge,
        dry_run,
    }
}

fn value(i: usize) -> Vec<u8> {
    format!("stored value {i:05} \u{0}\u{ff}").into_bytes()
}

async fn store_with(n: usize) -> Arc<MemKeystore> {
    let store = Arc::new(MemKeystore::new());
    for i in 0..n {
        store
            .create(&format!("key-{i:05}"), &value(i))
            .await
            .unwrap();
    }
    store
}

async fn names(store: &dyn Keystore) -> Vec<String> {
    store.list("", "", 0).await.unwrap().names
}

async fn run(
    src: &Arc<MemKeystore>,
    dst: Arc<dyn Keystore>,
    plan: &Plan,
    rec: &mut Record,
) -> engine::Summary {
    let src: Arc<dyn Keystore> = src.clone();
    engine::run(src, dst, plan, rec, std::future::pending())
        .await
        .unwrap()
}

#[tokio::test]
async fn copies_every_key_byte_for_byte_across_pages() {
    let n = engine::PAGE * 2 + 500;
    let src = store_with(n).await;
    let dst = Arc::new(MemKeystore::new());
    let mut rec = Record::default();
    let s = run(&src, dst.clone(), &plan("*", false, false), &mut rec).await;
    assert!(s.stop.is_none(), "{:?}", s.stop);
    let want = Tally {
        total: n as u64,
        copied: n as u64,
        skipped: 0,
        failed: 0,
    };
    assert_eq!(s.tally, want);
    assert_eq!(rec.started.map(|t| t.total), Some(n as u64));
    assert_eq!(rec.keys.len(), n, "one event per key");
    assert_eq!(names(dst.as_ref()).await, names(src.as_ref()).await);
    for i in 0..n {
        let got = dst.get(&format!("key-{i:05}")).await.unwrap();
        assert_eq!(*got, value(i));
    }
}

#[tokio::test]
async fn the_pattern_selects_keys_and_its_prefix_narrows_the_listing() {
    let src = Arc::new(MemKeystore::new());
    for name in ["a-1", "a-2", "ab", "b-1", "c"] {
        src.create(name, name.as_bytes()).await.unwrap();
    }
    for (pattern, want) in [
        ("a-*", vec!["a-1", "a-2"]),
        ("*-1", vec!["a-1", "b-1"]),
        ("[ab]?", vec!["ab"]),
        ("c", vec!["c"]),
        ("zzz*", vec![]),
    ] {
        let dst = Arc::new(MemKeystore::new());
        let s = run(
            &src,
            dst.clone(),
            &plan(pattern, false, false),
            &mut Record::default(),
        )
        .await;
        assert_eq!(names(dst.as_ref()).await, want, "{pattern}");
        assert_eq!(s.tally.total, want.len() as u64, "{pattern}");
    }
}

#[tokio::test]
async fn an_existing_key_stops_the_run_unless_merge_and_is_never_overwritten() {
    let src = store_with(300).await;
    let dst = Arc::new(MemKeystore::new());
    dst.create("key-00150", b"the target's own").await.unwrap();

    let s = run(
        &src,
        dst.clone(),
        &plan("*", false, false),
        &mut Record::default(),
    )
    .await;
    assert!(
        matches!(&s.stop, Some(Stop::Exists { first, count: 1 }) if first == "key-00150"),
        "{:?}",
        s.stop
    );
    assert_eq!(
        (s.tally.copied, s.tally.failed),
        (0, 1),
        "stopped before writing"
    );
    assert_eq!(names(dst.as_ref()).await, vec!["key-00150"]);
    assert_eq!(*dst.get("key-00150").await.unwrap(), b"the target's own");

    let mut rec = Record::default();
    let s = run(&src, dst.clone(), &plan("*", true, false), &mut rec).await;
    assert!(s.stop.is_none(), "{:?}", s.stop);
    assert_eq!(s.tally.failed, 0);
    assert_eq!(s.tally.copied + s.tally.skipped, 300);
    assert_eq!(s.tally.skipped, 1, "the target's own key is skipped");
    assert_eq!(*dst.get("key-00150").await.unwrap(), b"the target's own");
    assert_eq!(names(dst.as_ref()).await, names(src.as_ref()).await);

    // Everything is there now: a third run copies nothing.
    let s = run(
        &src,
        dst.clone(),
        &plan("*", true, false),
        &mut Record::default(),
    )
    .await;
    assert_eq!((s.tally.copied, s.tally.skipped), (0, 300));
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() {
    let src = store_with(40).await;
    let dst = Arc::new(MemKeystore::new());
    dst.create("key-00007", b"x").await.unwrap();
    let mut rec = Record::default();
    let s = run(&src, dst.clone(), &plan("*", false, true), &mut rec).await;
    assert_eq!(names(dst.as_ref()).await, vec!["key-00007"]);
    assert!(
        s.stop.is_none(),
        "a dry run reports every conflict: {:?}",
        s.stop
    );
    assert_eq!((s.tally.copied, s.tally.failed), (39, 1));
    let exists: Vec<_> = rec.keys.iter().filter(|(_, w)| w == "exists").collect();
    assert_eq!(exists, vec![&("key-00007".to_owned(), "exists".to_owned())]);
    let names_in_order: Vec<_> = rec.keys.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        names_in_order,
        names(src.as_ref()).await,
        "reported in name order"
    );

    let s = run(
        &src,
        dst.clone(),
        &plan("*", true, true),
        &mut Record::default(),
    )
    .await;
    assert_eq!(
        (s.tally.copied, s.tally.skipped, s.tally.failed),
        (39, 1, 0)
    );
}

#[tokio::test]
async fn an_interrupt_stops_feeding_keys_and_a_merge_resumes() {
    let src = store_with(1000).await;
    let dst = Arc::new(MemKeystore::new());
    let srcd: Arc<dyn Keystore> = src.clone();
    let s = engine::run(
        srcd,
        dst.clone(),
        &plan("*", false, false),
        &mut Record::default(),
        std::future::ready(()),
    )
    .await
    .unwrap();
    assert!(matches!(s.stop, Some(Stop::Interrupted)), "{:?}", s.stop);
    assert!(s.tally.done() < 1000, "{:?}", s.tally);
    let partial = names(dst.as_ref()).await.len() as u64;
    assert_eq!(partial, s.tally.copied, "every finished copy is counted");

    let s = run(
        &src,
        dst.clone(),
        &plan("*", true, false),
        &mut Record::default(),
    )
    .await;
    assert_eq!((s.tally.copied, s.tally.skipped), (1000 - partial, partial));
    assert_eq!(names(dst.as_ref()).await.len(), 1000);
}

/// A memory store whose `create` fails for chosen names, or is unreachable.
struct Faulty {
    inner: MemKeystore,
    bad: fn(&str) -> Option<Error>,
}

#[async_trait]
impl Keystore for Faulty {
    async fn status(&self) -> Result<Status, Error> {
        self.inner.status().await
    }
    async fn create(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        match (self.bad)(name) {
            Some(e) => Err(e),
            None => self.inner.create(name, value).await,
        }
    }
    async fn get(&self, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.inner.get(name).await
    }
    async fn delete(&self, name: &str) -> Result<(), Error> {
        self.inner.delete(name).await
    }
    async fn list(&self, prefix: &str, continue_at: &str, limit: usize) -> Result<Page, Error> {
        self.inner.list(prefix, continue_at, limit).await
    }
}

#[tokio::test]
async fn per_key_errors_are_counted_named_and_the_run_goes_on() {
    let src = store_with(200).await;
    let dst = Arc::new(Faulty {
        inner: MemKeystore::new(),
        bad: |name| name.ends_with('7').then(|| Error::backend("disk full")),
    });
    let mut rec = Record::default();
    let s = run(&src, dst.clone(), &plan("*", false, false), &mut rec).await;
    assert!(s.stop.is_none(), "{:?}", s.stop);
    assert_eq!((s.tally.copied, s.tally.failed), (180, 20));
    assert!(rec.keys.contains(&(
        "key-00017".to_owned(),
        "at the target: keystore error: disk full".to_owned()
    )));
    assert_eq!(names(&dst.inner).await.len(), 180);
}

#[tokio::test]
async fn an_unreachable_target_or_too_many_failures_stop_the_run() {
    let src = store_with(1000).await;
    let dst = Arc::new(Faulty {
        inner: MemKeystore::new(),
        bad: |name| (name >= "key-00500").then(|| Error::unreachable("connection refused")),
    });
    let s = run(&src, dst, &plan("*", false, false), &mut Record::default()).await;
    match &s.stop {
        Some(Stop::Keystore(name, text)) => {
            assert_eq!(name, "key-00500");
            assert_eq!(
                text,
                "at the target: keystore is unreachable: connection refused"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(s.tally.done() < 1000, "{:?}", s.tally);

    let dst = Arc::new(Faulty {
        inner: MemKeystore::new(),
        bad: |_| Some(Error::backend("permission denied")),
    });
    let s = run(&src, dst, &plan("*", false, false), &mut Record::default()).await;
    assert!(
        matches!(s.stop, Some(Stop::TooManyFailures)),
        "{:?}",
        s.stop
    );
    assert!(
        s.tally.failed >= MAX_FAILURES && s.tally.done() < 1000,
        "{:?}",
        s.tally
    );
}

fn parse(text: &str, vars: &[(&str, &str)]) -> Result<KeystoreConfig, ConfigError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse_keystore(text, Path::new("/etc/kes"), move |name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
}

#[test]
fn only_the_keystore_section_is_read_with_env_and_relative_paths() {
    let text = "address: not-an-address\ntls:\n  key: ${NOT_NEEDED_EITHER_WAY}\nkeystore:\n  fs:\n    path: ${KEYS}\n";
    let err = parse(text, &[("KEYS", "k")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config: line 3: referenced env. variable 'NOT_NEEDED_EITHER_WAY' not found",
        "every `${{VAR}}` must resolve, as for `kes server`"
    );
    let got = parse(
        text,
        &[("KEYS", "rel/keys"), ("NOT_NEEDED_EITHER_WAY", "x")],
    )
    .unwrap();
    assert_eq!(
        got,
        KeystoreConfig::Fs {
            path: PathBuf::from("/etc/kes/rel/keys")
        },
        "other sections are not validated; the path is resolved against the file's directory"
    );
}

#[test]
fn a_missing_or_unbuilt_keystore_is_a_config_error() {
    for text in ["", "address: 0.0.0.0:7373\n", "keystore:\n"] {
        let err = parse(text, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config: keystore: no keystore specified",
            "{text:?}"
        );
    }
    let err = parse(
        "keystore:\n  fortanix:\n    sdkms:\n      endpoint: https://v\n",
        &[],
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "config: keystore.fortanix.sdkms: this keystore is not supported by this build yet"
        ),
        "{err}"
    );
    let err = parse("keystore:\n  fs:\n    path:\n", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config: keystore.fs.path: no path specified"
    );
}

#[tokio::test]
async fn a_key_created_at_the_target_after_listing_is_not_overwritten() {
    // The target's `create` says the key exists although its listing did not show it (another writer).
    let src = store_with(100).await;
    let dst = Arc::new(Faulty {
        inner: MemKeystore::new(),
        bad: |name| (name == "key-00042").then_some(Error::KeyExists),
    });
    let s = run(
        &src,
        dst.clone(),
        &plan("*", false, false),
        &mut Record::default(),
    )
    .await;
    assert!(
        matches!(&s.stop, Some(Stop::Exists { first, count: 1 }) if first == "key-00042"),
        "{:?}",
        s.stop
    );
    assert!(s.tally.done() < 100, "{:?}", s.tally);
    let first = s.tally.copied;
    assert_eq!(names(&dst.inner).await.len() as u64, first);
    let s = run(
        &src,
        dst.clone(),
        &plan("*", true, false),
        &mut Record::default(),
    )
    .await;
    assert!(s.stop.is_none(), "{:?}", s.stop);
    assert_eq!(
        (s.tally.copied, s.tally.skipped),
        (99 - first, first + 1),
        "the first run's keys and the clashing key are skipped"
    );
    assert_eq!(names(&dst.inner).await.len(), 99);
}
