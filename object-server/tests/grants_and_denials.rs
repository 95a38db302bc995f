//! The rest of issue 17's S3 surface end to end with boto3 and aws-cli against the real object
//! server: `x-amz-grant-*` headers on every operation that takes them (stored, returned by
//! Get*Acl, opening anonymous access like canned ACLs, refused as S3 refuses them).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BOTO3_PRELUDE, Env, fails_with, ok};

/// Prelude addition: an unsigned client and a client that sends no flexible checksum.
const CLIENTS: &str = r#"
import json
from botocore import UNSIGNED
anon = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                    config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                  request_checksum_calculation="when_required"))
bare = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                  request_checksum_calculation="when_required"))
ALL = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG = "http://acs.amazonaws.com/groups/s3/LogDelivery"
def grants(acl):
    return sorted((g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"])
"#;

fn run(env: &Env, body: &str) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{CLIENTS}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, &[]));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

#[test]
fn grant_headers() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="grt", GrantRead=f'uri="{ALL}"', GrantWriteACP=f'uri="{LOG}"')
OWNER = s3.get_bucket_acl(Bucket="grt")["Owner"]["ID"]
check("CreateBucket grants", grants(s3.get_bucket_acl(Bucket="grt")) == sorted([(ALL, "READ"), (LOG, "WRITE_ACP")]), s3.get_bucket_acl(Bucket="grt"))
check("bucket READ to AllUsers lists anonymously", anon.list_objects_v2(Bucket="grt")["KeyCount"] == 0)
s3.put_bucket_acl(Bucket="grt", GrantFullControl=f'id="{OWNER}"', GrantRead=f'uri="{AUTH}"')
check("PutBucketAcl grants", grants(s3.get_bucket_acl(Bucket="grt")) == sorted([(OWNER, "FULL_CONTROL"), (AUTH, "READ")]))
expect_error("AccessDenied", 403, anon.list_objects_v2, Bucket="grt")
# objects: PutObject, CopyObject, CreateMultipartUpload, PutObjectAcl
s3.put_object(Bucket="grt", Key="p", Body=b"P", GrantRead=f'uri="{ALL}"', GrantFullControl=f'id="{OWNER}"')
check("PutObject grants", grants(s3.get_object_acl(Bucket="grt", Key="p")) == sorted([(OWNER, "FULL_CONTROL"), (ALL, "READ")]))
check("object READ to AllUsers reads anonymously", anon.get_object(Bucket="grt", Key="p")["Body"].read() == b"P")
s3.put_object(Bucket="grt", Key="q", Body=b"Q", GrantReadACP=f'uri="{ALL}"')
check("only the grants given (no implicit owner grant)", grants(s3.get_object_acl(Bucket="grt", Key="q")) == [(ALL, "READ_ACP")])
expect_error("AccessDenied", 403, anon.get_object, Bucket="grt", Key="q")
check("READ_ACP to AllUsers: anonymous GetObjectAcl", grants(anon.get_object_acl(Bucket="grt", Key="q")) == [(ALL, "READ_ACP")])
s3.copy_object(Bucket="grt", Key="c", CopySource={"Bucket": "grt", "Key": "q"}, GrantRead=f'uri="{ALL}", id="{OWNER}"')
check("CopyObject grants", grants(s3.get_object_acl(Bucket="grt", Key="c")) == sorted([(ALL, "READ"), (OWNER, "READ")]))
check("copy readable anonymously", anon.get_object(Bucket="grt", Key="c")["Body"].read() == b"Q")
up = s3.create_multipart_upload(Bucket="grt", Key="mp", GrantRead=f'uri="{ALL}"')
e = s3.upload_part(Bucket="grt", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"M")["ETag"]
s3.complete_multipart_upload(Bucket="grt", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
check("CreateMultipartUpload grants", anon.get_object(Bucket="grt", Key="mp")["Body"].read() == b"M")
s3.put_object_acl(Bucket="grt", Key="q", GrantRead=f'uri="{ALL}"')
check("PutObjectAcl grants", anon.get_object(Bucket="grt", Key="q")["Body"].read() == b"Q")
s3.put_object_acl(Bucket="grt", Key="q", GrantFullControl=f'id="{OWNER}"')
expect_error("AccessDenied", 403, anon.get_object, Bucket="grt", Key="q")
# refusals, as S3
e = expect_error("InvalidRequest", 400, s3.put_object, Bucket="grt", Key="x", Body=b"x", ACL="private", GrantRead=f'uri="{ALL}"')
check("canned + grant message", e.response["Error"]["Message"] == "Specifying both Canned ACLs and Header Grants is not allowed", e.response)
expect_error("InvalidRequest", 400, s3.put_bucket_acl, Bucket="grt", ACL="private", GrantRead=f'uri="{ALL}"')
expect_error("InvalidRequest", 400, s3.create_bucket, Bucket="grt2", ACL="private", GrantRead=f'uri="{ALL}"')
expect_error("404", 404, s3.head_bucket, Bucket="grt2")
expect_error("UnresolvableGrantByEmailAddress", 400, s3.put_object, Bucket="grt", Key="x", Body=b"x", GrantRead='emailAddress="someone@example.com"')
expect_error("UnresolvableGrantByEmailAddress", 400, s3.put_object_acl, Bucket="grt", Key="p", AccessControlPolicy={"Owner": {"ID": OWNER}, "Grants": [
    {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "someone@example.com"}, "Permission": "READ"}]})
