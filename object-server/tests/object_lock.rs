//! S3 Object Lock end to end: the real binary over HTTPS driven by boto3 and aws-cli. Bucket
//! object-lock configuration (at creation and on a versioned bucket), retention and legal hold
//! per version, the lock headers on PUT / copy / multipart, the bucket default retention,
//! COMPLIANCE versions that even the root user cannot delete or shorten, GOVERNANCE versions
//! deleted with the bypass (and refused when a bucket policy denies it), legal holds,
//! DeleteObjects per key, and retention that runs out.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BOTO3_PRELUDE, Env, fails_with, ok};

const LOCK_PRELUDE: &str = r#"
import datetime, json, time
def future(**kw):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**kw)
def close(a, b, seconds=5):
    return abs((a - b).total_seconds()) <= seconds
"#;

fn run(env: &Env, body: &str) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{LOCK_PRELUDE}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, &[]));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

#[test]
fn bucket_configuration_with_boto3() {
    let env = Env::new(true);
    run(
        &env,
        r#"
# Created with object lock: versioning is on for good, no default rule yet.
s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
check("versioning enabled", s3.get_bucket_versioning(Bucket="locked")["Status"] == "Enabled")
cfg = s3.get_object_lock_configuration(Bucket="locked")["ObjectLockConfiguration"]
check("enabled, no rule", cfg == {"ObjectLockEnabled": "Enabled"}, cfg)
expect_error("InvalidBucketState", 409, s3.put_bucket_versioning, Bucket="locked",
             VersioningConfiguration={"Status": "Suspended"})
s3.put_bucket_versioning(Bucket="locked", VersioningConfiguration={"Status": "Enabled"})

# Default retention: set, read back, replaced, removed.
s3.put_object_lock_configuration(Bucket="locked", ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 3}}})
rule = s3.get_object_lock_configuration(Bucket="locked")["ObjectLockConfiguration"]["Rule"]
check("rule stored", rule == {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 3}}, rule)
s3.put_object_lock_configuration(Bucket="locked", ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}})
rule = s3.get_object_lock_configuration(Bucket="locked")["ObjectLockConfiguration"]["Rule"]
check("rule replaced", rule == {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}, rule)
s3.put_object_lock_configuration(Bucket="locked", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
check("rule removed", "Rule" not in s3.get_object_lock_configuration(Bucket="locked")["ObjectLockConfiguration"])

# Bad documents.
for bad in ({"Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}},
            {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}},
            {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE"}}},
            {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Days": 1}}},
            {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "FOREVER", "Days": 1}}},
            {"ObjectLockEnabled": "Enabled", "Rule": {}}):
    expect_error("MalformedXML", 400, s3.put_object_lock_configuration, Bucket="locked", ObjectLockConfiguration=bad)
for bad in ({"Mode": "GOVERNANCE", "Days": 0}, {"Mode": "COMPLIANCE", "Years": -2}, {"Mode": "COMPLIANCE", "Days": 40000}):
    expect_error("InvalidArgument", 400, s3.put_object_lock_configuration, Bucket="locked",
                 ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": bad}})
check("still no rule", "Rule" not in s3.get_object_lock_configuration(Bucket="locked")["ObjectLockConfiguration"])
# A body that is not XML at all.
def garble(request, **kw):
    request.data = b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled"
    for h in [h for h in request.headers.keys() if h.lower() == "content-md5" or h.lower().startswith("x-amz-checksum")]:
        del request.headers[h]
s3.meta.events.register("before-sign.s3.PutObjectLockConfiguration", garble)
expect_error("MalformedXML", 400, s3.put_object_lock_configuration, Bucket="locked", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
s3.meta.events.unregister("before-sign.s3.PutObjectLockConfiguration", garble)

# A bucket without object lock: no configuration; lock requests refused; enabling it needs
# versioning Enabled (S3 lets an existing versioned bucket turn object lock on).
s3.create_bucket(Bucket="plain")
expect_error("ObjectLockConfigurationNotFoundError", 404, s3.get_object_lock_configuration, Bucket="plain")
s3.put_object(Bucket="plain", Key="k", Body=b"x")
expect_error("InvalidRequest", 400, s3.put_object, Bucket="plain", Key="k2", Body=b"x",
             ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=future(days=1))
expect_error("InvalidRequest", 400, s3.put_object, Bucket="plain", Key="k2", Body=b"x", ObjectLockLegalHoldStatus="ON")
expect_error("InvalidRequest", 400, s3.get_object_retention, Bucket="plain", Key="k")
expect_error("InvalidRequest", 400, s3.put_object_legal_hold, Bucket="plain", Key="k", LegalHold={"Status": "ON"})
expect_error("InvalidRequest", 400, s3.put_object_retention, Bucket="plain", Key="k",
             Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(days=1)})
enable = {"ObjectLockEnabled": "Enabled"}
expect_error("InvalidBucketState", 409, s3.put_object_lock_configuration, Bucket="plain", ObjectLockConfiguration=enable)
s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Suspended"})
expect_error("InvalidBucketState", 409, s3.put_object_lock_configuration, Bucket="plain", ObjectLockConfiguration=enable)
s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
s3.put_object_lock_configuration(Bucket="plain", ObjectLockConfiguration=enable)
check("enabled later", s3.get_object_lock_configuration(Bucket="plain")["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled")
expect_error("InvalidBucketState", 409, s3.put_bucket_versioning, Bucket="plain",
             VersioningConfiguration={"Status": "Suspended"})
# The null version written before: lockable by id like any other.
s3.put_object_legal_hold(Bucket="plain", Key="k", VersionId="null", LegalHold={"Status": "ON"})
expect_error("AccessDenied", 403, s3.delete_object, Bucket="plain", Key="k", VersionId="null")
expect_error("NoSuchBucket", 404, s3.get_object_lock_configuration, Bucket="nowhere")
"#,
    );
}

#[test]
fn retention_and_legal_hold_with_boto3() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="worm", ObjectLockEnabledForBucket=True)

