//! Bucket lifecycle and bucket logging end to end with boto3 and aws-cli against the real
//! object server: S3's validation errors, configuration round trips (also the deprecated
//! PutBucketLifecycle), the policy actions they are authorised as, and the background sweep —
//! current versions expired by past `Date` (and, with the sweep's clock moved forward by
//! `OBJECT_SERVER_LIFECYCLE_CLOCK_OFFSET`, `Days`) rules on unversioned and versioned buckets,
//! noncurrent versions and lone delete markers removed, old multipart uploads aborted, and
//! prefix / tag filters selecting only matching objects. The sweep runs every second; the
//! scripts poll with a deadline.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BOTO3_PRELUDE, Env, Launch, fails_with, ok};

const HELPERS: &str = r#"
import json, time
from datetime import datetime, timezone
def until(name, cond, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            print("OK", name)
            return
        time.sleep(0.1)
    raise AssertionError(f"{name}: not reached within {timeout} s")
def exists(bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise
def versions(bucket):
    r = s3.list_object_versions(Bucket=bucket)
    return sorted([(v["Key"], v["VersionId"], v["IsLatest"], "v") for v in r.get("Versions", [])] +
                  [(m["Key"], m["VersionId"], m["IsLatest"], "m") for m in r.get("DeleteMarkers", [])])
PAST = datetime(2020, 1, 1, tzinfo=timezone.utc)
"#;

fn run(env: &Env, body: &str) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{HELPERS}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, &[]));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

/// A server whose sweep runs every second with its clock three days ahead.
fn sweeping_env() -> Env {
    let launch = Launch {
        env: vec![
            ("OBJECT_SERVER_LIFECYCLE_INTERVAL".into(), "1".into()),
            (
                "OBJECT_SERVER_LIFECYCLE_CLOCK_OFFSET".into(),
                (3 * 86_400).to_string(),
            ),
        ],
        log: "warn,object_server=info,s3s=off".to_owned(),
        stderr: Some("server.log".into()),
        ..Launch::default()
    };
    Env::with(false, launch)
}

#[test]
fn configuration_validation_and_round_trip() {
    let env = Env::new(false);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="lcb")
expect_error("NoSuchLifecycleConfiguration", 404, s3.get_bucket_lifecycle_configuration, Bucket="lcb")
expect_error("NoSuchBucket", 404, s3.get_bucket_lifecycle_configuration, Bucket="nobucket")
rules = [
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
    {"Status": "Disabled", "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
                                              "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 1000}},
     "Expiration": {"Date": PAST}},
    {"ID": "versions", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3}},
    {"ID": "uploads", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 5},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
    {"ID": "markers", "Status": "Enabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
]
s3.put_bucket_lifecycle_configuration(Bucket="lcb", LifecycleConfiguration={"Rules": rules})
got = s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"]
check("five rules", len(got) == 5, got)
check("given id kept", got[0]["ID"] == "logs" and got[0]["Expiration"] == {"Days": 30} and got[0]["Filter"] == {"Prefix": "logs/"}, got[0])
check("missing id generated", len(got[1].get("ID", "")) > 0, got[1])
check("and filter", got[1]["Filter"]["And"]["Prefix"] == "tmp/" and len(got[1]["Filter"]["And"]["Tags"]) == 2
      and got[1]["Filter"]["And"]["ObjectSizeGreaterThan"] == 10 and got[1]["Status"] == "Disabled", got[1])
check("date", got[1]["Expiration"]["Date"] == PAST, got[1])
check("noncurrent", got[2]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3}, got[2])
check("abort", got[3]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}, got[3])
check("marker", got[4]["Expiration"] == {"ExpiredObjectDeleteMarker": True}, got[4])

def bad(code, status, message, rules):
    e = expect_error(code, status, s3.put_bucket_lifecycle_configuration, Bucket="lcb", LifecycleConfiguration={"Rules": rules})
    if message is not None:
        check(message, e.response["Error"]["Message"] == message, e.response["Error"]["Message"])
