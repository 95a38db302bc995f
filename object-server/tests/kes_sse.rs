//! SSE-S3 and SSE-KMS end to end: the real `object-server` and a real `kes server` process over
//! TLS, driven by the real aws-cli and boto3. API-key and certificate-file authentication to
//! KES, bucket default encryption, the CopyObject matrix, multipart, ranges, listings; deleting
//! the external key erases objects for good (and leaves no key behind on disk or in logs); two
//! KES endpoints with the first stopped mid-run; KES stopped entirely and back.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};

use common::kes::{KesProc, KesSetup};
use common::{BOTO3_PRELUDE, Env, Launch, data, ok};
use md5::Digest as _;

const DEFAULT_KEY: &str = "my-minio-sse-s3-key";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An object server (HTTPS) using `kes` for `endpoints`; logs to `object-server.log`.
fn object_server(kes: &KesSetup, endpoints: &[&KesProc], cert_auth: bool) -> Env {
    let mut env = kes.object_server_env(endpoints, DEFAULT_KEY, cert_auth);
    env.push(("DEFAULT_KEY".to_owned(), DEFAULT_KEY.to_owned()));
    Env::with(
        true,
        Launch {
            log: "info,object_server=debug,client=debug,s3s=off".to_owned(),
            stderr: Some("object-server.log".into()),
            env,
            ..Launch::default()
        },
    )
}

/// Runs a boto3 script (after the prelude) with `DEFAULT_KEY` set; asserts it printed ALL OK.
fn boto3(env: &Env, script: &str) -> String {
    let full =
        format!("{BOTO3_PRELUDE}\nos.environ.setdefault('DEFAULT_KEY', {DEFAULT_KEY:?})\n{script}");
    let out = ok(&env.python(&full, &[]));
    assert!(out.contains("ALL OK"), "{out}");
    out
}

#[test]
fn sse_s3_and_sse_kms_through_kes_with_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let rt = rt();
    let admin = kes.admin_client(&[&k]);
    rt.block_on(admin.create_key("testkey-1")).unwrap();
    let env = object_server(&kes, &[&k], false);
    // The start-up probe created the default key.
    rt.block_on(admin.describe_key(DEFAULT_KEY))
        .expect("default key auto-created");

    // The issue's commands with aws-cli.
    let url = env.url();
    let aws = |args: &[&str]| {
        let mut all = vec!["--no-verify-ssl", "--endpoint-url", url.as_str()];
        all.extend_from_slice(args);
        ok(&env.aws(&all))
    };
    aws(&["s3api", "create-bucket", "--bucket", "mybucket"]);
    aws(&[
        "s3api",
        "put-bucket-encryption",
        "--bucket",
        "mybucket",
        "--server-side-encryption-configuration",
        r#"{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}"#,
    ]);
    let file = env.path("home/file");
    let content = data(9 * 1024 * 1024 + 17, 3); // multipart with aws s3 cp (8 MiB parts)
    std::fs::write(&file, &content).unwrap();
    let file_arg = file.to_str().unwrap();
    aws(&["s3", "cp", file_arg, "s3://mybucket/file"]);
    let head: serde_json::Value = serde_json::from_str(&aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "mybucket",
        "--key",
        "file",
    ]))
    .unwrap();
    assert_eq!(head["ServerSideEncryption"], "AES256", "{head}");
    assert_eq!(head["ContentLength"], content.len());
    let small = env.path("home/small");
    std::fs::write(&small, data(4096, 9)).unwrap();
    aws(&["s3", "cp", small.to_str().unwrap(), "s3://mybucket/small"]);
    let head: serde_json::Value = serde_json::from_str(&aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "mybucket",
        "--key",
        "small",
    ]))
    .unwrap();
    assert_eq!(head["ServerSideEncryption"], "AES256", "{head}");
    assert_eq!(
        head["ETag"].as_str().unwrap().trim_matches('"'),
        hex::encode(md5::Md5::digest(data(4096, 9))),
        "SSE-S3 ETag is the MD5"
    );
    aws(&[
        "s3",
        "cp",
        file_arg,
        "s3://mybucket/k",
        "--sse",
        "aws:kms",
        "--sse-kms-key-id",
        "testkey-1",
    ]);
    let head: serde_json::Value = serde_json::from_str(&aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "mybucket",
        "--key",
        "k",
    ]))
    .unwrap();
    assert_eq!(head["ServerSideEncryption"], "aws:kms", "{head}");
    assert_eq!(head["SSEKMSKeyId"], "testkey-1", "{head}");
    for key in ["file", "k"] {
        let got = env.path(&format!("home/got-{key}"));
        aws(&[
            "s3",
            "cp",
            &format!("s3://mybucket/{key}"),
            got.to_str().unwrap(),
        ]);
        assert_eq!(std::fs::read(&got).unwrap(), content, "{key} round trip");
    }

    boto3(&env, include_str!("scripts/sse_kms.py"));

    // A 4 KiB SSE-S3 GET costs exactly one KES decrypt: count the decrypts in the KES audit
    // log (ordered) between two marker requests (describe of absent keys) around the GET.
    let wait_for = |marker: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let log = kes.audit_log("kes");
            if let Some(at) = log.find(marker) {
                return (log, at);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no audit line {marker}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let _ = rt.block_on(admin.describe_key("marker-before"));
    let (_, before) = wait_for("/v1/key/describe/marker-before");
    let got = env.path("home/got-small");
    aws(&[
        "s3api",
        "get-object",
        "--bucket",
        "mybucket",
        "--key",
        "small",
        got.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&got).unwrap(), data(4096, 9));
    let _ = rt.block_on(admin.describe_key("marker-after"));
    let (log, after) = wait_for("/v1/key/describe/marker-after");
    let between = &log[before..after];
    assert_eq!(
        between.matches("/v1/key/decrypt/").count(),
        1,
        "one KES decrypt for one SSE-S3 GET: {between}"
    );
    assert_eq!(between.matches("/v1/key/generate/").count(), 0, "{between}");
}

