//! Bucket policies and Public Access Block end to end, with the real object server, boto3 and
//! aws-cli: the issue's encryption-enforcement policy (unencrypted uploads denied; SSE-S3,
//! SSE-KMS through a real `kes server`, and SSE-C allowed), anonymous access only where a
//! policy grants it, Public Access Block, `aws:SourceIp`, `s3:prefix` / `s3:max-keys`,
//! DeleteObjects per key (denied keys as per-key errors), the root user never locked out of
//! the policy calls, and S3's error codes for bad policies.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::kes::KesSetup;
use common::{BOTO3_PRELUDE, Env, Launch, fails_with, ok};

const DEFAULT_KEY: &str = "my-minio-sse-s3-key";

/// Deny PutObject unless the request says SSE-S3/SSE-KMS (`x-amz-server-side-encryption`) or
/// SSE-C (`x-amz-server-side-encryption-customer-algorithm`), and deny other algorithms.
const ENFORCE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "DenyUnencryptedUploads", "Effect": "Deny", "Principal": "*",
     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::enc/*",
     "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true",
                            "s3:x-amz-server-side-encryption-customer-algorithm": "true"}}},
    {"Sid": "DenyOtherAlgorithms", "Effect": "Deny", "Principal": "*",
     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::enc/*",
     "Condition": {"Null": {"s3:x-amz-server-side-encryption": "false"},
                   "StringNotEquals": {"s3:x-amz-server-side-encryption": ["AES256", "aws:kms"]}}}
  ]
}"#;

/// Prelude addition: an unsigned client.
const ANON: &str = r#"
from botocore import UNSIGNED
anon = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                    config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
import json
"#;

fn run(env: &Env, body: &str) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{ANON}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, &[]));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

#[test]
fn encryption_enforcement_policy_with_kes() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let env = Env::with(
        true,
        Launch {
            env: kes.object_server_env(&[&k], DEFAULT_KEY, false),
            ..Launch::default()
        },
    );
    std::fs::write(env.path("home/policy.json"), ENFORCE).unwrap();
    run(
        &env,
        &format!(
            r#"
POLICY = {ENFORCE:?}
KEY = b"0123456789abcdef0123456789abcdef"
s3.create_bucket(Bucket="enc")
s3.put_bucket_policy(Bucket="enc", Policy=POLICY)
check("policy stored verbatim", s3.get_bucket_policy(Bucket="enc")["Policy"] == POLICY)
check("not public", s3.get_bucket_policy_status(Bucket="enc")["PolicyStatus"]["IsPublic"] is False)
expect_error("AccessDenied", 403, s3.put_object, Bucket="enc", Key="plain", Body=b"x")
check("nothing stored", "Contents" not in s3.list_objects_v2(Bucket="enc"))
s3.put_object(Bucket="enc", Key="sse-s3", Body=b"x", ServerSideEncryption="AES256")
s3.put_object(Bucket="enc", Key="sse-kms", Body=b"x", ServerSideEncryption="aws:kms")
s3.put_object(Bucket="enc", Key="sse-c", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
check("reads are not affected", s3.get_object(Bucket="enc", Key="sse-s3")["Body"].read() == b"x")
# multipart: the parts carry no SSE-S3 header; the upload's encryption counts
expect_error("AccessDenied", 403, s3.create_multipart_upload, Bucket="enc", Key="mp-plain")
up = s3.create_multipart_upload(Bucket="enc", Key="mp", ServerSideEncryption="AES256")
e1 = s3.upload_part(Bucket="enc", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 10)["ETag"]
s3.complete_multipart_upload(Bucket="enc", Key="mp", UploadId=up["UploadId"],
                             MultipartUpload={{"Parts": [{{"PartNumber": 1, "ETag": e1}}]}})
# copies are uploads too
expect_error("AccessDenied", 403, s3.copy_object, Bucket="enc", Key="copy", CopySource={{"Bucket": "enc", "Key": "sse-s3"}})
s3.copy_object(Bucket="enc", Key="copy", CopySource={{"Bucket": "enc", "Key": "sse-s3"}}, ServerSideEncryption="AES256")
# a bucket default does not put the header into the request (as in S3)
s3.put_bucket_encryption(Bucket="enc", ServerSideEncryptionConfiguration={{"Rules": [{{"ApplyServerSideEncryptionByDefault": {{"SSEAlgorithm": "AES256"}}}}]}})
expect_error("AccessDenied", 403, s3.put_object, Bucket="enc", Key="plain", Body=b"x")
# a policy that denies everything still lets the root user manage the policy
s3.put_bucket_policy(Bucket="enc", Policy=json.dumps({{"Version": "2012-10-17", "Statement": [
    {{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::enc", "arn:aws:s3:::enc/*"]}}]}}))
expect_error("AccessDenied", 403, s3.get_object, Bucket="enc", Key="sse-s3")
expect_error("AccessDenied", 403, s3.list_objects_v2, Bucket="enc")
expect_error("AccessDenied", 403, s3.delete_object, Bucket="enc", Key="sse-s3")
s3.get_bucket_policy(Bucket="enc")
s3.delete_bucket_policy(Bucket="enc")
expect_error("NoSuchBucketPolicy", 404, s3.get_bucket_policy, Bucket="enc")
check("open again", s3.get_object(Bucket="enc", Key="sse-s3")["Body"].read() == b"x")
s3.put_bucket_policy(Bucket="enc", Policy=POLICY)
"#
        ),
    );

    // The same with aws-cli.
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--no-verify-ssl", "--endpoint-url", url.as_str()];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    let file = env.path("home/file.txt");
    std::fs::write(&file, b"hello").unwrap();
    let f = file.to_str().unwrap();
    ok(&aws(&["s3api", "create-bucket", "--bucket", "enc2"]));
    let policy = ENFORCE.replace("arn:aws:s3:::enc/*", "arn:aws:s3:::enc2/*");
    ok(&aws(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        "enc2",
        "--policy",
        &policy,
    ]));
    fails_with(&aws(&["s3", "cp", f, "s3://enc2/plain"]), "AccessDenied");
    ok(&aws(&[
        "s3",
        "cp",
        f,
        "s3://enc2/sse-s3",
        "--sse",
        "AES256",
    ]));
    ok(&aws(&[
        "s3",
        "cp",
        f,
        "s3://enc2/sse-kms",
        "--sse",
        "aws:kms",
    ]));
    ok(&aws(&[
        "s3api",
        "put-object",
        "--bucket",
        "enc2",
        "--key",
        "sse-c",
        "--body",
        f,
        "--sse-customer-algorithm",
        "AES256",
        "--sse-customer-key",
        "MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0cHJvdmlkZWQ=",
        "--sse-customer-key-md5",
        "7PpPLAK26ONlVUGOWlusfg==",
    ]));
    fails_with(
        &aws(&[
            "s3api",
            "put-object",
            "--bucket",
            "enc2",
            "--key",
            "p",
            "--body",
            f,
        ]),
        "AccessDenied",
    );
    let listed = ok(&aws(&["s3api", "list-objects-v2", "--bucket", "enc2"]));
    assert!(listed.contains("sse-s3") && listed.contains("sse-kms") && listed.contains("sse-c"));
    assert!(
        !listed.contains("\"plain\"") && !listed.contains("\"p\""),
        "{listed}"
    );
    let got = ok(&aws(&["s3api", "get-bucket-policy", "--bucket", "enc2"]));
    assert!(got.contains("DenyUnencryptedUploads"), "{got}");
    drop(k);
}

#[test]
fn anonymous_access_public_access_block_and_conditions() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="pub")
s3.put_object(Bucket="pub", Key="public/a", Body=b"A")
s3.put_object(Bucket="pub", Key="private/b", Body=b"B")
# no policy: anonymous requests are denied, the bucket's existence is not revealed
expect_error("AccessDenied", 403, anon.get_object, Bucket="pub", Key="public/a")
expect_error("AccessDenied", 403, anon.get_object, Bucket="nonexistent", Key="x")
expect_error("AccessDenied", 403, anon.list_buckets)
expect_error("NoSuchBucketPolicy", 404, s3.get_bucket_policy_status, Bucket="pub")
public_read = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "PublicRead", "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
     "Resource": ["arn:aws:s3:::pub/public/*"]},
    {"Sid": "ListPublic", "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
     "Resource": "arn:aws:s3:::pub",
     "Condition": {"StringEquals": {"s3:prefix": "public/"}, "NumericLessThanEquals": {"s3:max-keys": 10}}}]})
s3.put_bucket_policy(Bucket="pub", Policy=public_read)
check("public", s3.get_bucket_policy_status(Bucket="pub")["PolicyStatus"]["IsPublic"] is True)
check("anonymous read", anon.get_object(Bucket="pub", Key="public/a")["Body"].read() == b"A")
check("anonymous head", anon.head_object(Bucket="pub", Key="public/a")["ContentLength"] == 1)
expect_error("AccessDenied", 403, anon.get_object, Bucket="pub", Key="private/b")
expect_error("AccessDenied", 403, anon.put_object, Bucket="pub", Key="public/new", Body=b"x")
expect_error("AccessDenied", 403, anon.delete_object, Bucket="pub", Key="public/a")
expect_error("AccessDenied", 403, anon.get_bucket_policy, Bucket="pub")
lst = anon.list_objects_v2(Bucket="pub", Prefix="public/", MaxKeys=5)
check("anonymous listing of the prefix", [o["Key"] for o in lst["Contents"]] == ["public/a"])
expect_error("AccessDenied", 403, anon.list_objects_v2, Bucket="pub", Prefix="public/", MaxKeys=50)
expect_error("AccessDenied", 403, anon.list_objects_v2, Bucket="pub")
# Public Access Block
s3.put_public_access_block(Bucket="pub", PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
pab = s3.get_public_access_block(Bucket="pub")["PublicAccessBlockConfiguration"]
check("pab stored", pab == {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": True}, pab)
expect_error("AccessDenied", 403, anon.get_object, Bucket="pub", Key="public/a")
check("root unaffected", s3.get_object(Bucket="pub", Key="public/a")["Body"].read() == b"A")
s3.put_public_access_block(Bucket="pub", PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
check("restriction lifted", anon.get_object(Bucket="pub", Key="public/a")["Body"].read() == b"A")
expect_error("AccessDenied", 403, s3.put_bucket_policy, Bucket="pub", Policy=public_read.replace("PublicRead", "Other"))
check("old policy kept", "PublicRead" in s3.get_bucket_policy(Bucket="pub")["Policy"])
only_local = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pub/*",
     "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}}]})
s3.put_bucket_policy(Bucket="pub", Policy=only_local)
check("source-limited policy is not public", s3.get_bucket_policy_status(Bucket="pub")["PolicyStatus"]["IsPublic"] is False)
check("anonymous from 127.0.0.1", anon.get_object(Bucket="pub", Key="private/b")["Body"].read() == b"B")
s3.delete_public_access_block(Bucket="pub")
expect_error("NoSuchPublicAccessBlockConfiguration", 404, s3.get_public_access_block, Bucket="pub")
not_local = only_local.replace("IpAddress", "NotIpAddress")
s3.put_bucket_policy(Bucket="pub", Policy=not_local)
expect_error("AccessDenied", 403, anon.get_object, Bucket="pub", Key="private/b")
# aws:SourceIp and aws:SecureTransport against the root user
deny_local = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pub/private/*",
     "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}},
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::pub/*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
s3.put_bucket_policy(Bucket="pub", Policy=deny_local)
expect_error("AccessDenied", 403, s3.get_object, Bucket="pub", Key="private/b")
check("TLS request passes", s3.get_object(Bucket="pub", Key="public/a")["Body"].read() == b"A")
# DeleteObjects: every key is checked; denied keys are per-key errors, the others deleted
s3.put_bucket_policy(Bucket="pub", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::pub/private/*"}]}))
r = s3.delete_objects(Bucket="pub", Delete={"Objects": [{"Key": "public/a"}, {"Key": "private/b"}]})
check("allowed key deleted", [d["Key"] for d in r["Deleted"]] == ["public/a"], r)
check("denied key reported", [(e["Key"], e["Code"]) for e in r["Errors"]] == [("private/b", "AccessDenied")], r)
check("denied key kept", [o["Key"] for o in s3.list_objects_v2(Bucket="pub")["Contents"]] == ["private/b"])
# bad policies
def malformed(policy, message):
    e = expect_error("MalformedPolicy", 400, s3.put_bucket_policy, Bucket="pub", Policy=policy)
    check(f"message {message}", e.response["Error"]["Message"] == message, e.response["Error"]["Message"])
malformed("not json", "Policies must be valid JSON and the first byte must be '{'")
malformed('{"Version": "2012-10-17"}', "Missing required field Statement")
stmt = lambda **kw: json.dumps({"Version": "2012-10-17", "Statement": [dict({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pub/*"}, **kw)]})
malformed(stmt(Action="s3:Teleport"), "Policy has invalid action")
malformed(stmt(Resource="arn:aws:s3:::elsewhere/*"), "Policy has invalid resource")
malformed(stmt(Principal={"Federated": "x"}), "Invalid principal in policy")
malformed(stmt(Condition={"StringEquals": {"s3:no-such-key": "x"}}), "Policy has an invalid condition key")
malformed(stmt(Resource="arn:aws:s3:::pub"), "Action does not apply to any resource(s) in statement")
expect_error("PolicyTooLarge", 400, s3.put_bucket_policy, Bucket="pub", Policy=stmt(Sid="x" * 21000))
expect_error("NoSuchBucket", 404, s3.put_bucket_policy, Bucket="nonexistent", Policy=stmt())
check("still the last good policy", "pub/private/*" in s3.get_bucket_policy(Bucket="pub")["Policy"])
"#,
    );

    // aws-cli without a signature.
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--no-verify-ssl", "--endpoint-url", url.as_str()];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    ok(&aws(&["s3api", "delete-bucket-policy", "--bucket", "pub"]));
    let out = env.path("home/out");
    let o = out.to_str().unwrap();
    let anon_get = |key: &str| {
        aws(&[
            "--no-sign-request",
            "s3api",
            "get-object",
            "--bucket",
            "pub",
            "--key",
            key,
            o,
        ])
    };
    fails_with(&anon_get("private/b"), "AccessDenied");
    ok(&aws(&[
        "s3api",
        "put-bucket-policy",
        "--bucket",
        "pub",
        "--policy",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/private/*"}]}"#,
    ]));
    ok(&anon_get("private/b"));
    assert_eq!(std::fs::read(&out).unwrap(), b"B");
    let status = ok(&aws(&[
        "s3api",
        "get-bucket-policy-status",
        "--bucket",
        "pub",
    ]));
    assert!(status.contains("\"IsPublic\": true"), "{status}");
}
