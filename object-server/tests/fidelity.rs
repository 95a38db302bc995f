//! Protocol fidelity against the real binary (issue 18): body-less HEAD answers over h2 and
//! HTTP/1.1 (curl), S3 error codes, messages and request ids (boto3, the server log),
//! GetBucketVersioning, `MINIO_DOMAIN` virtual-host routing (boto3 virtual addressing and a
//! curl request shaped like the Node v3 SDK's), flexible checksums with boto3's default
//! settings (single and multipart, plain and SSE-C), and rclone over HTTPS.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{ACCESS_KEY, BOTO3_PRELUDE, Env, Launch, SECRET_KEY, ok};

fn run(env: &Env, body: &str, args: &[&str]) -> String {
    let script = format!("{BOTO3_PRELUDE}\n{body}\nprint('ALL DONE')\n");
    let out = ok(&env.python(&script, args));
    assert!(out.contains("ALL DONE"), "{out}");
    out
}

/// The value printed by the script as `NAME=value`.
fn printed(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} not printed:\n{out}"))
        .to_owned()
}

/// curl with SigV4 (`signed`), `-k`, status line info on stdout after the headers.
fn curl(_env: &Env, extra: &[&str], signed: bool) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-k", "-w", "\nRESULT %{http_version} %{http_code}\n"]);
    if signed {
        cmd.args([
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            &format!("{ACCESS_KEY}:{SECRET_KEY}"),
            "-H",
            // curl signs the headers it sends; S3 wants the payload hash header.
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
        ]);
    }
    cmd.args(extra);
    cmd.output().expect("run curl")
}