# COMPLIANCE: not even the root user can delete the version or weaken its retention.
until = future(hours=1).replace(microsecond=0)
v = s3.put_object(Bucket="worm", Key="c", Body=b"keep", ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=until)["VersionId"]
h = s3.head_object(Bucket="worm", Key="c")
check("head mode", h["ObjectLockMode"] == "COMPLIANCE" and h["ObjectLockRetainUntilDate"] == until, h)
check("no legal hold shown", "ObjectLockLegalHoldStatus" not in h)
g = s3.get_object(Bucket="worm", Key="c", VersionId=v)
check("get mode", g["ObjectLockMode"] == "COMPLIANCE" and g["ObjectLockRetainUntilDate"] == until)
r = s3.get_object_retention(Bucket="worm", Key="c")["Retention"]
check("retention", r == {"Mode": "COMPLIANCE", "RetainUntilDate": until}, r)
expect_error("NoSuchObjectLockConfiguration", 404, s3.get_object_legal_hold, Bucket="worm", Key="c")
expect_error("AccessDenied", 403, s3.delete_object, Bucket="worm", Key="c", VersionId=v)
expect_error("AccessDenied", 403, s3.delete_object, Bucket="worm", Key="c", VersionId=v, BypassGovernanceRetention=True)
expect_error("AccessDenied", 403, s3.put_object_retention, Bucket="worm", Key="c", VersionId=v,
             Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - datetime.timedelta(minutes=1)},
             BypassGovernanceRetention=True)
expect_error("AccessDenied", 403, s3.put_object_retention, Bucket="worm", Key="c", VersionId=v,
             Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until + datetime.timedelta(days=1)},
             BypassGovernanceRetention=True)
expect_error("AccessDenied", 403, s3.put_object_retention, Bucket="worm", Key="c", VersionId=v, Retention={},
             BypassGovernanceRetention=True)
