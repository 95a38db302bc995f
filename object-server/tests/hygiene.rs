//! Hygiene of the real binary: presigned URLs valid for more than a week are refused (boto3
//! generates them), stored files and directories are private whatever the umask, and an
//! existing data directory open to others is reported at start-up, not chmod-ed.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use common::{BOTO3_PRELUDE, Env, Launch, ok};

fn run(env: &Env, body: &str, args: &[&str]) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, args));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

#[test]
fn presigned_urls_are_capped_at_a_week() {
    let env = Env::new(true);
    run(
        &env,
        r#"
import ssl, urllib.request, urllib.error
ctx = ssl._create_unverified_context()
# SigV4 presigning (botocore presigns with SigV2 by default).
v4 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
def fetch(url):
    try:
        with urllib.request.urlopen(url, context=ctx) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
s3.create_bucket(Bucket="pre")
s3.put_object(Bucket="pre", Key="k", Body=b"hello presigned")
p = {"Bucket": "pre", "Key": "k"}
eight = v4.generate_presigned_url("get_object", Params=p, ExpiresIn=8 * 86400)
check("8-day URL", "X-Amz-Expires=691200" in eight, eight)
status, body = fetch(eight)
check("8 days refused", status == 400, (status, body))
check("S3 error code", b"<Code>AuthorizationQueryParametersError</Code>" in body, body)
check("S3 message", b"<Message>X-Amz-Expires must be less than a week (in seconds) that is 604800</Message>" in body, body)
seven = v4.generate_presigned_url("get_object", Params=p, ExpiresIn=7 * 86400)
check("7-day URL", "X-Amz-Expires=604800" in seven, seven)
status, body = fetch(seven)
check("7 days served", status == 200 and body == b"hello presigned", (status, body))
"#,
        &[],
    );
}

/// Every directory and file under `root`, with its permission bits.
fn modes(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        out.push((dir.clone(), true, mode(&dir)));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push((path.clone(), false, mode(&path)));
            }
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn assert_private(root: &Path) -> Vec<PathBuf> {
    let all = modes(root);
    for (path, is_dir, mode) in &all {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} has mode {mode:04o}", path.display());
    }
    all.into_iter()
        .filter(|(_, is_dir, _)| !is_dir)
        .map(|(p, _, _)| p)
        .collect()
}

#[test]
fn stored_files_and_directories_are_private() {
    // umask 000: modes must not depend on it.
    let env = Env::with(
        true,
        Launch {
            umask: 0,
            ..Launch::default()
        },
    );
    let data = env.path("data");
    let out = run(
        &env,
        r#"
s3.create_bucket(Bucket="modes")
s3.put_object(Bucket="modes", Key="single", Body=b"one part")
up = s3.create_multipart_upload(Bucket="modes", Key="multi")
e1 = s3.upload_part(Bucket="modes", Key="multi", UploadId=up["UploadId"], PartNumber=1, Body=b"a" * (5 << 20))["ETag"]
e2 = s3.upload_part(Bucket="modes", Key="multi", UploadId=up["UploadId"], PartNumber=2, Body=b"b" * 1024)["ETag"]
print("UPLOAD", up["UploadId"], e1, e2)
"#,
        &[],
    );
    let files = assert_private(&data);
    let parts = files
        .iter()
        .filter(|p| p.to_string_lossy().contains("/.objsrv/uploads/"))
        .count();
    assert_eq!(parts, 3, "upload.json and two parts: {files:?}");
    let upload: Vec<&str> = out
        .lines()
        .find_map(|l| l.strip_prefix("UPLOAD "))
        .unwrap()
        .split(' ')
        .collect();
    run(
        &env,
        r#"
uid, e1, e2 = sys.argv[1:4]
s3.complete_multipart_upload(Bucket="modes", Key="multi", UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
check("multipart object", s3.head_object(Bucket="modes", Key="multi")["ContentLength"] == (5 << 20) + 1024)
"#,
        &upload,
    );
    let files = assert_private(&data);
    let objects = files
        .iter()
        .filter(|p| p.starts_with(data.join("modes/obj")))
        .count();
    assert_eq!(objects, 2, "{files:?}");
}

#[test]
fn open_data_directory_is_reported_not_changed() {
    let env = Env::prepared(
        true,
        Launch {
            stderr: Some("server.log".into()),
            ..Launch::default()
        },
        |dir| {
            let data = dir.join("data");
            std::fs::create_dir_all(data.join(".objsrv")).unwrap();
            let set = |p: &Path, m| {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
            };
            set(&data, 0o755);
            set(&data.join(".objsrv"), 0o750);
        },
    );
    let data = env.path("data");
    // The warnings are written before the server prints its URL.
    let log = std::fs::read_to_string(env.path("server.log")).unwrap();
    assert!(
        log.contains(&format!("data directory {} has mode 0755", data.display())),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "directory {} has mode 0750",
            data.join(".objsrv").display()
        )),
        "{log}"
    );
    assert_eq!(mode(&data), 0o755, "the user's directory was chmod-ed");
    assert_eq!(mode(&data.join(".objsrv/tmp")), 0o700);
}
