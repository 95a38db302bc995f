"""S3 half of the soak run (scripts/soak.sh): boto3 against the object server.

Until SOAK_SECS pass, SOAK_S3_THREADS threads put objects (1 B .. 1 MiB) with
SSE-S3, SSE-KMS (key SOAK_KMS_KEY) or SSE-C (a fresh random key per object),
read each back whole and as a random range, and delete some. Every read is
compared with what was written: a difference is a *wrong answer*. Errors are
counted by kind (S3 error code, or the exception class). Prints one JSON line.
Environment: ENDPOINT, CA_BUNDLE, ACCESS_KEY, SECRET_KEY, SOAK_SECS, SOAK_KMS_KEY.
"""
import collections
import json
import os
import random
import threading
import time

import boto3
import botocore.config
import botocore.exceptions

END = time.monotonic() + float(os.environ["SOAK_SECS"])
KMS_KEY = os.environ["SOAK_KMS_KEY"]
BUCKET = "soak"
lock = threading.Lock()
stats = collections.Counter()
errors = collections.Counter()
wrong = []


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["ENDPOINT"],
        aws_access_key_id=os.environ["ACCESS_KEY"],
        aws_secret_access_key=os.environ["SECRET_KEY"],
        region_name="us-east-1",
        verify=os.environ["CA_BUNDLE"],
        config=botocore.config.Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def count(name, n=1):
    with lock:
        stats[name] += n


def error(op, exc):
    if isinstance(exc, botocore.exceptions.ClientError):
        kind = "%s %s" % (exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                          exc.response.get("Error", {}).get("Code"))
    else:
        kind = type(exc).__name__
    with lock:
        errors["%s: %s" % (op, kind)] += 1


def sse_args(mode, ssec_key):
    if mode == "SSE-S3":
        return {"ServerSideEncryption": "AES256"}
    if mode == "SSE-KMS":
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY}
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": ssec_key}


def read_args(mode, ssec_key):
    return {} if mode != "SSE-C" else {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": ssec_key}


def worker(tid):
    s3 = client()
    rnd = random.Random(tid)
    live = []
    n = 0
    while time.monotonic() < END:
        n += 1
        mode = rnd.choice(["SSE-S3", "SSE-KMS", "SSE-C"])
        size = rnd.choice([0, 1, 100, 4096, 65536, 64 * 1024 + 17, 1 << 20])
        body = os.urandom(size)
        ssec_key = os.urandom(32)
        key = "t%d/o%d" % (tid, n)
        try:
            s3.put_object(Bucket=BUCKET, Key=key, Body=body, **sse_args(mode, ssec_key))
            count("put " + mode)
            live.append((key, mode, ssec_key, body))
        except Exception as exc:  # noqa: BLE001 - every failure is counted by kind
            error("put " + mode, exc)
            continue
        for key, mode, ssec_key, body in rnd.sample(live, min(2, len(live))):
            try:
                got = s3.get_object(Bucket=BUCKET, Key=key, **read_args(mode, ssec_key))["Body"].read()
                count("get " + mode)
                if got != body:
                    with lock:
                        wrong.append("get %s %s: %d bytes back for %d" % (mode, key, len(got), len(body)))
                if len(body) > 1:
                    a = rnd.randrange(len(body))
                    b = rnd.randrange(a, len(body))
                    got = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=%d-%d" % (a, b),
                                        **read_args(mode, ssec_key))["Body"].read()
                    count("range get " + mode)
                    if got != body[a:b + 1]:
                        with lock:
                            wrong.append("range %d-%d %s %s differs" % (a, b, mode, key))
            except Exception as exc:  # noqa: BLE001
                error("get " + mode, exc)
        if len(live) > 20:
            entry = live.pop(rnd.randrange(len(live)))
            try:
                s3.delete_object(Bucket=BUCKET, Key=entry[0])
                count("delete")
            except Exception as exc:  # noqa: BLE001
                error("delete", exc)


def main():
    s3 = client()
    deadline = time.monotonic() + 60
    while True:
        try:
            s3.create_bucket(Bucket=BUCKET)
            break
        except Exception:  # noqa: BLE001 - retried until the server is ready
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(int(os.environ.get("SOAK_S3_THREADS", "4")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"requests": sum(stats.values()), "ops": stats, "errors": errors,
                      "wrong_answers": len(wrong), "wrong": wrong[:20]}))


if __name__ == "__main__":
    main()
