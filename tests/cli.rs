//! The `kes` client commands as a user runs them: the built binary as a child process against a real server over
//! TLS on 127.0.0.1:0 (started in-process by `common::TestServer`). Covers every command, JSON output, the
//! environment-variable precedence, credential conflicts, a wrong API key, an unreachable server and failover.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used, reason = "tests may panic")]

mod common;

use std::path::PathBuf;
use std::process::{Output, Stdio};

use client::ApiKey;
use common::TestServer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

/// Every variable the CLI reads, removed from the child's environment unless a test sets it.
const VARS: [&str; 13] = [
    "MINIO_KES_SERVER",
    "KES_SERVER",
    "MINIO_KMS_KES_ENDPOINT",
    "MINIO_KES_API_KEY",
    "KES_API_KEY",
    "MINIO_KMS_KES_API_KEY",
    "MINIO_KES_KEY_FILE",
    "KES_CLIENT_KEY",
    "MINIO_KES_CLIENT_KEY",
    "MINIO_KES_CERT_FILE",
    "KES_CLIENT_CERT",
    "MINIO_KES_CLIENT_CERT",
    "NO_COLOR",
];

struct Env {
    server: TestServer,
    dir: tempfile::TempDir,
    ca: PathBuf,
}

impl Env {
    async fn start() -> Env {
        let server = TestServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &server.server_cert_pem).unwrap();
        Env { server, dir, ca }
    }

    fn endpoint(&self) -> String {
        format!("https://{}", self.server.addr)
    }

    /// Runs `kes <args>` as `key` (admin by default) with `--ca`, the server from `KES_SERVER`.
    async fn run_as(&self, key: &ApiKey, args: &[&str]) -> Output {
        let ca = self.ca.to_str().unwrap().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--ca", &ca]);
        let key = key.to_string();
        run(
            &all,
            &[("KES_SERVER", &self.endpoint()), ("KES_API_KEY", &key)],
            None,
        )
        .await
    }

    async fn admin(&self, args: &[&str]) -> Output {
        self.run_as(&self.server.admin, args).await
    }
}

async fn run(args: &[&str], envs: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in VARS {
        cmd.env_remove(v);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).await.unwrap();
    }
    drop(input);
    child.wait_with_output().await.unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Asserts a failure whose stderr is exactly one line `Error: <message>`.
