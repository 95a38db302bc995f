B = "failover"
def err(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return (e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
    raise AssertionError("call succeeded")
got = err(s3.put_object, Bucket=B, Key="down", Body=b"x", ServerSideEncryption="AES256")
check("put while KES is down", got == ("kms:KeyGenerationFailed", 500), got)
got = err(s3.get_object, Bucket=B, Key="o1")
check("get while KES is down", got == ("kms:DecryptionFailed", 500), got)
s3.put_object(Bucket=B, Key="plain-during-outage", Body=b"plain")
check("plain objects unaffected", s3.get_object(Bucket=B, Key="plain-during-outage")["Body"].read() == b"plain")
check("no partial object", "Contents" not in s3.list_objects_v2(Bucket=B, Prefix="down"))
def health(path):
    import urllib3
    urllib3.disable_warnings()
    return urllib3.PoolManager(cert_reqs="CERT_NONE").request("GET", os.environ["ENDPOINT"] + path).status
check("live while KES is down", health("/minio/health/live") == 200)
check("not ready while KES is down", health("/minio/health/ready") == 500)
print("ALL OK")
