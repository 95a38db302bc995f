B = "erase"
def kms_error(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return (e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
    raise AssertionError("call succeeded")
got = kms_error(s3.get_object, Bucket=B, Key="kmsobj")
check("sse-kms read after delete", got == ("kms:KeyNotFound", 404), got)
got = kms_error(s3.get_object, Bucket=B, Key="s3obj", Range="bytes=0-9")
check("sse-s3 read after delete", got in (("kms:KeyNotFound", 404), ("kms:InvalidCiphertextException", 400)), got)
got = kms_error(s3.copy_object, Bucket=B, Key="copy", CopySource={"Bucket": B, "Key": "kmsobj"})
check("copy source after delete", got == ("kms:KeyNotFound", 404), got)
h = s3.head_object(Bucket=B, Key="kmsobj")
check("head sse-kms needs no KES", h["SSEKMSKeyId"] == "erase-key")
got = kms_error(s3.put_object, Bucket=B, Key="new", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="erase-key")
check("put with a deleted key", got == ("kms:KeyNotFound", 404), got)
check("plain still readable", s3.get_object(Bucket=B, Key="plain")["Body"].read() == b"plain data")
print("ALL OK")
