//! The per-bucket configuration cache seen from clients: a policy, Public Access Block or
//! versioning change through the server takes effect on the very next request; a bucket
//! deleted and recreated with the same name starts with no configuration; a policy file
//! changed behind the server's back is seen within the cache's TTL.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BOTO3_PRELUDE, Env, ok};

const ANON: &str = r#"
from botocore import UNSIGNED
anon = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                    config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
import json, time
def policy(bucket, effect="Allow", principal="*"):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Principal": principal, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]})
"#;

fn run(env: &Env, body: &str) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{ANON}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, &[]));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

#[test]
fn changes_take_effect_on_the_next_request() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="cfg")
s3.put_object(Bucket="cfg", Key="a", Body=b"A")
for round in range(5):
    # each read below comes right after the change, with the previous state freshly cached
    expect_error("AccessDenied", 403, anon.get_object, Bucket="cfg", Key="a")
    s3.put_bucket_policy(Bucket="cfg", Policy=policy("cfg"))
    check("public after put", anon.get_object(Bucket="cfg", Key="a")["Body"].read() == b"A")
    s3.put_public_access_block(Bucket="cfg", PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True})
    expect_error("AccessDenied", 403, anon.get_object, Bucket="cfg", Key="a")
    s3.delete_public_access_block(Bucket="cfg")
    check("public again", anon.get_object(Bucket="cfg", Key="a")["Body"].read() == b"A")
    s3.put_bucket_policy(Bucket="cfg", Policy=policy("cfg", "Deny", {"AWS": ["*"]}))
    expect_error("AccessDenied", 403, s3.get_object, Bucket="cfg", Key="a")
    s3.delete_bucket_policy(Bucket="cfg")
    check("owner reads again", s3.get_object(Bucket="cfg", Key="a")["Body"].read() == b"A")
check("unversioned", "VersionId" not in s3.put_object(Bucket="cfg", Key="v", Body=b"1"))
s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Enabled"})
check("versioned at once", s3.put_object(Bucket="cfg", Key="v", Body=b"2")["VersionId"] != "null")
s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Suspended"})
s3.put_object(Bucket="cfg", Key="v", Body=b"3")
vs = s3.list_object_versions(Bucket="cfg", Prefix="v")["Versions"]
latest = [v["VersionId"] for v in vs if v["IsLatest"]]
check("suspended at once: a null version", latest == ["null"] and len(vs) == 2, vs)
"#,
    );
}

#[test]
fn a_recreated_bucket_does_not_inherit_the_old_configuration() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="again", ObjectLockEnabledForBucket=True)
s3.put_bucket_policy(Bucket="again", Policy=policy("again"))
check("object lock", s3.get_object_lock_configuration(Bucket="again")["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled")
s3.put_bucket_acl(Bucket="again", ACL="public-read")
r = s3.put_object(Bucket="again", Key="a", Body=b"A")
check("versioned", r["VersionId"] != "null")
check("public", anon.get_object(Bucket="again", Key="a")["Body"].read() == b"A")
for v in s3.list_object_versions(Bucket="again").get("Versions", []):
    s3.delete_object(Bucket="again", Key=v["Key"], VersionId=v["VersionId"])
s3.delete_bucket(Bucket="again")
s3.create_bucket(Bucket="again")
s3.put_object(Bucket="again", Key="a", Body=b"B")
expect_error("AccessDenied", 403, anon.get_object, Bucket="again", Key="a")
expect_error("AccessDenied", 403, anon.list_objects_v2, Bucket="again")
expect_error("NoSuchBucketPolicy", 404, s3.get_bucket_policy, Bucket="again")
check("no versioning", "Status" not in s3.get_bucket_versioning(Bucket="again"))
check("unversioned put", "VersionId" not in s3.put_object(Bucket="again", Key="b", Body=b"b"))
expect_error("ObjectLockConfigurationNotFoundError", 404, s3.get_object_lock_configuration, Bucket="again")
"#,
    );
}

#[test]
fn a_policy_file_changed_behind_the_servers_back_is_seen_within_the_ttl() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="side")
s3.put_object(Bucket="side", Key="a", Body=b"A")
expect_error("AccessDenied", 403, anon.get_object, Bucket="side", Key="a")
"#,
    );
    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::side/*"}]}"#;
    std::fs::write(env.path("data/side/.config-policy"), policy).unwrap();
    run(
        &env,
        r#"
deadline = time.monotonic() + 10
while True:
    try:
        check("public", anon.get_object(Bucket="side", Key="a")["Body"].read() == b"A")
        break
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e
        assert time.monotonic() < deadline, "policy written behind the server's back never seen"
        time.sleep(0.05)
"#,
    );
}