#[test]
fn bucket_default_encryption_with_certificate_auth() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let rt = rt();
    let admin = kes.admin_client(&[&k]);
    rt.block_on(admin.create_key("testkey-1")).unwrap();
    rt.block_on(admin.create_key(DEFAULT_KEY)).unwrap();
    let env = object_server(&kes, &[&k], true);
    boto3(&env, include_str!("scripts/bucket_default.py"));
}

/// Every file under `dirs` (recursively).
fn files_under(dirs: &[&std::path::Path]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that no file under `dirs` holds any of `secrets` raw, in hex or in base64, also
/// inside files that are themselves base64 text (KES's stored keys are).
fn assert_no_secret_on_disk(dirs: &[&std::path::Path], secrets: &[(String, Vec<u8>)]) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let files = files_under(dirs);
    assert!(files.len() > 5, "scanned too few files: {files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let decoded = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| b64.decode(t.trim()).ok());
        for (what, secret) in secrets {
            let hit = contains(&bytes, secret)
                || contains(&bytes, hex::encode(secret).as_bytes())
                || contains(&bytes, b64.encode(secret).as_bytes())
                || decoded.as_deref().is_some_and(|d| contains(d, secret));
            assert!(!hit, "{what} found in {}", f.display());
        }
    }
}

/// Opens a KES ciphertext (raw layout: sealed ‖ iv(16) ‖ nonce(12), AES256 key) with the
/// external key, as KES does: AES-256-GCM under HMAC-SHA256(ek, iv), AAD = context.
fn kes_open(ek: &[u8; 32], ciphertext: &[u8], context: &[u8]) -> Vec<u8> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let (rest, nonce) = ciphertext.split_at(ciphertext.len() - 12);
    let (sealed, iv) = rest.split_at(rest.len() - 16);
    let k = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, ek),
        iv,
    );
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, k.as_ref()).unwrap());
    let mut buf = sealed.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).unwrap(),
            Aad::from(context),
            &mut buf,
        )
        .expect("DEK ciphertext opens with the EK and the object's context");
    plain.to_vec()
}

/// The internal metadata of every object file of `bucket` under `data`, with its key and data.
fn stored_objects(
    data: &std::path::Path,
    bucket: &str,
) -> Vec<(String, std::collections::BTreeMap<String, String>, Vec<u8>)> {
    let mut out = Vec::new();
    for f in files_under(&[&data.join(bucket).join("obj")]) {
        let bytes = std::fs::read(&f).unwrap();
        let n = bytes.len();
        let meta_len = u64::from_le_bytes(bytes[n - 16..n - 8].try_into().unwrap()) as usize;
        let meta: serde_json::Value =
            serde_json::from_slice(&bytes[n - 16 - meta_len..n - 16]).unwrap();
        let internal = serde_json::from_value(meta["internal"].clone()).unwrap();
        out.push((
            meta["key"].as_str().unwrap().to_owned(),
            internal,
            bytes[..n - 16 - meta_len].to_vec(),
        ));
    }
    out
}

