# POST object (browser form uploads) with boto3's generate_presigned_post and urllib3 / http.client
# multipart POSTs: statuses (204/200/201 XML/303), ${filename}, metadata, Content-Type, tagging,
# canned ACL, SSE-C, versioning, policy failures, signature failures, anonymous uploads under a
# bucket policy, and raw malformed forms (the server keeps serving after each).
import datetime, html, http.client, json, re, ssl, urllib.parse, xml.etree.ElementTree as ET
import urllib3
urllib3.disable_warnings()
pool = urllib3.PoolManager(cert_reqs="CERT_NONE")
signer = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
B = "forms"
s3.create_bucket(Bucket=B)

def post(url, fields, file=("f.txt", b"hello form", "application/octet-stream")):
    parts = list(fields.items())
    if file is not None:
        parts.append(("file", file))
    return pool.request("POST", url, fields=parts, redirect=False, retries=False)

def err(r):
    body = r.data.decode()
    code = re.search(r"<Code>(.*?)</Code>", body)
    msg = re.search(r"<Message>(.*?)</Message>", body)
    return r.status, code.group(1) if code else None, html.unescape(msg.group(1)) if msg else None, body

def presign(key, fields=None, conditions=None, expires=300, bucket=B):
    p = signer.generate_presigned_post(bucket, key, Fields=fields, Conditions=conditions, ExpiresIn=expires)
    return p["url"], dict(p["fields"])

# Plain upload: 204 with ETag and Location.
url, f = presign("plain.txt")
r = post(url, f)
check("204 by default", r.status == 204, (r.status, r.data))
head = s3.head_object(Bucket=B, Key="plain.txt")
check("stored bytes", s3.get_object(Bucket=B, Key="plain.txt")["Body"].read() == b"hello form")
check("ETag header", r.headers["ETag"] == head["ETag"], (r.headers, head["ETag"]))
check("Location header", r.headers["Location"].endswith(f"/{B}/plain.txt"), r.headers)
check("file part type used", head["ContentType"] == "application/octet-stream", head)

# success_action_status 200 and 201 (PostResponse XML).
url, f = presign("s200", {"success_action_status": "200"}, [{"success_action_status": "200"}])
r = post(url, f)
check("200", r.status == 200 and r.data == b"", (r.status, r.data))
url, f = presign("dir/s201 x", {"success_action_status": "201"}, [{"success_action_status": "201"}])
r = post(url, f)
check("201", r.status == 201, (r.status, r.data))
doc = ET.fromstring(r.data)
check("PostResponse", doc.tag == "PostResponse", r.data)
etag = s3.head_object(Bucket=B, Key="dir/s201 x")["ETag"]
check("201 fields", doc.findtext("Bucket") == B and doc.findtext("Key") == "dir/s201 x"
      and doc.findtext("ETag") == etag and doc.findtext("Location").endswith(f"/{B}/dir/s201%20x"), r.data)

# success_action_redirect: 303 with bucket, key, etag.
url, f = presign("redir", {"success_action_redirect": "https://example.com/done?x=1"},
                 [{"success_action_redirect": "https://example.com/done?x=1"}])
r = post(url, f)
check("303", r.status == 303, (r.status, r.data))
loc = urllib.parse.urlparse(r.headers["Location"])
q = urllib.parse.parse_qs(loc.query)
etag = s3.head_object(Bucket=B, Key="redir")["ETag"]
check("redirect target", loc.netloc == "example.com" and loc.path == "/done"
      and q == {"x": ["1"], "bucket": [B], "key": ["redir"], "etag": [etag]}, r.headers["Location"])

# ${filename}, metadata, Content-Type, tagging, canned ACL.
tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>"
fields = {"Content-Type": "text/plain", "x-amz-meta-color": "blue", "tagging": tagging, "acl": "public-read"}
conds = [["starts-with", "$Content-Type", "text/"], ["starts-with", "$x-amz-meta-color", ""],
         {"tagging": tagging}, {"acl": "public-read"}]
url, f = presign("uploads/${filename}", fields, conds)
r = post(url, f, ("photo.txt", b"picture", "image/png"))
check("filename upload", r.status == 204, (r.status, r.data))
head = s3.head_object(Bucket=B, Key="uploads/photo.txt")
check("Content-Type field wins", head["ContentType"] == "text/plain", head)
check("metadata", head["Metadata"] == {"color": "blue"}, head)
tags = s3.get_object_tagging(Bucket=B, Key="uploads/photo.txt")["TagSet"]
check("tagging", tags == [{"Key": "team", "Value": "web"}], tags)
grants = s3.get_object_acl(Bucket=B, Key="uploads/photo.txt")["Grants"]
check("canned ACL", any(g["Grantee"].get("URI", "").endswith("/global/AllUsers") and g["Permission"] == "READ"
                        for g in grants), grants)