#[track_caller]
fn fails_with(o: &Output, message: &str) {
    assert!(
        !o.status.success(),
        "expected failure, got success: {}",
        stdout(o)
    );
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one-line error: {err}");
    assert!(
        err.starts_with(&format!("Error: {message}")),
        "stderr: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

#[tokio::test]
async fn key_lifecycle() {
    let env = Env::start().await;
    ok(&env.admin(&["key", "create", "k1", "k2"]).await);
    fails_with(
        &env.admin(&["key", "create", "k1"]).await,
        "key already exists",
    );

    assert_eq!(ok(&env.admin(&["key", "ls"]).await), "k1\nk2\n");
    assert_eq!(
        json(&env.admin(&["key", "ls", "--json"]).await),
        serde_json::json!(["k1", "k2"])
    );
    assert_eq!(ok(&env.admin(&["ls", "k2*"]).await), "k2\n");

    let info = json(&env.admin(&["key", "info", "k1", "--json"]).await);
    assert_eq!(info["name"], "k1");
    assert_eq!(info["algorithm"], "AES256");
    assert_eq!(info["created_by"], env.server.admin.identity());
    let table = ok(&env.admin(&["key", "info", "k1", "--color", "never"]).await);
    assert!(
        table.contains("Name") && table.contains("k1") && table.contains("AES256"),
        "{table}"
    );
    assert!(!table.contains('\x1b'), "no colour when not a terminal");
    let coloured = ok(&env.admin(&["key", "info", "k1", "--color", "always"]).await);
    assert!(coloured.contains("\x1b[1m"), "{coloured}");

    // encrypt → decrypt
    let ct = ok(&env.admin(&["key", "encrypt", "k1", "hello world"]).await);
    let pt = ok(&env.admin(&["key", "decrypt", "k1", ct.trim()]).await);
    assert_eq!(pt, "hello world\n");
    let pt = json(
        &env.admin(&["key", "decrypt", "k1", ct.trim(), "--json"])
            .await,
    );
    assert_eq!(pt["plaintext"], client::wire::b64_encode(b"hello world"));
    fails_with(
        &env.admin(&["key", "decrypt", "k2", ct.trim()]).await,
        "decryption failed: ciphertext is not authentic",
    );
    fails_with(
        &env.admin(&["key", "decrypt", "k1", "%%%"]).await,
        "the ciphertext is not valid base64",
    );

    // dek with a text context; its ciphertext decrypts with the base64 of that context.
    let dek = json(
        &env.admin(&["key", "dek", "k1", "bucket/object", "--json"])
            .await,
    );
    let ctx = client::wire::b64_encode(b"bucket/object");
    let out = json(
        &env.admin(&[
            "key",
            "decrypt",
            "k1",
            dek["ciphertext"].as_str().unwrap(),
            &ctx,
            "--json",
        ])
        .await,
    );
    assert_eq!(out["plaintext"], dek["plaintext"]);
    let table = ok(&env.admin(&["key", "dek", "k1"]).await);
    assert!(
        table.contains("Plaintext") && table.contains("Ciphertext"),
        "{table}"
    );

    // import from an argument and from stdin
    let raw = client::wire::b64_encode(&[7u8; 32]);
    ok(&env.admin(&["key", "import", "imp1", &raw]).await);
    let ca = env.ca.to_str().unwrap();
    let admin_key = env.server.admin.to_string();
    let o = run(
        &["key", "import", "imp2", "--ca", ca],
        &[("KES_SERVER", &env.endpoint()), ("KES_API_KEY", &admin_key)],
        Some(format!("{raw}\n").as_bytes()),
    )
    .await;
    ok(&o);
    fails_with(
        &env.admin(&["key", "import", "imp3", "AAAA"]).await,
        "the key must be 32 bytes, got 3",
    );
    assert_eq!(ok(&env.admin(&["key", "ls", "imp*"]).await), "imp1\nimp2\n");

    ok(&env.admin(&["key", "rm", "k1", "imp1"]).await);
    fails_with(
        &env.admin(&["key", "info", "k1"]).await,
        "key does not exist",
    );
    fails_with(&env.admin(&["key", "rm", "k1"]).await, "key does not exist");
    assert_eq!(ok(&env.admin(&["key", "ls"]).await), "imp2\nk2\n");
}

#[tokio::test]
async fn identity_policy_and_status_commands() {
    let env = Env::start().await;
    let admin_id = env.server.admin.identity();
    let minio_id = env.server.minio.identity();

    let me = json(&env.admin(&["identity", "info", "--json"]).await);
    assert_eq!(me["identity"], admin_id.as_str());
    assert_eq!(me["admin"], true);
    let other = json(&env.admin(&["identity", "info", &minio_id, "--json"]).await);
    assert_eq!(other["policy"], "minio");
    fails_with(
        &env.admin(&["identity", "info", &"ab".repeat(32)]).await,
        "identity does not exist",
    );
    let ids = json(&env.admin(&["identity", "ls", "--json"]).await);
    let ids: Vec<&str> = ids
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&admin_id.as_str()) && ids.contains(&minio_id.as_str()),
        "{ids:?}"
    );
    assert!(ok(&env.admin(&["ls", "-i"]).await).contains(&minio_id));

    assert_eq!(ok(&env.admin(&["policy", "ls"]).await), "auditor\nminio\n");
    assert_eq!(ok(&env.admin(&["ls", "-p", "min*"]).await), "minio\n");
    let info = json(&env.admin(&["policy", "info", "minio", "--json"]).await);
    assert_eq!(info["name"], "minio");
    let show = json(&env.admin(&["policy", "show", "auditor", "--json"]).await);
    assert!(
        show["allow"]
            .as_object()
            .unwrap()
            .contains_key("/v1/status"),
        "{show}"
    );
    assert!(
        show["deny"]
            .as_object()
            .unwrap()
            .contains_key("/v1/key/delete/*"),
        "{show}"
    );
    let text = ok(&env.admin(&["policy", "show", "auditor"]).await);
    assert!(
        text.contains("Allow") && text.contains("/v1/status"),
        "{text}"
    );
    fails_with(
        &env.admin(&["policy", "info", "nope"]).await,
        "policy does not exist",
    );

    let st = json(&env.admin(&["status", "--json"]).await);
    assert!(st["version"].is_string() && st["uptime"].is_u64(), "{st}");
    let text = ok(&env.admin(&["status"]).await);
    assert!(
        text.contains("Keystore") && text.contains(&env.endpoint()),
        "{text}"
    );
    let api = json(&env.admin(&["status", "--api", "--json"]).await);
    assert!(
        api.as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "/v1/key/create/"),
        "{api}"
    );
    assert!(ok(&env.admin(&["status", "--api"]).await).contains("/v1/key/create/"));

    // A policy that denies: minio may not delete keys.
    ok(&env.admin(&["key", "create", "minio-key"]).await);
    fails_with(
        &env.run_as(&env.server.minio, &["key", "rm", "minio-key"])
            .await,
        "not authorized: insufficient permissions",
    );
}

