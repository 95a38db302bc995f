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

#[test]
fn version_actions_lock_visibility_and_partial_denials() {
    let env = Env::new(true);
    run(
        &env,
        r#"
def policy(bucket, *statements):
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": e, "Principal": "*", "Action": a, "Resource": f"arn:aws:s3:::{bucket}/*"} for e, a in statements]}))
s3.create_bucket(Bucket="ver")
s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
v1 = s3.put_object(Bucket="ver", Key="k", Body=b"one")["VersionId"]
v2 = s3.put_object(Bucket="ver", Key="k", Body=b"two")["VersionId"]

# GET/HEAD with versionId are s3:GetObjectVersion
policy("ver", ("Allow", "s3:GetObject"))
check("anonymous current", anon.get_object(Bucket="ver", Key="k")["Body"].read() == b"two")
expect_error("AccessDenied", 403, anon.get_object, Bucket="ver", Key="k", VersionId=v1)
expect_error("403", 403, anon.head_object, Bucket="ver", Key="k", VersionId=v1)
policy("ver", ("Allow", "s3:GetObjectVersion"))
check("GetObjectVersion reads a version", anon.get_object(Bucket="ver", Key="k", VersionId=v1)["Body"].read() == b"one")
check("HEAD of a version", anon.head_object(Bucket="ver", Key="k", VersionId=v1)["ContentLength"] == 3)
expect_error("AccessDenied", 403, anon.get_object, Bucket="ver", Key="k")
# the version's own ACL opens it, not the current version's
s3.delete_bucket_policy(Bucket="ver")
s3.put_object_acl(Bucket="ver", Key="k", VersionId=v1, ACL="public-read")
check("version ACL", anon.get_object(Bucket="ver", Key="k", VersionId=v1)["Body"].read() == b"one")
expect_error("AccessDenied", 403, anon.get_object, Bucket="ver", Key="k")
expect_error("AccessDenied", 403, anon.get_object, Bucket="ver", Key="k", VersionId=v2)

# tagging / ACL with versionId: the Version actions; without: the plain ones (root denied by policy)
TAGS = {"TagSet": [{"Key": "a", "Value": "b"}]}
policy("ver", ("Deny", "s3:PutObjectVersionTagging"), ("Deny", "s3:GetObjectVersionTagging"),
       ("Deny", "s3:DeleteObjectVersionTagging"), ("Deny", "s3:PutObjectVersionAcl"), ("Deny", "s3:GetObjectVersionAcl"))
expect_error("AccessDenied", 403, s3.put_object_tagging, Bucket="ver", Key="k", VersionId=v1, Tagging=TAGS)
expect_error("AccessDenied", 403, s3.get_object_tagging, Bucket="ver", Key="k", VersionId=v1)
expect_error("AccessDenied", 403, s3.delete_object_tagging, Bucket="ver", Key="k", VersionId=v1)
expect_error("AccessDenied", 403, s3.put_object_acl, Bucket="ver", Key="k", VersionId=v1, ACL="private")
expect_error("AccessDenied", 403, s3.get_object_acl, Bucket="ver", Key="k", VersionId=v1)
s3.put_object_tagging(Bucket="ver", Key="k", Tagging=TAGS)
check("plain tagging allowed", s3.get_object_tagging(Bucket="ver", Key="k")["TagSet"] == TAGS["TagSet"])
s3.delete_object_tagging(Bucket="ver", Key="k")
s3.put_object_acl(Bucket="ver", Key="k", ACL="private")
check("plain ACL allowed", len(s3.get_object_acl(Bucket="ver", Key="k")["Grants"]) == 1)
policy("ver", ("Deny", "s3:PutObjectTagging"), ("Deny", "s3:GetObjectTagging"), ("Deny", "s3:PutObjectAcl"), ("Deny", "s3:GetObjectAcl"))
s3.put_object_tagging(Bucket="ver", Key="k", VersionId=v1, Tagging=TAGS)
check("version tagging allowed", s3.get_object_tagging(Bucket="ver", Key="k", VersionId=v1)["TagSet"] == TAGS["TagSet"])
check("version ACL allowed", len(s3.get_object_acl(Bucket="ver", Key="k", VersionId=v1)["Grants"]) == 2)
expect_error("AccessDenied", 403, s3.get_object_tagging, Bucket="ver", Key="k")
# CopyObject from a named source version needs s3:GetObjectVersion on the source
policy("ver", ("Deny", "s3:GetObjectVersion"))
expect_error("AccessDenied", 403, s3.copy_object, Bucket="ver", Key="c", CopySource={"Bucket": "ver", "Key": "k", "VersionId": v1})
s3.copy_object(Bucket="ver", Key="c", CopySource={"Bucket": "ver", "Key": "k"})
expect_error("AccessDenied", 403, s3.get_object, Bucket="ver", Key="k", VersionId=v1)
# DeleteObject with versionId is s3:DeleteObjectVersion
policy("ver", ("Deny", "s3:DeleteObjectVersion"))
expect_error("AccessDenied", 403, s3.delete_object, Bucket="ver", Key="k", VersionId=v1)
check("marker allowed", s3.delete_object(Bucket="ver", Key="k")["DeleteMarker"] is True)
# DeleteObjects: denied entries are per-key AccessDenied errors, the others are deleted
s3.put_object(Bucket="ver", Key="other", Body=b"o")
r = s3.delete_objects(Bucket="ver", Delete={"Objects": [{"Key": "k", "VersionId": v1}, {"Key": "other"}, {"Key": "c", "VersionId": "null"}]})
check("plain key deleted", [d["Key"] for d in r["Deleted"]] == ["other"], r)
check("versions denied", sorted((e["Key"], e["Code"], e.get("VersionId")) for e in r["Errors"]) == [("c", "AccessDenied", "null"), ("k", "AccessDenied", v1)], r)
check("denied version kept", v1 in [v["VersionId"] for v in s3.list_object_versions(Bucket="ver")["Versions"]])
policy("ver", ("Deny", "s3:DeleteObject"))
r = s3.delete_objects(Bucket="ver", Delete={"Objects": [{"Key": "k", "VersionId": v1}, {"Key": "c"}]})
check("version delete allowed", [d["Key"] for d in r["Deleted"]] == ["k"] and [e["Key"] for e in r["Errors"]] == ["c"], r)
r = s3.delete_objects(Bucket="ver", Delete={"Objects": [{"Key": "c"}], "Quiet": True})
check("quiet still reports denials", [e["Code"] for e in r["Errors"]] == ["AccessDenied"] and not r.get("Deleted"), r)
s3.delete_bucket_policy(Bucket="ver")
expect_error("AccessDenied", 403, anon.delete_objects, Bucket="no-such-bucket", Delete={"Objects": [{"Key": "a"}]})
# More than S3's 1000 entries is refused before any entry is checked, for anyone
many = {"Objects": [{"Key": f"k{i}"} for i in range(1001)]}
expect_error("MalformedXML", 400, s3.delete_objects, Bucket="ver", Delete=many)
expect_error("MalformedXML", 400, anon.delete_objects, Bucket="ver", Delete=many)

# object-lock headers on GET/HEAD only with s3:GetObjectRetention / s3:GetObjectLegalHold
import datetime
until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
s3.create_bucket(Bucket="lockv", ObjectLockEnabledForBucket=True)
s3.put_object(Bucket="lockv", Key="k", Body=b"L", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
lock = lambda h: (h.get("ObjectLockMode"), "ObjectLockRetainUntilDate" in h, h.get("ObjectLockLegalHoldStatus"))
check("owner sees all", lock(s3.head_object(Bucket="lockv", Key="k")) == ("GOVERNANCE", True, "ON"))
policy("lockv", ("Allow", "s3:GetObject"))
check("anonymous HEAD: none", lock(anon.head_object(Bucket="lockv", Key="k")) == (None, False, None))
check("anonymous GET: none", lock(anon.get_object(Bucket="lockv", Key="k")) == (None, False, None))
policy("lockv", ("Allow", "s3:GetObject"), ("Allow", "s3:GetObjectRetention"))
check("retention only", lock(anon.head_object(Bucket="lockv", Key="k")) == ("GOVERNANCE", True, None))
policy("lockv", ("Allow", "s3:GetObject"), ("Allow", "s3:GetObjectLegalHold"))
check("legal hold only", lock(anon.get_object(Bucket="lockv", Key="k")) == (None, False, "ON"))
policy("lockv", ("Deny", "s3:GetObjectRetention"))
check("owner denied retention", lock(s3.get_object(Bucket="lockv", Key="k")) == (None, False, "ON"))
s3.delete_bucket_policy(Bucket="lockv")
"#,
    );
}

#[test]
fn object_lock_uploads_need_an_integrity_header() {
    let env = Env::new(true);
    run(
        &env,
        r#"
import datetime
until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
MSG = "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"
md5 = lambda b: base64.b64encode(hashlib.md5(b).digest()).decode()
def refused(fn, **kw):
    e = expect_error("InvalidRequest", 400, fn, **kw)
    check("message", e.response["Error"]["Message"] == MSG, e.response)
s3.create_bucket(Bucket="lkb", ObjectLockEnabledForBucket=True)
# lock headers without any checksum
refused(bare.put_object, Bucket="lkb", Key="a", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
refused(bare.put_object, Bucket="lkb", Key="a", Body=b"x", ObjectLockLegalHoldStatus="OFF")
expect_error("NoSuchKey", 404, s3.get_object, Bucket="lkb", Key="a")
bare.put_object(Bucket="lkb", Key="a", Body=b"x", ObjectLockLegalHoldStatus="ON", ContentMD5=md5(b"x"))
bare.put_object(Bucket="lkb", Key="b", Body=b"x", ObjectLockLegalHoldStatus="ON", ChecksumSHA256=base64.b64encode(hashlib.sha256(b"x").digest()).decode())
s3.put_object(Bucket="lkb", Key="c", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
check("stored", [o["Key"] for o in s3.list_objects_v2(Bucket="lkb")["Contents"]] == ["a", "b", "c"])
bare.put_object(Bucket="lkb", Key="plain", Body=b"x")
# a default retention makes every upload a lock upload
s3.put_object_lock_configuration(Bucket="lkb", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
refused(bare.put_object, Bucket="lkb", Key="d", Body=b"x")
bare.put_object(Bucket="lkb", Key="d", Body=b"x", ContentMD5=md5(b"x"))
check("default retention applied", s3.head_object(Bucket="lkb", Key="d")["ObjectLockMode"] == "GOVERNANCE")
up = s3.create_multipart_upload(Bucket="lkb", Key="mp")
refused(bare.upload_part, Bucket="lkb", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
e = bare.upload_part(Bucket="lkb", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p", ContentMD5=md5(b"p"))["ETag"]
s3.complete_multipart_upload(Bucket="lkb", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
check("multipart locked", s3.head_object(Bucket="lkb", Key="mp")["ObjectLockMode"] == "GOVERNANCE")
# multipart uploads created with lock headers, in a bucket without default retention
s3.put_object_lock_configuration(Bucket="lkb", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
up = s3.create_multipart_upload(Bucket="lkb", Key="mp2", ObjectLockLegalHoldStatus="ON")
refused(bare.upload_part, Bucket="lkb", Key="mp2", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
s3.upload_part(Bucket="lkb", Key="mp2", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
up = s3.create_multipart_upload(Bucket="lkb", Key="mp3")
bare.upload_part(Bucket="lkb", Key="mp3", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
"#,
    );
}
