# SSE-S3 and SSE-KMS through KES with boto3: put/get/head/range, context, errors, multipart,
# UploadPartCopy, the CopyObject matrix over {none, SSE-C, SSE-S3, SSE-KMS}, listings.
# Runs after BOTO3_PRELUDE; DEFAULT_KEY names the object server's default KES key.
import json
B = "sse"
DEFAULT_KEY = os.environ["DEFAULT_KEY"]
KEY = b"32byteslongsecretkeymustprovided"
s3.create_bucket(Bucket=B)
data = bytes((i * 7 + i // 251) % 256 for i in range(200000))
md5 = hashlib.md5(data).hexdigest()

def etag(r):
    return r["ETag"].strip('"')

# SSE-S3
r = s3.put_object(Bucket=B, Key="s3obj", Body=data, ServerSideEncryption="AES256")
check("put sse-s3 header", r["ServerSideEncryption"] == "AES256", r)
check("put sse-s3 etag is the md5", etag(r) == md5, etag(r))
h = s3.head_object(Bucket=B, Key="s3obj")
check("head sse-s3", h["ServerSideEncryption"] == "AES256" and etag(h) == md5 and h["ContentLength"] == len(data), h)
g = s3.get_object(Bucket=B, Key="s3obj")
check("get sse-s3", g["Body"].read() == data and g["ServerSideEncryption"] == "AES256" and etag(g) == md5)
g = s3.get_object(Bucket=B, Key="s3obj", Range="bytes=65530-131080")
check("range sse-s3", g["Body"].read() == data[65530:131081] and g["ContentRange"] == f"bytes 65530-131080/{len(data)}", g.get("ContentRange"))
g = s3.get_object(Bucket=B, Key="s3obj", Range="bytes=-7")
check("suffix range sse-s3", g["Body"].read() == data[-7:])
expect_error("InvalidRange", 416, s3.get_object, Bucket=B, Key="s3obj", Range="bytes=300000-")
r = s3.put_object(Bucket=B, Key="empty", Body=b"", ServerSideEncryption="AES256")
check("empty sse-s3", s3.get_object(Bucket=B, Key="empty")["Body"].read() == b"" and etag(r) == hashlib.md5(b"").hexdigest())

# SSE-KMS with a named key and a context
client_ctx = {"sse": "yes", "project": "x<y>&z"}
ctx = base64.b64encode(json.dumps(client_ctx).encode()).decode()
r = s3.put_object(Bucket=B, Key="kmsobj", Body=data, ServerSideEncryption="aws:kms",
                  SSEKMSKeyId="testkey-1", SSEKMSEncryptionContext=ctx)
check("put sse-kms", r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == "testkey-1", r)
kms_etag = etag(r)
check("sse-kms etag is not the md5", len(kms_etag) == 32 and kms_etag != md5, kms_etag)
g = s3.get_object(Bucket=B, Key="kmsobj")
check("get sse-kms", g["Body"].read() == data and g["SSEKMSKeyId"] == "testkey-1" and etag(g) == kms_etag)
hdr = g["ResponseMetadata"]["HTTPHeaders"].get("x-amz-server-side-encryption-context")
check("context echoed", json.loads(base64.b64decode(hdr)) == client_ctx, hdr)
h = s3.head_object(Bucket=B, Key="kmsobj")
check("head sse-kms", h["ServerSideEncryption"] == "aws:kms" and h["SSEKMSKeyId"] == "testkey-1" and etag(h) == kms_etag)
g = s3.get_object(Bucket=B, Key="kmsobj", Range="bytes=131072-131073")
check("range sse-kms", g["Body"].read() == data[131072:131074])
r = s3.put_object(Bucket=B, Key="kmsarn", Body=b"arn", ServerSideEncryption="aws:kms", SSEKMSKeyId="arn:aws:kms:testkey-1")
check("arn prefix stripped", r["SSEKMSKeyId"] == "testkey-1", r)
r = s3.put_object(Bucket=B, Key="kmsdefault", Body=b"d", ServerSideEncryption="aws:kms")
check("aws:kms without key id uses the default key", r["SSEKMSKeyId"] == DEFAULT_KEY, r)
check("default-key object reads", s3.get_object(Bucket=B, Key="kmsdefault")["Body"].read() == b"d")

# errors
expect_error("kms:KeyNotFound", 404, s3.put_object, Bucket=B, Key="x", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key")
expect_error("InvalidArgument", 400, s3.put_object, Bucket=B, Key="x", Body=b"x", ServerSideEncryption="aws:kms:dsse")
expect_error("InvalidArgument", 400, s3.put_object, Bucket=B, Key="x", Body=b"x", ServerSideEncryption="AES256", SSEKMSKeyId="testkey-1")
expect_error("InvalidArgument", 400, s3.put_object, Bucket=B, Key="x", Body=b"x", ServerSideEncryption="AES256", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
# (a key id with surrounding spaces cannot be sent: HTTP trims header values; unit-tested)
expect_error("InvalidRequest", 400, s3.get_object, Bucket=B, Key="s3obj", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
expect_error("InvalidRequest", 400, s3.get_object, Bucket=B, Key="kmsobj", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
check("errors left no object", "Contents" not in s3.list_objects_v2(Bucket=B, Prefix="x"))

# multipart: SSE-S3 and SSE-KMS
part1 = bytes((i * 13) % 256 for i in range(5 * 1024 * 1024 + 3))
part2 = bytes((i * 17) % 256 for i in range(70000))
whole = part1 + part2
for kind, args in (("s3", {"ServerSideEncryption": "AES256"}),
                   ("kms", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "testkey-1"})):
    key = f"mp-{kind}"
    c = s3.create_multipart_upload(Bucket=B, Key=key, **args)
    check(f"create {kind} header", c["ServerSideEncryption"] == args["ServerSideEncryption"], c)
    uid = c["UploadId"]
    if kind == "s3":
        expect_error("InvalidRequest", 400, s3.upload_part, Bucket=B, Key=key, UploadId=uid, PartNumber=1, Body=b"x",
                     SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
    p1 = s3.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=1, Body=part1)
    check(f"upload part {kind} header", p1["ServerSideEncryption"] == args["ServerSideEncryption"], p1)
    if kind == "s3":
        check("sse-s3 part etag is the md5", etag(p1) == hashlib.md5(part1).hexdigest(), etag(p1))
        p2 = s3.upload_part_copy(Bucket=B, Key=key, UploadId=uid, PartNumber=2,
                                 CopySource={"Bucket": B, "Key": "kmsobj"}, CopySourceRange="bytes=0-69999")
        check("upload part copy header", p2["ServerSideEncryption"] == "AES256", p2)
        p2_etag = p2["CopyPartResult"]["ETag"]
        expect_part2 = data[:70000]
    else:
        p2 = s3.upload_part(Bucket=B, Key=key, UploadId=uid, PartNumber=2, Body=part2)
        p2_etag = p2["ETag"]
        expect_part2 = part2
    lp = s3.list_parts(Bucket=B, Key=key, UploadId=uid)
    check(f"list parts {kind}", [p["ETag"] for p in lp["Parts"]] == [p1["ETag"], p2_etag], lp["Parts"])
    done = s3.complete_multipart_upload(Bucket=B, Key=key, UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2_etag}]})
    check(f"complete {kind} header", done["ServerSideEncryption"] == args["ServerSideEncryption"], done)
    check(f"complete {kind} etag", etag(done).endswith("-2"), done["ETag"])
    full = part1 + expect_part2
    g = s3.get_object(Bucket=B, Key=key)
    check(f"get multipart {kind}", g["Body"].read() == full and g["ServerSideEncryption"] == args["ServerSideEncryption"])
    lo = len(part1) - 10
    g = s3.get_object(Bucket=B, Key=key, Range=f"bytes={lo}-{lo + 99}")
    check(f"range across parts {kind}", g["Body"].read() == full[lo:lo + 100])
    g = s3.get_object(Bucket=B, Key=key, PartNumber=2)
    check(f"part 2 {kind}", g["Body"].read() == expect_part2)
    h = s3.head_object(Bucket=B, Key=key)
    check(f"head multipart {kind}", h["ContentLength"] == len(full) and etag(h) == etag(done))

# CopyObject matrix over {none, SSE-C, SSE-S3, SSE-KMS}
small = bytes((i * 3) % 256 for i in range(70000))
put_args = {
    "none": {},
    "ssec": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY},
    "s3": {"ServerSideEncryption": "AES256"},
    "kms": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "testkey-1"},
}
read_args = {"none": {}, "ssec": put_args["ssec"], "s3": {}, "kms": {}}
src_args = {"ssec": {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY}}
for src in put_args:
    s3.put_object(Bucket=B, Key=f"src-{src}", Body=small, **put_args[src])
