# POST object through KES: SSE-S3 and SSE-KMS form fields, the bucket default encryption, all
# readable back with GET and reported by HEAD.
import urllib3
urllib3.disable_warnings()
pool = urllib3.PoolManager(cert_reqs="CERT_NONE")
signer = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
B = "forms-kes"
s3.create_bucket(Bucket=B)

def upload(key, fields, data, bucket=B):
    p = signer.generate_presigned_post(bucket, key, Fields=fields,
                                       Conditions=[{k: v} for k, v in fields.items()], ExpiresIn=300)
    parts = list(p["fields"].items()) + [("file", ("f", data, "application/octet-stream"))]
    return pool.request("POST", p["url"], fields=parts, redirect=False, retries=False)

r = upload("s3", {"x-amz-server-side-encryption": "AES256"}, b"sse-s3 form")
check("SSE-S3 upload", r.status == 204 and r.headers.get("x-amz-server-side-encryption") == "AES256", (r.status, r.data, r.headers))
h = s3.head_object(Bucket=B, Key="s3")
check("SSE-S3 stored", h["ServerSideEncryption"] == "AES256", h)
check("SSE-S3 ETag is the MD5", h["ETag"] == '"%s"' % hashlib.md5(b"sse-s3 form").hexdigest() == r.headers["ETag"], (h, r.headers))
check("SSE-S3 readable", s3.get_object(Bucket=B, Key="s3")["Body"].read() == b"sse-s3 form")

kms = {"x-amz-server-side-encryption": "aws:kms",
       "x-amz-server-side-encryption-aws-kms-key-id": os.environ["DEFAULT_KEY"]}
r = upload("kms", kms, b"sse-kms form")
check("SSE-KMS upload", r.status == 204 and r.headers.get("x-amz-server-side-encryption") == "aws:kms"
      and r.headers.get("x-amz-server-side-encryption-aws-kms-key-id", "").endswith(os.environ["DEFAULT_KEY"]), (r.status, r.data, r.headers))
h = s3.head_object(Bucket=B, Key="kms")
check("SSE-KMS stored", h["ServerSideEncryption"] == "aws:kms", h)
check("SSE-KMS readable", s3.get_object(Bucket=B, Key="kms")["Body"].read() == b"sse-kms form")
ctx = base64.b64encode(b'{"app":"forms"}').decode()
r = upload("kms-ctx", dict(kms, **{"x-amz-server-side-encryption-context": ctx}), b"with context")
check("SSE-KMS context echoed", r.status == 204 and r.headers.get("x-amz-server-side-encryption-context") == ctx, (r.status, r.data, r.headers))
check("SSE-KMS context readable", s3.get_object(Bucket=B, Key="kms-ctx")["Body"].read() == b"with context")

r = upload("badkms", {"x-amz-server-side-encryption": "aws:kms",
                      "x-amz-server-side-encryption-aws-kms-key-id": "no-such-key-here"}, b"x")
check("unknown KMS key refused", r.status >= 400, (r.status, r.data))

s3.put_bucket_encryption(Bucket=B, ServerSideEncryptionConfiguration={"Rules": [
    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
r = upload("default", {}, b"default form")
check("bucket default applied", r.status == 204 and r.headers.get("x-amz-server-side-encryption") == "AES256", (r.status, r.data, r.headers))
check("bucket default readable", s3.get_object(Bucket=B, Key="default")["Body"].read() == b"default form")
big = os.urandom(3 * 1024 * 1024 + 17)
r = upload("big", {}, big)
check("multi-package object", r.status == 204, (r.status, r.data))
check("multi-package readable", s3.get_object(Bucket=B, Key="big")["Body"].read() == big)
print("ALL OK")
