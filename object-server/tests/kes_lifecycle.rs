//! The external key's lifecycle seen through S3: the real `object-server` and a real `kes
//! server` over TLS, the real `kes` CLI, aws-cli and boto3.
//!
//! * `kes key disable` locks every SSE-S3/SSE-KMS object of that key at once (403
//!   `kms:KeyDisabled`, object-sse.md §7) and `kes key enable` unlocks them, no restart.
//! * `kes key rotate` + `object-server admin rekey` rewrap every sealed data key under the
//!   newest version without touching the object bytes; resumable and idempotent.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::kes::{KesProc, KesSetup, kes_bin};
use common::{BOTO3_PRELUDE, Env, Launch, data, ok};

const DEFAULT_KEY: &str = "my-minio-sse-s3-key";
const KMS_KEY: &str = "lifecycle-kms-key";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An object server (HTTPS) using `kes` at `k` with its API key; logs to `object-server.log`.
fn object_server(kes: &KesSetup, k: &KesProc) -> Env {
    let env = kes.object_server_env(&[k], DEFAULT_KEY, false);
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

/// Runs the real `kes` CLI as the KES admin against `k`.
fn kes_cli(kes: &KesSetup, k: &KesProc, args: &[&str]) -> Output {
    Command::new(kes_bin())
        .args(args)
        .arg("--server")
        .arg(k.url())
        .arg("--ca")
        .arg(&kes.ca)
        .env("KES_API_KEY", kes.admin.to_string())
        .output()
        .expect("run kes")
}

/// Writes the two test bodies (a 4 KiB one and a three-part one) into the env's home.
fn bodies(env: &Env) -> [String; 2] {
    let small = env.path("home/small");
    let big = env.path("home/big");
    std::fs::write(&small, data(4096, 1)).unwrap();
    std::fs::write(&big, data(2 * 5 * 1024 * 1024 + 1000, 2)).unwrap();
    [small, big].map(|p| p.to_str().unwrap().to_owned())
}

/// Runs `scripts/lifecycle.py` with `args`; asserts it printed ALL OK.
fn lifecycle(env: &Env, args: &[&str]) -> String {
    let script = format!(
        "{BOTO3_PRELUDE}\nos.environ['KMS_KEY'] = {KMS_KEY:?}\n{}",
        include_str!("scripts/lifecycle.py")
    );
    let out = ok(&env.python(&script, args));
    assert!(out.contains("ALL OK"), "{out}");
    out
}

fn read(env: &Env, files: &[String; 2], s3: &str, kms: &str) {
    lifecycle(env, &["read", &files[0], &files[1], s3, kms]);
}

#[test]
fn disabling_the_external_key_locks_objects_at_once_and_enabling_unlocks_them() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    rt().block_on(kes.admin_client(&[&k]).create_key(KMS_KEY))
        .unwrap();
    let env = object_server(&kes, &k);
    let files = bodies(&env);
    lifecycle(&env, &["put", &files[0], &files[1]]);
    read(&env, &files, "ok", "ok");

    // Disabling the SSE-S3 key locks SSE-S3 objects on the very next request: the object
    // server caches no data key and KES checks the flag on every use (no polling here).
    ok(&kes_cli(&kes, &k, &["key", "disable", DEFAULT_KEY]));
    read(&env, &files, "disabled", "ok");
    let url = env.url();
    let got = env.path("home/got");
    let out = env.aws(&[
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "s3api",
        "get-object",
        "--bucket",
        "lifecycle",
        "--key",
        "s3-small",
        got.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(kms:KeyDisabled)") && stderr.contains("key is disabled"),
        "{stderr}"
    );

    // The SSE-KMS key too; then both back, again with no restart and no wait.
    ok(&kes_cli(&kes, &k, &["key", "disable", KMS_KEY]));
    read(&env, &files, "disabled", "disabled");
    ok(&kes_cli(&kes, &k, &["key", "enable", DEFAULT_KEY]));
    read(&env, &files, "ok", "disabled");
    ok(&kes_cli(&kes, &k, &["key", "enable", KMS_KEY]));
    read(&env, &files, "ok", "ok");
    let out = env.aws(&[
        "--no-verify-ssl",
        "--endpoint-url",
        &url,
        "s3api",
        "get-object",
        "--bucket",
        "lifecycle",
        "--key",
        "s3-multipart",
        got.to_str().unwrap(),
    ]);
    ok(&out);
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(&files[1]).unwrap()
    );
}

/// One stored object file: its metadata record and its data region.
struct Stored {
    meta: serde_json::Value,
    data: Vec<u8>,
}