expect_error("InvalidArgument", 400, s3.put_object_acl, Bucket="grt", Key="p", GrantRead='id="not-an-account-here"')
expect_error("InvalidArgument", 400, s3.put_object_acl, Bucket="grt", Key="p", GrantRead='uri="http://example.com/group"')
expect_error("InvalidArgument", 400, s3.put_object_acl, Bucket="grt", Key="p", GrantRead='nonsense')
check("refused PUTs stored nothing", sorted(o["Key"] for o in s3.list_objects_v2(Bucket="grt")["Contents"]) == ["c", "mp", "p", "q"])
check("refused ACL changes kept the ACL", anon.get_object(Bucket="grt", Key="p")["Body"].read() == b"P")
# Public Access Block and ownership controls apply as for canned ACLs
s3.put_public_access_block(Bucket="grt", PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
expect_error("AccessDenied", 403, anon.get_object, Bucket="grt", Key="p")
s3.put_public_access_block(Bucket="grt", PublicAccessBlockConfiguration={"BlockPublicAcls": True})
check("grants count again", anon.get_object(Bucket="grt", Key="p")["Body"].read() == b"P")
expect_error("AccessDenied", 403, s3.put_object_acl, Bucket="grt", Key="q", GrantRead=f'uri="{ALL}"')
expect_error("AccessDenied", 403, s3.put_object, Bucket="grt", Key="x", Body=b"x", GrantRead=f'uri="{AUTH}"')
s3.put_object(Bucket="grt", Key="x", Body=b"x", GrantRead=f'uri="{LOG}"')
s3.delete_public_access_block(Bucket="grt")
s3.put_bucket_ownership_controls(Bucket="grt", OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
expect_error("AccessControlListNotSupported", 400, s3.put_object, Bucket="grt", Key="y", Body=b"y", GrantRead=f'uri="{ALL}"')
expect_error("AccessControlListNotSupported", 400, s3.put_bucket_acl, Bucket="grt", GrantRead=f'uri="{ALL}"')
s3.put_object(Bucket="grt", Key="y", Body=b"y", GrantFullControl=f'id="{OWNER}"')
expect_error("AccessDenied", 403, anon.get_object, Bucket="grt", Key="p")
expect_error("AccessControlListNotSupported", 400, s3.create_bucket, Bucket="grt3", ObjectOwnership="BucketOwnerEnforced", GrantRead=f'uri="{ALL}"')
"#,
    );
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--no-verify-ssl", "--endpoint-url", url.as_str()];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    ok(&aws(&["s3api", "create-bucket", "--bucket", "cli"]));
    ok(&aws(&[
        "s3api",
        "put-bucket-acl",
        "--bucket",
        "cli",
        "--grant-read",
        "uri=http://acs.amazonaws.com/groups/global/AllUsers",
    ]));
    let got = ok(&aws(&["s3api", "get-bucket-acl", "--bucket", "cli"]));
    assert!(
        got.contains("AllUsers") && got.contains("\"READ\""),
        "{got}"
    );
    fails_with(
        &aws(&[
            "s3api",
            "put-bucket-acl",
            "--bucket",
            "cli",
            "--grant-read",
            "emailAddress=a@example.com",
        ]),
        "UnresolvableGrantByEmailAddress",
    );
}