#[tokio::test]
async fn identity_new_and_of_work_offline() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["identity", "new"], &[], None).await;
    let text = ok(&o);
    assert!(
        text.contains("Your API key:") && text.contains("Your Identity:"),
        "{text}"
    );
    let key = text
        .split_whitespace()
        .find(|w| w.starts_with("kes:v1:"))
        .unwrap();
    let id = ApiKey::parse(key).unwrap().identity();
    assert!(text.contains(&id));
    assert_eq!(
        ok(&run(&["identity", "of", key], &[], None).await),
        format!("{id}\n")
    );

    let k = dir.path().join("server.key");
    let c = dir.path().join("server.crt");
    let (ks, cs) = (k.to_str().unwrap(), c.to_str().unwrap());
    let args = [
        "identity",
        "new",
        "--key",
        ks,
        "--cert",
        cs,
        "--ip",
        "127.0.0.1",
        "--dns",
        "localhost",
        "--json",
        "my-server",
    ];
    let v = json(&run(&args, &[], None).await);
    let id = v["identity"].as_str().unwrap().to_string();
    assert_eq!(
        ApiKey::parse(v["api_key"].as_str().unwrap())
            .unwrap()
            .identity(),
        id
    );
    assert_eq!(
        ok(&run(&["identity", "of", cs], &[], None).await),
        format!("{id}\n")
    );
    let pem = std::fs::read(&c).unwrap();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
    let (_, x) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    assert_eq!(
        x.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "my-server"
    );
    let eku = x.extended_key_usage().unwrap().unwrap();
    assert!(eku.value.server_auth && eku.value.client_auth);
    let days = (x.validity().not_after.timestamp() - x.validity().not_before.timestamp()) / 86400;
    assert_eq!(days, 30, "default expiry 720h");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&k).unwrap().permissions().mode() & 0o077,
            0,
            "private key not world-readable"
        );
    }

    // Refuses to overwrite without --force.
    let before = std::fs::read(&k).unwrap();
    let o = run(&["identity", "new", "--key", ks, "--cert", cs], &[], None).await;
    fails_with(
        &o,
        &format!("'{ks}' already exists; use --force to overwrite"),
    );
    assert_eq!(std::fs::read(&k).unwrap(), before);
    ok(&run(
        &[
            "identity", "new", "--key", ks, "--cert", cs, "--force", "--expiry", "1h",
        ],
        &[],
        None,
    )
    .await);
    assert_ne!(std::fs::read(&k).unwrap(), before);
    fails_with(
        &run(&["identity", "new", "--expiry", "forever"], &[], None).await,
        "invalid duration 'forever'",
    );
    fails_with(
        &run(&["identity", "of", "/nonexistent/cert.pem"], &[], None).await,
        "'/nonexistent/cert.pem' is neither",
    );
}

