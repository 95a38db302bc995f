//! `scripts/scan-secrets.sh`, the last step of `scripts/test.sh`, can fail:
//! a log holding a recorded secret (in any recorded form) fails the scan and
//! names the kind of secret without printing it; a clean log passes; no
//! recorded secret at all is an error (the recording is not wired up).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::path::Path;
use std::process::Command;

fn scan(log: &Path, dir: &Path) -> (bool, String) {
    let out = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/scan-secrets.sh"
    ))
    .arg(log)
    .arg(dir)
    .output()
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

#[test]
fn the_scan_fails_on_a_recorded_secret_and_passes_without() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let log = dir.path().join("log");

    std::fs::write(&log, "all fine\n").unwrap();
    let (ok, out) = scan(&log, &secrets);
    assert!(!ok, "no recorded secrets must fail: {out}");

    let secret = "c2VjcmV0IGtleSBtYXRlcmlhbCAxMjM0NTY3OA==";
    std::fs::write(
        secrets.join("1.tsv"),
        format!("imported key\t{secret}\nAPI key\tkes:v1:AD9E7FSYWrMD+VjhI6q545cYT9YOyFxZb7Unj\n"),
    )
    .unwrap();
    let (ok, out) = scan(&log, &secrets);
    assert!(ok, "{out}");
    assert!(out.contains("2 recorded secret forms"), "{out}");

    std::fs::write(&log, format!("line one\nlevel=ERROR value={secret} oops\n")).unwrap();
    let (ok, out) = scan(&log, &secrets);
    assert!(!ok, "{out}");
    assert!(out.contains("imported key"), "names the kind: {out}");
    assert!(!out.contains(secret), "never prints the secret: {out}");
}
