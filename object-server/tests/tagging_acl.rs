//! Object and bucket tagging, canned ACLs and ownership controls end to end with boto3 and
//! aws-cli against the real object server: tags on PUT, multipart, copy (COPY/REPLACE),
//! `x-amz-tagging-count`, S3's limits and messages; ACL grants stored and returned, public
//! ACLs opening anonymous reads, Public Access Block `BlockPublicAcls` / `IgnorePublicAcls`,
//! `BucketOwnerEnforced`.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BOTO3_PRELUDE, Env, fails_with, ok};

const ANON: &str = r#"
from botocore import UNSIGNED
anon = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                    config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                  # s3s decodes aws-chunked bodies of signed requests only
                                  request_checksum_calculation="when_required"))
"#;

fn run(env: &Env, body: &str) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{ANON}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, &[]));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

#[test]
fn object_and_bucket_tagging() {
    let env = Env::new(true);
    run(
        &env,
        r#"
KEY = b"0123456789abcdef0123456789abcdef"
s3.create_bucket(Bucket="tags")
tagset = lambda r: sorted((t["Key"], t["Value"]) for t in r["TagSet"])
s3.put_object(Bucket="tags", Key="a", Body=b"hello", Tagging="project=blue&cost%20center=a%26b")
check("tags from PUT", tagset(s3.get_object_tagging(Bucket="tags", Key="a")) == [("cost center", "a&b"), ("project", "blue")])
check("count on GET", s3.get_object(Bucket="tags", Key="a")["TagCount"] == 2)
h = s3.head_object(Bucket="tags", Key="a")
check("count on HEAD", h["ResponseMetadata"]["HTTPHeaders"].get("x-amz-tagging-count") == "2", h["ResponseMetadata"]["HTTPHeaders"])
s3.put_object_tagging(Bucket="tags", Key="a", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
check("replaced", tagset(s3.get_object_tagging(Bucket="tags", Key="a")) == [("k", "v")])
check("data untouched", s3.get_object(Bucket="tags", Key="a")["Body"].read() == b"hello")
# encrypted objects keep their data and key
s3.put_object(Bucket="tags", Key="c", Body=b"secret", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
s3.put_object_tagging(Bucket="tags", Key="c", Tagging={"TagSet": [{"Key": "x", "Value": "y"}]})
check("SSE-C object readable", s3.get_object(Bucket="tags", Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)["Body"].read() == b"secret")
# copy: COPY (default) and REPLACE
s3.copy_object(Bucket="tags", Key="copy1", CopySource={"Bucket": "tags", "Key": "a"})
check("copy keeps tags", tagset(s3.get_object_tagging(Bucket="tags", Key="copy1")) == [("k", "v")])
s3.copy_object(Bucket="tags", Key="copy2", CopySource={"Bucket": "tags", "Key": "a"}, TaggingDirective="REPLACE", Tagging="n=1")
check("copy replaces tags", tagset(s3.get_object_tagging(Bucket="tags", Key="copy2")) == [("n", "1")])
s3.copy_object(Bucket="tags", Key="copy3", CopySource={"Bucket": "tags", "Key": "a"}, TaggingDirective="REPLACE")
check("copy drops tags", s3.get_object_tagging(Bucket="tags", Key="copy3")["TagSet"] == [])
check("no count without tags", "TagCount" not in s3.get_object(Bucket="tags", Key="copy3"))
# multipart
up = s3.create_multipart_upload(Bucket="tags", Key="mp", Tagging="m=p")
e = s3.upload_part(Bucket="tags", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"z")["ETag"]
s3.complete_multipart_upload(Bucket="tags", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
check("multipart tags", tagset(s3.get_object_tagging(Bucket="tags", Key="mp")) == [("m", "p")])
# a new PUT has its own tags
s3.put_object(Bucket="tags", Key="a", Body=b"new")
check("overwrite clears tags", s3.get_object_tagging(Bucket="tags", Key="a")["TagSet"] == [])
s3.delete_object_tagging(Bucket="tags", Key="copy2")
check("deleted", s3.get_object_tagging(Bucket="tags", Key="copy2")["TagSet"] == [])
# limits and messages
def invalid(message, fn, **kw):
    e = expect_error("InvalidTag", 400, fn, **kw)
    check(message, e.response["Error"]["Message"] == message, e.response["Error"]["Message"])
eleven = {"TagSet": [{"Key": f"k{i}", "Value": ""} for i in range(11)]}
invalid("Object tags cannot be greater than 10", s3.put_object_tagging, Bucket="tags", Key="a", Tagging=eleven)
invalid("The TagKey you have provided is invalid", s3.put_object_tagging, Bucket="tags", Key="a", Tagging={"TagSet": [{"Key": "k" * 129, "Value": ""}]})
invalid("The TagValue you have provided is invalid", s3.put_object_tagging, Bucket="tags", Key="a", Tagging={"TagSet": [{"Key": "k", "Value": "v" * 257}]})
invalid("Cannot provide multiple Tags with the same key", s3.put_object_tagging, Bucket="tags", Key="a", Tagging={"TagSet": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]})
invalid("Cannot provide multiple Tags with the same key", s3.put_object, Bucket="tags", Key="dup", Body=b"x", Tagging="a=1&a=2")
check("refused PUT stores nothing", "dup" not in [o["Key"] for o in s3.list_objects_v2(Bucket="tags")["Contents"]])
s3.put_object_tagging(Bucket="tags", Key="a", Tagging={"TagSet": [{"Key": "é" * 128, "Value": "ü" * 256}]})
expect_error("NoSuchKey", 404, s3.get_object_tagging, Bucket="tags", Key="missing")
expect_error("NoSuchKey", 404, s3.put_object_tagging, Bucket="tags", Key="missing", Tagging={"TagSet": []})
# bucket tagging
expect_error("NoSuchTagSet", 404, s3.get_bucket_tagging, Bucket="tags")
s3.put_bucket_tagging(Bucket="tags", Tagging={"TagSet": [{"Key": "team", "Value": "storage"}]})
check("bucket tags", tagset(s3.get_bucket_tagging(Bucket="tags")) == [("team", "storage")])
s3.delete_bucket_tagging(Bucket="tags")
expect_error("NoSuchTagSet", 404, s3.get_bucket_tagging, Bucket="tags")
"#,
    );
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--no-verify-ssl", "--endpoint-url", url.as_str()];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    ok(&aws(&[
        "s3api",
        "put-object-tagging",
        "--bucket",
        "tags",
        "--key",
        "mp",
        "--tagging",
        "TagSet=[{Key=cli,Value=yes}]",
    ]));
    let got = ok(&aws(&[
        "s3api",
        "get-object-tagging",
        "--bucket",
        "tags",
        "--key",
        "mp",
    ]));
    assert!(got.contains("\"cli\"") && got.contains("\"yes\""), "{got}");
    fails_with(
        &aws(&[
            "s3api",
            "put-bucket-tagging",
            "--bucket",
            "tags",
            "--tagging",
            "TagSet=[{Key=a,Value=1},{Key=a,Value=2}]",
        ]),
        "InvalidTag",
    );
}