#[tokio::test]
async fn certificate_files_authenticate_and_conflict_with_an_api_key() {
    let env = Env::start().await;
    let ck = env.server.admin.certificate().unwrap();
    let cert = env.dir.path().join("admin.crt");
    let key = env.dir.path().join("admin.key");
    std::fs::write(&cert, &ck.cert_pem).unwrap();
    std::fs::write(&key, ck.key_pem.as_bytes()).unwrap();
    let (cert, key, ca) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        env.ca.to_str().unwrap(),
    );
    let server = env.endpoint();

    let o = run(
        &["key", "create", "via-cert", "--ca", ca],
        &[
            ("KES_SERVER", &server),
            ("KES_CLIENT_CERT", cert),
            ("KES_CLIENT_KEY", key),
        ],
        None,
    )
    .await;
    ok(&o);
    let o = run(
        &["key", "ls", "--ca", ca],
        &[
            ("MINIO_KES_SERVER", &server),
            ("MINIO_KES_CERT_FILE", cert),
            ("MINIO_KES_KEY_FILE", key),
        ],
        None,
    )
    .await;
    assert_eq!(ok(&o), "via-cert\n");

    let admin = env.server.admin.to_string();
    let o = run(
        &["key", "ls", "--ca", ca],
        &[
            ("KES_SERVER", &server),
            ("KES_API_KEY", &admin),
            ("KES_CLIENT_CERT", cert),
            ("KES_CLIENT_KEY", key),
        ],
        None,
    )
    .await;
    fails_with(
        &o,
        "an API key and a client certificate/private key file are both set",
    );
    let o = run(&["key", "ls", "--ca", ca], &[("KES_SERVER", &server)], None).await;
    fails_with(&o, "no credentials");
}

#[tokio::test]
async fn environment_precedence() {
    let env = Env::start().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://{}", l.local_addr().unwrap())
    };
    let ca = env.ca.to_str().unwrap();
    let live = env.endpoint();
    let (admin, unknown) = (env.server.admin.to_string(), env.server.unknown.to_string());

    // MINIO_KES_SERVER wins over KES_SERVER, which wins over MINIO_KMS_KES_ENDPOINT.
    let o = run(
        &["key", "ls", "--ca", ca],
        &[
            ("MINIO_KES_SERVER", &dead),
            ("KES_SERVER", &live),
            ("KES_API_KEY", &admin),
        ],
        None,
    )
    .await;
    fails_with(&o, "kes: connection error");
    let o = run(
        &["key", "ls", "--ca", ca],
        &[
            ("KES_SERVER", &live),
            ("MINIO_KMS_KES_ENDPOINT", &dead),
            ("KES_API_KEY", &admin),
        ],
        None,
    )
    .await;
    ok(&o);
    let o = run(
        &["key", "ls", "--ca", ca],
        &[
            ("MINIO_KMS_KES_ENDPOINT", &live),
            ("MINIO_KMS_KES_API_KEY", &admin),
        ],
        None,
    )
    .await;
    ok(&o);
    // -s beats the environment.
    let o = run(
        &["key", "ls", "--ca", ca, "-s", &live],
        &[("MINIO_KES_SERVER", &dead), ("KES_API_KEY", &admin)],
        None,
    )
    .await;
    ok(&o);

    // MINIO_KES_API_KEY wins over KES_API_KEY, which wins over MINIO_KMS_KES_API_KEY.
    let o = run(
        &["key", "ls", "--ca", ca],
        &[
            ("KES_SERVER", &live),
            ("MINIO_KES_API_KEY", &unknown),
            ("KES_API_KEY", &admin),
        ],
        None,
    )
    .await;
    fails_with(&o, "not authorized: insufficient permissions");
    let o = run(
        &["key", "ls", "--ca", ca],
        &[
            ("KES_SERVER", &live),
            ("KES_API_KEY", &admin),
            ("MINIO_KMS_KES_API_KEY", &unknown),
        ],
        None,
    )
    .await;
    ok(&o);
    // -a beats the environment.
    let o = run(
        &["key", "ls", "--ca", ca, "-a", &admin],
        &[("KES_SERVER", &live), ("MINIO_KES_API_KEY", &unknown)],
        None,
    )
    .await;
    ok(&o);
}