const ERASE_PUT: &str = include_str!("scripts/erase_put.py");

const ERASE_CHECK: &str = include_str!("scripts/erase_check.py");

#[test]
fn deleting_the_external_key_erases_objects_for_good() {
    use base64::Engine as _;
    use object_server::sse::context;
    use object_server::sse::meta::{self, ObjectEncryption};
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let rt = rt();
    let admin = kes.admin_client(&[&k]);
    let mut ek_s3 = [0u8; 32];
    let mut ek_kms = [0u8; 32];
    aws_lc_rs::rand::fill(&mut ek_s3).unwrap();
    aws_lc_rs::rand::fill(&mut ek_kms).unwrap();
    rt.block_on(admin.import_key(DEFAULT_KEY, &ek_s3, "AES256"))
        .unwrap();
    rt.block_on(admin.import_key("erase-key", &ek_kms, "AES256"))
        .unwrap();
    let mut env = object_server(&kes, &[&k], false);
    boto3(&env, ERASE_PUT);

    // From disk alone, with the EKs: DEK → KEK → OEK → data (the exact context encoding).
    let mut secrets = vec![
        ("EK of the default key".to_owned(), ek_s3.to_vec()),
        ("EK of erase-key".to_owned(), ek_kms.to_vec()),
    ];
    let objects = stored_objects(&env.path("data"), "erase");
    assert_eq!(objects.len(), 3);
    for (key, internal, data_region) in &objects {
        let state = ObjectEncryption::from_metadata(internal).unwrap();
        let (kms, domain, ek) = match &state {
            ObjectEncryption::SseS3(k) => (k, object_server::sse::keys::Domain::SseS3, &ek_s3),
            ObjectEncryption::SseKms(k) => (k, object_server::sse::keys::Domain::SseKms, &ek_kms),
            ObjectEncryption::None => continue,
            ObjectEncryption::SseC(_) => panic!("unexpected SSE-C"),
        };
        assert_eq!(
            internal.get(meta::META_KMS_KEY_ID).unwrap(),
            if domain == object_server::sse::keys::Domain::SseS3 {
                DEFAULT_KEY
            } else {
                "erase-key"
            }
        );
        let client_ctx = kms
            .context
            .as_deref()
            .map(|c| context::parse_header(c).unwrap());
        if domain == object_server::sse::keys::Domain::SseKms {
            assert_eq!(
                base64::engine::general_purpose::STANDARD
                    .decode(kms.context.as_deref().unwrap())
                    .unwrap(),
                br#"{"tenant":"t1"}"#
            );
        }
        let ctx = context::object_context(client_ctx.as_ref(), "erase", key);
        let dek = kes_open(ek, &kms.dek, &ctx);
        assert_eq!(dek.len(), 32);
        let dek_key = object_server::sse::keys::Key32::from_slice(&dek).unwrap();
        let oek = kms.key.open(&dek_key, domain, "erase", key).unwrap();
        let plain = object_server::sse::dare::decrypt(oek.0.expose(), data_region).unwrap();
        assert!(plain.ends_with(b"secret data"), "{key}");
        secrets.push((format!("plaintext DEK of {key}"), dek));
        secrets.push((format!("OEK of {key}"), oek.0.expose().to_vec()));
    }

    // Erase: delete both EKs.
    rt.block_on(admin.delete_key("erase-key")).unwrap();
    rt.block_on(admin.delete_key(DEFAULT_KEY)).unwrap();
    boto3(&env, ERASE_CHECK);

    // Both servers restart: still unreadable (the object server re-creates a *new* default key).
    env.stop();
    let addr = k.kill();
    let k = kes.start("kes", Some(addr));
    env.restart();
    boto3(&env, ERASE_CHECK);
    drop(env.server.take());
    drop(k);

    assert_no_secret_on_disk(&[dir.path(), env.dir.path()], &secrets);
    let logs = std::fs::read_to_string(env.path("object-server.log")).unwrap();
    assert!(
        logs.contains("KMS request failed"),
        "KMS failures are logged: {logs}"
    );
}

const LOOP: &str = include_str!("scripts/failover_loop.py");

const OUTAGE: &str = include_str!("scripts/outage.py");

const RECOVERED: &str = include_str!("scripts/recovered.py");

const KMS_ADMIN: &str = include_str!("scripts/kms_admin.py");

