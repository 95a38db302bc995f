//! The conformance suite over [`FsKeystore`], plus file-system specific
//! checks: layout, modes, temp files, errors, and the update/delete locking
//! (two stores on one directory, and writers waiting for the key's lock).
//! Several processes on one directory: `fs_processes.rs`.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keystores::{Error, FsKeystore, Keystore, conformance::run_suite};

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_keystore_conforms() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    run_suite(Arc::new(FsKeystore::open(&dir).unwrap())).await;
    assert!(
        dir_entries(&dir).is_empty(),
        "the suite cleans up and no temp file is left"
    );
}

/// Everything this test binary logs (tracing's fmt output, no ANSI colours).
///
/// One global subscriber, installed once: a scoped one (`with_default`) can
/// miss events when another thread rebuilds tracing's callsite interest or
/// maximum level at the same moment, which made this check flaky under load.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// The lines logged while `f` ran that mention `marker` (a test's own temp
/// path, so concurrent tests never see each other's lines).
fn logs_of(marker: &Path, f: impl FnOnce()) -> String {
    struct Global;
    impl std::io::Write for Global {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            LOGS.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(|| Global)
            .init();
    });
    let start = LOGS.lock().unwrap().len();
    f();
    let all = LOGS
        .lock()
        .unwrap()
        .get(start..)
        .unwrap_or_default()
        .to_vec();
    let marker = marker.to_string_lossy();
    String::from_utf8(all)
        .unwrap()
        .lines()
        .filter(|l| l.contains(marker.as_ref()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_existing_directory_open_to_others_is_kept_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let logs = logs_of(&dir, || {
        FsKeystore::open(&dir).unwrap();
    });
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("0755") && logs.contains("keys"), "{logs}");
    let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the operator's directory is not changed");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let logs = logs_of(&dir, || {
        FsKeystore::open(&dir).unwrap();
    });
    assert!(!logs.contains("WARN"), "{logs}");
}

#[tokio::test]
async fn open_creates_the_directory_with_parents_and_mode_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b");
    let store = FsKeystore::open(&dir).unwrap();
    assert_eq!(store.dir(), dir);
    let meta = fs::metadata(&dir).unwrap();
    assert!(meta.is_dir());
    let mode = meta.permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "directory mode {mode:o} must be 0700");
}

#[tokio::test]
async fn open_rejects_a_path_that_is_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    fs::write(&file, b"x").unwrap();
    assert!(matches!(FsKeystore::open(&file), Err(Error::Backend(_))));
}

#[tokio::test]
async fn key_files_have_mode_0600_and_no_temp_file_remains() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsKeystore::open(tmp.path()).unwrap();
    store.create("my-key", b"value").await.unwrap();
    let mode = fs::metadata(tmp.path().join("my-key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "key file mode is {mode:o}");
    assert_eq!(dir_entries(tmp.path()), ["my-key"]);
    assert_eq!(
        fs::read(tmp.path().join("my-key")).unwrap(),
        b"value",
        "one file per key, raw value"
    );
}

#[tokio::test]
async fn keys_survive_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    FsKeystore::open(tmp.path())
        .unwrap()
        .create("k1", b"persisted")
        .await
        .unwrap();
    let store = FsKeystore::open(tmp.path()).unwrap();
    assert_eq!(store.get("k1").await.unwrap().as_slice(), b"persisted");
    assert!(matches!(
        store.create("k1", b"other").await,
        Err(Error::KeyExists)
    ));
}

#[tokio::test]
async fn open_removes_leftover_temp_files_only() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join(".tmp-0123456789abcdef"), b"half a key").unwrap();
    fs::write(tmp.path().join(".tmp-"), b"").unwrap();
    fs::write(tmp.path().join("real-key"), b"v").unwrap();
    fs::write(tmp.path().join(".other"), b"not ours").unwrap();
    let store = FsKeystore::open(tmp.path()).unwrap();
    assert_eq!(dir_entries(tmp.path()), [".other", "real-key"]);
    assert_eq!(store.get("real-key").await.unwrap().as_slice(), b"v");
}