longer = until + datetime.timedelta(days=1)
s3.put_object_retention(Bucket="worm", Key="c", VersionId=v, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer})
check("extended", s3.get_object_retention(Bucket="worm", Key="c", VersionId=v)["Retention"]["RetainUntilDate"] == longer)
check("data untouched", s3.get_object(Bucket="worm", Key="c", VersionId=v)["Body"].read() == b"keep")
# Without a version id a delete marker is made; the locked version stays.
d = s3.delete_object(Bucket="worm", Key="c")
check("marker", d["DeleteMarker"] is True)
expect_error("NoSuchKey", 404, s3.get_object_retention, Bucket="worm", Key="c")
check("version kept", s3.get_object(Bucket="worm", Key="c", VersionId=v)["Body"].read() == b"keep")
s3.delete_object(Bucket="worm", Key="c", VersionId=d["VersionId"])

# Header validation.
expect_error("InvalidArgument", 400, s3.put_object, Bucket="worm", Key="x", Body=b"x", ObjectLockMode="GOVERNANCE")
expect_error("InvalidArgument", 400, s3.put_object, Bucket="worm", Key="x", Body=b"x", ObjectLockRetainUntilDate=future(days=1))
expect_error("InvalidArgument", 400, s3.put_object, Bucket="worm", Key="x", Body=b"x", ObjectLockMode="GOVERNANCE",
             ObjectLockRetainUntilDate=future(days=-1))
expect_error("InvalidArgument", 400, s3.put_object, Bucket="worm", Key="x", Body=b"x", ObjectLockMode="SOMETIMES",
             ObjectLockRetainUntilDate=future(days=1))
expect_error("InvalidArgument", 400, s3.put_object, Bucket="worm", Key="x", Body=b"x", ObjectLockLegalHoldStatus="MAYBE")
expect_error("InvalidArgument", 400, s3.put_object_retention, Bucket="worm", Key="c", VersionId=v,
             Retention={"Mode": "COMPLIANCE", "RetainUntilDate": future(days=-1)})
expect_error("MalformedXML", 400, s3.put_object_retention, Bucket="worm", Key="c", VersionId=v, Retention={"Mode": "COMPLIANCE"})
expect_error("MalformedXML", 400, s3.put_object_legal_hold, Bucket="worm", Key="c", VersionId=v, LegalHold={"Status": "MAYBE"})
expect_error("NoSuchKey", 404, s3.put_object_retention, Bucket="worm", Key="missing",
             Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(days=1)})
expect_error("NoSuchVersion", 404, s3.get_object_retention, Bucket="worm", Key="c", VersionId="0" * 32)

# GOVERNANCE: refused without the bypass, allowed with it.
g1 = s3.put_object(Bucket="worm", Key="g", Body=b"gov", ObjectLockMode="GOVERNANCE",
                   ObjectLockRetainUntilDate=future(hours=2))["VersionId"]
expect_error("AccessDenied", 403, s3.delete_object, Bucket="worm", Key="g", VersionId=g1)
expect_error("AccessDenied", 403, s3.put_object_retention, Bucket="worm", Key="g", VersionId=g1,
             Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(hours=1)})
s3.put_object_retention(Bucket="worm", Key="g", VersionId=g1, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(hours=3)})
s3.put_object_retention(Bucket="worm", Key="g", VersionId=g1, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(hours=1)},
                        BypassGovernanceRetention=True)
s3.delete_object(Bucket="worm", Key="g", VersionId=g1, BypassGovernanceRetention=True)
expect_error("NoSuchKey", 404, s3.get_object, Bucket="worm", Key="g")
# Retention removed with the bypass: then an ordinary delete works.
g2 = s3.put_object(Bucket="worm", Key="g", Body=b"gov2", ObjectLockMode="GOVERNANCE",
                   ObjectLockRetainUntilDate=future(hours=2))["VersionId"]
