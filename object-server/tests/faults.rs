//! Fault injection between the object server and KES (issue 16, item 3): the real
//! `object-server` reaches a real `kes server` through the fault proxy of
//! `tests/common/proxy.rs`, driven by boto3.
//!
//! - KES slow (5 s per request): an SSE-S3 upload waits for it, while plain uploads and reads by
//!   other clients are answered before it;
//! - KES unreachable in the middle of a multipart upload: the next SSE-S3 part, new SSE-S3
//!   uploads and SSE-S3 reads fail with the spec's KMS errors (500 `kms:DecryptionFailed` /
//!   `kms:KeyGenerationFailed`), plain objects keep working, nothing half-written appears (no
//!   object, no part, no temp file), and the upload completes once KES is back.
//!
//! After each case the server's open file descriptors (less its KES connections, which the proxy
//! counts) and threads return to their baseline, polled with a deadline.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../tests/common/proxy.rs"]
mod proxy;

use std::time::{Duration, Instant};

use common::kes::KesSetup;
use common::{BOTO3_PRELUDE, Env, Launch, ok};
use proxy::{Mode, Proxy};

const DEFAULT_KEY: &str = "faults-sse-s3-key";

/// Open file descriptors and threads of process `pid`.
fn resources(pid: u32) -> (usize, usize) {
    let count = |what: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{what}"))
            .unwrap()
            .count()
    };
    (count("fd"), count("task"))
}

/// The object server's fds less its KES connections, and threads.
fn now(env: &Env, proxy: &Proxy) -> (usize, usize) {
    let (fds, threads) = resources(env.pid());
    (fds - proxy.live(), threads)
}

/// Waits until the server is idle and stable; returns that as the baseline.
fn settle(env: &Env, proxy: &Proxy) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = now(env, proxy);
    let mut stable_since = Instant::now();
    while stable_since.elapsed() < Duration::from_secs(1) {
        assert!(Instant::now() < deadline, "object server never became idle");
        std::thread::sleep(Duration::from_millis(50));
        let n = now(env, proxy);
        if n != last {
            (last, stable_since) = (n, Instant::now());
        }
    }
    last
}