# SSE-C (readable only with the key).
KEY = b"0123456789abcdef0123456789abcdef"
ssec = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(hashlib.md5(KEY).digest()).decode()}
url, f = presign("ssec", ssec, [{k: v} for k, v in ssec.items()])
r = post(url, f, ("s.bin", b"secret bytes", "application/octet-stream"))
check("SSE-C upload", r.status == 204 and r.headers.get("x-amz-server-side-encryption-customer-algorithm") == "AES256",
      (r.status, r.data, r.headers))
got = s3.get_object(Bucket=B, Key="ssec", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)["Body"].read()
check("SSE-C readable with the key", got == b"secret bytes")
expect_error("InvalidRequest", 400, s3.get_object, Bucket=B, Key="ssec")
# An SSE-C field without a condition is an extra field.
url, f = presign("ssec2")
f.update(ssec)
st, code, msg, body = err(post(url, f))
check("SSE-C fields need conditions", (st, code) == (403, "AccessDenied") and "Extra input fields" in msg, body)

# Versioned bucket: the version id comes back.
VB = "forms-versioned"
s3.create_bucket(Bucket=VB)
s3.put_bucket_versioning(Bucket=VB, VersioningConfiguration={"Status": "Enabled"})
url, f = presign("v", bucket=VB)
r = post(url, f)
vid = s3.head_object(Bucket=VB, Key="v")["VersionId"]
check("version id", r.status == 204 and r.headers.get("x-amz-version-id") == vid, (r.headers, vid))

