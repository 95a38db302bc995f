//! Shared harness for the interop tests: the real `object-server` binary on an ephemeral port,
//! per-test rcgen certificates, and the real aws-cli / boto3 from the services virtualenv.
#![allow(
    unreachable_pub,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support shared by test binaries: `pub` is for them, a panic is the failure report"
)]
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

pub mod kes;
pub mod raw;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const ACCESS_KEY: &str = "admin";
pub const SECRET_KEY: &str = "interop-secret-key";

/// The services virtualenv (`$SERVICES_VENV` or `<repo>/.venv-services`); panics when missing.
pub fn venv() -> PathBuf {
    let venv = std::env::var_os("SERVICES_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(".venv-services")
        });
    assert!(
        venv.join("bin/aws").is_file() && venv.join("bin/python").is_file(),
        "no aws-cli/boto3 virtualenv at {}: run scripts/services.sh setup",
        venv.display()
    );
    venv
}

/// Writes a self-signed `public.crt` / `private.key` for localhost and 127.0.0.1 into `dir`.
pub fn make_certs(dir: &Path) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.self_signed(&key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("public.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("private.key"), key.serialize_pem()).unwrap();
}

/// A running `object-server` process; killed on drop.
pub struct ServerProc {
    child: Child,
    pub url: String,
}

impl ServerProc {
    /// Starts the binary on 127.0.0.1:0 and waits for its `listening on <url>` line.
    pub fn start(data: &Path, certs_dir: &Path) -> Self {
        Self::start_with(data, certs_dir, &Launch::default())
    }

    /// Like [`ServerProc::start`], with extra flags, a log filter, an umask and the log file.
    pub fn start_with(data: &Path, certs_dir: &Path, launch: &Launch) -> Self {
        // `sh` sets the umask, then execs the server (same pid).
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("umask {:03o} && exec \"$0\" \"$@\"", launch.umask))
            .arg(env!("CARGO_BIN_EXE_object-server"))
            .arg("--address")
            .arg("127.0.0.1:0")
            .arg("--certs-dir")
            .arg(certs_dir)
            .args(&launch.args)
            .arg(data)
            .env("MINIO_ROOT_USER", ACCESS_KEY)
            .env("MINIO_ROOT_PASSWORD", SECRET_KEY)
            .env("RUST_LOG", &launch.log)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped());
        match &launch.stderr {
            Some(path) => cmd.stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap(),
            ),
            None => cmd.stderr(Stdio::inherit()),
        };
        let mut child = cmd.spawn().expect("spawn object-server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, url }
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl ServerProc {
    /// SIGTERM (a clean shutdown) and wait for the exit, at most 60 s.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server did not exit on SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How [`ServerProc::start_with`] starts the server.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Extra command-line flags (before the data directory).
    pub args: Vec<String>,
    /// `RUST_LOG`.
    pub log: String,
    /// The server's umask.
    pub umask: u32,
    /// Where stderr goes (inherited when `None`; appended to when it exists).
    pub stderr: Option<PathBuf>,
    /// Extra environment variables (e.g. `MINIO_KMS_KES_*`).
    pub env: Vec<(String, String)>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            args: Vec::new(),
            log: "warn,s3s=off".to_owned(),
            umask: 0o022,
            stderr: None,
            env: Vec::new(),
        }
    }
}

impl Launch {
    /// Default launch with extra flags.
    pub fn args(args: &[&str]) -> Self {
        Launch {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Launch::default()
        }
    }
}

/// A test environment: temp dir, optional TLS, the server and client helpers.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub server: Option<ServerProc>,
    pub tls: bool,
    pub venv: PathBuf,
    /// How the server was launched (reused by [`Env::restart`]).
    pub launch: Launch,
}

impl Env {
    /// A server over HTTPS (`tls`) or HTTP with a fresh data directory.
    pub fn new(tls: bool) -> Self {
        Self::with(tls, Launch::default())
    }

    /// Like [`Env::new`] with a custom launch; a relative `launch.stderr` is taken inside the
    /// temp dir. `prepare` runs on the temp dir before the server starts.
    pub fn with(tls: bool, launch: Launch) -> Self {
        Self::prepared(tls, launch, |_| {})
    }

