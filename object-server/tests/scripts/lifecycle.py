# Lifecycle checks (after BOTO3_PRELUDE): `put <small> <big>` writes the objects (SSE-S3 and SSE-KMS with the
# key $KMS_KEY, single-part and multipart, one plain, one SSE-C); `read <small> <big> <s3> <kms>` reads them
# once each (no retry) and checks every read against the expected outcome: "ok" (200 and the
# bytes written) or "disabled" (403 kms:KeyDisabled).
B = "lifecycle"
KMS_KEY = os.environ["KMS_KEY"]
small = open(sys.argv[2], "rb").read()
big = open(sys.argv[3], "rb").read()
OBJECTS = {
    "s3-small": ("s3", small),
    "s3-multipart": ("s3", big),
    "kms-small": ("kms", small),
    "kms-multipart": ("kms", big),
}

SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": b"c" * 32}

def sse_args(kind):
    if kind == "s3":
        return {"ServerSideEncryption": "AES256"}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY}

def put_multipart(key, kind, body):
    up = s3.create_multipart_upload(Bucket=B, Key=key, **sse_args(kind))
    parts, size = [], 5 * 1024 * 1024
    for n, at in enumerate(range(0, len(body), size), start=1):
        r = s3.upload_part(Bucket=B, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=body[at:at + size])
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=B, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": parts})

mode = sys.argv[1]
if mode == "put":
    s3.create_bucket(Bucket=B)
    for key, (kind, body) in OBJECTS.items():
        if key.endswith("multipart"):
            put_multipart(key, kind, body)
        else:
            s3.put_object(Bucket=B, Key=key, Body=body, **sse_args(kind))
    s3.put_object(Bucket=B, Key="plain", Body=b"plain data")
    s3.put_object(Bucket=B, Key="ssec", Body=b"customer data", **SSEC)
    print("ALL OK")
elif mode == "read":
    want = {"s3": sys.argv[4], "kms": sys.argv[5]}
    for key, (kind, body) in OBJECTS.items():
        if want[kind] == "ok":
            got = s3.get_object(Bucket=B, Key=key)["Body"].read()
            check(f"GET {key}", got == body, len(got))
            got = s3.get_object(Bucket=B, Key=key, Range="bytes=10-99")["Body"].read()
            check(f"range GET {key}", got == body[10:100])
        else:
            e = expect_error("kms:KeyDisabled", 403, s3.get_object, Bucket=B, Key=key)
            check(f"GET {key} message", e.response["Error"].get("Message") == "key is disabled", e.response)
            expect_error("kms:KeyDisabled", 403, s3.get_object, Bucket=B, Key=key, Range="bytes=10-99")
            expect_error("kms:KeyDisabled", 403, s3.copy_object, Bucket=B, Key="copy-" + key,
                         CopySource={"Bucket": B, "Key": key})
        # HEAD needs no data key (object-sse.md §7): 200 whatever the key's state.
        h = s3.head_object(Bucket=B, Key=key)
        check(f"HEAD {key}", h["ContentLength"] == len(body) and
              h["ServerSideEncryption"] == ("AES256" if kind == "s3" else "aws:kms"), h)
    check("plain object", s3.get_object(Bucket=B, Key="plain")["Body"].read() == b"plain data")
    check("SSE-C object", s3.get_object(Bucket=B, Key="ssec", **SSEC)["Body"].read() == b"customer data")
    if "disabled" in want.values():
        kind = "s3" if want["s3"] == "disabled" else "kms"
        e = expect_error("kms:KeyDisabled", 403, s3.put_object, Bucket=B, Key="new", Body=b"x", **sse_args(kind))
    print("ALL OK")
else:
    raise SystemExit("unknown mode " + mode)