fn curl_ok(env: &Env, extra: &[&str], signed: bool) -> String {
    let out = curl(env, extra, signed);
    assert!(
        out.status.success(),
        "curl {extra:?} failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn head_answers_have_no_body_on_h2_and_http1() {
    let env = Env::new(true);
    run(
        &env,
        r#"
s3.create_bucket(Bucket="headb")
s3.put_object(Bucket="headb", Key="there", Body=b"x" * 10)
"#,
        &[],
    );
    let url = env.url();
    for (version, flag) in [("2", "--http2"), ("1.1", "--http1.1")] {
        // 404 (signed, missing key) and 403 (anonymous), each ends cleanly.
        let out = curl_ok(&env, &[flag, "-I", &format!("{url}/headb/missing")], true);
        assert!(out.contains(&format!("RESULT {version} 404")), "{out}");
        assert!(
            out.to_ascii_lowercase().contains("x-amz-request-id: "),
            "{out}"
        );
        let out = curl_ok(&env, &[flag, "-I", &format!("{url}/headb/there")], false);
        assert!(out.contains(&format!("RESULT {version} 403")), "{out}");
        let out = curl_ok(&env, &[flag, "-I", &format!("{url}/nobucket")], true);
        assert!(out.contains(&format!("RESULT {version} 404")), "{out}");
        let out = curl_ok(&env, &[flag, "-I", &format!("{url}/headb/there")], true);
        assert!(out.contains(&format!("RESULT {version} 200")), "{out}");
        assert!(
            out.to_ascii_lowercase().contains("content-length: 10"),
            "{out}"
        );
    }
    // The same connection keeps working after a HEAD error on h2 (no stream reset).
    let out = curl_ok(
        &env,
        &[
            "--http2",
            "-I",
            &format!("{url}/headb/missing"),
            "--next",
            "-k",
            "--http2",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            &format!("{ACCESS_KEY}:{SECRET_KEY}"),
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            &format!("{url}/headb/there"),
        ],
        true,
    );
    assert!(out.contains("xxxxxxxxxx"), "{out}");
}

#[test]
fn errors_have_s3_codes_messages_and_request_ids() {
    let launch = Launch {
        log: "info,s3s=off".to_owned(),
        stderr: Some("server.log".into()),
        ..Launch::default()
    };
    let env = Env::with(false, launch);
    let out = run(
        &env,
        r#"
import re
def client(key, secret):
    return boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], aws_access_key_id=key,
                        aws_secret_access_key=secret, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def ids(meta, what):
    check(what + " request id", re.fullmatch(r"[0-9A-F]{16}", meta.get("RequestId", "")), meta)
    check(what + " host id", len(meta.get("HostId", "")) == 64, meta)
e = expect_error("InvalidAccessKeyId", 403, client("nobody", "whatever-secret").list_buckets)
check("unknown key message", e.response["Error"]["Message"] == "The AWS Access Key Id you provided does not exist in our records.", e.response)
ids(e.response["ResponseMetadata"], "InvalidAccessKeyId")
print("DENIED_ID=" + e.response["ResponseMetadata"]["RequestId"])
e = expect_error("SignatureDoesNotMatch", 403, client(os.environ["AWS_ACCESS_KEY_ID"], "wrong-secret-key").list_buckets)
check("signature message", e.response["Error"]["Message"] == "The request signature we calculated does not match the signature you provided. Check your key and signing method.", e.response)
ids(e.response["ResponseMetadata"], "SignatureDoesNotMatch")
e = expect_error("InvalidBucketName", 400, s3.create_bucket, Bucket="ab")
check("bucket name message", e.response["Error"]["Message"] == "The specified bucket is not valid.", e.response)
r = s3.list_buckets()
ids(r["ResponseMetadata"], "success")
check("ids differ", r["ResponseMetadata"]["RequestId"] != e.response["ResponseMetadata"]["RequestId"])
s3.create_bucket(Bucket="vers")
v = s3.get_bucket_versioning(Bucket="vers")
check("never-versioned bucket", "Status" not in v and "MFADelete" not in v and v["ResponseMetadata"]["HTTPStatusCode"] == 200, v)
expect_error("NoSuchBucket", 404, s3.get_bucket_versioning, Bucket="no-such-bucket")
e = expect_error("404", 404, s3.head_object, Bucket="vers", Key="missing")
ids(e.response["ResponseMetadata"], "HEAD 404")
e = expect_error("NoSuchKey", 404, s3.get_object, Bucket="vers", Key="missing")
check("NoSuchKey message", e.response["Error"]["Message"] == "The specified key does not exist.", e.response)
ids(e.response["ResponseMetadata"], "NoSuchKey")
"#,
        &[],
    );
    // The failed request's id is in the server's log line for it.
    let id = printed(&out, "DENIED_ID");
    let log_path = env.path("server.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains(&id)) {
            assert!(line.contains("status=403"), "{line}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "request id {id} not logged:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Resolves `*.example.test` to 127.0.0.1 inside the Python process (no DNS needed).
const RESOLVE: &str = r#"
import socket
_getaddrinfo = socket.getaddrinfo
def _local(host, *a, **kw):
    if isinstance(host, str) and (host.endswith(".example.test") or host.endswith(".example.org")):
        host = "127.0.0.1"
    return _getaddrinfo(host, *a, **kw)
socket.getaddrinfo = _local
port = os.environ["ENDPOINT"].rsplit(":", 1)[1]
def client_for(host, style):
    return boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 1}))
"#;

