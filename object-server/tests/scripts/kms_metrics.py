# KMS metrics at /minio/v2/metrics/cluster (after BOTO3_PRELUDE). argv[1]: "live" (KES up:
# drive some KMS traffic first) or "down" (KES stopped). Prints ALL OK.
import hmac, json, time, urllib3
urllib3.disable_warnings()
http = urllib3.PoolManager(cert_reqs="CERT_NONE")
URL = os.environ["ENDPOINT"] + "/minio/v2/metrics/cluster"

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def jwt(claims, secret, alg="HS512"):
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    digest = {"HS512": hashlib.sha512, "HS256": hashlib.sha256}[alg]
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{b64(sig)}"

ACCESS, SECRET = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
GOOD = jwt({"exp": int(time.time()) + 3600, "sub": ACCESS, "iss": "prometheus"}, SECRET)

def scrape(token=GOOD):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = http.request("GET", URL, headers=headers)
    return r.status, r.headers.get("Content-Type"), r.data.decode()

def values(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.split(" ")
            out[name] = float(value)
    return out

mode = sys.argv[1]
if mode == "live":
    s3.create_bucket(Bucket="metrics")
    s3.put_object(Bucket="metrics", Key="o", Body=b"m" * 100, ServerSideEncryption="AES256")
    s3.get_object(Bucket="metrics", Key="o")["Body"].read()
    expect_error("kms:KeyNotFound", 404, s3.put_object, Bucket="metrics", Key="x", Body=b"x",
                 ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key")
    status, ctype, text = scrape()
    check("scrape", status == 200, (status, text))
    check("text format 0.0.4", ctype == "text/plain; version=0.0.4; charset=utf-8", ctype)
    for name, kind in [("online", "gauge"), ("request_success", "counter"), ("request_error", "counter"),
                       ("request_failure", "counter"), ("uptime", "counter")]:
        check(f"TYPE {name}", f"# TYPE minio_cluster_kms_{name} {kind}\n" in text, text)
        check(f"HELP {name}", f"# HELP minio_cluster_kms_{name} " in text, text)
    v = values(text)
    check("online", v["minio_cluster_kms_online"] == 1, v)
    check("success: generate + decrypt", v["minio_cluster_kms_request_success"] >= 2, v)
    check("error: unknown key (404)", v["minio_cluster_kms_request_error"] >= 1, v)
    check("no failure", v["minio_cluster_kms_request_failure"] == 0, v)
    check("uptime", v["minio_cluster_kms_uptime"] >= 0, v)
    # Authentication: no token, a token for another key or user, an expired one.
    check("no token", scrape(None)[0] == 403)
    check("wrong secret", scrape(jwt({"sub": ACCESS}, "not-the-secret"))[0] == 403)
    check("wrong subject", scrape(jwt({"sub": "someone"}, SECRET))[0] == 403)
    check("expired", scrape(jwt({"sub": ACCESS, "exp": int(time.time()) - 10}, SECRET))[0] == 403)
    check("HS256 token", scrape(jwt({"sub": ACCESS}, SECRET, "HS256"))[0] == 200)
    # SigV4 is not how Prometheus authenticates; S3 still works next to the endpoint.
    check("s3 still served", s3.get_object(Bucket="metrics", Key="o")["Body"].read() == b"m" * 100)
elif mode == "down":
    expect_error("kms:DecryptionFailed", 500, s3.get_object, Bucket="metrics", Key="o")
    status, _, text = scrape()
    check("scrape while KES is down", status == 200, (status, text))
    v = values(text)
    check("offline", v["minio_cluster_kms_online"] == 0, v)
    check("failure counted", v["minio_cluster_kms_request_failure"] >= 1, v)
    check("no uptime while offline", "minio_cluster_kms_uptime" not in v, v)
else:
    raise SystemExit("unknown mode " + mode)
print("ALL OK")