#[tokio::test]
async fn temp_files_and_invalid_names_are_never_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsKeystore::open(tmp.path()).unwrap();
    store.create("good", b"v").await.unwrap();
    // Planted after `open`, as if a create were in progress or by hand.
    fs::write(tmp.path().join(".tmp-feedfacefeedface"), b"x").unwrap();
    fs::write(tmp.path().join("bad.name"), b"x").unwrap();
    fs::write(tmp.path().join("with space"), b"x").unwrap();
    fs::write(tmp.path().join(format!("g{}", "x".repeat(80))), b"x").unwrap();
    fs::create_dir(tmp.path().join("good-dir")).unwrap();

    let page = store.list("", "", 0).await.unwrap();
    assert_eq!(page.names, ["good"]);
    assert_eq!(page.next, None);
    assert_eq!(store.list("g", "", 1).await.unwrap().names, ["good"]);
    for name in [".tmp-feedfacefeedface", "bad.name", "with space"] {
        assert!(
            matches!(store.get(name).await, Err(Error::InvalidName)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn traversal_names_never_touch_files_outside_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let store = FsKeystore::open(&dir).unwrap();
    fs::write(tmp.path().join("victim"), b"outside").unwrap();
    for name in [
        "../x",
        "../victim",
        "..",
        ".",
        "a/b",
        "/etc/passwd",
        "keys/../../y",
        "%2e%2e",
    ] {
        assert!(
            matches!(store.create(name, b"evil").await, Err(Error::InvalidName)),
            "create {name}"
        );
        assert!(
            matches!(store.get(name).await, Err(Error::InvalidName)),
            "get {name}"
        );
        assert!(
            matches!(store.delete(name).await, Err(Error::InvalidName)),
            "delete {name}"
        );
    }
    assert_eq!(dir_entries(tmp.path()), ["keys", "victim"]);
    assert!(dir_entries(&dir).is_empty());
    assert_eq!(fs::read(tmp.path().join("victim")).unwrap(), b"outside");
}

#[tokio::test]
async fn io_errors_other_than_missing_are_backend_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsKeystore::open(tmp.path()).unwrap();
    // A directory where a key file should be: reading or removing it fails
    // with an error that is not "not found" (even when running as root).
    fs::create_dir(tmp.path().join("dir-key")).unwrap();
    assert!(matches!(store.get("dir-key").await, Err(Error::Backend(_))));
    assert!(matches!(
        store.delete("dir-key").await,
        Err(Error::Backend(_))
    ));
    assert!(matches!(
        store.get_versioned("dir-key").await,
        Err(Error::Backend(_))
    ));
    let any = keystores::Revision::from_bytes(vec![0; 32]);
    assert!(matches!(
        store.update("dir-key", &any, b"v").await,
        Err(Error::Backend(_))
    ));
    assert!(matches!(
        store.create("dir-key", b"v").await,
        Err(Error::KeyExists)
    ));
    assert_eq!(
        dir_entries(tmp.path()),
        ["dir-key"],
        "a failed create leaves no temp file"
    );
}

#[tokio::test]
async fn status_reports_an_unreachable_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    let store = FsKeystore::open(&dir).unwrap();
    store.status().await.unwrap();
    fs::remove_dir(&dir).unwrap();
    assert!(matches!(store.status().await, Err(Error::Unreachable(_))));
    assert!(matches!(store.get("k").await, Err(Error::NotFound)));
    assert!(matches!(
        store.create("k", b"v").await,
        Err(Error::Backend(_))
    ));
}

#[tokio::test]
async fn update_publishes_a_whole_0600_file_and_leaves_no_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FsKeystore::open(tmp.path()).unwrap();
    store.create("k", b"old value").await.unwrap();
    let read = store.get_versioned("k").await.unwrap();
    store.update("k", &read.revision, b"new").await.unwrap();
    let path = tmp.path().join("k");
    assert_eq!(fs::read(&path).unwrap(), b"new", "raw value, KES layout");
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "updated key file mode is {mode:o}");
    assert_eq!(
        dir_entries(tmp.path()),
        ["k"],
        "no temp or lock file remains"
    );
}

