# Bucket default encryption with boto3: set, applied (PUT, multipart, copy), overridden by SSE-C
# and explicit headers, validation errors, removed.
B = "defaults"
KEY = b"32byteslongsecretkeymustprovided"
s3.create_bucket(Bucket=B)
expect_error("ServerSideEncryptionConfigurationNotFoundError", 404, s3.get_bucket_encryption, Bucket=B)

def rule(alg, key=None):
    d = {"SSEAlgorithm": alg}
    if key is not None:
        d["KMSMasterKeyID"] = key
    return {"ApplyServerSideEncryptionByDefault": d}

def put_cfg(*rules):
    return s3.put_bucket_encryption(Bucket=B, ServerSideEncryptionConfiguration={"Rules": list(rules)})

r = put_cfg(rule("AES256"))
check("put bucket encryption 200", r["ResponseMetadata"]["HTTPStatusCode"] == 200)
cfg = s3.get_bucket_encryption(Bucket=B)["ServerSideEncryptionConfiguration"]["Rules"]
check("get bucket encryption", cfg[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", cfg)

r = s3.put_object(Bucket=B, Key="plain-request", Body=b"hello")
check("default applied: SSE-S3", r.get("ServerSideEncryption") == "AES256", r)
check("default applied on read", s3.head_object(Bucket=B, Key="plain-request")["ServerSideEncryption"] == "AES256")
r = s3.put_object(Bucket=B, Key="ssec", Body=b"secret", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
check("SSE-C overrides the default", r.get("SSECustomerAlgorithm") == "AES256" and "ServerSideEncryption" not in r, r)
check("SSE-C object needs its key", s3.get_object(Bucket=B, Key="ssec", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)["Body"].read() == b"secret")
r = s3.put_object(Bucket=B, Key="kms-explicit", Body=b"k", ServerSideEncryption="aws:kms", SSEKMSKeyId="testkey-1")
check("explicit SSE-KMS overrides the default", r.get("SSEKMSKeyId") == "testkey-1", r)
c = s3.create_multipart_upload(Bucket=B, Key="mp")
check("default applied to multipart", c.get("ServerSideEncryption") == "AES256", c)
p = s3.upload_part(Bucket=B, Key="mp", UploadId=c["UploadId"], PartNumber=1, Body=b"part")
s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=c["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
check("multipart default reads back", s3.get_object(Bucket=B, Key="mp")["Body"].read() == b"part")
s3.create_bucket(Bucket="plainbucket")
s3.put_object(Bucket="plainbucket", Key="p", Body=b"copied")
r = s3.copy_object(Bucket=B, Key="copied", CopySource={"Bucket": "plainbucket", "Key": "p"})
check("default applied to copy destination", r.get("ServerSideEncryption") == "AES256", r)

# aws:kms defaults: with a key, and without one (the default key)
put_cfg(rule("aws:kms", "arn:aws:kms:testkey-1"))
cfg = s3.get_bucket_encryption(Bucket=B)["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
check("stored key id keeps the arn prefix", cfg == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:testkey-1"}, cfg)
r = s3.put_object(Bucket=B, Key="kms-default", Body=b"kd")
check("aws:kms default applied", r.get("ServerSideEncryption") == "aws:kms" and r.get("SSEKMSKeyId") == "testkey-1", r)
put_cfg(rule("aws:kms"))
r = s3.put_object(Bucket=B, Key="kms-default-key", Body=b"kdk")
check("aws:kms without key id → default key", r.get("SSEKMSKeyId") == os.environ["DEFAULT_KEY"], r)

# validation
expect_error("MalformedXML", 400, put_cfg, rule("AES256"), rule("AES256"))
expect_error("MalformedXML", 400, put_cfg, rule("aws:kms:dsse"))
expect_error("MalformedXML", 400, put_cfg, rule("AES256", "testkey-1"))
expect_error("MalformedXML", 400, put_cfg, rule("aws:kms", " testkey-1"))
expect_error("kms:KeyNotFound", 404, put_cfg, rule("aws:kms", "no-such-key"))
expect_error("NoSuchBucket", 404, s3.put_bucket_encryption, Bucket="nobucket", ServerSideEncryptionConfiguration={"Rules": [rule("AES256")]})
cfg = s3.get_bucket_encryption(Bucket=B)["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
check("failed puts kept the configuration", cfg == {"SSEAlgorithm": "aws:kms"}, cfg)

# removed
r = s3.delete_bucket_encryption(Bucket=B)
check("delete bucket encryption 204", r["ResponseMetadata"]["HTTPStatusCode"] == 204, r)
r = s3.delete_bucket_encryption(Bucket=B)
check("delete again 204", r["ResponseMetadata"]["HTTPStatusCode"] == 204, r)
expect_error("ServerSideEncryptionConfigurationNotFoundError", 404, s3.get_bucket_encryption, Bucket=B)
r = s3.put_object(Bucket=B, Key="after-delete", Body=b"plain")
check("no default after delete", "ServerSideEncryption" not in r, r)
check("existing objects keep their encryption", s3.head_object(Bucket=B, Key="plain-request")["ServerSideEncryption"] == "AES256")
print("ALL OK")
