B = "failover"
n = int(sys.argv[1])
s3.create_bucket(Bucket=B)
failures = 0
for i in range(n):
    body = (b"%d" % i) * 500
    try:
        s3.put_object(Bucket=B, Key=f"o{i}", Body=body, ServerSideEncryption="AES256")
        got = s3.get_object(Bucket=B, Key=f"o{i}")["Body"].read()
        assert got == body
    except Exception as e:
        failures += 1
        print("FAIL", i, e, file=sys.stderr, flush=True)
    print("done", i, flush=True)
print("failures", failures, flush=True)