s3.put_object_retention(Bucket="worm", Key="g", VersionId=g2, Retention={}, BypassGovernanceRetention=True)
expect_error("NoSuchObjectLockConfiguration", 404, s3.get_object_retention, Bucket="worm", Key="g", VersionId=g2)
s3.delete_object(Bucket="worm", Key="g", VersionId=g2)

# Legal hold: blocks deletes even with the bypass, until turned OFF.
h1 = s3.put_object(Bucket="worm", Key="h", Body=b"held", ObjectLockLegalHoldStatus="ON")["VersionId"]
check("hold shown", s3.head_object(Bucket="worm", Key="h")["ObjectLockLegalHoldStatus"] == "ON")
check("hold read", s3.get_object_legal_hold(Bucket="worm", Key="h")["LegalHold"] == {"Status": "ON"})
expect_error("NoSuchObjectLockConfiguration", 404, s3.get_object_retention, Bucket="worm", Key="h")
expect_error("AccessDenied", 403, s3.delete_object, Bucket="worm", Key="h", VersionId=h1, BypassGovernanceRetention=True)
s3.put_object_legal_hold(Bucket="worm", Key="h", VersionId=h1, LegalHold={"Status": "OFF"})
check("hold off", s3.get_object_legal_hold(Bucket="worm", Key="h", VersionId=h1)["LegalHold"] == {"Status": "OFF"})
s3.delete_object(Bucket="worm", Key="h", VersionId=h1)

# A retention that runs out: the delete is refused, then (polled, with a deadline) allowed.
e1 = s3.put_object(Bucket="worm", Key="e", Body=b"brief", ObjectLockMode="COMPLIANCE",
                   ObjectLockRetainUntilDate=future(seconds=6))["VersionId"]
expect_error("AccessDenied", 403, s3.delete_object, Bucket="worm", Key="e", VersionId=e1)
deadline = time.monotonic() + 30
while True:
    try:
        s3.delete_object(Bucket="worm", Key="e", VersionId=e1)
        break
    except ClientError as err:
        assert err.response["Error"]["Code"] == "AccessDenied", err
        assert time.monotonic() < deadline, "retention never ran out"
        time.sleep(0.2)
expect_error("NoSuchKey", 404, s3.get_object, Bucket="worm", Key="e")

# DeleteObjects: decided per key.
free = s3.put_object(Bucket="worm", Key="free", Body=b"f")["VersionId"]
held = s3.put_object(Bucket="worm", Key="held", Body=b"h", ObjectLockLegalHoldStatus="ON")["VersionId"]
gov = s3.put_object(Bucket="worm", Key="gov", Body=b"g", ObjectLockMode="GOVERNANCE",
                    ObjectLockRetainUntilDate=future(hours=1))["VersionId"]
objs = [{"Key": "free", "VersionId": free}, {"Key": "held", "VersionId": held}, {"Key": "gov", "VersionId": gov}]
r = s3.delete_objects(Bucket="worm", Delete={"Objects": objs})
check("one deleted", [d["Key"] for d in r["Deleted"]] == ["free"], r)
check("two refused", sorted((e["Key"], e["Code"]) for e in r["Errors"]) == [("gov", "AccessDenied"), ("held", "AccessDenied")], r)
r = s3.delete_objects(Bucket="worm", Delete={"Objects": objs[1:]}, BypassGovernanceRetention=True)
check("bypass deletes governance only", [d["Key"] for d in r["Deleted"]] == ["gov"] and
      [e["Key"] for e in r["Errors"]] == ["held"], r)
"#,
    );
}

