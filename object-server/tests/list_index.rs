//! The key index across restarts: a clean shutdown (SIGTERM) saves it and the next start loads
//! it instead of scanning; after a SIGKILL, or when a bucket's objects were added or removed
//! behind the server's back while it was stopped, the bucket is scanned. In every case
//! ListObjectsV2 and ListObjectVersions show exactly what is on disk.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{BOTO3_PRELUDE, Env, Launch, ok};

const FILL: &str = r#"
s3.create_bucket(Bucket="plain")
for i in range(40):
    s3.put_object(Bucket="plain", Key=f"dir{i % 3}/obj-{i:02d}", Body=b"x" * i)
for i in range(0, 40, 5):
    s3.delete_object(Bucket="plain", Key=f"dir{i % 3}/obj-{i:02d}")
s3.create_bucket(Bucket="vers")
s3.put_bucket_versioning(Bucket="vers", VersioningConfiguration={"Status": "Enabled"})
for i in range(6):
    for j in range(2):
        s3.put_object(Bucket="vers", Key=f"k{i}", Body=f"{i}-{j}".encode())
s3.delete_object(Bucket="vers", Key="k2")
s3.create_bucket(Bucket="other")
s3.put_object(Bucket="other", Key="moved", Body=b"m")
print("filled")
"#;

/// Prints every listing the test compares, paging with small pages so markers are used.
const LIST: &str = r#"
def keys(bucket, **kw):
    out, token = [], None
    while True:
        args = dict(Bucket=bucket, MaxKeys=7, **kw)
        if token:
            args["ContinuationToken"] = token
        r = s3.list_objects_v2(**args)
        out += [o["Key"] for o in r.get("Contents", [])] + [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            return out
        token = r["NextContinuationToken"]
def versions(bucket):
    out, km, vm = [], None, None
    while True:
        args = dict(Bucket=bucket, MaxKeys=4)
        if km:
            args.update(KeyMarker=km, VersionIdMarker=vm)
        r = s3.list_object_versions(**args)
        out += [(v["Key"], v["IsLatest"]) for v in r.get("Versions", [])]
        out += [(m["Key"], "marker") for m in r.get("DeleteMarkers", [])]
        if not r["IsTruncated"]:
            return sorted(out, key=str)
        km, vm = r["NextKeyMarker"], r["NextVersionIdMarker"]
for b in sorted(x["Name"] for x in s3.list_buckets()["Buckets"]):
    print(b, keys(b))
    print(b, sorted(keys(b, Delimiter="/")))
    print(b, versions(b))
"#;

/// What the listings must show after [`FILL`] (computed from the same rules).
fn expected(moved_to_plain: bool) -> Vec<String> {
    let mut plain: Vec<String> = (0..40)
        .filter(|i| i % 5 != 0)
        .map(|i| format!("dir{}/obj-{i:02}", i % 3))
        .collect();
    if moved_to_plain {
        plain.push("moved".to_owned());
    }
    plain.sort();
    let quoted = |v: &[String]| {
        let items: Vec<String> = v.iter().map(|k| format!("'{k}'")).collect();
        format!("[{}]", items.join(", "))
    };
    let plain_folded = if moved_to_plain {
        "['dir0/', 'dir1/', 'dir2/', 'moved']"
    } else {
        "['dir0/', 'dir1/', 'dir2/']"
    };
    let plain_versions: Vec<String> = plain.iter().map(|k| format!("('{k}', True)")).collect();
    let mut vers = Vec::new();
    for i in 0..6 {
        if i == 2 {
            vers.push("('k2', 'marker')".to_owned());
            vers.push("('k2', False)".to_owned());
            vers.push("('k2', False)".to_owned());
        } else {
            vers.push(format!("('k{i}', False)"));
            vers.push(format!("('k{i}', True)"));
        }
    }
    vers.sort();
    let other: &[String] = if moved_to_plain {
        &[]
    } else {
        &["moved".to_owned()]
    };
    let other_versions: Vec<String> = other.iter().map(|k| format!("('{k}', True)")).collect();
    let mut vers_keys: Vec<String> = (0..6)
        .filter(|i| *i != 2)
        .map(|i| format!("k{i}"))
        .collect();
    vers_keys.sort();
    vec![
        format!("other {}", quoted(other)),
        format!("other {}", quoted(other)),
        format!("other [{}]", other_versions.join(", ")),
        format!("plain {}", quoted(&plain)),
        format!("plain {plain_folded}"),
        format!("plain [{}]", plain_versions.join(", ")),
        format!("vers {}", quoted(&vers_keys)),
        format!("vers {}", quoted(&vers_keys)),
        format!("vers [{}]", vers.join(", ")),
    ]
}

fn env() -> Env {
    Env::with(
        true,
        Launch {
            log: "warn,s3s=off,object_server::storage=info".to_owned(),
            stderr: Some("server.log".into()),
            ..Launch::default()
        },
    )
}

fn listings(env: &Env) -> Vec<String> {
    let out = ok(&env.python(&format!("{BOTO3_PRELUDE}\n{LIST}"), &[]));
    out.lines().map(str::to_owned).collect()
}

/// Waits (polling, 120 s at most) until the server log has `n` "key index built" lines after
/// byte `from`, and returns them.
fn built_lines(log: &Path, from: usize, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<String> = text
            .get(from..)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("key index built"))
            .map(str::to_owned)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(Instant::now() < deadline, "index builds not logged: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_len(env: &Env) -> usize {
    std::fs::read_to_string(env.path("server.log"))
        .unwrap_or_default()
        .len()
}

fn source_of(lines: &[String], bucket: &str) -> &'static str {
    let line = lines
        .iter()
        .find(|l| {
            l.contains(&format!("bucket=\"{bucket}\"")) || l.contains(&format!("bucket={bucket} "))
        })
        .unwrap_or_else(|| panic!("no build of {bucket}: {lines:?}"));
    if line.contains("source=\"saved\"") || line.contains("source=saved") {
        "saved"
    } else {
        "scan"
    }
}