impl Stored {
    /// The DEK ciphertext (internal metadata), decoded; `None` for plain and SSE-C objects.
    fn dek(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        self.meta["internal"][object_server::sse::meta::META_KMS_DEK]
            .as_str()
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b).unwrap())
    }

    /// The EK version the DEK ciphertext names (our KES frames versions ≥ 1).
    fn version(&self) -> Option<u32> {
        let dek = self.dek()?;
        Some(match dek.strip_prefix(b"\0KV\x01") {
            Some(v) => u32::from_be_bytes(v[..4].try_into().unwrap()),
            None => 0,
        })
    }
}

/// Every object file of `bucket` in the data directory `data`, by key.
fn stored(data: &Path, bucket: &str) -> BTreeMap<String, Stored> {
    let mut out = BTreeMap::new();
    for f in std::fs::read_dir(data.join(bucket).join("obj")).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let n = bytes.len();
        let meta_len = u64::from_le_bytes(bytes[n - 16..n - 8].try_into().unwrap()) as usize;
        let meta: serde_json::Value =
            serde_json::from_slice(&bytes[n - 16 - meta_len..n - 16]).unwrap();
        let data = bytes[..n - 16 - meta_len].to_vec();
        out.insert(
            meta["key"].as_str().unwrap().to_owned(),
            Stored { meta, data },
        );
    }
    out
}