for src in put_args:
    for dst in put_args:
        key = f"copy-{src}-{dst}"
        r = s3.copy_object(Bucket=B, Key=key, CopySource={"Bucket": B, "Key": f"src-{src}"},
                           **src_args.get(src, {}), **put_args[dst])
        if dst == "s3":
            check(f"copy {src}->{dst} header", r.get("ServerSideEncryption") == "AES256", r)
            check(f"copy {src}->{dst} etag", etag(r["CopyObjectResult"]) == hashlib.md5(small).hexdigest())
        elif dst == "kms":
            check(f"copy {src}->{dst} header", r.get("ServerSideEncryption") == "aws:kms" and r.get("SSEKMSKeyId") == "testkey-1", r)
        elif dst == "ssec":
            check(f"copy {src}->{dst} header", r.get("SSECustomerAlgorithm") == "AES256", r)
        else:
            check(f"copy {src}->{dst} header", "ServerSideEncryption" not in r and "SSECustomerAlgorithm" not in r, r)
        g = s3.get_object(Bucket=B, Key=key, **read_args[dst])
        check(f"copy {src}->{dst} data", g["Body"].read() == small)
# in-place copies of encrypted objects need no REPLACE
r = s3.copy_object(Bucket=B, Key="src-s3", CopySource={"Bucket": B, "Key": "src-s3"}, ServerSideEncryption="AES256")
check("in-place sse-s3", s3.get_object(Bucket=B, Key="src-s3")["Body"].read() == small)
r = s3.copy_object(Bucket=B, Key="src-kms", CopySource={"Bucket": B, "Key": "src-kms"})
check("in-place sse-kms to plain", s3.get_object(Bucket=B, Key="src-kms")["Body"].read() == small
      and "ServerSideEncryption" not in s3.head_object(Bucket=B, Key="src-kms"))

# listings show plaintext sizes, the MD5 for SSE-S3 and the put ETag for SSE-KMS
objs = {o["Key"]: o for o in s3.list_objects_v2(Bucket=B)["Contents"]}
check("list sse-s3 etag", objs["s3obj"]["ETag"].strip('"') == md5 and objs["s3obj"]["Size"] == len(data))
check("list sse-kms etag", objs["kmsobj"]["ETag"].strip('"') == kms_etag)
objs = {o["Key"]: o for o in s3.list_objects(Bucket=B)["Contents"]}
check("list v1 sse-s3 etag", objs["s3obj"]["ETag"].strip('"') == md5)
print("ALL OK")
