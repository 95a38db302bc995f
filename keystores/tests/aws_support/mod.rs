//! A real moto server (AWS Secrets Manager, KMS and IAM emulator) for tests:
//! `moto_server` and `aws` (awscli v1) from the virtualenv that
//! `scripts/services.sh setup` creates (`.venv-services`, or the one named
//! by `SERVICES_VENV`).
//!
//! - [`Moto::start`]: a server on 127.0.0.1, on a port the OS reported free,
//!   logging to a file in its own temp dir, killed when dropped;
//!   [`Moto::stop`] and [`Moto::restart`] (same port, empty state: moto
//!   keeps everything in memory).
//! - [`Moto::aws`]: runs awscli against it with the test credentials.
//!
//! When moto is missing, [`Moto::start`] returns `None` (the test returns
//! early) — unless `CI` is set, where it panics: CI must never skip these
//! tests. Shared by `keystores/tests/aws.rs` and the workspace's
//! `tests/aws_e2e.rs` (via `#[path]`).
#![allow(
    unreachable_pub,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support shared by test binaries: `pub` is for them, a panic is the failure report"
)]
#![allow(dead_code, clippy::unwrap_used, reason = "test support")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The credentials every test uses (moto accepts any unless IAM checks
/// are switched on).
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "moto-test-secret-key";
pub const REGION: &str = "us-east-1";

/// Polls `cond` every 20 ms until it returns `Some`; panics after `limit`.
pub async fn poll<T, F, Fut>(what: &str, limit: Duration, mut cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = cond().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The services virtualenv if it holds moto, or `None` (panics instead
/// when `CI` is set).
fn venv() -> Option<PathBuf> {
    let venv = std::env::var_os("SERVICES_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|d| d.join(".venv-services"))
                .find(|d| d.is_dir())
        });
    let found = venv.filter(|v| v.join("bin/moto_server").is_file() && v.join("bin/aws").is_file());
    if found.is_none() {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        assert!(
            !ci,
            "moto is required in CI but was not found: run scripts/services.sh setup \
             (or set SERVICES_VENV to the virtualenv holding moto[server] and awscli)"
        );
        eprintln!("skipped: moto not installed (scripts/services.sh setup installs it)");
    }
    found
}

/// A port the OS reports free on 127.0.0.1.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A running moto server.
pub struct Moto {
    venv: PathBuf,
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    port: u16,
    /// Extra environment of the server process.
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Moto {
    /// A server with IAM checks off (any credentials are accepted).
    pub async fn start() -> Option<Moto> {
        Self::start_with(&[]).await
    }

    /// A server with extra environment (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`
    /// to switch IAM checks on after that many requests).
    pub async fn start_with(env: &[(&str, &str)]) -> Option<Moto> {
        let venv = venv()?;
        for _ in 0..5 {
            let mut moto = Moto {
                venv: venv.clone(),
                child: None,
                dir: tempfile::tempdir().unwrap(),
                port: free_port(),
                env: env
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap(),
            };
            moto.spawn();
            if moto.wait_ready().await {
                return Some(moto);
            }
        }
        panic!("moto did not start in five attempts");
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(self.venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("moto.log")
    }

    /// The server's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Waits until `/moto-api/` answers; false if the process exited (the
    /// port was taken meanwhile).
    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/moto-api/", self.endpoint());
        loop {
            if self.exited() {
                return false;
            }
            if let Ok(resp) = self.http.get(&url).send().await
                && resp.status().is_success()
            {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "moto never answered; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server (SIGKILL: moto holds nothing worth flushing) and
    /// waits until the process is gone.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        child.kill().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "moto did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts a stopped server again on the same port (with empty state).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.spawn();
            if self.wait_ready().await {
                return;
            }
            // The port may linger for a moment after the kill.
            assert!(
                Instant::now() < deadline,
                "moto did not restart on port {}; log:\n{}",
                self.port,
                self.log()
            );
            self.child = None;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `aws <args> --output json` against this server with the test
    /// credentials (or `creds`); `Ok(stdout as JSON)` or `Err(stderr)`.
    pub fn aws_as(&self, creds: (&str, &str), args: &[&str]) -> Result<Value, String> {
        let out = Command::new(self.venv.join("bin/aws"))
            .args(["--endpoint-url", &self.endpoint(), "--output", "json"])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", creds.0)
            .env("AWS_SECRET_ACCESS_KEY", creds.1)
            .env("AWS_DEFAULT_REGION", REGION)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("no-credentials"),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8(out.stdout).unwrap();
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text).unwrap())
    }

    /// [`Moto::aws_as`] with the test credentials.
    pub fn aws(&self, args: &[&str]) -> Result<Value, String> {
        self.aws_as((ACCESS_KEY, SECRET_KEY), args)
    }

    /// [`Moto::aws`] that must succeed.
    pub fn aws_ok(&self, args: &[&str]) -> Value {
        self.aws(args)
            .unwrap_or_else(|e| panic!("aws {args:?} failed: {e}\nmoto log:\n{}", self.log()))
    }

    /// Creates a KMS key and returns its ID.
    pub fn kms_key(&self) -> String {
        let key = self.aws_ok(&["kms", "create-key", "--description", "kes test"]);
        key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
    }

    /// The `keystore.aws.secretsmanager` section (JSON) for this server
    /// with static test credentials and the optional KMS key.
    pub fn section(&self, kms_key: Option<&str>) -> Value {
        let mut s = serde_json::json!({
            "endpoint": self.endpoint(),
            "region": REGION,
            "credentials": { "accesskey": ACCESS_KEY, "secretkey": SECRET_KEY },
        });
        if let Some(k) = kms_key {
            s["kmskey"] = Value::String(k.to_owned());
        }
        s
    }
}