#[test]
fn virtual_host_requests_with_minio_domain() {
    let env = Env::with(
        false,
        Launch::args(&["--domain", "s3.example.test,other.test"]),
    );
    let body = format!(
        "{RESOLVE}{}",
        r#"
vh = client_for("s3.example.test", "virtual")
vh.create_bucket(Bucket="vbucket")
vh.put_object(Bucket="vbucket", Key="dir/hello.txt", Body=b"hello virtual host")
lst = vh.list_objects_v2(Bucket="vbucket")
check("virtual listing", [o["Key"] for o in lst.get("Contents", [])] == ["dir/hello.txt"], lst)
check("virtual get", vh.get_object(Bucket="vbucket", Key="dir/hello.txt")["Body"].read() == b"hello virtual host")
check("virtual head bucket", vh.head_bucket(Bucket="vbucket")["ResponseMetadata"]["HTTPStatusCode"] == 200)
check("path style on the IP sees it", s3.get_object(Bucket="vbucket", Key="dir/hello.txt")["Body"].read() == b"hello virtual host")
check("path style on the domain", client_for("s3.example.test", "path").get_object(Bucket="vbucket", Key="dir/hello.txt")["Body"].read() == b"hello virtual host")
other = client_for("unknown.example.org", "path")
check("unknown host is path style", other.get_object(Bucket="vbucket", Key="dir/hello.txt")["Body"].read() == b"hello virtual host")
check("bucket list on the domain", "vbucket" in [b["Name"] for b in vh.list_buckets()["Buckets"]])
vh.delete_object(Bucket="vbucket", Key="dir/hello.txt")
check("virtual delete", s3.list_objects_v2(Bucket="vbucket").get("KeyCount") == 0)
vh.put_object(Bucket="vbucket", Key="hello.txt", Body=b"node style")
"#
    );
    run(&env, &body, &[]);
    // The request as the Node v3 SDK sends it: Host `<bucket>.<domain>:<port>`, path `/<key>`.
    let port = env.addr().port();
    let out = curl_ok(
        &env,
        &[
            "--connect-to",
            &format!("vbucket.s3.example.test:{port}:127.0.0.1:{port}"),
            "-H",
            "x-amz-user-agent: aws-sdk-js/3.0.0",
            &format!("http://vbucket.s3.example.test:{port}/hello.txt"),
        ],
        true,
    );
    assert!(out.contains("node style"), "{out}");
    assert!(out.contains("RESULT 1.1 200"), "{out}");
}

