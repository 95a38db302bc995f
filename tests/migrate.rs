//! `kes migrate` as a user runs it: the built binary as a child process, copying between two fs keystores in a
//! temp dir, configured by KES config files (the target's path through `${VAR}`, the source's relative to the
//! file). Covers 10,000 keys interrupted by SIGKILL and resumed with `--merge` (every key byte-equal, none
//! created twice), the pattern filter, dry runs, a clash without `--merge`, and the error lines.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests may panic")]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// A temp dir with `src/` and `dst/` key directories and `a.yaml` (source) / `b.yaml` (target) configs.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::create_dir(dir.path().join("dst")).unwrap();
        // A full server config for the source (only `keystore:` is read), a bare one for the target.
        std::fs::write(
            dir.path().join("a.yaml"),
            "version: v1\naddress: 0.0.0.0:7373\nadmin:\n  identity: disabled\ntls:\n  key: server.key\n  cert: server.crt\nkeystore:\n  fs:\n    path: ./src\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "keystore:\n  fs:\n    path: ${MIGRATE_TEST_DST}\n",
        )
        .unwrap();
        Env { dir }
    }

    fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    fn dst(&self) -> PathBuf {
        self.dir.path().join("dst")
    }

    /// `kes migrate --from a.yaml --to b.yaml <args>`, not yet waited for.
    fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
            .args(["migrate", "--from", "a.yaml", "--to", "b.yaml"])
            .args(args)
            .current_dir(self.dir.path())
            .env("MIGRATE_TEST_DST", self.dst())
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.spawn(args).wait_with_output().await.unwrap()
    }
}

/// A stored value in one of the shapes real keystores hold (current base64 protobuf text, legacy JSON, other
/// bytes): migrate must not care.
fn value(i: usize) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret: [u8; 32] = rand::random();
    match i % 3 {
        0 => b64
            .encode([&[0x0a, 0x22, 0x0a, 0x20][..], &secret[..]].concat())
            .into_bytes(),
        1 => format!(
            "{{\"bytes\":\"{}\",\"algorithm\":\"AES256\",\"created_at\":\"2024-01-02T03:04:05Z\"}}",
            b64.encode(secret)
        )
        .into_bytes(),
        _ => [&secret[..], &[0, 0xff, b'\n']].concat(),
    }
}

fn write_keys(dir: &Path, names: impl IntoIterator<Item = String>) {
    for (i, name) in names.into_iter().enumerate() {
        std::fs::write(dir.join(name), value(i)).unwrap();
    }
}

fn numbered(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("key-{i:05}"))
}

/// A stored key: its bytes and its file's inode (a re-created key gets a new inode).
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    bytes: Vec<u8>,
    inode: u64,
}

/// The keys of an fs keystore directory (temp files excluded).
fn keys(dir: &Path) -> BTreeMap<String, Stored> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with(".tmp-") {
            continue;
        }
        let path = entry.path();
        let inode = std::fs::metadata(&path).unwrap().ino();
        let bytes = std::fs::read(&path).unwrap();
        out.insert(name, Stored { bytes, inode });
    }
    out
}

fn bytes_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    keys(dir).into_iter().map(|(k, v)| (k, v.bytes)).collect()
}

/// Names in a directory that are not temp files; tolerant of files vanishing while listed.
fn key_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with(".tmp-"))
        .count()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Asserts exit status 1 and that the last stderr line is `Error: <message>`.