#[test]
fn two_kes_endpoints_failover_and_full_outage() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k1 = kes.start("kes1", None);
    let k2 = kes.start("kes2", None);
    let rt = rt();
    rt.block_on(kes.admin_client(&[&k1]).create_key(DEFAULT_KEY))
        .unwrap();
    let env = object_server(&kes, &[&k1, &k2], false);

    // A client loop of SSE-S3 PUT + GET; the first (local-first) endpoint is killed mid-run.
    const N: usize = 60;
    let script = format!("{BOTO3_PRELUDE}\n{LOOP}");
    let mut child = env.python_spawn(&script, &[&N.to_string()]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut k1 = Some(k1);
    let mut failures = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line == "done 20" {
            k1.take().unwrap().kill();
        }
        if let Some(f) = line.strip_prefix("failures ") {
            failures = Some(f.parse::<usize>().unwrap());
        }
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(
        failures,
        Some(0),
        "no S3 request may fail when one KES endpoint stops"
    );
    assert!(k1.is_none());

    // MinIO's KMS admin API: per-endpoint status (the first endpoint is down), metrics, keys.
    boto3(&env, KMS_ADMIN);

    // KES stopped entirely: clear S3 errors, nothing lost or corrupted; back when it returns.
    let addr = k2.kill();
    boto3(&env, OUTAGE);
    let _k2 = kes.start("kes2", Some(addr));
    let full = format!("{BOTO3_PRELUDE}\nos.environ['N'] = '{N}'\n{RECOVERED}");
    let out = ok(&env.python(&full, &[]));
    assert!(out.contains("ALL OK"), "{out}");
}

#[test]
fn kms_start_up_checks() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, String)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_object-server"));
        cmd.args(["--address", "127.0.0.1:0", "--certs-dir"])
            .arg(dir.path().join("certs"))
            .arg(dir.path().join("data"))
            .env("MINIO_ROOT_USER", common::ACCESS_KEY)
            .env("MINIO_ROOT_PASSWORD", common::SECRET_KEY)
            .env("RUST_LOG", "off");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let api_key = client::ApiKey::generate().unwrap().to_string();
    // A port nothing listens on (bound to 0, then released).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    // MinIO's validation messages (refused before any connection is tried).
    let out = run(&[
        (
            "MINIO_KMS_KES_ENDPOINT",
            format!("https://127.0.0.1:{port}"),
        ),
        ("MINIO_KMS_KES_API_KEY", api_key.clone()),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "object-server: Invalid KMS configuration specified: kms: incomplete configuration for \
         MinIO KES: missing 'MINIO_KMS_KES_KEY_NAME'"
    );
    // An unreachable KES refuses the start.
    let out = run(&[
        (
            "MINIO_KMS_KES_ENDPOINT",
            format!("https://127.0.0.1:{port}"),
        ),
        ("MINIO_KMS_KES_KEY_NAME", DEFAULT_KEY.into()),
        ("MINIO_KMS_KES_API_KEY", api_key),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Failed to connect to KMS: kes: connection error"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "must not report listening");
}

const LOCK_GET: &str = r#"
try:
    body = s3.get_object(Bucket="locks", Key="obj")["Body"].read()
    print("STATUS", "200" if body == b"locked data" * 100 else "corrupt")
except ClientError as e:
    print("STATUS", e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
"#;

/// Runs the GET of [`LOCK_GET`] until it reports `want` (20 s deadline).
fn wait_for_get(env: &Env, want: &str) {
    let script = format!("{BOTO3_PRELUDE}\n{LOCK_GET}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = ok(&env.python(&script, &[]));
        if out.trim() == format!("STATUS {want}") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "GET still answers {out:?}, want {want:?}"
        );
    }
}

#[test]
fn revoking_access_in_kes_locks_objects_and_restoring_it_unlocks_them() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let rt = rt();
    rt.block_on(kes.admin_client(&[&k]).create_key(DEFAULT_KEY))
        .unwrap();
    let env = object_server(&kes, &[&k], false);
    boto3(
        &env,
        r#"
s3.create_bucket(Bucket="locks")
s3.put_object(Bucket="locks", Key="obj", Body=b"locked data" * 100, ServerSideEncryption="AES256")
print("ALL OK")
"#,
    );
    wait_for_get(&env, "200");
    // Lock: the object server's identities leave the KES policy (config reload, no restart).
    kes.set_minio_access(false);
    k.reload();
    wait_for_get(&env, "kms:NotAuthorized 403");
    // Unlock: access restored; the object server was never restarted.
    kes.set_minio_access(true);
    k.reload();
    wait_for_get(&env, "200");
}