const CHECKSUM_SCRIPT: &str = r#"
import zlib, struct
from boto3.s3.transfer import TransferConfig
DATA_DIR = sys.argv[1]
TLS = sys.argv[2] == "tls"
def crc32(b): return struct.pack(">I", zlib.crc32(b) & 0xffffffff)
def b64(raw): return base64.b64encode(raw).decode()
s3.create_bucket(Bucket="cksum")
data = b"hello checksum " * 1000
r = s3.put_object(Bucket="cksum", Key="small", Body=data)
check("put returns CRC32", r.get("ChecksumCRC32") == b64(crc32(data)), r)
h = s3.head_object(Bucket="cksum", Key="small", ChecksumMode="ENABLED")
check("head CRC32", h.get("ChecksumCRC32") == b64(crc32(data)) and h.get("ChecksumType") == "FULL_OBJECT", h)
g = s3.get_object(Bucket="cksum", Key="small", ChecksumMode="ENABLED")
check("get CRC32 (validated by botocore)", g["Body"].read() == data and g.get("ChecksumCRC32") == b64(crc32(data)), g)
check("no checksum unless asked", "ChecksumCRC32" not in s3.head_object(Bucket="cksum", Key="small"))
rg = s3.get_object(Bucket="cksum", Key="small", Range="bytes=0-9", ChecksumMode="ENABLED")
check("no checksum for a range", "ChecksumCRC32" not in rg and rg["Body"].read() == data[:10])
e = expect_error("BadDigest", 400, s3.put_object, Bucket="cksum", Key="bad", Body=data, ChecksumCRC32=b64(crc32(b"other")))
check("BadDigest message", e.response["Error"]["Message"] == "The CRC32 you specified did not match the calculated checksum.", e.response)
expect_error("404", 404, s3.head_object, Bucket="cksum", Key="bad")
expect_error("InvalidRequest", 400, s3.put_object, Bucket="cksum", Key="bad", Body=data, ChecksumCRC32="notbase64!")
def reflected_crc(poly, width):
    mask = (1 << width) - 1
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    def crc(b):
        c = mask
        for x in b:
            c = table[(c ^ x) & 0xff] ^ (c >> 8)
        return (c ^ mask).to_bytes(width // 8, "big")
    return crc
local = {"SHA1": lambda b: hashlib.sha1(b).digest(), "SHA256": lambda b: hashlib.sha256(b).digest(),
         "CRC32C": reflected_crc(0x82F63B78, 32), "CRC64NVME": reflected_crc(0x9A6C9329AC4BC9B5, 64)}
check("local CRC32C", local["CRC32C"](b"123456789").hex() == "e3069283")
check("local CRC64NVME", local["CRC64NVME"](b"123456789").hex() == "ae8b14860a799888")
for algo, fn in local.items():
    if algo.startswith("SHA"):
        r = s3.put_object(Bucket="cksum", Key="a-" + algo, Body=data, ChecksumAlgorithm=algo)
    else:
        # botocore computes CRC32C / CRC64NVME only with awscrt: send the value ourselves.
        r = s3.put_object(Bucket="cksum", Key="a-" + algo, Body=data, **{"Checksum" + algo: b64(fn(data))})
        expect_error("BadDigest", 400, s3.put_object, Bucket="cksum", Key="bad", Body=data, **{"Checksum" + algo: b64(fn(b"x"))})
    h = s3.head_object(Bucket="cksum", Key="a-" + algo, ChecksumMode="ENABLED")
    check(algo, r.get("Checksum" + algo) == b64(fn(data)) and h.get("Checksum" + algo) == b64(fn(data)), (r, h))
# Multipart with the default settings of upload_fileobj.
PART = 5 * 1024 * 1024
big = bytes((i * 31 + i // 7) % 256 for i in range(PART)) * 2 + b"tail" * 1000
s3.upload_fileobj(io.BytesIO(big), "cksum", "big", Config=TransferConfig(multipart_threshold=PART, multipart_chunksize=PART))
h = s3.head_object(Bucket="cksum", Key="big", ChecksumMode="ENABLED")
if h.get("ChecksumType") == "COMPOSITE":
    want = b64(crc32(b"".join(crc32(big[i:i + PART]) for i in range(0, len(big), PART)))) + "-3"
else:
    want = b64(crc32(big))
check("multipart CRC32 " + h.get("ChecksumType", "?"), h.get("ChecksumCRC32") == want, (h, want))
check("multipart data", s3.get_object(Bucket="cksum", Key="big", ChecksumMode="ENABLED")["Body"].read() == big)
# Explicit composite upload: ListParts, Complete, GetObjectAttributes.
up = s3.create_multipart_upload(Bucket="cksum", Key="mp", ChecksumAlgorithm="CRC32")
check("create echoes", up.get("ChecksumAlgorithm") == "CRC32" and up.get("ChecksumType") == "COMPOSITE", up)
p1 = big[:PART]; p2 = b"last part"
r1 = s3.upload_part(Bucket="cksum", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=p1, ChecksumAlgorithm="CRC32")
r2 = s3.upload_part(Bucket="cksum", Key="mp", UploadId=up["UploadId"], PartNumber=2, Body=p2, ChecksumAlgorithm="CRC32")
check("part checksums", r1.get("ChecksumCRC32") == b64(crc32(p1)) and r2.get("ChecksumCRC32") == b64(crc32(p2)), (r1, r2))
expect_error("InvalidRequest", 400, s3.upload_part, Bucket="cksum", Key="mp", UploadId=up["UploadId"], PartNumber=3, Body=p2, ChecksumAlgorithm="SHA256")
lp = s3.list_parts(Bucket="cksum", Key="mp", UploadId=up["UploadId"])
check("list parts", [p.get("ChecksumCRC32") for p in lp["Parts"]] == [b64(crc32(p1)), b64(crc32(p2))] and lp.get("ChecksumAlgorithm") == "CRC32", lp)
parts = [{"PartNumber": 1, "ETag": r1["ETag"], "ChecksumCRC32": r1["ChecksumCRC32"]},
         {"PartNumber": 2, "ETag": r2["ETag"], "ChecksumCRC32": b64(crc32(b"wrong"))}]
expect_error("InvalidPart", 400, s3.complete_multipart_upload, Bucket="cksum", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
parts[1]["ChecksumCRC32"] = r2["ChecksumCRC32"]
c = s3.complete_multipart_upload(Bucket="cksum", Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
want = b64(crc32(crc32(p1) + crc32(p2))) + "-2"
check("complete composite", c.get("ChecksumCRC32") == want and c.get("ChecksumType") == "COMPOSITE", c)
a = s3.get_object_attributes(Bucket="cksum", Key="mp", ObjectAttributes=["Checksum", "ObjectParts", "ObjectSize"])
check("attributes", a["Checksum"]["ChecksumCRC32"] == want and a["ObjectSize"] == len(p1) + len(p2)
      and [p.get("ChecksumCRC32") for p in a["ObjectParts"]["Parts"]] == [b64(crc32(p1)), b64(crc32(p2))], a)
# An aws-chunked upload with an unsigned trailer, built by hand: the trailer value is checked.
def chunked_put(key, payload, trailer_value):
    import urllib3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    urllib3.disable_warnings()
    body = b"%x\r\n" % len(payload) + payload + b"\r\n0\r\nx-amz-checksum-crc32:" + trailer_value.encode() + b"\r\n\r\n"
    url = os.environ["ENDPOINT"] + "/cksum/" + key
    req = AWSRequest(method="PUT", url=url, data=body)
    req.headers["x-amz-content-sha256"] = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    req.headers["content-encoding"] = "aws-chunked"
    req.headers["x-amz-decoded-content-length"] = str(len(payload))
    req.headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    req.headers["content-length"] = str(len(body))
    SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]), "s3", "us-east-1").add_auth(req)
    r = urllib3.PoolManager(cert_reqs="CERT_NONE").request("PUT", url, headers=dict(req.headers), body=body)
    return r.status, r.data
st, body = chunked_put("trailer-ok", data, b64(crc32(data)))
check("trailer accepted", st == 200, (st, body))
check("trailer value stored", s3.head_object(Bucket="cksum", Key="trailer-ok", ChecksumMode="ENABLED").get("ChecksumCRC32") == b64(crc32(data)))
st, body = chunked_put("trailer-bad", data, b64(crc32(b"other")))
check("wrong trailer refused", st == 400 and b"<Code>BadDigest</Code>" in body, (st, body))
expect_error("404", 404, s3.head_object, Bucket="cksum", Key="trailer-bad")
# boto3's default PutObject over HTTPS sends its CRC32 in a trailer.
sent = []
def text(v): return v.decode() if isinstance(v, bytes) else v
s3.meta.events.register("before-send.s3.PutObject", lambda request, **kw: sent.append({k.lower(): text(v) for k, v in request.headers.items()}))
s3.put_object(Bucket="cksum", Key="hooked", Body=data)
if TLS:
    check("CRC32 in a trailer over HTTPS", sent[-1].get("x-amz-trailer") == "x-amz-checksum-crc32", sent[-1])
else:
    check("CRC32 sent over HTTP", sent[-1].get("x-amz-trailer") == "x-amz-checksum-crc32" or sent[-1].get("x-amz-checksum-crc32") == b64(crc32(data)), sent[-1])
print("PLAIN_CRC=" + b64(crc32(data)))
if TLS:
    KEY = b"0123456789abcdef0123456789abcdef"
    sse = dict(SSECustomerAlgorithm="AES256", SSECustomerKey=KEY)
    secret = b"sse-c plaintext " * 500
    r = s3.put_object(Bucket="cksum", Key="ssec", Body=secret, **sse)
    check("SSE-C put checksum", r.get("ChecksumCRC32") == b64(crc32(secret)), r)
    h = s3.head_object(Bucket="cksum", Key="ssec", ChecksumMode="ENABLED", **sse)
    check("SSE-C head checksum", h.get("ChecksumCRC32") == b64(crc32(secret)), h)
    g = s3.get_object(Bucket="cksum", Key="ssec", ChecksumMode="ENABLED", **sse)
    check("SSE-C get checksum", g["Body"].read() == secret and g.get("ChecksumCRC32") == b64(crc32(secret)), g)
    expect_error("400", 400, s3.head_object, Bucket="cksum", Key="ssec", ChecksumMode="ENABLED")
    print("SSEC_CRC=" + b64(crc32(secret)))
"#;

/// Whether any file under `dir` contains `needle`.
fn stored_anywhere(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let path = e.unwrap().path();
        if path.is_dir() {
            stored_anywhere(&path, needle)
        } else {
            let bytes = std::fs::read(&path).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        }
    })
}