/// Polls (up to 60 s) until fds and threads are back to `baseline`.
fn back_to_baseline(env: &Env, proxy: &Proxy, baseline: (usize, usize), case: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = now(env, proxy);
        if n.0 <= baseline.0 && n.1 <= baseline.1 {
            eprintln!("{case}: fds/threads {n:?}, baseline {baseline:?}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{case}: fds/threads {n:?} did not return to {baseline:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Objects written before the faults: a plain one and an SSE-S3 one.
const PREPARE: &str = r#"
s3.create_bucket(Bucket="faults")
s3.put_object(Bucket="faults", Key="plain", Body=b"p" * 100_000)
s3.put_object(Bucket="faults", Key="sse", Body=b"s" * 100_000, ServerSideEncryption="AES256")
up = s3.create_multipart_upload(Bucket="faults", Key="mp", ServerSideEncryption="AES256")["UploadId"]
e1 = s3.upload_part(Bucket="faults", Key="mp", UploadId=up, PartNumber=1, Body=b"1" * (5 * 1024 * 1024))["ETag"]
print(up, e1)
"#;

/// Slow KES: one SSE-S3 upload in a thread, plain requests meanwhile; prints when each ended.
const SLOW: &str = r#"
import threading, time
done = {}
def slow():
    s3.put_object(Bucket="faults", Key="slow-sse", Body=b"x" * 1000, ServerSideEncryption="AES256")
    done["sse"] = time.monotonic()
t = threading.Thread(target=slow)
t.start()
other = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
for i in range(10):
    other.put_object(Bucket="faults", Key=f"plain-{i}", Body=b"q" * 10_000)
    assert other.get_object(Bucket="faults", Key="plain")["Body"].read() == b"p" * 100_000
done["plain"] = time.monotonic()
assert "sse" not in done, "the slow KES answered before 10 plain PUT+GET"
t.join()
assert s3.get_object(Bucket="faults", Key="slow-sse")["Body"].read() == b"x" * 1000
print("ALL OK", round(done["sse"] - done["plain"], 2))
"#;

/// KES down mid-upload: the spec's KMS errors, plain objects unaffected.
const DOWN: &str = r#"
up, e1 = sys.argv[1], sys.argv[2]
def kms_error(code, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        got = (e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, 500), f"expected {code}/500, got {got}: {e}"
        return
    raise AssertionError(f"expected {code}, call succeeded")
kms_error("kms:DecryptionFailed", s3.upload_part, Bucket="faults", Key="mp", UploadId=up, PartNumber=2, Body=b"2" * 1000)
kms_error("kms:KeyGenerationFailed", s3.put_object, Bucket="faults", Key="down-sse", Body=b"d" * 1000, ServerSideEncryption="AES256")
kms_error("kms:DecryptionFailed", s3.get_object, Bucket="faults", Key="sse")
s3.put_object(Bucket="faults", Key="down-plain", Body=b"z" * 1000)
assert s3.get_object(Bucket="faults", Key="plain")["Body"].read() == b"p" * 100_000
expect_error("NoSuchKey", 404, s3.get_object, Bucket="faults", Key="down-sse")
print("ALL OK")
"#;

/// KES back: nothing half-written, and the upload completes.
const BACK: &str = r#"
up, e1 = sys.argv[1], sys.argv[2]
parts = s3.list_parts(Bucket="faults", Key="mp", UploadId=up).get("Parts", [])
assert [p["PartNumber"] for p in parts] == [1], parts
expect_error("NoSuchKey", 404, s3.get_object, Bucket="faults", Key="mp")
e2 = s3.upload_part(Bucket="faults", Key="mp", UploadId=up, PartNumber=2, Body=b"2" * 1000)["ETag"]
s3.complete_multipart_upload(Bucket="faults", Key="mp", UploadId=up, MultipartUpload={"Parts": [
    {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
assert s3.get_object(Bucket="faults", Key="mp")["Body"].read() == b"1" * (5 * 1024 * 1024) + b"2" * 1000
assert s3.get_object(Bucket="faults", Key="sse")["Body"].read() == b"s" * 100_000
print("ALL OK")
"#;

#[test]
fn kes_slow_or_unreachable_mid_upload_fails_cleanly_and_spares_other_clients() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let proxy = rt.block_on(Proxy::start(k.addr));
    let mut vars = kes.object_server_env(&[&k], DEFAULT_KEY, false);
    for (name, value) in &mut vars {
        if name == "MINIO_KMS_KES_ENDPOINT" {
            *value = format!("https://{}", proxy.addr);
        }
    }
    let env = Env::with(
        true,
        Launch {
            stderr: Some("object-server.log".into()),
            env: vars,
            ..Launch::default()
        },
    );
    let script = |body: &str| format!("{BOTO3_PRELUDE}\n{body}");
    let prepared = ok(&env.python(&script(PREPARE), &[]));
    let mut it = prepared.split_whitespace();
    let (up, e1) = (it.next().unwrap().to_owned(), it.next().unwrap().to_owned());
    let baseline = settle(&env, &proxy);

    proxy.set(Mode::Slow(Duration::from_secs(5)));
    let out = ok(&env.python(&script(SLOW), &[]));
    assert!(out.contains("ALL OK"), "{out}");
    eprintln!(
        "slow KES: the SSE-S3 PUT ended {} s after 10 plain PUT+GET",
        out.trim().rsplit(' ').next().unwrap()
    );
    proxy.set(Mode::Pass);
    back_to_baseline(&env, &proxy, baseline, "slow KES");

    proxy.set(Mode::Down);
    let out = ok(&env.python(&script(DOWN), &[&up, &e1]));
    assert!(out.contains("ALL OK"), "{out}");
    let tmp = env.path("data/.objsrv/tmp");
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "a failed write left a temp file"
    );
    back_to_baseline(&env, &proxy, baseline, "KES unreachable");

    proxy.set(Mode::Pass);
    let out = ok(&env.python(&script(BACK), &[&up, &e1]));
    assert!(out.contains("ALL OK"), "{out}");
    back_to_baseline(&env, &proxy, baseline, "KES back");
    drop(k);
}