#[tokio::test]
async fn wrong_key_unreachable_server_failover_and_tls_trust() {
    let env = Env::start().await;
    // An API key the server does not know: 403, one-line error, non-zero exit.
    fails_with(
        &env.run_as(&env.server.unknown, &["key", "ls"]).await,
        "not authorized: insufficient permissions",
    );
    fails_with(
        &run(
            &["key", "ls"],
            &[
                ("KES_SERVER", &env.endpoint()),
                ("KES_API_KEY", "kes:v1:nonsense"),
            ],
            None,
        )
        .await,
        "kes: invalid API key",
    );

    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let admin = env.server.admin.to_string();
    let ca = env.ca.to_str().unwrap();
    let o = run(
        &["status", "--ca", ca, "-s", &dead],
        &[("KES_API_KEY", &admin)],
        None,
    )
    .await;
    fails_with(&o, &format!("kes: connection error: https://{dead}"));

    // Two endpoints, the first down: still succeeds.
    let both = format!("{dead},{}", env.server.addr);
    let o = run(
        &["key", "create", "after-failover", "--ca", ca, "-s", &both],
        &[("KES_API_KEY", &admin)],
        None,
    )
    .await;
    ok(&o);
    let o = run(
        &["ls", "--ca", ca],
        &[("KES_SERVER", &both), ("KES_API_KEY", &admin)],
        None,
    )
    .await;
    assert_eq!(ok(&o), "after-failover\n");

    // Without --ca the self-signed server certificate is rejected; -k accepts it.
    let o = run(
        &["ls"],
        &[("KES_SERVER", &env.endpoint()), ("KES_API_KEY", &admin)],
        None,
    )
    .await;
    fails_with(&o, "kes: connection error");
    let o = run(
        &["ls", "-k"],
        &[("KES_SERVER", &env.endpoint()), ("KES_API_KEY", &admin)],
        None,
    )
    .await;
    assert_eq!(ok(&o), "after-failover\n");
    fails_with(
        &run(
            &["ls", "-s", "http://kes.example.net:7373", "-a", &admin],
            &[],
            None,
        )
        .await,
        "kes: server endpoint",
    );
}

#[tokio::test]
async fn completion_and_help() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&run(&["completion", shell], &[], None).await);
        assert!(out.contains("kes") && out.contains("identity"), "{shell}");
    }
    for cmd in [
        vec!["key", "create"],
        vec!["key", "dek"],
        vec!["identity", "new"],
        vec!["policy", "show"],
        vec!["ls"],
        vec!["status"],
        vec!["metric"],
        vec!["log"],
        vec!["completion"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let help = ok(&run(&args, &[], None).await);
        assert!(help.contains("Examples:"), "{cmd:?}: {help}");
    }
    let o = run(&["key", "bogus"], &[], None).await;
    assert!(!o.status.success());
}

/// `kes metric`, `kes log` and `kes key disable|enable` against a scripted KES (the fake server of the client
/// crate's tests), checking what is sent and how the answers are printed.
#[path = "../client/tests/common/mod.rs"]
mod fake;

async fn kes(args: &[&str], ca: &str, envs: &[(&str, &str)]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--ca", ca]);
    run(&all, envs, None).await
}