one = lambda **kw: dict({"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}, **kw)
bad("MalformedXML", 400, None, [one(Status="enabled")])
bad("InvalidArgument", 400, "Rule ID must be unique. Found same ID for more than one rule", [one(), one()])
bad("InvalidArgument", 400, "ID length should not exceed allowed limit of 255", [one(ID="x" * 256)])
bad("InvalidArgument", 400, "'Days' for Expiration action must be a positive integer", [one(Expiration={"Days": 0})])
bad("InvalidArgument", 400, "'Date' must be at midnight GMT", [one(Expiration={"Date": datetime(2020, 1, 1, 12, tzinfo=timezone.utc)})])
bad("InvalidArgument", 400, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
    [one(NoncurrentVersionExpiration={"NoncurrentDays": 0})])
bad("InvalidArgument", 400, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
    [one(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})])
bad("MalformedXML", 400, None, [one(Expiration={"Days": 1, "Date": PAST})])
bad("MalformedXML", 400, None, [one(Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}})])
bad("InvalidRequest", 400, "At least one action needs to be specified in a rule", [{"ID": "r", "Status": "Enabled", "Filter": {}}])
bad("InvalidRequest", 400, "AbortIncompleteMultipartUpload cannot be specified with Tags.",
    [{"ID": "r", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}])
bad("NotImplemented", 501, None, [one(Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])])
bad("MalformedXML", 400, None, [one(ID=str(i)) for i in range(1001)])
check("refused puts change nothing", len(s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"]) == 5)

# The deprecated PutBucketLifecycle (legacy top-level Prefix) shares the request.
s3.put_bucket_lifecycle(Bucket="lcb", LifecycleConfiguration={"Rules": [
    {"ID": "legacy", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 3}}]})
got = s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"]
check("legacy prefix", got == [{"ID": "legacy", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 3}}], got)

s3.delete_bucket_lifecycle(Bucket="lcb")
expect_error("NoSuchLifecycleConfiguration", 404, s3.get_bucket_lifecycle_configuration, Bucket="lcb")
s3.delete_bucket_lifecycle(Bucket="lcb")

# Policy actions: Put/Delete are s3:PutLifecycleConfiguration, Get is s3:GetLifecycleConfiguration.
s3.put_bucket_lifecycle_configuration(Bucket="lcb", LifecycleConfiguration={"Rules": [one()]})
s3.put_bucket_policy(Bucket="lcb", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": ["s3:PutLifecycleConfiguration", "s3:GetBucketLogging"], "Resource": "arn:aws:s3:::lcb"}]}))
expect_error("AccessDenied", 403, s3.put_bucket_lifecycle_configuration, Bucket="lcb", LifecycleConfiguration={"Rules": [one()]})
expect_error("AccessDenied", 403, s3.delete_bucket_lifecycle, Bucket="lcb")
check("get still allowed", len(s3.get_bucket_lifecycle_configuration(Bucket="lcb")["Rules"]) == 1)
expect_error("AccessDenied", 403, s3.get_bucket_logging, Bucket="lcb")
s3.put_bucket_policy(Bucket="lcb", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:GetLifecycleConfiguration", "Resource": "arn:aws:s3:::lcb"}]}))
expect_error("AccessDenied", 403, s3.get_bucket_lifecycle_configuration, Bucket="lcb")
s3.delete_bucket_policy(Bucket="lcb")
"#,
    );

    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--endpoint-url", url.as_str()];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    let file = env.path("lifecycle.json");
    std::fs::write(
        &file,
        r#"{"Rules": [{"ID": "cli", "Status": "Enabled", "Filter": {"Prefix": "cli/"},
            "Expiration": {"Days": 9}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]}"#,
    )
    .unwrap();
    let arg = format!("file://{}", file.display());
    ok(&aws(&[
        "s3api",
        "put-bucket-lifecycle-configuration",
        "--bucket",
        "lcb",
        "--lifecycle-configuration",
        &arg,
    ]));
    let got = ok(&aws(&[
        "s3api",
        "get-bucket-lifecycle-configuration",
        "--bucket",
        "lcb",
    ]));
    assert!(
        got.contains("\"cli\"") && got.contains("\"Days\": 9") && got.contains("\"cli/\""),
        "{got}"
    );
    ok(&aws(&[
        "s3api",
        "delete-bucket-lifecycle",
        "--bucket",
        "lcb",
    ]));
    fails_with(
        &aws(&[
            "s3api",
            "get-bucket-lifecycle-configuration",
            "--bucket",
            "lcb",
        ]),
        "NoSuchLifecycleConfiguration",
    );
    std::fs::write(
        &file,
        r#"{"Rules": [{"ID": "bad", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 0}}]}"#,
    )
    .unwrap();
    fails_with(
        &aws(&[
            "s3api",
            "put-bucket-lifecycle-configuration",
            "--bucket",
            "lcb",
            "--lifecycle-configuration",
            &arg,
        ]),
        "'Days' for Expiration action must be a positive integer",
    );
}

