//! S3 versioning, ListObjectVersions and `partNumber` end to end: the real binary over HTTPS
//! driven by boto3 and aws-cli. Versioned SSE-C objects (three versions, each readable only
//! with its own key), delete markers, suspended buckets, copies and deletes by version id,
//! pagination of version listings, concurrent writers, SSE-C multipart part ETags.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BOTO3_PRELUDE, Env, ok};

/// Runs a boto3 script; `sys.argv[1]` is the server's data directory.
fn run(env: &Env, body: &str) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{body}\nprint('ALL DONE')\n");
    let data = env.path("data");
    let out = ok(&env.python(&script, &[data.to_str().unwrap()]));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

#[test]
fn versioning_with_boto3() {
    let env = Env::new(true);
    run(
        &env,
        r#"
import threading
s3.create_bucket(Bucket="verb")
# A never-versioned bucket: empty configuration, objects listed as null versions.
check("unversioned config", "Status" not in s3.get_bucket_versioning(Bucket="verb"))
s3.put_object(Bucket="verb", Key="plain", Body=b"p0")
lv = s3.list_object_versions(Bucket="verb")
check("null versions", [(v["Key"], v["VersionId"], v["IsLatest"]) for v in lv["Versions"]] == [("plain", "null", True)])
check("get null version", s3.get_object(Bucket="verb", Key="plain", VersionId="null")["Body"].read() == b"p0")
expect_error("InvalidArgument", 400, s3.get_object, Bucket="verb", Key="plain", VersionId="../../etc")
expect_error("NoSuchVersion", 404, s3.get_object, Bucket="verb", Key="plain", VersionId="0" * 32)

# MFA delete is refused; a bad status is malformed.
expect_error("NotImplemented", 501, s3.put_bucket_versioning, Bucket="verb",
             VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
check("still unversioned", "Status" not in s3.get_bucket_versioning(Bucket="verb"))
s3.put_bucket_versioning(Bucket="verb", VersioningConfiguration={"Status": "Enabled"})
check("enabled", s3.get_bucket_versioning(Bucket="verb")["Status"] == "Enabled")

ids = []
for body in (b"one", b"two", b"three"):
    r = s3.put_object(Bucket="verb", Key="k", Body=body)
    vid = r["VersionId"]
    check("version id shape", len(vid) == 32 and vid not in ids, vid)
    ids.append(vid)
check("current is newest", s3.get_object(Bucket="verb", Key="k")["Body"].read() == b"three")
for vid, body in zip(ids, (b"one", b"two", b"three")):
    g = s3.get_object(Bucket="verb", Key="k", VersionId=vid)
    check("get by version", g["Body"].read() == body and g["VersionId"] == vid)
    h = s3.head_object(Bucket="verb", Key="k", VersionId=vid)
    check("head by version", h["ContentLength"] == len(body) and h["VersionId"] == vid)
# The null version written before versioning survives a new version.
p1 = s3.put_object(Bucket="verb", Key="plain", Body=b"p1")["VersionId"]
check("null kept", s3.get_object(Bucket="verb", Key="plain", VersionId="null")["Body"].read() == b"p0")

# Delete marker: GET 404 with the marker headers; by id 405.
d = s3.delete_object(Bucket="verb", Key="k")
check("marker created", d["DeleteMarker"] is True and len(d["VersionId"]) == 32)
marker = d["VersionId"]
e = expect_error("NoSuchKey", 404, s3.get_object, Bucket="verb", Key="k")
hdr = e.response["ResponseMetadata"]["HTTPHeaders"]
check("404 marker headers", hdr.get("x-amz-delete-marker") == "true" and hdr.get("x-amz-version-id") == marker, hdr)
e = expect_error("MethodNotAllowed", 405, s3.get_object, Bucket="verb", Key="k", VersionId=marker)
hdr = e.response["ResponseMetadata"]["HTTPHeaders"]
check("405 marker headers", hdr.get("x-amz-delete-marker") == "true" and hdr.get("x-amz-version-id") == marker, hdr)
try:
    s3.head_object(Bucket="verb", Key="k")
    raise AssertionError("HEAD of a delete marker succeeded")
except ClientError as e:
    check("head marker 404", e.response["ResponseMetadata"]["HTTPStatusCode"] == 404)
check("listing hides deleted key", [o["Key"] for o in s3.list_objects_v2(Bucket="verb").get("Contents", [])] == ["plain"])
check("old versions readable", s3.get_object(Bucket="verb", Key="k", VersionId=ids[1])["Body"].read() == b"two")
a = s3.get_object_attributes(Bucket="verb", Key="k", VersionId=ids[1], ObjectAttributes=["ObjectSize"])
check("attributes by version", a["ObjectSize"] == 3 and a["VersionId"] == ids[1], a)
expect_error("NoSuchKey", 404, s3.get_object_attributes, Bucket="verb", Key="k", ObjectAttributes=["ObjectSize"])

lv = s3.list_object_versions(Bucket="verb")
got = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in lv["Versions"]]
check("versions listed newest first", got == [("k", ids[2], False), ("k", ids[1], False), ("k", ids[0], False),
                                               ("plain", p1, True), ("plain", "null", False)], got)
check("markers listed", [(m["Key"], m["VersionId"], m["IsLatest"]) for m in lv["DeleteMarkers"]] == [("k", marker, True)])

# Pagination by key-marker / version-id-marker, two entries a page.
seen, km, vm = [], None, None
while True:
    kw = dict(Bucket="verb", MaxKeys=2)
    if km is not None:
        kw.update(KeyMarker=km, VersionIdMarker=vm or "")
    page = s3.list_object_versions(**kw)
    entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
    check("page size", len(entries) <= 2)
    seen += sorted((x["Key"], x["VersionId"]) for x in entries)
    if not page["IsTruncated"]:
        break
    km, vm = page["NextKeyMarker"], page.get("NextVersionIdMarker")
check("pagination covers everything once", sorted(seen) == sorted([("k", marker)] + [("k", i) for i in ids] + [("plain", p1), ("plain", "null")]), seen)
expect_error("InvalidArgument", 400, s3.list_object_versions, Bucket="verb", VersionIdMarker=ids[0])
# prefix + delimiter
s3.put_object(Bucket="verb", Key="dir/a", Body=b"a")
s3.put_object(Bucket="verb", Key="dir/a", Body=b"a2")
lv = s3.list_object_versions(Bucket="verb", Delimiter="/")
check("common prefix", [c["Prefix"] for c in lv["CommonPrefixes"]] == ["dir/"])
lv = s3.list_object_versions(Bucket="verb", Prefix="dir/")
check("prefix versions", len(lv["Versions"]) == 2)

# Deleting the marker by id brings the object back; deleting a version by id removes it.
d = s3.delete_object(Bucket="verb", Key="k", VersionId=marker)
check("marker removed", d.get("DeleteMarker") is True and d["VersionId"] == marker)
check("object back", s3.get_object(Bucket="verb", Key="k")["Body"].read() == b"three")
s3.delete_object(Bucket="verb", Key="k", VersionId=ids[2])
check("previous version current", s3.get_object(Bucket="verb", Key="k")["Body"].read() == b"two")
expect_error("NoSuchVersion", 404, s3.get_object, Bucket="verb", Key="k", VersionId=ids[2])

# CopyObject from a version.
c = s3.copy_object(Bucket="verb", Key="copy", CopySource={"Bucket": "verb", "Key": "k", "VersionId": ids[0]})
check("copy version ids", c["CopySourceVersionId"] == ids[0] and len(c["VersionId"]) == 32)
check("copy content", s3.get_object(Bucket="verb", Key="copy")["Body"].read() == b"one")
m2 = s3.delete_object(Bucket="verb", Key="copy")["VersionId"]
expect_error("InvalidRequest", 400, s3.copy_object, Bucket="verb", Key="x", CopySource={"Bucket": "verb", "Key": "copy", "VersionId": m2})
expect_error("NoSuchKey", 404, s3.copy_object, Bucket="verb", Key="x", CopySource={"Bucket": "verb", "Key": "copy"})

# Multipart completion makes a version.
up = s3.create_multipart_upload(Bucket="verb", Key="mp")["UploadId"]
e1 = s3.upload_part(Bucket="verb", Key="mp", UploadId=up, PartNumber=1, Body=b"m" * 10)["ETag"]
r = s3.complete_multipart_upload(Bucket="verb", Key="mp", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
check("complete version id", len(r["VersionId"]) == 32)

# Concurrent PUTs to one key each make a version.
results = []
def put(i):
    results.append(s3.put_object(Bucket="verb", Key="race", Body=b"r%d" % i)["VersionId"])
threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
lv = s3.list_object_versions(Bucket="verb", Prefix="race")
check("every concurrent put is a version", sorted(v["VersionId"] for v in lv["Versions"]) == sorted(results) and len(set(results)) == 8)
check("one latest", sum(v["IsLatest"] for v in lv["Versions"]) == 1)

# Suspended: writes replace the null version, older versions stay.
s3.put_bucket_versioning(Bucket="verb", VersioningConfiguration={"Status": "Suspended"})
check("suspended", s3.get_bucket_versioning(Bucket="verb")["Status"] == "Suspended")
s3.put_object(Bucket="verb", Key="k", Body=b"s1")
s3.put_object(Bucket="verb", Key="k", Body=b"s2")
lv = s3.list_object_versions(Bucket="verb", Prefix="k")
got = [(v["VersionId"], v["IsLatest"]) for v in lv["Versions"]]
check("null overwritten", got == [("null", True), (ids[1], False), (ids[0], False)], got)
check("null content", s3.get_object(Bucket="verb", Key="k", VersionId="null")["Body"].read() == b"s2")
d = s3.delete_object(Bucket="verb", Key="k")
check("suspended marker is null", d["DeleteMarker"] is True and d["VersionId"] == "null")
lv = s3.list_object_versions(Bucket="verb", Prefix="k")
check("null version replaced by marker", [v["VersionId"] for v in lv["Versions"]] == [ids[1], ids[0]]
      and [m["VersionId"] for m in lv["DeleteMarkers"]] == ["null"])

# DeleteObjects with version ids; the bucket cannot go while versions remain.
expect_error("BucketNotEmpty", 409, s3.delete_bucket, Bucket="verb")
lv = s3.list_object_versions(Bucket="verb")
everything = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in lv.get("Versions", []) + lv.get("DeleteMarkers", [])]
r = s3.delete_objects(Bucket="verb", Delete={"Objects": everything})
check("delete objects by version", len(r["Deleted"]) == len(everything) and not r.get("Errors"), r.get("Errors"))
check("marker flagged", any(d.get("DeleteMarker") for d in r["Deleted"]))
lv = s3.list_object_versions(Bucket="verb")
check("nothing left", not lv.get("Versions") and not lv.get("DeleteMarkers"), lv)
s3.delete_bucket(Bucket="verb")
"#,
    );
}