/// Runs `object-server admin rekey --bucket lifecycle [extra…] <data>` as the rekey identity;
/// asserts success and returns stdout.
fn rekey(kes: &KesSetup, k: &KesProc, env: &Env, extra: &[&str]) -> String {
    let mut vars = kes.object_server_env(&[k], DEFAULT_KEY, false);
    for (name, value) in &mut vars {
        if name == "MINIO_KMS_KES_API_KEY" {
            *value = kes.rekey.to_string();
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_object-server"))
        .args(["admin", "rekey", "--bucket", "lifecycle"])
        .args(extra)
        .arg(env.dir.path().join("data"))
        .envs(vars)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    ok(&out)
}

#[test]
fn rekey_after_rotation_rewraps_data_keys_and_leaves_data_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    rt().block_on(kes.admin_client(&[&k]).create_key(KMS_KEY))
        .unwrap();
    let env = object_server(&kes, &k);
    let files = bodies(&env);
    lifecycle(&env, &["put", &files[0], &files[1]]);
    let data = env.dir.path().join("data");
    let before = stored(&data, "lifecycle");
    let sse: Vec<&str> = before
        .iter()
        .filter(|(_, s)| s.dek().is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(sse.len(), 4, "{sse:?}");
    assert!(before.values().filter_map(Stored::version).all(|v| v == 0));

    // Nothing to do before a rotation.
    let out = rekey(&kes, &k, &env, &[]);
    assert!(out.contains("6 objects: 0 rewrapped, 4 already current, 2 not SSE-S3/SSE-KMS, 0 changed meanwhile, 0 failed"), "{out}");
    assert_eq!(stored(&data, "lifecycle").len(), 6);

    // Rotate with the real CLI: the default key once, the SSE-KMS key twice.
    assert_eq!(
        ok(&kes_cli(&kes, &k, &["key", "rotate", DEFAULT_KEY])),
        "1\n"
    );
    ok(&kes_cli(&kes, &k, &["key", "rotate", KMS_KEY]));
    ok(&kes_cli(&kes, &k, &["key", "rotate", KMS_KEY]));
    let newest = |key: &str| if key.starts_with("s3-") { 1 } else { 2 };

    // An interrupted run: stop after one object, then resume.
    let out = rekey(&kes, &k, &env, &["--limit", "1"]);
    assert!(
        out.contains("1 rewrapped") && out.contains("run again to continue"),
        "{out}"
    );
    let mid = stored(&data, "lifecycle");
    let moved: Vec<&&str> = sse
        .iter()
        .map(|k| &mid[*k])
        .zip(&sse)
        .filter(|(s, key)| s.version() == Some(newest(key)))
        .map(|(_, key)| key)
        .collect();
    assert_eq!(moved.len(), 1, "exactly one object rekeyed: {moved:?}");
    let out = rekey(&kes, &k, &env, &[]);
    assert!(out.contains("6 objects: 3 rewrapped, 1 already current, 2 not SSE-S3/SSE-KMS, 0 changed meanwhile, 0 failed"), "{out}");

    // Only the DEK ciphertext changed: it names the newest version; data and every other
    // metadata entry are as they were (ETag, sizes, Last-Modified, sealed OEK, IV, key id).
    let after = stored(&data, "lifecycle");
    for (key, b) in &before {
        let a = &after[key];
        assert_eq!(a.data, b.data, "{key}: data region rewritten");
        let (mut am, mut bm) = (a.meta.clone(), b.meta.clone());
        let dek = object_server::sse::meta::META_KMS_DEK;
        if b.dek().is_some() {
            assert_eq!(a.version(), Some(newest(key)), "{key}");
            assert_ne!(a.dek(), b.dek(), "{key}");
            am["internal"][dek] = serde_json::Value::Null;
            bm["internal"][dek] = serde_json::Value::Null;
        }
        assert_eq!(am, bm, "{key}: metadata beyond the DEK changed");
    }

    // Every object reads back identically through the running server (no restart), and a
    // second rekey has nothing to do.
    read(&env, &files, "ok", "ok");
    let out = rekey(&kes, &k, &env, &[]);
    assert!(out.contains("0 rewrapped, 4 already current"), "{out}");
    let again = stored(&data, "lifecycle");
    for (key, a) in &after {
        assert_eq!(again[key].meta, a.meta, "{key}");
    }

    // Rewrapping needs the EK: disabled → reported per object, exit status 1, nothing changed.
    ok(&kes_cli(&kes, &k, &["key", "rotate", KMS_KEY]));
    ok(&kes_cli(&kes, &k, &["key", "disable", KMS_KEY]));
    let mut vars = kes.object_server_env(&[&k], DEFAULT_KEY, false);
    vars.retain(|(n, _)| n != "MINIO_KMS_KES_API_KEY");
    let out = Command::new(env!("CARGO_BIN_EXE_object-server"))
        .args(["admin", "rekey", "--bucket", "lifecycle"])
        .arg(&data)
        .envs(vars)
        .env("MINIO_KMS_KES_API_KEY", kes.rekey.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains(
            "0 rewrapped, 2 already current, 2 not SSE-S3/SSE-KMS, 0 changed meanwhile, 2 failed"
        ),
        "{stdout}"
    );
    assert!(
        stderr.contains("lifecycle/kms-small: rewrap with key lifecycle-kms-key")
            && stderr.contains("key is disabled"),
        "{stderr}"
    );
    for (key, a) in &after {
        assert_eq!(stored(&data, "lifecycle")[key].meta, a.meta, "{key}");
    }
}

/// `MINIO_KMS_KES_CAPATH` adds to the system roots (as MinIO builds its pool), it does not
/// replace them: with the KES certificate only among the "system" roots (`SSL_CERT_FILE`) and
/// an unrelated CA in `MINIO_KMS_KES_CAPATH`, the server still trusts KES; with neither
/// trusting it, the start-up probe fails on the certificate.
#[test]
fn kes_capath_adds_to_the_system_roots() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let unrelated = common::kes::client_cert(dir.path(), "unrelated-ca");
    let mut vars = kes.object_server_env(&[&k], DEFAULT_KEY, false);
    for (name, value) in &mut vars {
        if name == "MINIO_KMS_KES_CAPATH" {
            *value = unrelated.cert.display().to_string();
        }
    }

    // Neither the system roots nor CAPATH trust KES: refused at start-up.
    let out = Command::new(env!("CARGO_BIN_EXE_object-server"))
        .args(["--address", "127.0.0.1:0", "--certs-dir"])
        .arg(dir.path().join("no-certs"))
        .arg(dir.path().join("data"))
        .envs(vars.clone())
        .env("SSL_CERT_FILE", &unrelated.cert)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Failed to connect to KMS"), "{stderr}");
    assert!(out.stdout.is_empty(), "must not report listening");

    // KES trusted through the system roots only, CAPATH still set: SSE-S3 works.
    vars.push(("SSL_CERT_FILE".to_owned(), kes.ca.display().to_string()));
    let env = Env::with(
        true,
        Launch {
            env: vars,
            ..Launch::default()
        },
    );
    let script = format!(
        "{BOTO3_PRELUDE}
s3.create_bucket(Bucket='roots')
r = s3.put_object(Bucket='roots', Key='o', Body=b'x' * 1000, ServerSideEncryption='AES256')
check('sse-s3 put', r['ServerSideEncryption'] == 'AES256')
check('sse-s3 get', s3.get_object(Bucket='roots', Key='o')['Body'].read() == b'x' * 1000)
print('ALL OK')
"
    );
    let out = ok(&env.python(&script, &[]));
    assert!(out.contains("ALL OK"), "{out}");
}

/// `/minio/v2/metrics/cluster`: MinIO's KMS metrics in Prometheus text format behind a bearer
/// token (`mc admin prometheus generate`'s JWT), counting real KES traffic; `online` follows
/// KES going away.
#[test]
fn kms_metrics_in_prometheus_format() {
    let dir = tempfile::tempdir().unwrap();
    let kes = KesSetup::new(&dir.path().join("kes"));
    let k = kes.start("kes", None);
    let env = object_server(&kes, &k);
    let script = format!(
        "{BOTO3_PRELUDE}\n{}",
        include_str!("scripts/kms_metrics.py")
    );
    let out = ok(&env.python(&script, &["live"]));
    assert!(out.contains("ALL OK"), "{out}");
    k.kill();
    let out = ok(&env.python(&script, &["down"]));
    assert!(out.contains("ALL OK"), "{out}");
}