#[test]
fn bucket_logging_configuration() {
    let env = Env::new(false);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="src")
s3.create_bucket(Bucket="logs")
check("disabled at first", "LoggingEnabled" not in s3.get_bucket_logging(Bucket="src"))
s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "src/"}})
got = s3.get_bucket_logging(Bucket="src")["LoggingEnabled"]
check("stored", got["TargetBucket"] == "logs" and got["TargetPrefix"] == "src/", got)
e = expect_error("InvalidTargetBucketForLogging", 400, s3.put_bucket_logging, Bucket="src",
                 BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "missing-bucket", "TargetPrefix": ""}})
check("message", e.response["Error"]["Message"] == "The target bucket for logging does not exist", e.response["Error"])
check("refused put keeps the old one", s3.get_bucket_logging(Bucket="src")["LoggingEnabled"]["TargetBucket"] == "logs")
s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={})
check("empty status disables", "LoggingEnabled" not in s3.get_bucket_logging(Bucket="src"))
expect_error("NoSuchBucket", 404, s3.get_bucket_logging, Bucket="nobucket")
"#,
    );
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--endpoint-url", url.as_str()];
        all.extend_from_slice(args);
        env.aws(&all)
    };
    ok(&aws(&[
        "s3api",
        "put-bucket-logging",
        "--bucket",
        "src",
        "--bucket-logging-status",
        r#"{"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "cli/"}}"#,
    ]));
    let got = ok(&aws(&["s3api", "get-bucket-logging", "--bucket", "src"]));
    assert!(
        got.contains("\"logs\"") && got.contains("\"cli/\""),
        "{got}"
    );
    fails_with(
        &aws(&[
            "s3api",
            "put-bucket-logging",
            "--bucket",
            "src",
            "--bucket-logging-status",
            r#"{"LoggingEnabled": {"TargetBucket": "nope-bucket", "TargetPrefix": ""}}"#,
        ]),
        "InvalidTargetBucketForLogging",
    );
}

