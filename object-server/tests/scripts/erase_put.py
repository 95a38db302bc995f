B = "erase"
s3.create_bucket(Bucket=B)
ctx = base64.b64encode(b'{"tenant":"t1"}').decode()
s3.put_object(Bucket=B, Key="s3obj", Body=b"sse-s3 secret data" * 1000, ServerSideEncryption="AES256")
s3.put_object(Bucket=B, Key="kmsobj", Body=b"sse-kms secret data" * 1000, ServerSideEncryption="aws:kms",
              SSEKMSKeyId="erase-key", SSEKMSEncryptionContext=ctx)
s3.put_object(Bucket=B, Key="plain", Body=b"plain data")
print("ALL OK")