# Policy failures.
url, f = presign("late", expires=-60)
st, code, msg, body = err(post(url, f))
check("expired", (st, code, msg) == (403, "AccessDenied", "Invalid according to Policy: Policy expired."), body)
url, f = presign("extra", {"x-amz-meta-a": "1"})
st, code, msg, body = err(post(url, f))
check("extra field", (st, code, msg) == (403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-a"), body)
url, f = presign("uploads/${filename}")
f["key"] = "elsewhere/x"
st, code, msg, body = err(post(url, f))
check("starts-with key", (st, code) == (403, "AccessDenied") and msg.startswith("Invalid according to Policy: Policy Condition failed:")
      and "uploads/" in msg, body)
url, f = presign("ct", {"Content-Type": "text/html"}, [["starts-with", "$Content-Type", "image/"]])
st, code, msg, body = err(post(url, f))
check("starts-with Content-Type", (st, code) == (403, "AccessDenied") and "Content-Type" in msg, body)
url, f = presign("small-enough", conditions=[["content-length-range", 1, 10]])
st, code, msg, body = err(post(url, f, ("big", b"x" * 11, "text/plain")))
check("content-length-range max", (st, code) == (400, "EntityTooLarge"), body)
st, code, msg, body = err(post(url, f, ("empty", b"", "text/plain")))
check("content-length-range min", (st, code) == (400, "EntityTooSmall"), body)
expect_error("404", 404, s3.head_object, Bucket=B, Key="small-enough")
r = post(url, f, ("ten", b"x" * 10, "text/plain"))
check("content-length-range edge", r.status == 204, (r.status, r.data))
expect_error("404", 404, s3.head_object, Bucket=B, Key="late")
expect_error("404", 404, s3.head_object, Bucket=B, Key="extra")

# Signature failures.
url, f = presign("sig")
f["x-amz-signature"] = "0" * 64
st, code, msg, body = err(post(url, f))
check("wrong signature", (st, code) == (403, "SignatureDoesNotMatch"), body)
url, f = presign("sig")
f["policy"] = base64.b64encode(base64.b64decode(f["policy"]).replace(b'"sig"', b'"sih"')).decode()
st, code, msg, body = err(post(url, f))
check("tampered policy", (st, code) == (403, "SignatureDoesNotMatch"), body)
url, f = presign("sig")
f["x-amz-credential"] = "nobody" + f["x-amz-credential"][len(os.environ["AWS_ACCESS_KEY_ID"]):]
st, code, msg, body = err(post(url, f))
check("credential not in policy", st == 403, body)
stranger = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                        aws_access_key_id="nobody", aws_secret_access_key="nothing-at-all",
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
p = stranger.generate_presigned_post(B, "sig")
st, code, msg, body = err(post(p["url"], p["fields"]))
check("unknown access key", (st, code) == (403, "InvalidAccessKeyId"), body)
url, f = presign("sig")
del f["policy"]
st, code, msg, body = err(post(url, f))
check("signature without policy", (st, code) == (400, "InvalidArgument") and "'policy'" in msg, body)
expect_error("404", 404, s3.head_object, Bucket=B, Key="sig")

# Anonymous uploads: only where the bucket policy grants s3:PutObject to "*".
PB = "forms-public"
s3.create_bucket(Bucket=PB)
purl = os.environ["ENDPOINT"] + "/" + PB
st, code, msg, body = err(post(purl, {"key": "public/a"}))
check("anonymous refused", (st, code) == (403, "AccessDenied"), body)
s3.put_bucket_policy(Bucket=PB, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{PB}/public/*"}]}))
r = post(purl, {"key": "public/${filename}", "success_action_status": "201"}, ("anon.txt", b"anon", "text/plain"))
check("anonymous allowed by policy", r.status == 201, (r.status, r.data))
check("anonymous object", s3.get_object(Bucket=PB, Key="public/anon.txt")["Body"].read() == b"anon")
st, code, msg, body = err(post(purl, {"key": "private/a"}))
check("anonymous outside the grant", (st, code) == (403, "AccessDenied"), body)
s3.put_bucket_policy(Bucket=PB, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{PB}/public/*"},
    {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{PB}/locked/*"}]}))
url, f = presign("locked/x", bucket=PB)
st, code, msg, body = err(post(url, f))
check("a Deny binds the signer", (st, code) == (403, "AccessDenied"), body)

# Raw malformed forms (http.client, hand-built bodies).
ep = urllib.parse.urlparse(os.environ["ENDPOINT"])
def raw(path, body, ctype="multipart/form-data; boundary=XyZ"):
    conn = http.client.HTTPSConnection(ep.hostname, ep.port, context=ssl._create_unverified_context())
    conn.request("POST", path, body=body, headers={"Content-Type": ctype})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    class R: pass
    out = R(); out.status = r.status; out.data = data
    return out
def part(name, value):
    return f'--XyZ\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
st, code, msg, body = err(raw(f"/{PB}", part("key", "public/nofile") + "--XyZ--\r\n"))
check("no file", (st, code) == (400, "IncorrectNumberOfFilesInPostRequest"), body)
filepart = '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nabc\r\n--XyZ--\r\n'
st, code, msg, body = err(raw(f"/{PB}", part("acl", "private") + filepart))
check("no key", (st, code) == (400, "InvalidArgument") and "'key'" in msg, body)
st, code, msg, body = err(raw(f"/{PB}", part("key", "public/big") + part("x-ignore-pad", "p" * 70000) + filepart))
check("oversized fields", (st, code) == (400, "MaxPostPreDataLengthExceededError"), body)
many = "".join(part(f"x-ignore-{i}", "v") for i in range(101))
st, code, msg, body = err(raw(f"/{PB}", part("key", "public/many") + many + filepart))
check("too many fields", (st, code) == (400, "MaxPostPreDataLengthExceededError"), body)
st, code, msg, body = err(raw(f"/{PB}", "garbage without boundaries"))
check("malformed", (st, code) == (400, "MalformedPOSTRequest"), body)
st, code, msg, body = err(raw(f"/{PB}", part("key", "public/x"), ctype="multipart/form-data"))
check("no boundary", (st, code) == (400, "MalformedPOSTRequest"), body)
st, code, msg, body = err(raw(f"/{PB}/some/key", part("key", "public/x") + filepart))
check("POST to a key", (st, code) == (405, "MethodNotAllowed"), body)
st, code, msg, body = err(raw("/..", part("key", "x") + filepart))
check("invalid bucket name", (st, code) == (400, "InvalidBucketName"), body)
st, code, msg, body = err(raw(f"/{PB}", part("key", "public/" + "k" * 1100) + filepart))
check("key too long", (st, code) == (400, "KeyTooLongError"), body)
st, code, msg, body = err(raw(f"/{PB}", part("key", "public/cut") + '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nabc'))
check("cut file", (st, code) == (400, "IncompleteBody"), body)
r = raw(f"/{PB}", part("key", "public/raw") + part("x-ignore-note", "ok") + filepart)
check("raw anonymous upload", r.status == 204, (r.status, r.data))
check("raw upload stored", s3.get_object(Bucket=PB, Key="public/raw")["Body"].read() == b"abc")
expect_error("404", 404, s3.head_object, Bucket=PB, Key="public/cut")
check("still serving", s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200)
print("ALL OK")
