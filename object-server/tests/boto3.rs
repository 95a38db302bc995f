//! boto3 (pinned) against the real binary over HTTPS: SSE-C multipart (3 parts of 5 MiB + 1
//! byte), ranged reads across part and package boundaries, copy and SSE-C key rotation, plain
//! object operations, listings, conditional requests and bad input.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BOTO3_PRELUDE, Env, ok};

/// Everything in the data directory is a bucket or the system directory.
fn assert_contained(env: &Env, buckets: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(env.path("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = buckets.iter().map(|s| s.to_string()).collect();
    want.push(".objsrv".to_owned());
    want.sort();
    assert_eq!(names, want);
    let outside: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        outside
            .iter()
            .all(|n| ["data", "certs", "home", "script.py"].contains(&n.to_str().unwrap())),
        "{outside:?}"
    );
}

fn run(env: &Env, body: &str) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, &[]));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

#[test]
fn multipart_ssec() {
    let env = Env::new(true);
    let out = run(
        &env,
        r#"
KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"ffffffffffffffffffffffffffffffff"
def sse(k=KEY): return dict(SSECustomerAlgorithm="AES256", SSECustomerKey=k)
s3.create_bucket(Bucket="mpb")
PART = 5 * 1024 * 1024 + 1
parts_data = [bytes([(i * 7 + n) % 256 for i in range(256)]) * (PART // 256) + bytes([n]) * (PART % 256) for n in range(3)]
data = b"".join(parts_data)
up = s3.create_multipart_upload(Bucket="mpb", Key="big/obj", ContentType="application/x-test", Metadata={"color": "blue"}, **sse())
check("create echoes SSE-C", up["SSECustomerAlgorithm"] == "AES256" and up["SSECustomerKeyMD5"])
uid = up["UploadId"]
# UploadPart without SSE-C headers / with the wrong key
expect_error("InvalidRequest", 400, s3.upload_part, Bucket="mpb", Key="big/obj", UploadId=uid, PartNumber=1, Body=parts_data[0])
expect_error("AccessDenied", 403, s3.upload_part, Bucket="mpb", Key="big/obj", UploadId=uid, PartNumber=1, Body=parts_data[0], **sse(OTHER))
etags = []
for n, chunk in enumerate(parts_data, start=1):
    r = s3.upload_part(Bucket="mpb", Key="big/obj", UploadId=uid, PartNumber=n, Body=chunk, **sse())
    check(f"part {n} echo", r["SSECustomerKeyMD5"] == up["SSECustomerKeyMD5"])
    check(f"part {n} etag not md5", r["ETag"].strip('"') != hashlib.md5(chunk).hexdigest() and len(r["ETag"].strip('"')) == 32)
    etags.append(r["ETag"])
lp = s3.list_parts(Bucket="mpb", Key="big/obj", UploadId=uid)
check("list parts", [p["PartNumber"] for p in lp["Parts"]] == [1, 2, 3] and all(p["Size"] == PART for p in lp["Parts"]))
ups = s3.list_multipart_uploads(Bucket="mpb")
check("list uploads", [u["UploadId"] for u in ups.get("Uploads", [])] == [uid])
mpu = {"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]}
expect_error("AccessDenied", 403, s3.complete_multipart_upload, Bucket="mpb", Key="big/obj", UploadId=uid, MultipartUpload=mpu, **sse(OTHER))
expect_error("InvalidPart", 400, s3.complete_multipart_upload, Bucket="mpb", Key="big/obj", UploadId=uid,
             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
expect_error("InvalidPartOrder", 400, s3.complete_multipart_upload, Bucket="mpb", Key="big/obj", UploadId=uid,
             MultipartUpload={"Parts": [mpu["Parts"][1], mpu["Parts"][0]]})
done = s3.complete_multipart_upload(Bucket="mpb", Key="big/obj", UploadId=uid, MultipartUpload=mpu)
want_etag = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for e in etags)).hexdigest() + "-3"
check("multipart etag", done["ETag"].strip('"') == want_etag, done["ETag"])
check("complete echoes SSE-C", done["ResponseMetadata"]["HTTPHeaders"].get("x-amz-server-side-encryption-customer-algorithm") == "AES256")
expect_error("NoSuchUpload", 404, s3.list_parts, Bucket="mpb", Key="big/obj", UploadId=uid)
h = s3.head_object(Bucket="mpb", Key="big/obj", **sse())
check("head size", h["ContentLength"] == len(data) and h["ContentType"] == "application/x-test" and h["Metadata"] == {"color": "blue"})
check("head etag", h["ETag"].strip('"') == want_etag)
got = s3.get_object(Bucket="mpb", Key="big/obj", **sse())["Body"].read()
check("multipart round trip", got == data)
for a, b in [(0, 0), (PART - 10, PART + 10), (65530, 65546), (2 * PART - 1, 2 * PART), (PART * 2 + 5, len(data) - 1), (100, len(data) - 1)]:
    r = s3.get_object(Bucket="mpb", Key="big/obj", Range=f"bytes={a}-{b}", **sse())
    body = r["Body"].read()
    check(f"range {a}-{b}", body == data[a:b + 1] and r["ContentRange"] == f"bytes {a}-{b}/{len(data)}")
expect_error("InvalidRange", 416, s3.get_object, Bucket="mpb", Key="big/obj", Range=f"bytes={len(data)}-", **sse())
expect_error("AccessDenied", 403, s3.get_object, Bucket="mpb", Key="big/obj", **sse(OTHER))
expect_error("InvalidRequest", 400, s3.get_object, Bucket="mpb", Key="big/obj")
lst = s3.list_objects_v2(Bucket="mpb")["Contents"]
check("list plaintext size", lst[0]["Size"] == len(data) and lst[0]["ETag"].strip('"') == want_etag)
r = s3.get_object(Bucket="mpb", Key="big/obj", PartNumber=2, **sse())
check("get part 2", r["Body"].read() == parts_data[1] and r["PartsCount"] == 3)
# abort
up2 = s3.create_multipart_upload(Bucket="mpb", Key="aborted", **sse())
s3.upload_part(Bucket="mpb", Key="aborted", UploadId=up2["UploadId"], PartNumber=1, Body=b"x", **sse())
s3.abort_multipart_upload(Bucket="mpb", Key="aborted", UploadId=up2["UploadId"])
expect_error("NoSuchUpload", 404, s3.upload_part, Bucket="mpb", Key="aborted", UploadId=up2["UploadId"], PartNumber=2, Body=b"y", **sse())
expect_error("404", 404, s3.head_object, Bucket="mpb", Key="aborted")
# a too-small non-final part
up3 = s3.create_multipart_upload(Bucket="mpb", Key="small")
e1 = s3.upload_part(Bucket="mpb", Key="small", UploadId=up3["UploadId"], PartNumber=1, Body=b"a" * 100)["ETag"]
e2 = s3.upload_part(Bucket="mpb", Key="small", UploadId=up3["UploadId"], PartNumber=2, Body=b"b")["ETag"]
expect_error("EntityTooSmall", 400, s3.complete_multipart_upload, Bucket="mpb", Key="small", UploadId=up3["UploadId"],
             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
# plain multipart: ETag md5-of-md5s and a 1-byte last part; upload part copy from an SSE-C source
up4 = s3.create_multipart_upload(Bucket="mpb", Key="plain-mp")
p1 = s3.upload_part(Bucket="mpb", Key="plain-mp", UploadId=up4["UploadId"], PartNumber=1, Body=parts_data[0])["ETag"]
p2 = s3.upload_part_copy(Bucket="mpb", Key="plain-mp", UploadId=up4["UploadId"], PartNumber=2,
                         CopySource={"Bucket": "mpb", "Key": "big/obj"}, CopySourceRange=f"bytes=0-{PART - 1}",
                         CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY)["CopyPartResult"]["ETag"]
p3 = s3.upload_part(Bucket="mpb", Key="plain-mp", UploadId=up4["UploadId"], PartNumber=3, Body=b"Z")["ETag"]
check("plain part etags are md5", p1.strip('"') == hashlib.md5(parts_data[0]).hexdigest() and p2 == p1)
r = s3.complete_multipart_upload(Bucket="mpb", Key="plain-mp", UploadId=up4["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}, {"PartNumber": 3, "ETag": p3}]})
want = hashlib.md5(bytes.fromhex(p1.strip('"')) * 2 + bytes.fromhex(p3.strip('"'))).hexdigest() + "-3"
check("plain multipart etag", r["ETag"].strip('"') == want)
check("plain multipart data", s3.get_object(Bucket="mpb", Key="plain-mp")["Body"].read() == parts_data[0] * 2 + b"Z")
expect_error("InvalidRequest", 400, s3.get_object, Bucket="mpb", Key="plain-mp", **sse())
"#,
    );
    assert!(out.contains("OK multipart round trip"), "{out}");
}

#[test]
fn copy_and_key_rotation() {
    let env = Env::new(true);
    run(
        &env,
        r#"
A = b"A" * 32
B = b"B" * 32
def sse(k): return dict(SSECustomerAlgorithm="AES256", SSECustomerKey=k)
def src_sse(k): return dict(CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=k)
s3.create_bucket(Bucket="cpb")
data = bytes(range(256)) * 1000 + b"tail"
s3.put_object(Bucket="cpb", Key="enc", Body=data, ContentType="text/x-a", Metadata={"k": "v"}, **sse(A))
s3.put_object(Bucket="cpb", Key="plain", Body=data)
# SSE-C → SSE-C (different key), COPY directive keeps metadata; response echoes destination SSE-C
r = s3.copy_object(Bucket="cpb", Key="enc2", CopySource={"Bucket": "cpb", "Key": "enc"}, **src_sse(A), **sse(B))
check("copy echo", r["SSECustomerAlgorithm"] == "AES256" and r["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(B).digest()).decode())
g = s3.get_object(Bucket="cpb", Key="enc2", **sse(B))
check("copy enc→enc", g["Body"].read() == data and g["Metadata"] == {"k": "v"} and g["ContentType"] == "text/x-a")
expect_error("AccessDenied", 403, s3.get_object, Bucket="cpb", Key="enc2", **sse(A))
# SSE-C → plain with REPLACE
s3.copy_object(Bucket="cpb", Key="dec", CopySource={"Bucket": "cpb", "Key": "enc"}, MetadataDirective="REPLACE",
               ContentType="text/x-b", Metadata={"n": "1"}, **src_sse(A))
g = s3.get_object(Bucket="cpb", Key="dec")
check("copy enc→plain", g["Body"].read() == data and g["Metadata"] == {"n": "1"} and g["ContentType"] == "text/x-b")
check("plain copy etag is md5", g["ETag"].strip('"') == hashlib.md5(data).hexdigest())
# plain → SSE-C
s3.copy_object(Bucket="cpb", Key="enc3", CopySource={"Bucket": "cpb", "Key": "plain"}, **sse(B))
check("copy plain→enc", s3.get_object(Bucket="cpb", Key="enc3", **sse(B))["Body"].read() == data)
# errors: SSE-C source without copy-source headers, wrong source key, copy-source headers on a plain source
expect_error("InvalidArgument", 400, s3.copy_object, Bucket="cpb", Key="x", CopySource={"Bucket": "cpb", "Key": "enc"})
expect_error("AccessDenied", 403, s3.copy_object, Bucket="cpb", Key="x", CopySource={"Bucket": "cpb", "Key": "enc"}, **src_sse(B))
expect_error("InvalidRequest", 400, s3.copy_object, Bucket="cpb", Key="x", CopySource={"Bucket": "cpb", "Key": "plain"}, **src_sse(A))
# plain object onto itself without changes is illegal; with REPLACE it works
expect_error("InvalidRequest", 400, s3.copy_object, Bucket="cpb", Key="plain", CopySource={"Bucket": "cpb", "Key": "plain"})
s3.copy_object(Bucket="cpb", Key="plain", CopySource={"Bucket": "cpb", "Key": "plain"}, MetadataDirective="REPLACE", Metadata={"r": "2"})
check("self copy replace", s3.head_object(Bucket="cpb", Key="plain")["Metadata"] == {"r": "2"})
# copy-source conditions
etag = s3.head_object(Bucket="cpb", Key="plain")["ETag"]
expect_error("PreconditionFailed", 412, s3.copy_object, Bucket="cpb", Key="y", CopySource={"Bucket": "cpb", "Key": "plain"}, CopySourceIfMatch='"deadbeef"')
s3.copy_object(Bucket="cpb", Key="y", CopySource={"Bucket": "cpb", "Key": "plain"}, CopySourceIfMatch=etag)
# key rotation in place (no REPLACE needed): A → B
before = s3.head_object(Bucket="cpb", Key="enc", **sse(A))
r = s3.copy_object(Bucket="cpb", Key="enc", CopySource={"Bucket": "cpb", "Key": "enc"}, **src_sse(A), **sse(B))
expect_error("AccessDenied", 403, s3.get_object, Bucket="cpb", Key="enc", **sse(A))
g = s3.get_object(Bucket="cpb", Key="enc", **sse(B))
check("rotated", g["Body"].read() == data and g["Metadata"] == {"k": "v"})
check("rotation keeps etag", g["ETag"] == before["ETag"] and r["CopyObjectResult"]["ETag"] == before["ETag"])
# same-but-wrong key → InvalidArgument; wrong old key → AccessDenied
e = expect_error("InvalidArgument", 400, s3.copy_object, Bucket="cpb", Key="enc", CopySource={"Bucket": "cpb", "Key": "enc"}, **src_sse(A), **sse(A))
check("rotation mismatch text", "did not match the ones used originally" in str(e))
expect_error("AccessDenied", 403, s3.copy_object, Bucket="cpb", Key="enc", CopySource={"Bucket": "cpb", "Key": "enc"}, **src_sse(A), **sse(B))
# same key both sides: no-op that still works
s3.copy_object(Bucket="cpb", Key="enc", CopySource={"Bucket": "cpb", "Key": "enc"}, **src_sse(B), **sse(B))
check("noop rotation", s3.get_object(Bucket="cpb", Key="enc", **sse(B))["Body"].read() == data)
# rotation of a multipart SSE-C object keeps its parts readable
PART = 5 * 1024 * 1024
up = s3.create_multipart_upload(Bucket="cpb", Key="mp", **sse(A))["UploadId"]
e1 = s3.upload_part(Bucket="cpb", Key="mp", UploadId=up, PartNumber=1, Body=b"1" * PART, **sse(A))["ETag"]
e2 = s3.upload_part(Bucket="cpb", Key="mp", UploadId=up, PartNumber=2, Body=b"2" * 10, **sse(A))["ETag"]
s3.complete_multipart_upload(Bucket="cpb", Key="mp", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}, **sse(A))
s3.copy_object(Bucket="cpb", Key="mp", CopySource={"Bucket": "cpb", "Key": "mp"}, **src_sse(A), **sse(B))
check("rotated multipart", s3.get_object(Bucket="cpb", Key="mp", Range=f"bytes={PART - 2}-{PART + 1}", **sse(B))["Body"].read() == b"1122")
"#,
    );
}

#[test]
fn plain_operations_and_bad_input() {
    let env = Env::new(true);
    run(
        &env,
        r#"
import datetime, urllib3
http = urllib3.PoolManager(cert_reqs="CERT_NONE")
def raw(method, url, body=None, headers=None):
    r = http.request(method, url, body=body, headers=headers or {}, retries=False)
    return r.status, r.data
check("no buckets", s3.list_buckets()["Buckets"] == [])
s3.create_bucket(Bucket="bk1")
expect_error("BucketAlreadyOwnedByYou", 409, s3.create_bucket, Bucket="bk1")
s3.head_bucket(Bucket="bk1")
expect_error("404", 404, s3.head_bucket, Bucket="nope")
expect_error("NoSuchBucket", 404, s3.put_object, Bucket="nope", Key="k", Body=b"x")
expect_error("InvalidBucketName", 400, s3.create_bucket, Bucket="Bad_Name")
check("list buckets", [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bk1"])
# put/get with metadata, content type, MD5 ETag
body = b"hello world" * 1000
r = s3.put_object(Bucket="bk1", Key="greeting.txt", Body=body, ContentType="text/plain", Metadata={"Owner": "me", "x": "y"})
check("etag md5", r["ETag"].strip('"') == hashlib.md5(body).hexdigest())
g = s3.get_object(Bucket="bk1", Key="greeting.txt")
check("get", g["Body"].read() == body and g["ContentType"] == "text/plain" and g["Metadata"] == {"owner": "me", "x": "y"})
# Content-MD5
good = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
s3.put_object(Bucket="bk1", Key="md5", Body=b"abc", ContentMD5=good)
expect_error("BadDigest", 400, s3.put_object, Bucket="bk1", Key="md5", Body=b"abd", ContentMD5=good)
expect_error("InvalidDigest", 400, s3.put_object, Bucket="bk1", Key="md5", Body=b"abc", ContentMD5="not-base64!")
check("md5 object intact", s3.get_object(Bucket="bk1", Key="md5")["Body"].read() == b"abc")
# conditional GET
etag = g["ETag"]
expect_error("304", 304, s3.get_object, Bucket="bk1", Key="greeting.txt", IfNoneMatch=etag)
expect_error("PreconditionFailed", 412, s3.get_object, Bucket="bk1", Key="greeting.txt", IfMatch='"0123"')
check("if-match ok", s3.get_object(Bucket="bk1", Key="greeting.txt", IfMatch=etag)["Body"].read() == body)
future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
expect_error("304", 304, s3.get_object, Bucket="bk1", Key="greeting.txt", IfModifiedSince=future)
expect_error("PreconditionFailed", 412, s3.get_object, Bucket="bk1", Key="greeting.txt", IfUnmodifiedSince=past)
check("if-modified-since past", s3.get_object(Bucket="bk1", Key="greeting.txt", IfModifiedSince=past)["ContentLength"] == len(body))
# ranges
check("range", s3.get_object(Bucket="bk1", Key="greeting.txt", Range="bytes=6-10")["Body"].read() == b"world")
expect_error("InvalidRange", 416, s3.get_object, Bucket="bk1", Key="greeting.txt", Range="bytes=20000-")
# tricky keys are stored safely and listed in byte order
keys = ["../x", "a//b", ".", "..", "a/b", "a", "ü/ñ", "sp ace+plus", "a/b/c", "%2F", "x" * 1024]
for k in keys:
    s3.put_object(Bucket="bk1", Key=k, Body=k.encode())
for k in keys:
    check(f"key {k[:20]!r}", s3.get_object(Bucket="bk1", Key=k)["Body"].read() == k.encode())
all_keys = sorted(keys + ["greeting.txt", "md5"], key=lambda s: s.encode())
listed = []
token = None
while True:
    kw = {"ContinuationToken": token} if token else {}
    page = s3.list_objects_v2(Bucket="bk1", MaxKeys=3, **kw)
    listed += [o["Key"] for o in page.get("Contents", [])]
    check("page size", page["KeyCount"] <= 3)
    if not page["IsTruncated"]:
        break
    token = page["NextContinuationToken"]
check("v2 pagination order", listed == all_keys, f"{listed} != {all_keys}")
v1 = []
marker = ""
while True:
    page = s3.list_objects(Bucket="bk1", MaxKeys=4, Marker=marker)
    v1 += [o["Key"] for o in page.get("Contents", [])]
    if not page["IsTruncated"]:
        break
    marker = page.get("NextMarker") or page["Contents"][-1]["Key"]
check("v1 pagination", v1 == all_keys)
d = s3.list_objects_v2(Bucket="bk1", Delimiter="/")
check("delimiter", [p["Prefix"] for p in d["CommonPrefixes"]] == ["../", "a/", "ü/"]
      and [o["Key"] for o in d["Contents"]] == [k for k in all_keys if "/" not in k], d)
d = s3.list_objects_v2(Bucket="bk1", Prefix="a/", Delimiter="/")
check("prefix+delimiter", [o["Key"] for o in d["Contents"]] == ["a/b"] and [p["Prefix"] for p in d["CommonPrefixes"]] == ["a//", "a/b/"], d)
d = s3.list_objects_v2(Bucket="bk1", StartAfter="a/b/c")
check("start-after", [o["Key"] for o in d["Contents"]] == [k for k in all_keys if k.encode() > b"a/b/c"])
d = s3.list_objects(Bucket="bk1", Prefix="a", Delimiter="/", MaxKeys=1)
check("v1 delimiter page", [o["Key"] for o in d.get("Contents", [])] == ["a"] and d["IsTruncated"])
# delete, delete multiple
s3.delete_object(Bucket="bk1", Key="../x")
s3.delete_object(Bucket="bk1", Key="never-existed")
expect_error("NoSuchKey", 404, s3.get_object, Bucket="bk1", Key="../x")
r = s3.delete_objects(Bucket="bk1", Delete={"Objects": [{"Key": k} for k in keys[1:]] + [{"Key": "ghost"}]})
check("delete multiple", sorted(d["Key"] for d in r["Deleted"]) == sorted(keys[1:] + ["ghost"]))
expect_error("BucketNotEmpty", 409, s3.delete_bucket, Bucket="bk1")
s3.delete_objects(Bucket="bk1", Delete={"Objects": [{"Key": "greeting.txt"}, {"Key": "md5"}], "Quiet": True})
s3.delete_bucket(Bucket="bk1")
expect_error("NoSuchBucket", 404, s3.list_objects_v2, Bucket="bk1")
# SSE-S3/KMS without a KMS → 501; SSE-C together with SSE-S3 → 400
s3.create_bucket(Bucket="bk2")
e = expect_error("NotImplemented", 501, s3.put_object, Bucket="bk2", Key="k", Body=b"x", ServerSideEncryption="AES256")
check("501 message", e.response["Error"]["Message"] == "Server side encryption specified but KMS is not configured", e.response)
expect_error("NotImplemented", 501, s3.put_object, Bucket="bk2", Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="k1")
expect_error("NotImplemented", 501, s3.create_multipart_upload, Bucket="bk2", Key="k", ServerSideEncryption="aws:kms")
expect_error("NotImplemented", 501, s3.put_bucket_encryption, Bucket="bk2",
             ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
expect_error("ServerSideEncryptionConfigurationNotFoundError", 404, s3.get_bucket_encryption, Bucket="bk2")
st, body = admin("GET", "/minio/kms/v1/key/status?key-id=k1")
check("KMS admin API without a KMS", st == 501 and b"NotImplemented" in body, (st, body))
s3.put_object(Bucket="bk2", Key="plain-without-kms", Body=b"x")
s3.delete_object(Bucket="bk2", Key="plain-without-kms")
expect_error("InvalidArgument", 400, s3.put_object, Bucket="bk2", Key="k", Body=b"x", ServerSideEncryption="AES256",
             SSECustomerAlgorithm="AES256", SSECustomerKey=b"K" * 32)
# bad signature / unknown access key
bad = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False, aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                   aws_secret_access_key="wrong-secret-key", config=Config(retries={"max_attempts": 1}))
expect_error("SignatureDoesNotMatch", 403, bad.list_buckets)
unknown = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False, aws_access_key_id="nobody",
                       aws_secret_access_key="whatever-secret", config=Config(retries={"max_attempts": 1}))
try:
    unknown.list_buckets()
    raise AssertionError("unknown access key accepted")
except ClientError as e:
    check("unknown key rejected", e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e)
# presigned URL GET
s3.put_object(Bucket="bk2", Key="pre", Body=b"presigned!")
url = s3.generate_presigned_url("get_object", Params={"Bucket": "bk2", "Key": "pre"}, ExpiresIn=60)
check("presigned", raw("GET", url) == (200, b"presigned!"))
# malformed XML, anonymous request, oversized headers; the server keeps serving
ep = os.environ["ENDPOINT"]
st, content = raw("GET", ep + "/bk2/pre")
check("anonymous denied", st == 403 and b"AccessDenied" in content, content)
st, content = raw("GET", ep + "/bk2/pre", headers={f"X-H{i}": "v" for i in range(200)})
check("too many headers", st == 431, st)
try:
    st, content = raw("GET", ep + "/bk2/pre", headers={"X-Big": "a" * 100000})
    check("oversized header", st == 431, st)
except urllib3.exceptions.HTTPError:
    print("OK oversized header (connection closed)")
from botocore.awsrequest import AWSRequest
from botocore.auth import S3SigV4Auth
creds = boto3.Session().get_credentials()
def signed(method, path, body=b"", headers=None):
    req = AWSRequest(method=method, url=ep + path, data=body, headers=headers or {})
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    return raw(method, ep + path, body=body, headers=dict(req.headers))
body = b"<Delete><Object><Key>x</Key></Object"
st, content = signed("POST", "/bk2?delete", body, {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
check("malformed xml", st == 400 and b"MalformedXML" in content, content)
st, content = signed("GET", "/bk2/pre", headers={"x-amz-server-side-encryption": "AES256"})
check("sse-s3 on GET", st == 400 and b"<Code>BadRequest</Code>" in content, content)
st, content = signed("GET", "/bk2/pre", headers={"x-amz-server-side-encryption-customer-algorithm": "AES256",
           "x-amz-server-side-encryption-customer-key": base64.b64encode(b"K" * 32).decode(),
           "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(b"K" * 32).digest()).decode()})
check("ssec on plain object", st == 400 and b"not applicable" in content, content)
s3.put_object(Bucket="bk2", Key="enc", Body=b"e", SSECustomerAlgorithm="AES256", SSECustomerKey=b"K" * 32)
st, content = signed("GET", "/bk2/enc", headers={"x-amz-server-side-encryption-customer-algorithm": "AES256"})
check("ssec missing key", st == 400 and b"appropriate secret key" in content, content)
st, content = signed("GET", "/bk2/enc", headers={"x-amz-server-side-encryption-customer-algorithm": "AES256",
           "x-amz-server-side-encryption-customer-key": "AAAA", "x-amz-server-side-encryption-customer-key-MD5": "AAAA"})
check("ssec undecodable key", st == 403 and b"AccessDenied" in content, content)
check("still serving", s3.get_object(Bucket="bk2", Key="pre")["Body"].read() == b"presigned!")
"#,
    );
    assert_contained(&env, &["bk2"]);
}

#[test]
fn tampered_ciphertext_is_never_served() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="tamper")
s3.put_object(Bucket="tamper", Key="obj", Body=bytes(range(256)) * 800, SSECustomerAlgorithm="AES256", SSECustomerKey=b"T" * 32)
"#,
    );
    // Flip one ciphertext byte inside the second DARE package (packages are 65 568 bytes).
    let dir = env.path("data/tamper/obj");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[65_568 + 100] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    let out = run(
        &env,
        r#"
def get(**kw):
    return s3.get_object(Bucket="tamper", Key="obj", SSECustomerAlgorithm="AES256", SSECustomerKey=b"T" * 32, **kw)["Body"].read()
data = bytes(range(256)) * 800
check("first package still readable", get(Range="bytes=0-65535") == data[:65536])
check("third package still readable", get(Range="bytes=131072-140000") == data[131072:140001])
for kw in [dict(), dict(Range="bytes=65536-65600"), dict(Range="bytes=60000-70000")]:
    try:
        body = get(**kw)
    except Exception as e:
        print("OK refused", kw, type(e).__name__)
        continue
    raise AssertionError(f"tampered data served for {kw}: {len(body)} bytes")
"#,
    );
    assert_eq!(out.matches("OK refused").count(), 3, "{out}");
}
