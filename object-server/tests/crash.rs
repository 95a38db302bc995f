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

/// Objects and uploads prepared before the kill: sources to copy, victims to delete, and
/// multipart uploads whose parts are all uploaded (only the complete is left).
const PREPARE: &str = r#"
import json
KEY = b"crash-test-key-0123456789abcdef!"
N = int(sys.argv[1])
def body(name, size):
    return (f"{name}-".encode() * (size // len(name) + 2))[:size]
s3.create_bucket(Bucket="ops")
for i in range(N):
    sse = dict(SSECustomerAlgorithm="AES256", SSECustomerKey=KEY) if i % 2 == 0 else {}
    s3.put_object(Bucket="ops", Key=f"src-{i}", Body=body(f"src-{i}", 300_000 + i), **sse)
    s3.put_object(Bucket="ops", Key=f"del-{i}", Body=body(f"del-{i}", 1000 + i))
uploads = {}
for i in range(N):
    up = s3.create_multipart_upload(Bucket="ops", Key=f"mp-{i}")["UploadId"]
    parts = []
    for n, size in ((1, 5 * 1024 * 1024), (2, 70_000 + i)):
        etag = s3.upload_part(Bucket="ops", Key=f"mp-{i}", UploadId=up, PartNumber=n,
                              Body=body(f"mp-{i}-{n}", size))["ETag"]
        parts.append({"PartNumber": n, "ETag": etag})
    uploads[f"mp-{i}"] = {"UploadId": up, "Parts": parts}
print(json.dumps(uploads))
"#;

/// Completes, copies, deletes and new uploads, all at once; prints `done <key>` for each one the
/// server acknowledged.
const MIXED: &str = r#"
import concurrent.futures, json, threading
KEY = b"crash-test-key-0123456789abcdef!"
N = int(sys.argv[1])
uploads = json.load(open(sys.argv[2]))
def body(name, size):
    return (f"{name}-".encode() * (size // len(name) + 2))[:size]
ops = []
for i in range(N):
    ops.append(("mp", i))
    ops.append(("cp", i))
    ops.append(("del", i))
    ops.append(("new", i))
clients = [boto3.session.Session().client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
           config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
           for _ in ops]
print("started", flush=True)
barrier = threading.Barrier(len(ops))
printing = threading.Lock()
def run(j):
    kind, i = ops[j]
    c = clients[j]
    barrier.wait()
    if kind == "mp":
        u = uploads[f"mp-{i}"]
        c.complete_multipart_upload(Bucket="ops", Key=f"mp-{i}", UploadId=u["UploadId"],
                                    MultipartUpload={"Parts": u["Parts"]})
    elif kind == "cp":
        sse = {}
        if i % 2 == 0:
            sse = dict(CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY,
                       SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
        c.copy_object(Bucket="ops", Key=f"cp-{i}", CopySource={"Bucket": "ops", "Key": f"src-{i}"}, **sse)
    elif kind == "del":
        c.delete_object(Bucket="ops", Key=f"del-{i}")
    else:
        c.put_object(Bucket="ops", Key=f"new-{i}", Body=body(f"new-{i}", 400_000 + i))
    with printing:  # one whole line per answer: print() from threads can interleave
        print(f"done {kind}-{i}", flush=True)
with concurrent.futures.ThreadPoolExecutor(max_workers=len(ops)) as ex:
    for f in [ex.submit(run, j) for j in range(len(ops))]:
        try:
            f.result()
        except Exception:
            pass
"#;

/// Checks every key after the restart against what was acknowledged (argv[2:]): prints
/// `present <key>` / `absent <key>`; fails on a corrupt object, a lost acknowledged write, a
/// deleted object that is back, or a listing that disagrees with the reads.
const CHECK_MIXED: &str = r#"
KEY = b"crash-test-key-0123456789abcdef!"
N = int(sys.argv[1])
acked = set(sys.argv[2:])
def body(name, size):
    return (f"{name}-".encode() * (size // len(name) + 2))[:size]
def expected(kind, i):
    if kind in ("src", "cp"):
        return body(f"src-{i}", 300_000 + i)
    if kind == "del":
        return body(f"del-{i}", 1000 + i)
    if kind == "new":
        return body(f"new-{i}", 400_000 + i)
    return body(f"mp-{i}-1", 5 * 1024 * 1024) + body(f"mp-{i}-2", 70_000 + i)
listed = {}
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="ops"):
    for o in page.get("Contents", []):
        listed[o["Key"]] = o["Size"]
for kind in ("src", "cp", "del", "new", "mp"):
    for i in range(N):
        key = f"{kind}-{i}"
        sse = {}
        if kind in ("src", "cp") and i % 2 == 0:
            sse = dict(SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
        try:
            got = s3.get_object(Bucket="ops", Key=key, **sse)["Body"].read()
        except ClientError as e:
            assert e.response["Error"]["Code"] == "NoSuchKey", (key, e)
            assert key not in listed, f"{key} listed but not readable"
            assert kind != "src", f"untouched {key} lost"
            assert kind == "del" or key not in acked, f"acknowledged {key} lost"
            print("absent", key)
            continue
        assert got == expected(kind, i), f"{key} corrupt: {len(got)} bytes"
        assert listed.get(key) == len(got), f"{key} listing size {listed.get(key)}"
        assert not (kind == "del" and key in acked), f"deleted {key} is back"
        print("present", key)
extra = set(listed) - {f"{k}-{i}" for k in ("src", "cp", "del", "new", "mp") for i in range(N)}
assert not extra, f"unexpected objects {extra}"
"#;

#[test]
fn sigkill_during_completes_copies_and_deletes_keeps_acknowledged_state() {
    const N: usize = 8;
    let n = N.to_string();
    let mut env = Env::new(true);
    let uploads = ok(&env.python(&format!("{BOTO3_PRELUDE}\n{PREPARE}"), &[&n]));
    let uploads_file = env.path("uploads.json");
    std::fs::write(&uploads_file, uploads.trim()).unwrap();

    let mut mixed = env.python_spawn(
        &format!("{BOTO3_PRELUDE}\n{MIXED}"),
        &[&n, uploads_file.to_str().unwrap()],
    );
    let mut lines = BufReader::new(mixed.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "started");
    // Kill once a few operations were acknowledged: the rest are in flight.
    let mut acked = Vec::new();
    while acked.len() < 3 {
        let line = lines.next().unwrap().unwrap();
        acked.push(line.strip_prefix("done ").unwrap().to_owned());
    }
    env.server.take().unwrap().kill();
    // Answers that were already on their way still count as acknowledged.
    for line in lines {
        if let Some(key) = line.unwrap().strip_prefix("done ") {
            acked.push(key.to_owned());
        }
    }
    let _ = mixed.wait();
    let tmp = env.path("data/.objsrv/tmp");
    let leftovers = std::fs::read_dir(&tmp).unwrap().count();

    env.restart();
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "temp files not cleaned at start"
    );
    let mut args = vec![n.as_str()];
    args.extend(acked.iter().map(String::as_str));
    let out = ok(&env.python(&format!("{BOTO3_PRELUDE}\n{CHECK_MIXED}"), &args));
    let present = out.lines().filter(|l| l.starts_with("present")).count();
    let absent = out.lines().filter(|l| l.starts_with("absent")).count();
    eprintln!(
        "after SIGKILL during {} mixed operations: {} acknowledged, {present} objects intact, \
         {absent} absent, {leftovers} temp files cleaned",
        4 * N,
        acked.len()
    );
    assert_eq!(present + absent, 5 * N, "{out}");
    assert!(
        acked.len() < 4 * N,
        "every operation finished before the kill"
    );
}
