//! Crash safety: the server process is SIGKILLed during 50 concurrent uploads (half SSE-C);
//! after a restart every object is either complete and correct or absent, and leftover temp
//! files are gone.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};

use common::{BOTO3_PRELUDE, Env, ok};

const UPLOADER: &str = r#"
import concurrent.futures, threading
KEY = b"crash-test-key-0123456789abcdef!"
s3.create_bucket(Bucket="crash")
def body(i):
    size = 256 * 1024 * (i + 1) + i
    return (f"obj-{i:02d}-".encode() * (size // 7 + 1))[:size]
clients = [boto3.session.Session().client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                                         config=Config(retries={"max_attempts": 1})) for _ in range(50)]
bodies = [body(i) for i in range(50)]
print("started", flush=True)
barrier = threading.Barrier(50)
def put(i):
    extra = dict(SSECustomerAlgorithm="AES256", SSECustomerKey=KEY) if i % 2 == 0 else {}
    barrier.wait()
    clients[i].put_object(Bucket="crash", Key=f"obj-{i:02d}", Body=bodies[i], **extra)
    print(f"done {i}", flush=True)
with concurrent.futures.ThreadPoolExecutor(max_workers=50) as ex:
    for f in [ex.submit(put, i) for i in range(50)]:
        try:
            f.result()
        except Exception:
            pass
"#;

const VERIFIER: &str = r#"
KEY = b"crash-test-key-0123456789abcdef!"
def body(i):
    size = 256 * 1024 * (i + 1) + i
    return (f"obj-{i:02d}-".encode() * (size // 7 + 1))[:size]
listed = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="crash").get("Contents", [])}
for i in range(50):
    key = f"obj-{i:02d}"
    extra = dict(SSECustomerAlgorithm="AES256", SSECustomerKey=KEY) if i % 2 == 0 else {}
    try:
        got = s3.get_object(Bucket="crash", Key=key, **extra)["Body"].read()
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchKey", e
        assert key not in listed, f"{key} listed but not readable"
        print("absent", i)
        continue
    assert got == body(i), f"{key} corrupt: {len(got)} bytes"
    assert listed.get(key) == len(got), f"{key} listing size {listed.get(key)}"
    print("present", i)
"#;

#[test]
fn sigkill_during_uploads_leaves_complete_or_absent_objects() {
    let mut env = Env::new(true);
    let mut uploader = env.python_spawn(&format!("{BOTO3_PRELUDE}\n{UPLOADER}"), &[]);
    let mut lines = BufReader::new(uploader.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "started");
    // Kill the server as soon as the first upload has completed: the larger ones are in flight.
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("done "), "{first}");
    env.server.take().unwrap().kill();
    let _ = uploader.kill();
    let _ = uploader.wait();

    let leftovers = std::fs::read_dir(env.path("data/.objsrv/tmp"))
        .unwrap()
        .count();
    assert!(leftovers > 0, "no upload was in flight at the kill");

    env.restart();
    assert_eq!(
        std::fs::read_dir(env.path("data/.objsrv/tmp"))
            .unwrap()
            .count(),
        0,
        "temp files not cleaned at start"
    );
    let out = ok(&env.python(&format!("{BOTO3_PRELUDE}\n{VERIFIER}"), &[]));
    let present = out.lines().filter(|l| l.starts_with("present")).count();
    let absent = out.lines().filter(|l| l.starts_with("absent")).count();
    eprintln!(
        "after SIGKILL: {present} objects complete, {absent} absent, {leftovers} temp files cleaned"
    );
    assert_eq!(present + absent, 50, "{out}");
    assert!(present >= 1, "the completed upload was lost:\n{out}");
    assert!(absent >= 1, "expected interrupted uploads:\n{out}");
}