#[test]
fn defaults_copies_multipart_and_policy_with_boto3() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="dflt", ObjectLockEnabledForBucket=True)
s3.put_object_lock_configuration(Bucket="dflt", ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
v = s3.put_object(Bucket="dflt", Key="a", Body=b"a")["VersionId"]
h = s3.head_object(Bucket="dflt", Key="a")
check("default applied", h["ObjectLockMode"] == "GOVERNANCE" and close(h["ObjectLockRetainUntilDate"], future(days=1), 60), h)
expect_error("AccessDenied", 403, s3.delete_object, Bucket="dflt", Key="a", VersionId=v)
# Explicit headers win over the default.
s3.put_object(Bucket="dflt", Key="b", Body=b"b", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=future(hours=1))
check("explicit wins", s3.head_object(Bucket="dflt", Key="b")["ObjectLockMode"] == "COMPLIANCE")
# Tagging rewrites the metadata but keeps the lock.
s3.put_object_tagging(Bucket="dflt", Key="b", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]})
check("lock kept by tagging", s3.head_object(Bucket="dflt", Key="b")["ObjectLockMode"] == "COMPLIANCE")

# A copy never inherits its source's lock: it takes the request's headers or the default.
c = s3.copy_object(Bucket="dflt", Key="b-copy", CopySource={"Bucket": "dflt", "Key": "b"})
h = s3.head_object(Bucket="dflt", Key="b-copy")
check("copy gets default", h["ObjectLockMode"] == "GOVERNANCE", h)
s3.copy_object(Bucket="dflt", Key="b-copy2", CopySource={"Bucket": "dflt", "Key": "b"}, ObjectLockLegalHoldStatus="ON",
               ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=future(hours=5))
h = s3.head_object(Bucket="dflt", Key="b-copy2")
check("copy headers", h["ObjectLockMode"] == "COMPLIANCE" and h["ObjectLockLegalHoldStatus"] == "ON", h)
s3.create_bucket(Bucket="nolock")
s3.copy_object(Bucket="nolock", Key="b", CopySource={"Bucket": "dflt", "Key": "b"})
check("copy into a plain bucket is unlocked", "ObjectLockMode" not in s3.head_object(Bucket="nolock", Key="b"))
s3.delete_object(Bucket="nolock", Key="b")

# Multipart: headers at creation; the default when none were given.
up = s3.create_multipart_upload(Bucket="dflt", Key="mp", ObjectLockLegalHoldStatus="ON")
part = s3.upload_part(Bucket="dflt", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 1024)
mv = s3.complete_multipart_upload(Bucket="dflt", Key="mp", UploadId=up["UploadId"],
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})["VersionId"]
h = s3.head_object(Bucket="dflt", Key="mp")
check("multipart hold + default", h["ObjectLockLegalHoldStatus"] == "ON" and h["ObjectLockMode"] == "GOVERNANCE", h)
expect_error("AccessDenied", 403, s3.delete_object, Bucket="dflt", Key="mp", VersionId=mv, BypassGovernanceRetention=True)
expect_error("InvalidArgument", 400, s3.create_multipart_upload, Bucket="dflt", Key="mp2", ObjectLockMode="GOVERNANCE")
expect_error("InvalidRequest", 400, s3.create_multipart_upload, Bucket="nolock", Key="mp", ObjectLockLegalHoldStatus="ON")

# A bucket policy that denies the bypass: governance versions stay, deny wins over root.
deny = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
    "Action": "s3:BypassGovernanceRetention", "Resource": "arn:aws:s3:::dflt/*"}]})
s3.put_bucket_policy(Bucket="dflt", Policy=deny)
expect_error("AccessDenied", 403, s3.delete_object, Bucket="dflt", Key="a", VersionId=v, BypassGovernanceRetention=True)
expect_error("AccessDenied", 403, s3.put_object_retention, Bucket="dflt", Key="a", VersionId=v, Retention={},
             BypassGovernanceRetention=True)
r = s3.delete_objects(Bucket="dflt", Delete={"Objects": [{"Key": "a", "VersionId": v}]}, BypassGovernanceRetention=True)
check("batch bypass denied", [e["Code"] for e in r.get("Errors", [])] == ["AccessDenied"], r)
# A policy denying the lock operations themselves.
deny_ops = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
    "Action": ["s3:PutObjectRetention", "s3:GetObjectLegalHold", "s3:PutBucketObjectLockConfiguration"],
    "Resource": ["arn:aws:s3:::dflt", "arn:aws:s3:::dflt/*"]}]})
