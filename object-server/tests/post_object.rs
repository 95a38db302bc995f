//! POST object (browser form uploads) end to end: the real `object-server` over TLS, boto3's
//! `generate_presigned_post` and urllib3 / http.client multipart POSTs (statuses, redirects,
//! `${filename}`, metadata, tagging, ACL, SSE-C, versioning, policy and signature failures,
//! anonymous uploads under a bucket policy, malformed forms), and SSE-S3 / SSE-KMS / the bucket
//! default through a real `kes server`. A signed 64 MiB form is stored without the server
//! holding it in memory.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::kes::KesSetup;
use common::{BOTO3_PRELUDE, Env, Launch, ok};

const DEFAULT_KEY: &str = "my-minio-sse-s3-key";

/// Runs a boto3 script (after the prelude); asserts it printed ALL OK.
fn boto3(env: &Env, script: &str) -> String {
    let full =
        format!("{BOTO3_PRELUDE}\nos.environ.setdefault('DEFAULT_KEY', {DEFAULT_KEY:?})\n{script}");
    let out = ok(&env.python(&full, &[]));
    assert!(out.contains("ALL OK"), "{out}");
    out
}

#[test]
fn browser_form_uploads() {
    let env = Env::new(true);
    let out = boto3(&env, include_str!("scripts/post_object.py"));
    assert!(out.contains("OK raw anonymous upload"), "{out}");
}

#[test]
fn form_uploads_encrypt_through_kes() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let mut env_vars = kes.object_server_env(&[&k], DEFAULT_KEY, false);
    env_vars.push(("DEFAULT_KEY".to_owned(), DEFAULT_KEY.to_owned()));
    let env = Env::with(
        true,
        Launch {
            env: env_vars,
            ..Launch::default()
        },
    );
    boto3(&env, include_str!("scripts/post_object_kes.py"));
}

/// A signed 64 MiB form streams to disk: the server's resident memory stays far below the
/// file's size, and the object reads back whole.
#[test]
fn large_form_is_streamed() {
    const SIZE: usize = 64 << 20;
    let env = Env::new(true);
    let script = format!(
        r#"
import urllib3
urllib3.disable_warnings()
signer = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                      config=Config(signature_version="s3v4", s3={{"addressing_style": "path"}}))
s3.create_bucket(Bucket="big")
p = signer.generate_presigned_post("big", "blob", Conditions=[["content-length-range", 0, {SIZE}]])
data = bytes(range(256)) * ({SIZE} // 256)
r = urllib3.PoolManager(cert_reqs="CERT_NONE").request(
    "POST", p["url"], fields=list(p["fields"].items()) + [("file", ("b", data, "application/octet-stream"))])
check("stored", r.status == 204, (r.status, r.data))
print("RSS", open("/proc/{pid}/status").read().split("VmHWM:")[1].split()[0])
got = s3.get_object(Bucket="big", Key="blob")["Body"].read()
check("read back", got == data)
print("ALL OK")
"#,
        pid = env.pid()
    );
    let out = boto3(&env, &script);
    let peak_kib: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("RSS "))
        .and_then(|v| v.trim().parse().ok())
        .expect("peak RSS printed");
    eprintln!(
        "server peak RSS after a 64 MiB form: {} MiB",
        peak_kib >> 10
    );
    assert!(
        peak_kib < 48 * 1024,
        "server peak RSS {} MiB while storing a 64 MiB form",
        peak_kib >> 10
    );
}

/// With `--domain`, a form POSTed to `/` on `<bucket>.<domain>` uploads into that bucket (signed
/// by boto3 for the bucket, sent with the virtual-host `Host`).
#[test]
fn virtual_host_form_upload() {
    let env = Env::with(true, Launch::args(&["--domain", "s3.example.test"]));
    boto3(
        &env,
        r#"
import http.client, ssl, urllib.parse, uuid
signer = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="vforms")
p = signer.generate_presigned_post("vforms", "vh/${filename}")
ep = urllib.parse.urlparse(os.environ["ENDPOINT"])
b = uuid.uuid4().hex
body = "".join(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in p["fields"].items())
body += f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="v.txt"\r\n\r\nvirtual\r\n--{b}--\r\n'
def send(host, path):
    c = http.client.HTTPSConnection(ep.hostname, ep.port, context=ssl._create_unverified_context())
    c.request("POST", path, body=body.encode(), headers={"Host": host, "Content-Type": f"multipart/form-data; boundary={b}"})
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, data
st, data = send(f"vforms.s3.example.test:{ep.port}", "/")
check("virtual-host upload", st == 204, (st, data))
check("stored in the bucket", s3.get_object(Bucket="vforms", Key="vh/v.txt")["Body"].read() == b"virtual")
st, data = send(f"vforms.s3.example.test:{ep.port}", "/vh/key")
check("a key in the path", st == 405, (st, data))
print("ALL OK")
"#,
    );
}