#[test]
fn ssec_versions_parts_and_part_numbers() {
    let env = Env::new(true);
    run(
        &env,
        r#"
K = [bytes([65 + i]) * 32 for i in range(3)]
def sse(k): return dict(SSECustomerAlgorithm="AES256", SSECustomerKey=k)
s3.create_bucket(Bucket="ssecb")
s3.put_bucket_versioning(Bucket="ssecb", VersioningConfiguration={"Status": "Enabled"})
vids = [s3.put_object(Bucket="ssecb", Key="secret", Body=b"version %d" % i, **sse(K[i]))["VersionId"] for i in range(3)]
for i, vid in enumerate(vids):
    check(f"version {i} with its key", s3.get_object(Bucket="ssecb", Key="secret", VersionId=vid, **sse(K[i]))["Body"].read() == b"version %d" % i)
    for j in range(3):
        if j != i:
            expect_error("AccessDenied", 403, s3.get_object, Bucket="ssecb", Key="secret", VersionId=vid, **sse(K[j]))
            expect_error("403", 403, s3.head_object, Bucket="ssecb", Key="secret", VersionId=vid, **sse(K[j]))
    expect_error("InvalidRequest", 400, s3.get_object, Bucket="ssecb", Key="secret", VersionId=vid)
# Each version has its own sealed object key on disk.
import glob, json
files = glob.glob(sys.argv[1] + "/ssecb/obj/*") + glob.glob(sys.argv[1] + "/ssecb/ver/*/*")
sealed = set()
for f in files:
    raw = open(f, "rb").read()
    n = int.from_bytes(raw[-16:-8], "little")
    meta = json.loads(raw[-16 - n:-16])
    sealed.add(meta["internal"].get("X-Minio-Internal-Server-Side-Encryption-Sealed-Key"))
check("three distinct sealed keys", len(files) == 3 and len(sealed) == 3 and None not in sealed, sealed)

# SSE-C multipart: the same part (number, bytes, key) uploaded twice keeps its ETag.
PART = 5 * 1024 * 1024
up = s3.create_multipart_upload(Bucket="ssecb", Key="mp", **sse(K[0]))["UploadId"]
body1 = bytes(range(256)) * (PART // 256)
a = s3.upload_part(Bucket="ssecb", Key="mp", UploadId=up, PartNumber=1, Body=body1, **sse(K[0]))["ETag"]
b = s3.upload_part(Bucket="ssecb", Key="mp", UploadId=up, PartNumber=1, Body=body1, **sse(K[0]))["ETag"]
check("same part same etag", a == b and a.strip('"') != hashlib.md5(body1).hexdigest(), (a, b))
c = s3.upload_part(Bucket="ssecb", Key="mp", UploadId=up, PartNumber=2, Body=body1, **sse(K[0]))["ETag"]
check("other number other etag", c != a)
d = s3.upload_part(Bucket="ssecb", Key="mp", UploadId=up, PartNumber=2, Body=b"tail", **sse(K[0]))["ETag"]
check("other bytes other etag", d != c)
# A part GET before completion: the object does not exist yet.
expect_error("NoSuchKey", 404, s3.get_object, Bucket="ssecb", Key="mp", PartNumber=1, **sse(K[0]))
r = s3.complete_multipart_upload(Bucket="ssecb", Key="mp", UploadId=up, **sse(K[0]),
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": a}, {"PartNumber": 2, "ETag": d}]})
check("completed with the first etag", r["ETag"].endswith('-2"'))
g = s3.get_object(Bucket="ssecb", Key="mp", PartNumber=2, **sse(K[0]))
check("part 2", g["Body"].read() == b"tail" and g["PartsCount"] == 2 and g["ContentRange"] == f"bytes {PART}-{PART + 3}/{PART + 4}")
expect_error("InvalidPart", 400, s3.get_object, Bucket="ssecb", Key="mp", PartNumber=3, **sse(K[0]))

# partNumber on a single-part object.
s3.put_object(Bucket="ssecb", Key="single", Body=b"body")
g = s3.get_object(Bucket="ssecb", Key="single", PartNumber=1)
check("part 1 is the object", g["Body"].read() == b"body" and g["ResponseMetadata"]["HTTPStatusCode"] == 206
      and g["ContentRange"] == "bytes 0-3/4" and "PartsCount" not in g, g)
h = s3.head_object(Bucket="ssecb", Key="single", PartNumber=1)
check("head part 1", h["ContentLength"] == 4)
expect_error("InvalidPart", 400, s3.get_object, Bucket="ssecb", Key="single", PartNumber=2)
expect_error("InvalidArgument", 400, s3.get_object, Bucket="ssecb", Key="single", PartNumber=0)
expect_error("InvalidRequest", 400, s3.get_object, Bucket="ssecb", Key="single", PartNumber=1, Range="bytes=0-1")
"#,
    );
}

#[test]
fn versioning_with_aws_cli() {
    let env = Env::new(true);
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--no-verify-ssl", "--endpoint-url", url.as_str(), "s3api"];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    let json = |args: &[&str]| -> serde_json::Value {
        let out = ok(&aws(args));
        if out.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&out).unwrap()
        }
    };
    json(&["create-bucket", "--bucket", "cli"]);
    let file = env.path("home/f");
    std::fs::write(&file, b"first").unwrap();
    let f = file.to_str().unwrap();
    // ListObjectVersions on a never-versioned bucket (cleanup scripts run it first).
    json(&["put-object", "--bucket", "cli", "--key", "o", "--body", f]);
    let lv = json(&["list-object-versions", "--bucket", "cli"]);
    assert_eq!(lv["Versions"][0]["VersionId"], "null", "{lv}");
    json(&[
        "put-bucket-versioning",
        "--bucket",
        "cli",
        "--versioning-configuration",
        "Status=Enabled",
    ]);
    let v = json(&["get-bucket-versioning", "--bucket", "cli"]);
    assert_eq!(v["Status"], "Enabled");
    std::fs::write(&file, b"second").unwrap();
    let put = json(&["put-object", "--bucket", "cli", "--key", "o", "--body", f]);
    let vid = put["VersionId"].as_str().unwrap().to_owned();
    assert_eq!(vid.len(), 32);
    let out = env.path("home/out");
    let o = out.to_str().unwrap();
    let got = json(&[
        "get-object",
        "--bucket",
        "cli",
        "--key",
        "o",
        "--version-id",
        "null",
        o,
    ]);
    assert_eq!(got["VersionId"], "null");
    assert_eq!(std::fs::read(&out).unwrap(), b"first");
    let del = json(&["delete-object", "--bucket", "cli", "--key", "o"]);
    assert_eq!(del["DeleteMarker"], true, "{del}");
    let lv = json(&["list-object-versions", "--bucket", "cli"]);
    assert_eq!(lv["Versions"].as_array().unwrap().len(), 2, "{lv}");
    assert_eq!(lv["DeleteMarkers"][0]["IsLatest"], true, "{lv}");
    let failed = aws(&["get-object", "--bucket", "cli", "--key", "o", o]);
    common::fails_with(&failed, "NoSuchKey");
    json(&[
        "get-object",
        "--bucket",
        "cli",
        "--key",
        "o",
        "--version-id",
        &vid,
        o,
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), b"second");
    let failed = aws(&["delete-bucket", "--bucket", "cli"]);
    common::fails_with(&failed, "BucketNotEmpty");
    for entry in lv["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(lv["DeleteMarkers"].as_array().unwrap())
    {
        json(&[
            "delete-object",
            "--bucket",
            "cli",
            "--key",
            "o",
            "--version-id",
            entry["VersionId"].as_str().unwrap(),
        ]);
    }
    json(&["delete-bucket", "--bucket", "cli"]);
}