fn sorted_sources(lines: &[String]) -> Vec<(&'static str, &'static str)> {
    ["other", "plain", "vers"]
        .into_iter()
        .map(|b| (b, source_of(lines, b)))
        .collect()
}

#[test]
fn clean_restart_loads_the_saved_index_and_lists_the_same() {
    let mut env = env();
    assert_eq!(
        ok(&env.python(&format!("{BOTO3_PRELUDE}\n{FILL}"), &[])).trim(),
        "filled"
    );
    assert_eq!(listings(&env), expected(false));

    let status = env.server.take().unwrap().terminate();
    assert!(status.success(), "{status}");
    let saved = env.path("data/.objsrv/index");
    assert!(saved.join("CLEAN").is_file());
    for b in ["plain", "vers", "other"] {
        assert!(saved.join(b).is_file(), "{b} not saved");
    }

    let from = log_len(&env);
    env.restart();
    let lines = built_lines(&env.path("server.log"), from, 3);
    assert_eq!(
        sorted_sources(&lines),
        [("other", "saved"), ("plain", "saved"), ("vers", "saved")]
    );
    assert!(
        !saved.join("CLEAN").exists(),
        "marker must be taken at start"
    );
    assert_eq!(listings(&env), expected(false));

    // Writes after the restart are indexed as before.
    ok(&env.python(
        &format!("{BOTO3_PRELUDE}\ns3.delete_object(Bucket='other', Key='moved')\n"),
        &[],
    ));
    let other = listings(&env);
    assert_eq!(other[0], "other []");
}

#[test]
fn restart_after_sigkill_scans_and_lists_correctly() {
    let mut env = env();
    let from = log_len(&env);
    assert_eq!(
        ok(&env.python(&format!("{BOTO3_PRELUDE}\n{FILL}"), &[])).trim(),
        "filled"
    );
    assert_eq!(listings(&env), expected(false));
    // A clean cycle first, so saved files exist; then changes and a SIGKILL.
    env.server.take().unwrap().terminate();
    env.restart();
    built_lines(&env.path("server.log"), from, 3);
    ok(&env.python(
        &format!(
            "{BOTO3_PRELUDE}\ns3.put_object(Bucket='plain', Key='moved', Body=b'n')\n\
             s3.delete_object(Bucket='other', Key='moved')\n"
        ),
        &[],
    ));
    env.stop();
    assert!(!env.path("data/.objsrv/index/CLEAN").exists());

    let from = log_len(&env);
    env.restart();
    let lines = built_lines(&env.path("server.log"), from, 3);
    assert_eq!(
        sorted_sources(&lines),
        [("other", "scan"), ("plain", "scan"), ("vers", "scan")]
    );
    assert!(
        std::fs::read_dir(env.path("data/.objsrv/index"))
            .unwrap()
            .next()
            .is_none(),
        "saved files of a crashed run must be deleted"
    );
    assert_eq!(listings(&env), expected(true));
}

#[test]
fn objects_moved_behind_the_servers_back_are_listed_where_they_are() {
    let mut env = env();
    assert_eq!(
        ok(&env.python(&format!("{BOTO3_PRELUDE}\n{FILL}"), &[])).trim(),
        "filled"
    );
    assert_eq!(listings(&env), expected(false));
    env.server.take().unwrap().terminate();

    // While stopped: the object file of `other/moved` is moved into `plain` (same key, so the
    // same file name): `other` lost an object and `plain` gained one.
    let data = env.path("data");
    let moved: Vec<_> = std::fs::read_dir(data.join("other/obj"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(moved.len(), 1);
    let name = moved[0].file_name().unwrap();
    std::fs::rename(&moved[0], data.join("plain/obj").join(name)).unwrap();

    let from = log_len(&env);
    env.restart();
    let lines = built_lines(&env.path("server.log"), from, 3);
    assert_eq!(
        sorted_sources(&lines),
        [("other", "scan"), ("plain", "scan"), ("vers", "saved")]
    );
    assert_eq!(listings(&env), expected(true));
}