#[track_caller]
fn fails_with(o: &Output, message: &str) {
    assert_eq!(o.status.code(), Some(1), "stderr: {}", text(&o.stderr));
    let err = text(&o.stderr);
    assert_eq!(
        err.lines().last(),
        Some(format!("Error: {message}").as_str()),
        "stderr: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The summary line (last line of stdout).
fn summary(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or_default()
}

#[tokio::test]
async fn ten_thousand_keys_killed_mid_run_then_resumed_copy_each_key_exactly_once() {
    const N: usize = 10_000;
    let env = Env::new();
    write_keys(&env.src(), numbered(N));
    let source = bytes_of(&env.src());
    assert_eq!(source.len(), N);

    // Start, wait until the target holds some keys, SIGKILL.
    let started = Instant::now();
    let mut child = env.spawn(&[]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if key_count(&env.dst()) >= 100 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the migration ended ({status}) before it could be interrupted");
        }
        assert!(Instant::now() < deadline, "no key reached the target");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "killed: {status}");
    let partial = keys(&env.dst());
    let p = partial.len();
    assert!(
        (100..N).contains(&p),
        "interrupted with some but not all keys at the target: {p}"
    );
    for (name, stored) in &partial {
        assert_eq!(
            stored.bytes, source[name],
            "{name}: a key at the target is whole"
        );
    }

    // Resume.
    let resumed = Instant::now();
    let out = env.run(&["--merge"]).await;
    let resume_time = resumed.elapsed();
    let stdout = ok(&out);
    let line = summary(&stdout);
    assert!(
        line.starts_with(&format!(
            "Migration finished: {} copied, {p} skipped, 0 failed of {N} keys in ",
            N - p
        )),
        "{line}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("Starting key migration: {N} keys match '*'\n")),
        "plain lines when stderr is not a terminal: {stderr}"
    );

    // Every key is there, byte-equal; the keys copied before the kill were not created again.
    let after = keys(&env.dst());
    assert_eq!(after.len(), N);
    for (name, stored) in &after {
        assert_eq!(stored.bytes, source[name], "{name}");
    }
    for (name, before) in &partial {
        assert_eq!(
            after[name].inode, before.inode,
            "{name} was created once, not again"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(env.dst())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the killed run's temp files are gone: {leftovers:?}"
    );
    eprintln!(
        "10,000 keys: killed after {p} keys ({:.2?} after start); the resume copied {} keys in {resume_time:.2?}",
        started.elapsed() - resume_time,
        N - p
    );

    // A third run has nothing left to do.
    let stdout = ok(&env.run(&["--merge", "-q"]).await);
    assert_eq!(stdout, "", "-q prints nothing");
    assert_eq!(keys(&env.dst()), after, "nothing was touched");
}

#[tokio::test]
async fn the_pattern_selects_keys_by_glob() {
    let env = Env::new();
    write_keys(
        &env.src(),
        ["a-1", "a-2", "ab", "b-1", "c"].map(str::to_owned),
    );
    let source = bytes_of(&env.src());

    let stdout = ok(&env.run(&["a-*"]).await);
    assert!(
        summary(&stdout).starts_with("Migration finished: 2 copied, 0 skipped, 0 failed of 2 keys"),
        "{stdout}"
    );
    let got = bytes_of(&env.dst());
    assert_eq!(got.keys().collect::<Vec<_>>(), ["a-1", "a-2"]);

    // Not only prefixes: KES's patterns are globs.
    let stdout = ok(&env.run(&["--merge", "*-1"]).await);
    assert!(
        summary(&stdout).starts_with("Migration finished: 1 copied, 1 skipped, 0 failed of 2 keys"),
        "{stdout}"
    );
    let got = bytes_of(&env.dst());
    assert_eq!(got.keys().collect::<Vec<_>>(), ["a-1", "a-2", "b-1"]);
    for (name, bytes) in &got {
        assert_eq!(bytes, &source[name]);
    }
    fails_with(
        &env.run(&["[a"]).await,
        "invalid pattern '[a': a '[' class is not closed",
    );
}

#[tokio::test]
async fn a_dry_run_lists_what_would_be_copied_and_writes_nothing() {
    let env = Env::new();
    write_keys(&env.src(), numbered(6));
    std::fs::write(env.dst().join("key-00002"), b"the target's own").unwrap();
    let before = keys(&env.dst());

    let stdout = ok(&env.run(&["--dry-run", "--merge"]).await);
    let (names, last) = stdout.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(
        names,
        "key-00000\nkey-00001\nkey-00003\nkey-00004\nkey-00005"
    );
    assert!(
        last.starts_with("Dry run: 5 would be copied, 1 skipped, 0 failed of 6 keys in "),
        "{last}"
    );
    assert_eq!(keys(&env.dst()), before, "nothing written");

    let out = env.run(&["--dry-run", "key-0000[0-3]"]).await;
    fails_with(&out, "1 of 4 keys would not be copied (listed above)");
    assert!(
        text(&out.stderr).contains("key 'key-00002': key already exists at the target\n"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout)
            .starts_with("key-00000\nkey-00001\nkey-00003\nDry run: 3 would be copied"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(keys(&env.dst()), before, "nothing written");

    let stdout = ok(&env
        .run(&["--dry-run", "-q", "--merge", "key-0000[45]"])
        .await);
    assert_eq!(stdout, "key-00004\nkey-00005\n", "-q leaves only the names");
}

#[tokio::test]
async fn without_merge_an_existing_key_stops_the_run_and_nothing_is_overwritten() {
    let env = Env::new();
    write_keys(&env.src(), numbered(50));
    std::fs::write(env.dst().join("key-00025"), b"the target's own").unwrap();
    std::fs::write(env.dst().join("key-00030"), b"also the target's").unwrap();
    let before = keys(&env.dst());

    let out = env.run(&[]).await;
    fails_with(
        &out,
        "key already exists: 'key-00025' and 1 more at the target (use '--merge' to skip existing keys)",
    );
    assert!(
        summary(&text(&out.stdout)).starts_with(
            "Migration stopped: 0 copied, 0 skipped, 2 failed, 48 not attempted of 50 keys"
        ),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(keys(&env.dst()), before, "stopped before writing anything");

    let stdout = ok(&env.run(&["--merge"]).await);
    assert!(
        summary(&stdout)
            .starts_with("Migration finished: 48 copied, 2 skipped, 0 failed of 50 keys"),
        "{stdout}"
    );
    let after = keys(&env.dst());
    assert_eq!(after.len(), 50);
    assert_eq!(after["key-00025"], before["key-00025"], "never overwritten");
    assert_eq!(after["key-00030"], before["key-00030"], "never overwritten");
    let source = bytes_of(&env.src());
    for (name, stored) in &after {
        if !before.contains_key(name) {
            assert_eq!(stored.bytes, source[name], "{name}");
        }
    }
}

#[tokio::test]
async fn bad_invocations_get_one_clear_error_line() {
    let env = Env::new();
    write_keys(&env.src(), numbered(3));

    fails_with(
        &env.run(&["--force"]).await,
        "'--force' is not supported: kes migrate never overwrites a key (use '--merge' to keep the target's keys)",
    );

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["migrate", "--from", "a.yaml", "--to", "b.yaml"])
        .current_dir(env.dir.path())
        .env_remove("MIGRATE_TEST_DST")
        .output()
        .await
        .unwrap();
    fails_with(
        &out,
        "--to 'b.yaml': config: line 3: referenced env. variable 'MIGRATE_TEST_DST' not found",
    );

    std::fs::write(
        env.dir.path().join("same.yaml"),
        "keystore:\n  fs:\n    path: src\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["migrate", "--from", "a.yaml", "--to", "same.yaml"])
        .current_dir(env.dir.path())
        .output()
        .await
        .unwrap();
    fails_with(&out, "'--from' and '--to' name the same keystore");

    std::fs::write(env.dir.path().join("none.yaml"), "address: 0.0.0.0:7373\n").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["migrate", "--from", "none.yaml", "--to", "b.yaml"])
        .current_dir(env.dir.path())
        .env("MIGRATE_TEST_DST", env.dst())
        .output()
        .await
        .unwrap();
    fails_with(
        &out,
        "--from 'none.yaml': config: keystore: no keystore specified",
    );
    assert!(bytes_of(&env.dst()).is_empty(), "nothing was copied");
}