#[test]
fn sweep_expires_unversioned_objects_by_prefix_tag_date_and_days() {
    let env = sweeping_env();
    run(
        &env,
        r#"
s3.create_bucket(Bucket="plain")
for k in ["keep/1", "tmp", "tmp/a", "tmp/zz"]:
    s3.put_object(Bucket="plain", Key=k, Body=k.encode())
s3.put_bucket_lifecycle_configuration(Bucket="plain", LifecycleConfiguration={"Rules": [
    {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Date": PAST}},
    {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Date": PAST}}]})
# tmp/zz sorts after every kept key: once it is gone, the pass has looked at all of them.
until("prefix-matching objects expired", lambda: not exists("plain", "tmp/a") and not exists("plain", "tmp/zz"))
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="plain").get("Contents", [])]
check("others kept", keys == ["keep/1", "tmp"], keys)
check("kept data intact", s3.get_object(Bucket="plain", Key="tmp")["Body"].read() == b"tmp")

s3.create_bucket(Bucket="tagged")
s3.put_object(Bucket="tagged", Key="a", Body=b"a", Tagging="class=tmp")
s3.put_object(Bucket="tagged", Key="b", Body=b"b", Tagging="class=keep")
s3.put_object(Bucket="tagged", Key="c", Body=b"c")
s3.put_object(Bucket="tagged", Key="d", Body=b"d" * 100, Tagging="class=tmp")
s3.put_object(Bucket="tagged", Key="z", Body=b"z", Tagging="class=tmp&x=y")
s3.put_bucket_lifecycle_configuration(Bucket="tagged", LifecycleConfiguration={"Rules": [
    {"ID": "tags", "Status": "Enabled", "Expiration": {"Date": PAST},
     "Filter": {"And": {"Prefix": "", "Tags": [{"Key": "class", "Value": "tmp"}], "ObjectSizeLessThan": 50}}}]})
until("tag-matching objects expired", lambda: not exists("tagged", "a") and not exists("tagged", "z"))
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="tagged").get("Contents", [])]
check("untagged, other tag and too large kept", keys == ["b", "c", "d"], keys)

# Days: the sweep's clock is three days ahead, so a one-day rule is due, a five-day one not.
s3.create_bucket(Bucket="days")
for k in ["five/a", "one/a"]:
    s3.put_object(Bucket="days", Key=k, Body=b"x")
s3.put_bucket_lifecycle_configuration(Bucket="days", LifecycleConfiguration={"Rules": [
    {"ID": "one", "Status": "Enabled", "Filter": {"Prefix": "one/"}, "Expiration": {"Days": 1}},
    {"ID": "five", "Status": "Enabled", "Filter": {"Prefix": "five/"}, "Expiration": {"Days": 5}}]})
until("one-day rule applied", lambda: not exists("days", "one/a"))
check("five-day rule not yet", exists("days", "five/a"))
# A new object in an expiring prefix goes too: the server kept serving and keeps sweeping.
s3.put_object(Bucket="plain", Key="tmp/new", Body=b"n")
until("new object expired", lambda: not exists("plain", "tmp/new"))
"#,
    );
    let log = std::fs::read_to_string(env.path("server.log")).unwrap();
    assert!(
        log.contains("lifecycle: current version expired") && log.contains("tmp/a"),
        "{log}"
    );
}

#[test]
fn sweep_on_versioned_buckets_and_multipart_uploads() {
    let env = sweeping_env();
    run(
        &env,
        r#"
s3.create_bucket(Bucket="ver")
s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
v1 = s3.put_object(Bucket="ver", Key="doc", Body=b"one")["VersionId"]
s3.put_object(Bucket="ver", Key="other/x", Body=b"x")
def lc(*rules):
    s3.put_bucket_lifecycle_configuration(Bucket="ver", LifecycleConfiguration={"Rules": list(rules)})
# 1. The current version is expired by a delete marker; the data stays as a noncurrent version.
lc({"ID": "date", "Status": "Enabled", "Filter": {"Prefix": "doc"}, "Expiration": {"Date": PAST}})
def marked():
    v = versions("ver")
    return sorted((k, l, t) for k, _, l, t in v if k == "doc") == [("doc", False, "v"), ("doc", True, "m")]
until("delete marker added", marked)
expect_error("NoSuchKey", 404, s3.get_object, Bucket="ver", Key="doc")
check("old version readable", s3.get_object(Bucket="ver", Key="doc", VersionId=v1)["Body"].read() == b"one")
check("other prefix untouched", exists("ver", "other/x"))
# 2. A noncurrent rule (the sweep's clock is 3 days ahead) deletes the old version; the marker stays.
lc({"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": "doc"}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
until("noncurrent version expired", lambda: [(k, t) for k, _, _, t in versions("ver") if k == "doc"] == [("doc", "m")])
# 3. ExpiredObjectDeleteMarker removes the marker left alone.
lc({"ID": "dm", "Status": "Enabled", "Filter": {"Prefix": "doc"}, "Expiration": {"ExpiredObjectDeleteMarker": True}})
until("lone delete marker removed", lambda: [k for k, _, _, _ in versions("ver")] == ["other/x"])

# Suspended versioning: the null version is replaced by a null delete marker.
s3.create_bucket(Bucket="susp")
s3.put_bucket_versioning(Bucket="susp", VersioningConfiguration={"Status": "Suspended"})
s3.put_object(Bucket="susp", Key="n", Body=b"null version")
s3.put_bucket_lifecycle_configuration(Bucket="susp", LifecycleConfiguration={"Rules": [
    {"ID": "date", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Date": PAST}}]})
until("null marker", lambda: versions("susp") == [("n", "null", True, "m")])

# Incomplete multipart uploads past DaysAfterInitiation are aborted (matching prefix only).
s3.create_bucket(Bucket="mpu")
old = s3.create_multipart_upload(Bucket="mpu", Key="old/x")["UploadId"]
s3.upload_part(Bucket="mpu", Key="old/x", UploadId=old, PartNumber=1, Body=b"part")
s3.create_multipart_upload(Bucket="mpu", Key="keep/y")
s3.put_bucket_lifecycle_configuration(Bucket="mpu", LifecycleConfiguration={"Rules": [
    {"ID": "abort", "Status": "Enabled", "Filter": {"Prefix": "old/"}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})
uploads = lambda: [u["Key"] for u in s3.list_multipart_uploads(Bucket="mpu").get("Uploads", [])]
until("old upload aborted", lambda: uploads() == ["keep/y"])
expect_error("NoSuchUpload", 404, s3.list_parts, Bucket="mpu", Key="old/x", UploadId=old)
"#,
    );
    let log = std::fs::read_to_string(env.path("server.log")).unwrap();
    for what in [
        "lifecycle: noncurrent version expired",
        "lifecycle: expired delete marker removed",
        "lifecycle: incomplete multipart upload aborted",
    ] {
        assert!(log.contains(what), "{what} not logged:\n{log}");
    }
}

/// The sweep never removes a version under object lock: a noncurrent rule removes the
/// unlocked key's old version (so a pass went over the bucket, and over the locked key first,
/// keys being swept in order) and leaves the old version under retention, and the one under a
/// legal hold. The retention runs one day while the sweep's clock is three days ahead: locks
/// are judged on the real clock.
#[test]
fn sweep_keeps_versions_under_object_lock() {
    let env = sweeping_env();
    run(
        &env,
        r#"
from datetime import timedelta
s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
until_date = datetime.now(timezone.utc) + timedelta(days=1)
s3.put_object(Bucket="locked", Key="a-retained", Body=b"old", ObjectLockMode="GOVERNANCE",
              ObjectLockRetainUntilDate=until_date)
s3.put_object(Bucket="locked", Key="a-retained", Body=b"new")
s3.put_object(Bucket="locked", Key="b-held", Body=b"old", ObjectLockLegalHoldStatus="ON")
s3.put_object(Bucket="locked", Key="b-held", Body=b"new")
s3.put_object(Bucket="locked", Key="c-free", Body=b"old")
s3.put_object(Bucket="locked", Key="c-free", Body=b"new")
s3.put_bucket_lifecycle_configuration(Bucket="locked", LifecycleConfiguration={"Rules": [
    {"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": ""}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
count = lambda key: len([k for k, _, _, _ in versions("locked") if k == key])
until("unlocked old version expired", lambda: count("c-free") == 1)
check("retained version kept", count("a-retained") == 2)
check("held version kept", count("b-held") == 2)
"#,
    );
}