#[tokio::test]
async fn metric_log_and_disable_against_a_scripted_server() {
    use std::sync::Arc;
    let server = fake::TestServer::start(Arc::new(|r: &fake::Recorded| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/v1/metrics") => fake::Reply::text(
            200,
            "text/plain; version=0.0.4",
            "# TYPE kes_http_request_success counter\nkes_http_request_success{code=\"200\"} 3\nkes_system_up_time 7\n",
        ),
        ("GET", "/v1/log/audit") => fake::Reply::text(
            200,
            "application/x-ndjson",
            "{\"time\":\"2025-01-01T00:00:00Z\",\"request\":{\"ip\":\"127.0.0.1\",\"path\":\"/v1/key/create/a\",\"identity\":\"abcdef0123456789\"},\"response\":{\"code\":200,\"time\":2}}\n",
        ),
        ("GET", "/v1/log/error") => fake::Reply::text(200, "application/x-ndjson", "{\"message\":\"level=WARN msg=oops\"}\n"),
        ("PUT", "/v1/ext/key/disable/k") | ("PUT", "/v1/ext/key/enable/k") => fake::Reply::empty(),
        ("POST", "/v1/key/encrypt/k") => fake::Reply::error(403, "key is disabled"),
        _ => fake::Reply::error(404, "key does not exist"),
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &server.cert_pem).unwrap();
    let ca = ca.to_str().unwrap().to_string();
    let key = ApiKey::generate().unwrap().to_string();
    let envs = [("KES_SERVER", server.endpoint()), ("KES_API_KEY", key)];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let text = ok(&kes(&["metric"], &ca, &envs).await);
    assert!(text.contains("kes_system_up_time 7"), "{text}");
    let m = json(&kes(&["metric", "--json"], &ca, &envs).await);
    assert_eq!(
        m,
        serde_json::json!([
            {"metric": "kes_http_request_success{code=\"200\"}", "value": 3.0},
            {"metric": "kes_system_up_time", "value": 7.0}
        ])
    );

    let audit = ok(&kes(&["log", "--color", "never"], &ca, &envs).await);
    assert!(
        audit.contains("/v1/key/create/a")
            && audit.contains("abcdef012345")
            && audit.contains("2ms"),
        "{audit}"
    );
    let line = json(&kes(&["log", "--audit", "--json"], &ca, &envs).await);
    assert_eq!(line["response"]["code"], 200);
    assert_eq!(
        ok(&kes(&["log", "--error"], &ca, &envs).await),
        "level=WARN msg=oops\n"
    );
    assert_eq!(
        json(&kes(&["log", "--error", "--json"], &ca, &envs).await)["message"],
        "level=WARN msg=oops"
    );

    ok(&kes(&["key", "disable", "k"], &ca, &envs).await);
    fails_with(
        &kes(&["key", "encrypt", "k", "msg"], &ca, &envs).await,
        "key is disabled",
    );
    ok(&kes(&["key", "enable", "k"], &ca, &envs).await);
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        paths.contains(&"PUT /v1/ext/key/disable/k".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"PUT /v1/ext/key/enable/k".to_string()),
        "{paths:?}"
    );
}

/// `kes metric` and `kes log` against the real server: metrics parse, and the
/// audit stream shows a request made while it is open.
#[tokio::test]
async fn metric_and_log_against_the_real_server() {
    use tokio::io::AsyncBufReadExt as _;
    let env = Env::start().await;
    ok(&env.admin(&["key", "create", "metric-key"]).await);
    let text = ok(&env.admin(&["metric"]).await);
    for family in [
        "kes_http_request_success",
        "kes_http_request_active",
        "kes_system_up_time",
    ] {
        assert!(text.contains(family), "{family} in {text}");
    }
    let m = json(&env.admin(&["metric", "--json"]).await);
    assert!(
        m.as_array()
            .unwrap()
            .iter()
            .any(|s| s["metric"] == "kes_system_num_cpu"),
        "{m}"
    );

    // Follow the audit log as a child process; make a request; its line appears.
    let ca = env.ca.to_str().unwrap().to_string();
    let key = env.server.admin.to_string();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["log", "--audit", "--json", "--ca", &ca])
        .env("KES_SERVER", env.endpoint())
        .env("KES_API_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let describe = async {
        // Keep asking until the stream (which may still be connecting) has seen one.
        loop {
            ok(&env.admin(&["key", "info", "metric-key"]).await);
            tokio::task::yield_now().await;
        }
    };
    let seen = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        tokio::select! {
            line = async {
                loop {
                    let line = lines.next_line().await.unwrap().expect("audit stream open");
                    let v: Value = serde_json::from_str(&line).unwrap();
                    if v["request"]["path"] == "/v1/key/describe/metric-key" {
                        return v;
                    }
                }
            } => line,
            _ = describe => unreachable!(),
        }
    });
    let line = seen.await.expect("the audit line arrives within a minute");
    assert_eq!(line["request"]["identity"], env.server.admin.identity());
    assert_eq!(line["response"]["code"], 200);
    child.kill().await.unwrap();
}