    /// [`Env::with`] with a hook on the temp dir (e.g. to pre-create the data directory).
    pub fn prepared(tls: bool, mut launch: Launch, prepare: impl FnOnce(&Path)) -> Self {
        let venv = venv();
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        if tls {
            make_certs(&certs);
        }
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        prepare(dir.path());
        if let Some(log) = launch.stderr.take() {
            launch.stderr = Some(dir.path().join(log));
        }
        let server = ServerProc::start_with(&dir.path().join("data"), &certs, &launch);
        let launch_kept = launch.clone();
        assert!(server.url.starts_with(if tls {
            "https://127.0.0.1:"
        } else {
            "http://127.0.0.1:"
        }));
        Self {
            dir,
            server: Some(server),
            tls,
            venv,
            launch: launch_kept,
        }
    }

    pub fn url(&self) -> String {
        self.server.as_ref().unwrap().url.clone()
    }

    /// The server's `host:port`.
    pub fn addr(&self) -> std::net::SocketAddr {
        let url = self.url();
        let hostport = url.split("://").nth(1).unwrap();
        hostport.parse().unwrap()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.server.as_ref().unwrap().pid()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Restarts the server on the same data directory (after `kill`), launched as before.
    pub fn restart(&mut self) {
        let server = ServerProc::start_with(&self.path("data"), &self.path("certs"), &self.launch);
        self.server = Some(server);
    }

    /// SIGKILLs the running server, if any.
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.kill();
        }
    }

    fn client_env(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(&k);
            }
        }
        let home = self.path("home");
        cmd.env("HOME", &home)
            .env("AWS_CONFIG_FILE", home.join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("PYTHONWARNINGS", "ignore")
            .env("ENDPOINT", self.url());
    }

    /// Runs `aws <args…>` (args include `--no-verify-ssl --endpoint-url` as the test writes them).
    pub fn aws(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(self.venv.join("bin/aws"));
        cmd.args(args);
        self.client_env(&mut cmd);
        cmd.output().expect("run aws")
    }

    /// Runs a Python script with boto3 available; `ENDPOINT` is in its environment.
    pub fn python(&self, script: &str, args: &[&str]) -> Output {
        let path = self.path("script.py");
        std::fs::write(&path, script).unwrap();
        let mut cmd = Command::new(self.venv.join("bin/python"));
        cmd.arg(&path).args(args);
        self.client_env(&mut cmd);
        cmd.output().expect("run python")
    }

    /// Like [`Env::python`] but spawned, stdout piped (for the crash test).
    pub fn python_spawn(&self, script: &str, args: &[&str]) -> Child {
        let path = self.path("spawned.py");
        std::fs::write(&path, script).unwrap();
        let mut cmd = Command::new(self.venv.join("bin/python"));
        cmd.arg(&path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        self.client_env(&mut cmd);
        cmd.spawn().expect("spawn python")
    }
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts failure with `needle` in stderr.
pub fn fails_with(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure with {needle:?}, got success: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains(needle),
        "expected {needle:?} in stderr:\n{stderr}"
    );
}

/// Deterministic test data.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + usize::from(seed) * 7 + i / 251) % 256) as u8)
        .collect()
}

/// The python prelude for boto3 scripts: a client `s3` for `$ENDPOINT` without TLS verification
/// and `expect_error(code, fn)`.
pub const BOTO3_PRELUDE: &str = r#"
import os, sys, io, hashlib, base64
import boto3, botocore
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], verify=False,
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
def expect_error(code, status, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        got = (e.response["Error"].get("Code"), e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"expected {(code, status)}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}/{status}, call succeeded")
def admin(method, path):
    """A SigV4-signed request to a non-S3 path (MinIO admin APIs): (status, body bytes)."""
    import urllib3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    urllib3.disable_warnings()
    req = AWSRequest(method=method, url=os.environ["ENDPOINT"] + path, data=b"")
    req.headers["x-amz-content-sha256"] = hashlib.sha256(b"").hexdigest()
    SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]), "s3", "us-east-1").add_auth(req)
    r = urllib3.PoolManager(cert_reqs="CERT_NONE").request(method, req.url, headers=dict(req.headers), body=b"")
    return r.status, r.data
def check(name, cond, detail=""):
    if not cond:
        raise AssertionError(f"{name} failed {detail}")
    print("OK", name)
"#;
