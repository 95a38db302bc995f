//! Versioned SSE-S3 and SSE-KMS objects end to end: the real `object-server` and a real `kes
//! server` over TLS, driven by boto3. Every version is sealed with its own object key (a fresh
//! KES data key per version), reads back by version id, and lists with its own ETag.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::kes::{KesSetup, kes_bin};
use common::{BOTO3_PRELUDE, Env, Launch, ok};

const DEFAULT_KEY: &str = "my-minio-sse-s3-key";

#[test]
fn versioned_sse_s3_and_sse_kms_objects() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(kes.admin_client(&[&k]).create_key("versions-key"))
        .unwrap();
    let env = Env::with(
        true,
        Launch {
            env: kes.object_server_env(&[&k], DEFAULT_KEY, false),
            stderr: Some("object-server.log".into()),
            ..Launch::default()
        },
    );
    let data = env.path("data");
    let script = format!(
        "{BOTO3_PRELUDE}\n{}\nprint('ALL DONE')\n",
        r#"
import glob, json
s3.create_bucket(Bucket="kesv")
s3.put_bucket_versioning(Bucket="kesv", VersioningConfiguration={"Status": "Enabled"})
bodies = [b"sse-s3 version %d " % i * (i + 1) for i in range(3)]
vids = []
for b in bodies:
    r = s3.put_object(Bucket="kesv", Key="obj", Body=b, ServerSideEncryption="AES256")
    check("sse-s3 put", r["ServerSideEncryption"] == "AES256" and r["ETag"].strip('"') == hashlib.md5(b).hexdigest())
    vids.append(r["VersionId"])
kms = s3.put_object(Bucket="kesv", Key="obj", Body=b"kms version", ServerSideEncryption="aws:kms", SSEKMSKeyId="versions-key")
for vid, b in zip(vids, bodies):
    g = s3.get_object(Bucket="kesv", Key="obj", VersionId=vid)
    check("sse-s3 version reads", g["Body"].read() == b and g["ServerSideEncryption"] == "AES256" and g["VersionId"] == vid)
g = s3.get_object(Bucket="kesv", Key="obj")
check("current is sse-kms", g["Body"].read() == b"kms version" and g["ServerSideEncryption"] == "aws:kms" and g["VersionId"] == kms["VersionId"])
lv = s3.list_object_versions(Bucket="kesv")
etags = {v["VersionId"]: v["ETag"].strip('"') for v in lv["Versions"]}
for vid, b in zip(vids, bodies):
    check("listed sse-s3 etag is the md5", etags[vid] == hashlib.md5(b).hexdigest())
# Each version has its own sealed object key and its own KES data key.
files = glob.glob(sys.argv[1] + "/kesv/obj/*") + glob.glob(sys.argv[1] + "/kesv/ver/*/*")
sealed, deks = set(), set()
for f in files:
    raw = open(f, "rb").read()
    n = int.from_bytes(raw[-16:-8], "little")
    internal = json.loads(raw[-16 - n:-16])["internal"]
    sealed.add(internal.get("X-Minio-Internal-Server-Side-Encryption-S3-Sealed-Key") or internal.get("X-Minio-Internal-Server-Side-Encryption-Kms-Sealed-Key"))
    deks.add(internal.get("X-Minio-Internal-Server-Side-Encryption-S3-Kms-Sealed-Key"))
check("four versions, four object keys, four data keys", len(files) == 4 and len(sealed) == 4 and len(deks) == 4 and None not in sealed | deks, (sealed, deks))
# Delete marker, then the SSE-S3 versions are still readable; deleting by id removes one.
s3.delete_object(Bucket="kesv", Key="obj")
expect_error("NoSuchKey", 404, s3.get_object, Bucket="kesv", Key="obj")
check("old version after marker", s3.get_object(Bucket="kesv", Key="obj", VersionId=vids[0])["Body"].read() == bodies[0])
s3.delete_object(Bucket="kesv", Key="obj", VersionId=vids[1])
expect_error("NoSuchVersion", 404, s3.get_object, Bucket="kesv", Key="obj", VersionId=vids[1])
# Copy an old SSE-S3 version into a new version (fresh key).
c = s3.copy_object(Bucket="kesv", Key="obj", CopySource={"Bucket": "kesv", "Key": "obj", "VersionId": vids[2]}, ServerSideEncryption="AES256")
check("copied version", c["CopySourceVersionId"] == vids[2] and s3.get_object(Bucket="kesv", Key="obj")["Body"].read() == bodies[2])
"#
    );
    let out = ok(&env.python(&script, &[data.to_str().unwrap()]));
    assert!(out.contains("ALL DONE"), "{out}");

    // Rotate both keys with the real CLI, then `admin rekey` rewraps every version's data key
    // (the noncurrent ones included) and every version still reads back.
    for key in [DEFAULT_KEY, "versions-key"] {
        let out = Command::new(kes_bin())
            .args(["key", "rotate", key, "--server", &k.url(), "--ca"])
            .arg(&kes.ca)
            .env("KES_API_KEY", kes.admin.to_string())
            .output()
            .unwrap();
        ok(&out);
    }
    let mut vars = kes.object_server_env(&[&k], DEFAULT_KEY, false);
    for (name, value) in &mut vars {
        if name == "MINIO_KMS_KES_API_KEY" {
            *value = kes.rekey.to_string();
        }
    }
    let out = ok(&Command::new(env!("CARGO_BIN_EXE_object-server"))
        .args(["admin", "rekey", "--bucket", "kesv"])
        .arg(&data)
        .envs(vars)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap());
    // obj: the copy (current) and the KMS version; two SSE-S3 versions left after the delete;
    // the delete marker has no key.
    assert!(
        out.contains("4 objects: 4 rewrapped, 0 already current"),
        "{out}"
    );
    let reread = format!(
        "{BOTO3_PRELUDE}\n{}\nprint('ALL DONE')\n",
        r#"
lv = s3.list_object_versions(Bucket="kesv")
for v in lv["Versions"]:
    s3.get_object(Bucket="kesv", Key="obj", VersionId=v["VersionId"])["Body"].read()
check("all versions read after rekey", len(lv["Versions"]) == 4)
"#
    );
    let out = ok(&env.python(&reread, &[]));
    assert!(out.contains("ALL DONE"), "{out}");
    drop(k);
}