#[test]
fn canned_acls_and_ownership_controls() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="acl")
acl = s3.get_bucket_acl(Bucket="acl")
check("private by default", [(g["Grantee"]["Type"], g["Permission"]) for g in acl["Grants"]] == [("CanonicalUser", "FULL_CONTROL")] and acl["Owner"]["ID"], acl)
s3.put_object(Bucket="acl", Key="open", Body=b"O", ACL="public-read")
s3.put_object(Bucket="acl", Key="closed", Body=b"C")
g = s3.get_object_acl(Bucket="acl", Key="open")["Grants"]
check("public-read grants", sorted((x["Grantee"].get("URI", "owner"), x["Permission"]) for x in g) ==
      [("http://acs.amazonaws.com/groups/global/AllUsers", "READ"), ("owner", "FULL_CONTROL")], g)
check("anonymous read of a public-read object", anon.get_object(Bucket="acl", Key="open")["Body"].read() == b"O")
expect_error("AccessDenied", 403, anon.get_object, Bucket="acl", Key="closed")
expect_error("AccessDenied", 403, anon.list_objects_v2, Bucket="acl")
s3.put_object_acl(Bucket="acl", Key="closed", ACL="public-read")
check("PutObjectAcl opens it", anon.get_object(Bucket="acl", Key="closed")["Body"].read() == b"C")
s3.put_object_acl(Bucket="acl", Key="closed", ACL="private")
expect_error("AccessDenied", 403, anon.get_object, Bucket="acl", Key="closed")
# bucket ACLs
s3.put_bucket_acl(Bucket="acl", ACL="public-read")
check("anonymous listing", [o["Key"] for o in anon.list_objects_v2(Bucket="acl")["Contents"]] == ["closed", "open"])
expect_error("AccessDenied", 403, anon.put_object, Bucket="acl", Key="w", Body=b"x")
s3.put_bucket_acl(Bucket="acl", ACL="public-read-write")
anon.put_object(Bucket="acl", Key="w", Body=b"x")
owner = acl["Owner"]
s3.put_bucket_acl(Bucket="acl", AccessControlPolicy={"Owner": owner, "Grants": [
    {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
    {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}]})
g = s3.get_bucket_acl(Bucket="acl")["Grants"]
check("explicit grants stored", len(g) == 2 and g[1]["Permission"] == "READ", g)
expect_error("AccessDenied", 403, anon.put_object, Bucket="acl", Key="w2", Body=b"x")
expect_error("InvalidArgument", 400, s3.put_bucket_acl, Bucket="acl", AccessControlPolicy={"Owner": owner, "Grants": [
    {"Grantee": {"Type": "CanonicalUser", "ID": "someone-else"}, "Permission": "READ"}]})
# Public Access Block
s3.put_public_access_block(Bucket="acl", PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
expect_error("AccessDenied", 403, anon.get_object, Bucket="acl", Key="open")
s3.put_public_access_block(Bucket="acl", PublicAccessBlockConfiguration={"BlockPublicAcls": True})
check("grants count again", anon.get_object(Bucket="acl", Key="open")["Body"].read() == b"O")
expect_error("AccessDenied", 403, s3.put_object_acl, Bucket="acl", Key="closed", ACL="public-read")
expect_error("AccessDenied", 403, s3.put_object, Bucket="acl", Key="new", Body=b"x", ACL="public-read")
s3.put_object(Bucket="acl", Key="new", Body=b"x", ACL="private")
s3.delete_public_access_block(Bucket="acl")
# ownership controls
expect_error("OwnershipControlsNotFoundError", 404, s3.get_bucket_ownership_controls, Bucket="acl")
s3.put_bucket_ownership_controls(Bucket="acl", OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
check("ownership stored", s3.get_bucket_ownership_controls(Bucket="acl")["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}])
expect_error("AccessDenied", 403, anon.get_object, Bucket="acl", Key="open")
expect_error("AccessControlListNotSupported", 400, s3.put_object, Bucket="acl", Key="x", Body=b"x", ACL="public-read")
expect_error("AccessControlListNotSupported", 400, s3.put_bucket_acl, Bucket="acl", ACL="public-read")
s3.put_object(Bucket="acl", Key="x", Body=b"x", ACL="bucket-owner-full-control")
s3.delete_bucket_ownership_controls(Bucket="acl")
check("ACLs back", anon.get_object(Bucket="acl", Key="open")["Body"].read() == b"O")
s3.create_bucket(Bucket="enforced", ObjectOwnership="BucketOwnerEnforced")
expect_error("AccessControlListNotSupported", 400, s3.put_object, Bucket="enforced", Key="x", Body=b"x", ACL="public-read")
s3.create_bucket(Bucket="born-public", ACL="public-read")
s3.put_object(Bucket="born-public", Key="k", Body=b"K")
check("CreateBucket x-amz-acl", anon.list_objects_v2(Bucket="born-public")["KeyCount"] == 1)
expect_error("AccessDenied", 403, anon.get_object, Bucket="born-public", Key="k")
# copy gets the request's ACL, not the source's
s3.copy_object(Bucket="acl", Key="copy", CopySource={"Bucket": "acl", "Key": "open"})
expect_error("AccessDenied", 403, anon.get_object, Bucket="acl", Key="copy")
s3.copy_object(Bucket="acl", Key="copy", CopySource={"Bucket": "acl", "Key": "open"}, ACL="public-read")
check("copy with ACL", anon.get_object(Bucket="acl", Key="copy")["Body"].read() == b"O")
"#,
    );
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--no-verify-ssl", "--endpoint-url", url.as_str()];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    ok(&aws(&[
        "s3api",
        "put-object-acl",
        "--bucket",
        "acl",
        "--key",
        "closed",
        "--acl",
        "public-read",
    ]));
    let got = ok(&aws(&[
        "s3api",
        "get-object-acl",
        "--bucket",
        "acl",
        "--key",
        "closed",
    ]));
    assert!(
        got.contains("AllUsers") && got.contains("\"READ\""),
        "{got}"
    );
    let out = env.path("home/out");
    ok(&aws(&[
        "--no-sign-request",
        "s3api",
        "get-object",
        "--bucket",
        "acl",
        "--key",
        "closed",
        out.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&out).unwrap(), b"C");
}

/// An SSE-C key rotation (a copy of an object onto itself under a new customer key) takes its
/// tags and ACL from the request like any copy: a public-read object copied with the default
/// (private) ACL is no longer readable anonymously, and `TaggingDirective=REPLACE` replaces the
/// tags. Both are readable only with the new key afterwards.
#[test]
fn sse_c_key_rotation_takes_tags_and_acl_from_the_request() {
    let env = Env::new(true);
    run(
        &env,
        r#"
OLD = b"0123456789abcdef0123456789abcdef"
NEW = b"fedcba9876543210fedcba9876543210"
s3.create_bucket(Bucket="rot")
s3.put_public_access_block(Bucket="rot", PublicAccessBlockConfiguration={
    "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
s3.put_object(Bucket="rot", Key="o", Body=b"data", ACL="public-read", Tagging="a=1",
              SSECustomerAlgorithm="AES256", SSECustomerKey=OLD)
def public():
    try:
        anon.head_object(Bucket="rot", Key="o")
        return True
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"] != 403
check("public-read before", public())
s3.copy_object(Bucket="rot", Key="o", CopySource={"Bucket": "rot", "Key": "o"},
               CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=OLD,
               SSECustomerAlgorithm="AES256", SSECustomerKey=NEW,
               TaggingDirective="REPLACE", Tagging="b=2")
check("private after the rotation", not public())
tags = s3.get_object_tagging(Bucket="rot", Key="o")["TagSet"]
check("tags replaced", tags == [{"Key": "b", "Value": "2"}], tags)
check("readable with the new key", s3.get_object(Bucket="rot", Key="o", SSECustomerAlgorithm="AES256", SSECustomerKey=NEW)["Body"].read() == b"data")
expect_error("AccessDenied", 403, s3.get_object, Bucket="rot", Key="o", SSECustomerAlgorithm="AES256", SSECustomerKey=OLD)
"#,
    );
}