#[tokio::test]
async fn revisions_are_the_content_and_shared_by_two_stores_on_one_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let a = FsKeystore::open(tmp.path()).unwrap();
    let b = FsKeystore::open(tmp.path()).unwrap();
    a.create("k", b"v1").await.unwrap();
    let from_a = a.get_versioned("k").await.unwrap().revision;
    assert_eq!(b.get_versioned("k").await.unwrap().revision, from_a);
    assert_eq!(from_a.as_bytes().len(), 32, "a SHA-256 digest");

    let next = b.update("k", &from_a, b"v2").await.unwrap();
    assert!(matches!(
        a.update("k", &from_a, b"v3").await,
        Err(Error::Conflict)
    ));
    assert_eq!(a.get("k").await.unwrap().as_slice(), b"v2");
    // A key written behind the store's back (by hand, by KES) has the
    // revision of its content.
    fs::write(tmp.path().join("k"), b"by hand").unwrap();
    assert!(matches!(
        a.update("k", &next, b"v4").await,
        Err(Error::Conflict)
    ));
    let now = a.get_versioned("k").await.unwrap();
    assert_eq!(now.value.as_slice(), b"by hand");
    a.update("k", &now.revision, b"v4").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_directory_lose_no_update() {
    const WORKERS: u64 = 8;
    const EACH: u64 = 10;
    let tmp = tempfile::tempdir().unwrap();
    let stores: [Arc<dyn Keystore>; 2] = [
        Arc::new(FsKeystore::open(tmp.path()).unwrap()),
        Arc::new(FsKeystore::open(tmp.path()).unwrap()),
    ];
    stores[0].create("counter", b"0").await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let store = Arc::clone(&stores[(w % 2) as usize]);
        tasks.spawn(async move {
            for _ in 0..EACH {
                loop {
                    let read = store.get_versioned("counter").await.unwrap();
                    let n: u64 = std::str::from_utf8(&read.value).unwrap().parse().unwrap();
                    match store
                        .update("counter", &read.revision, (n + 1).to_string().as_bytes())
                        .await
                    {
                        Ok(_) => break,
                        Err(Error::Conflict) => {}
                        Err(err) => panic!("{err:?}"),
                    }
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    let total = (WORKERS * EACH).to_string();
    assert_eq!(
        stores[1].get("counter").await.unwrap().as_slice(),
        total.as_bytes()
    );
    assert_eq!(dir_entries(tmp.path()), ["counter"]);
}

/// Waits until some thread blocks on an `flock` of the file with inode `ino`
/// (`/proc/locks` shows blocked requests with `->`), or panics after 30 s.
async fn wait_for_lock_waiter(ino: u64) {
    let needle = format!(":{ino} ");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let locks = fs::read_to_string("/proc/locks").unwrap();
        if locks
            .lines()
            .any(|l| l.contains("->") && l.contains("FLOCK") && l.contains(&needle))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nobody waited for the key's lock:\n{locks}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Holds the lock of key `name` (as another writer would), starts `op` and
/// waits until it blocks on that lock, runs `meanwhile` (the other writer's
/// change), releases the lock and returns `op`'s result.
async fn while_locked<T: Send + 'static>(
    dir: &Path,
    name: &str,
    op: impl std::future::Future<Output = T> + Send + 'static,
    meanwhile: impl FnOnce(),
) -> T {
    let held = fs::File::open(dir.join(name)).unwrap();
    held.lock().unwrap();
    let ino = held.metadata().unwrap().ino();
    let task = tokio::spawn(op);
    wait_for_lock_waiter(ino).await;
    assert!(!task.is_finished(), "the operation must wait for the lock");
    meanwhile();
    drop(held);
    task.await.unwrap()
}

/// Replaces key file `name` the way an update does (new file, `rename`).
fn replace(dir: &Path, name: &str, value: &[u8]) {
    let temp = dir.join(".tmp-test");
    fs::write(&temp, value).unwrap();
    fs::rename(&temp, dir.join(name)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_waiting_for_the_lock_rechecks_the_replaced_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let store = FsKeystore::open(&dir).unwrap();
    store.create("k", b"a").await.unwrap();
    let read = store.get_versioned("k").await.unwrap().revision;

    let op = {
        let (store, read) = (store.clone(), read.clone());
        async move { store.update("k", &read, b"mine").await }
    };
    let res = while_locked(&dir, "k", op, || replace(&dir, "k", b"theirs")).await;
    assert!(
        matches!(res, Err(Error::Conflict)),
        "a key replaced while the update waited must conflict: {res:?}"
    );
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"theirs");

    // Replaced by the same content: the update then locks the new file and
    // succeeds (content revisions), and the result is its value.
    let read = store.get_versioned("k").await.unwrap().revision;
    let op = {
        let store = store.clone();
        async move { store.update("k", &read, b"mine").await }
    };
    let res = while_locked(&dir, "k", op, || replace(&dir, "k", b"theirs")).await;
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(store.get("k").await.unwrap().as_slice(), b"mine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_waiting_for_the_lock_of_a_deleted_key_finds_it_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let store = FsKeystore::open(&dir).unwrap();
    store.create("k", b"a").await.unwrap();
    let read = store.get_versioned("k").await.unwrap().revision;

    let op = {
        let store = store.clone();
        async move { store.update("k", &read, b"b").await }
    };
    let res = while_locked(&dir, "k", op, || fs::remove_file(dir.join("k")).unwrap()).await;
    assert!(matches!(res, Err(Error::NotFound)), "{res:?}");
    assert!(
        matches!(store.get("k").await, Err(Error::NotFound)),
        "the update must not re-create the key"
    );

    store.create("k", b"a").await.unwrap();
    let op = {
        let store = store.clone();
        async move { store.delete("k").await }
    };
    let res = while_locked(&dir, "k", op, || fs::remove_file(dir.join("k")).unwrap()).await;
    assert!(matches!(res, Err(Error::NotFound)), "{res:?}");
}

#[tokio::test]
async fn open_keeps_temp_files_that_a_live_writer_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let held_path = tmp.path().join(".tmp-00000000000000aa");
    let held = fs::File::create(&held_path).unwrap();
    held.lock().unwrap();
    fs::write(tmp.path().join(".tmp-00000000000000bb"), b"crash leftover").unwrap();
    FsKeystore::open(tmp.path()).unwrap();
    assert_eq!(
        dir_entries(tmp.path()),
        [".tmp-00000000000000aa"],
        "the leftover is removed, the file being written is kept"
    );
    drop(held);
    FsKeystore::open(tmp.path()).unwrap();
    assert!(dir_entries(tmp.path()).is_empty());
}