s3.put_bucket_policy(Bucket="dflt", Policy=deny_ops)
expect_error("AccessDenied", 403, s3.put_object_retention, Bucket="dflt", Key="a", VersionId=v,
             Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(days=9)})
expect_error("AccessDenied", 403, s3.get_object_legal_hold, Bucket="dflt", Key="mp")
expect_error("AccessDenied", 403, s3.put_object_lock_configuration, Bucket="dflt",
             ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
check("get retention still allowed", s3.get_object_retention(Bucket="dflt", Key="a")["Retention"]["Mode"] == "GOVERNANCE")
s3.delete_bucket_policy(Bucket="dflt")
s3.delete_object(Bucket="dflt", Key="a", VersionId=v, BypassGovernanceRetention=True)
expect_error("NoSuchKey", 404, s3.get_object, Bucket="dflt", Key="a")
"#,
    );
}

#[test]
fn object_lock_with_aws_cli() {
    let env = Env::new(true);
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--no-verify-ssl", "--endpoint-url", url.as_str(), "s3api"];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    ok(&aws(&[
        "create-bucket",
        "--bucket",
        "cli",
        "--object-lock-enabled-for-bucket",
    ]));
    ok(&aws(&[
        "put-object-lock-configuration",
        "--bucket",
        "cli",
        "--object-lock-configuration",
        r#"{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"COMPLIANCE","Days":1}}}"#,
    ]));
    let got = ok(&aws(&["get-object-lock-configuration", "--bucket", "cli"]));
    assert!(
        got.contains("\"COMPLIANCE\"") && got.contains("\"Days\": 1"),
        "{got}"
    );
    let body = env.path("body");
    std::fs::write(&body, b"cli body").unwrap();
    let put = ok(&aws(&[
        "put-object",
        "--bucket",
        "cli",
        "--key",
        "k",
        "--body",
        body.to_str().unwrap(),
    ]));
    let v: serde_json::Value = serde_json::from_str(&put).unwrap();
    let vid = v["VersionId"].as_str().unwrap().to_owned();
    let got = ok(&aws(&[
        "get-object-retention",
        "--bucket",
        "cli",
        "--key",
        "k",
    ]));
    assert!(got.contains("\"COMPLIANCE\""), "{got}");
    // COMPLIANCE: the root user cannot delete the version, bypass or not.
    fails_with(
        &aws(&[
            "delete-object",
            "--bucket",
            "cli",
            "--key",
            "k",
            "--version-id",
            &vid,
            "--bypass-governance-retention",
        ]),
        "AccessDenied",
    );
    ok(&aws(&[
        "put-object-legal-hold",
        "--bucket",
        "cli",
        "--key",
        "k",
        "--legal-hold",
        "Status=ON",
    ]));
    let got = ok(&aws(&[
        "get-object-legal-hold",
        "--bucket",
        "cli",
        "--key",
        "k",
    ]));
    assert!(got.contains("\"ON\""), "{got}");
    let head = ok(&aws(&["head-object", "--bucket", "cli", "--key", "k"]));
    assert!(
        head.contains("\"ObjectLockMode\": \"COMPLIANCE\"")
            && head.contains("\"ObjectLockLegalHoldStatus\": \"ON\""),
        "{head}"
    );
    fails_with(
        &aws(&[
            "put-bucket-versioning",
            "--bucket",
            "cli",
            "--versioning-configuration",
            "Status=Suspended",
        ]),
        "InvalidBucketState",
    );
    ok(&aws(&["create-bucket", "--bucket", "cli-plain"]));
    fails_with(
        &aws(&["get-object-lock-configuration", "--bucket", "cli-plain"]),
        "ObjectLockConfigurationNotFoundError",
    );
    // A delete without version id only adds a marker.
    let del = ok(&aws(&["delete-object", "--bucket", "cli", "--key", "k"]));
    assert!(del.contains("\"DeleteMarker\": true"), "{del}");
    let got = ok(&aws(&[
        "get-object-retention",
        "--bucket",
        "cli",
        "--key",
        "k",
        "--version-id",
        &vid,
    ]));
    assert!(got.contains("\"COMPLIANCE\""), "{got}");
}

