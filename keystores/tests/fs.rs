//! The conformance suite over [`FsKeystore`], plus file-system specific checks.
#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

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

/// Captures what `f` logs (tracing's fmt output, no ANSI colours).
fn logs_of(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn an_existing_directory_open_to_others_is_kept_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("keys");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let logs = logs_of(|| {
        FsKeystore::open(&dir).unwrap();
    });
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("0755") && logs.contains("keys"), "{logs}");
    let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the operator's directory is not changed");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    let logs = logs_of(|| {
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
