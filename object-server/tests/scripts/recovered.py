B = "failover"
n = int(os.environ["N"])
for i in range(n):
    check_i = s3.get_object(Bucket=B, Key=f"o{i}")["Body"].read() == (b"%d" % i) * 500
    if not check_i:
        raise AssertionError(f"object o{i} differs")
s3.put_object(Bucket=B, Key="after", Body=b"after", ServerSideEncryption="AES256")
check("recovered", s3.get_object(Bucket=B, Key="after")["Body"].read() == b"after")
def health(path):
    import urllib3
    urllib3.disable_warnings()
    return urllib3.PoolManager(cert_reqs="CERT_NONE").request("GET", os.environ["ENDPOINT"] + path).status
check("ready again", health("/minio/health/ready") == 200)
print("ALL OK")