#[test]
fn null_version_ids_and_subresources_by_version_with_boto3() {
    let env = Env::new(true);
    run(
        &env,
        r#"
# x-amz-version-id: null on GET/HEAD once the bucket is versioned (not before).
s3.create_bucket(Bucket="sus")
s3.put_object(Bucket="sus", Key="old", Body=b"o")
check("unversioned: no id", "VersionId" not in s3.head_object(Bucket="sus", Key="old"))
s3.put_bucket_versioning(Bucket="sus", VersioningConfiguration={"Status": "Suspended"})
s3.put_object(Bucket="sus", Key="new", Body=b"n")
for key in ("old", "new"):
    check("head null " + key, s3.head_object(Bucket="sus", Key=key)["VersionId"] == "null")
    check("get null " + key, s3.get_object(Bucket="sus", Key=key)["VersionId"] == "null")

# Tagging and ACLs of one version.
s3.create_bucket(Bucket="tvb", ObjectLockEnabledForBucket=True)
v1 = s3.put_object(Bucket="tvb", Key="k", Body=b"1", ObjectLockLegalHoldStatus="ON")["VersionId"]
v2 = s3.put_object(Bucket="tvb", Key="k", Body=b"2")["VersionId"]
r = s3.put_object_tagging(Bucket="tvb", Key="k", VersionId=v1, Tagging={"TagSet": [{"Key": "v", "Value": "one"}]})
check("put tagging version id", r["VersionId"] == v1, r)
t = s3.get_object_tagging(Bucket="tvb", Key="k", VersionId=v1)
check("old version tagged", t["TagSet"] == [{"Key": "v", "Value": "one"}] and t["VersionId"] == v1, t)
check("current untouched", s3.get_object_tagging(Bucket="tvb", Key="k")["TagSet"] == [])
check("head count", s3.get_object(Bucket="tvb", Key="k", VersionId=v1).get("TagCount") == 1)
check("lock kept", s3.get_object_legal_hold(Bucket="tvb", Key="k", VersionId=v1)["LegalHold"]["Status"] == "ON")
r = s3.delete_object_tagging(Bucket="tvb", Key="k", VersionId=v1)
check("delete tagging version id", r["VersionId"] == v1, r)
check("tags gone", s3.get_object_tagging(Bucket="tvb", Key="k", VersionId=v1)["TagSet"] == [])
s3.put_object_acl(Bucket="tvb", Key="k", VersionId=v1, ACL="public-read")
grants = s3.get_object_acl(Bucket="tvb", Key="k", VersionId=v1)["Grants"]
check("old version public", any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants), grants)
grants = s3.get_object_acl(Bucket="tvb", Key="k")["Grants"]
check("current private", not any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants), grants)
expect_error("NoSuchVersion", 404, s3.get_object_tagging, Bucket="tvb", Key="k", VersionId="0" * 32)
expect_error("NoSuchVersion", 404, s3.put_object_acl, Bucket="tvb", Key="k", VersionId="0" * 32, ACL="private")
expect_error("InvalidArgument", 400, s3.get_object_acl, Bucket="tvb", Key="k", VersionId="bad")
m = s3.delete_object(Bucket="tvb", Key="k")["VersionId"]
expect_error("MethodNotAllowed", 405, s3.get_object_tagging, Bucket="tvb", Key="k", VersionId=m)
expect_error("MethodNotAllowed", 405, s3.put_object_retention, Bucket="tvb", Key="k", VersionId=m,
             Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(days=1)})
expect_error("NoSuchKey", 404, s3.get_object_tagging, Bucket="tvb", Key="k")
"#,
    );
}