fn checksums(tls: bool) {
    let env = Env::new(tls);
    let data = env.path("data");
    let out = run(
        &env,
        CHECKSUM_SCRIPT,
        &[data.to_str().unwrap(), if tls { "tls" } else { "plain" }],
    );
    let plain = printed(&out, "PLAIN_CRC");
    assert!(
        stored_anywhere(&data, plain.as_bytes()),
        "a plain object's checksum is stored as is"
    );
    if tls {
        let sealed = printed(&out, "SSEC_CRC");
        assert!(
            !stored_anywhere(&data, sealed.as_bytes()),
            "an SSE-C object's checksum must not be stored in the clear"
        );
    }
}

#[test]
fn boto3_default_checksums_over_http() {
    checksums(false);
}

#[test]
fn boto3_default_checksums_and_ssec_over_https() {
    checksums(true);
}

/// rclone (Debian) when installed; with `CI` set a missing rclone fails the test.
fn rclone() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("rclone"))
            .find(|f| f.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "rclone not installed: run scripts/services.sh setup"
        );
        eprintln!("skipping: rclone not installed (scripts/services.sh setup)");
    }
    found
}

#[test]
fn rclone_over_https_logs_no_protocol_error() {
    let Some(rclone) = rclone() else { return };
    let env = Env::new(true);
    let src = env.path("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.txt"), b"alpha").unwrap();
    std::fs::write(src.join("sub/b.bin"), common::data(3 * 1024 * 1024, 3)).unwrap();
    let ca = env.path("certs/public.crt");
    let mut log = String::new();
    let rc = |args: &[&str], log: &mut String| -> String {
        let out = Command::new(&rclone)
            .env_remove("AWS_CA_BUNDLE")
            .env("HOME", env.path("home"))
            .env("RCLONE_CONFIG", env.path("home/rclone.conf"))
            .env("RCLONE_CONFIG_OBJ_TYPE", "s3")
            .env("RCLONE_CONFIG_OBJ_PROVIDER", "Other")
            .env("RCLONE_CONFIG_OBJ_ENDPOINT", env.url())
            .env("RCLONE_CONFIG_OBJ_ACCESS_KEY_ID", ACCESS_KEY)
            .env("RCLONE_CONFIG_OBJ_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("RCLONE_CONFIG_OBJ_REGION", "us-east-1")
            .arg("--ca-cert")
            .arg(&ca)
            .args([
                "-vv",
                "--dump",
                "headers",
                "--retries",
                "1",
                "--low-level-retries",
                "1",
            ])
            .args(args)
            .output()
            .expect("run rclone");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        log.push_str(&stderr);
        assert!(
            out.status.success(),
            "rclone {args:?} failed: {stderr}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    rc(&["mkdir", "obj:rbucket"], &mut log);
    rc(
        &["copy", src.to_str().unwrap(), "obj:rbucket/dir"],
        &mut log,
    );
    // A second copy checks every object's existence (HEAD) first.
    rc(
        &["copy", src.to_str().unwrap(), "obj:rbucket/dir"],
        &mut log,
    );
    let listed = rc(&["lsf", "-R", "obj:rbucket"], &mut log);
    assert!(
        listed.contains("dir/a.txt") && listed.contains("dir/sub/b.bin"),
        "{listed}"
    );
    rc(
        &["check", src.to_str().unwrap(), "obj:rbucket/dir"],
        &mut log,
    );
    let cat = rc(&["cat", "obj:rbucket/dir/a.txt"], &mut log);
    assert_eq!(cat, "alpha");
    // Existence checks of missing objects (HEAD 404).
    rc(
        &[
            "copyto",
            src.join("a.txt").to_str().unwrap(),
            "obj:rbucket/new/a.txt",
        ],
        &mut log,
    );
    rc(&["purge", "obj:rbucket"], &mut log);
    assert!(
        log.contains("HTTP/2.0 404"),
        "rclone used h2 and saw a HEAD 404:\n{log}"
    );
    for bad in [
        "PROTOCOL_ERROR",
        "received DATA",
        "protocol error",
        "ERROR :",
    ] {
        assert!(!log.contains(bad), "rclone logged {bad:?}:\n{log}");
    }
}

/// A raw h2 client: an anonymous `HEAD /headb/k` is answered 403 with one HEADERS frame that
/// ends the stream, and no DATA frame on it, while a GET of the same resource has its body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_head_error_is_one_headers_frame_with_end_stream() {
    use common::raw::{self, END_HEADERS, END_STREAM, HEADERS};
    use tokio::io::AsyncWriteExt as _;

    let env = Env::new(true);
    let connector = raw::tls_connector(&env.path("certs"), &[b"h2"]);
    let tcp = raw::tcp_from(env.addr(), "127.0.0.1".parse().unwrap(), None).await;
    let mut s = raw::tls(&connector, tcp).await.unwrap();
    let request = |method: &[u8], stream: u32| {
        // :method (static name 2) and :path (static name 4) as literals, :scheme https
        // (static 7), :authority (static name 1) literal; no Huffman, no indexing.
        let mut block = vec![0x02, u8::try_from(method.len()).unwrap()];
        block.extend_from_slice(method);
        block.extend_from_slice(&[0x87, 0x04, 10]);
        block.extend_from_slice(b"/headb/key");
        block.extend_from_slice(&[0x01, 9]);
        block.extend_from_slice(b"127.0.0.1");
        raw::frame(HEADERS, END_HEADERS | END_STREAM, stream, &block)
    };
    s.write_all(&raw::h2_start(&[])).await.unwrap();
    s.write_all(&request(b"HEAD", 1)).await.unwrap();
    s.write_all(&request(b"GET", 3)).await.unwrap();
    let head_frames = std::cell::RefCell::new(Vec::new());
    let get_data = std::cell::Cell::new(0usize);
    let (head_ended, get_ended) = (std::cell::Cell::new(false), std::cell::Cell::new(false));
    raw::h2_until(&mut s, |f| {
        let ends = f.flags & END_STREAM != 0;
        match f.stream {
            1 => {
                head_frames.borrow_mut().push((f.kind, f.flags));
                head_ended.set(head_ended.get() || ends);
            }
            3 => {
                if f.kind == raw::DATA {
                    get_data.set(get_data.get() + f.payload.len());
                }
                get_ended.set(get_ended.get() || ends);
            }
            _ => {}
        }
        head_ended.get() && get_ended.get()
    })
    .await
    .expect("both streams end");
    let head_frames = head_frames.into_inner();
    let get_data = get_data.get();
    assert_eq!(
        head_frames,
        vec![(HEADERS, END_HEADERS | END_STREAM)],
        "HEAD: one HEADERS frame ending the stream, no DATA"
    );
    assert!(get_data > 0, "the GET error has its XML body");
}
