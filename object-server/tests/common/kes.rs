//! A real `kes server` process for the SSE tests: TLS with a per-test certificate, a filesystem
//! keystore in a temp dir, API-key identities (admin, the object server with the MinIO policy)
//! and an optional certificate-file identity, on 127.0.0.1 (port 0 first, the same port on
//! restart). Logs go to files in the temp dir so tests can scan them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use client::ApiKey;
use sha2::{Digest, Sha256};

/// The workspace's MinIO policy (create, generate, decrypt, describe …; never delete).
pub const MINIO_POLICY: &str = include_str!("../../../policies/minio.yaml");
/// The policy of `object-server admin rekey` (ext describe and rewrap only).
pub const REKEY_POLICY: &str = include_str!("../../../policies/rekey.yaml");

/// `policy` (a YAML policy file) indented under `policy:`, comments and blank lines dropped.
fn indented(policy: &str) -> String {
    policy
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("  {l}\n"))
        .collect()
}

/// The `kes` binary: `$KES_BIN`, else `target/<profile>/kes` next to this test's `deps/`.
pub fn kes_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("KES_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("kes");
    assert!(
        bin.is_file(),
        "no kes binary at {}: build it first (`cargo build --bin kes`, or run the whole \
         workspace's tests), or set KES_BIN",
        bin.display()
    );
    bin
}

/// A client certificate + key (PEM files) and its KES identity.
pub struct CertIdentity {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub identity: String,
}

/// Writes an ECDSA P-256 client certificate into `dir` and returns its files and identity
/// (hex SHA-256 of the SubjectPublicKeyInfo).
pub fn client_cert(dir: &Path, name: &str) -> CertIdentity {
    use rcgen::PublicKeyData as _;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(&key).unwrap();
    let identity = hex::encode(Sha256::digest(key.subject_public_key_info()));
    let (c, k) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    CertIdentity {
        cert: c,
        key: k,
        identity,
    }
}

/// Shared state of one or more KES servers: a directory with the server certificate, the
/// config and the keystore, and the identities.
pub struct KesSetup {
    pub dir: PathBuf,
    pub admin: ApiKey,
    /// The object server's API key (MinIO policy).
    pub minio: ApiKey,
    /// The object server's certificate-file identity (MinIO policy).
    pub minio_cert: CertIdentity,
    /// The identity of `object-server admin rekey` (`policies/rekey.yaml`).
    pub rekey: ApiKey,
    /// The server certificate (what clients trust).
    pub ca: PathBuf,
}

impl KesSetup {
    /// Writes certificates and `config.yaml` into `dir` (created).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
        std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
        let admin = ApiKey::generate().unwrap();
        let minio = ApiKey::generate().unwrap();
        let minio_cert = client_cert(dir, "minio-client");
        let rekey = ApiKey::generate().unwrap();
        let policy = indented(MINIO_POLICY);
        let rekey_policy = indented(REKEY_POLICY);
        let config = format!(
            "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {}\ntls:\n  key: server.key\n  cert: server.crt\n\
             policy:\n{policy}    identities:\n    - {}\n    - {}\n\
             {rekey_policy}    identities:\n    - {}\n\
             keystore:\n  fs:\n    path: keys\nlog:\n  error: on\n  audit: on\n",
            admin.identity(),
            minio.identity(),
            minio_cert.identity,
            rekey.identity(),
        );
        std::fs::write(dir.join("config.yaml"), config).unwrap();
        Self {
            dir: dir.to_path_buf(),
            admin,
            minio,
            minio_cert,
            rekey,
            ca: dir.join("server.crt"),
        }
    }

    /// Starts a server on `addr` (`None`: 127.0.0.1:0); `name` names its log files.
    pub fn start(&self, name: &str, addr: Option<SocketAddr>) -> KesProc {
        let out = self.dir.join(format!("{name}.stdout.log"));
        let err = self.dir.join(format!("{name}.stderr.log"));
        let open = |p: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .unwrap()
        };
        let before = std::fs::read_to_string(&out).unwrap_or_default().len();
        let child = Command::new(kes_bin())
            .args(["server", "--config"])
            .arg(self.dir.join("config.yaml"))
            .arg("--addr")
            .arg(addr.map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string()))
            .stdout(open(&out))
            .stderr(open(&err))
            .spawn()
            .expect("spawn kes");
        let mut proc = KesProc {
            child,
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let found = text
                .get(before..)
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Endpoint")
                        .map(str::trim)
                        .and_then(|a| a.strip_prefix("https://"))
                        .and_then(|a| a.parse().ok())
                });
            if let Some(a) = found {
                proc.addr = a;
                return proc;
            }
            if let Some(status) = proc.child.try_wait().unwrap() {
                panic!(
                    "kes exited with {status}: {}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "kes did not print its endpoint");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An admin client for `endpoints`.
    pub fn admin_client(&self, endpoints: &[&KesProc]) -> client::Client {
        client::Client::builder()
            .endpoints(endpoints.iter().map(|k| k.url()))
            .api_key(self.admin.clone())
            .ca_file(&self.ca)
            .build()
            .unwrap()
    }

    /// Grants (`true`) or revokes (`false`) the object server's identities in the MinIO policy
    /// of `config.yaml` (a running server picks the change up on SIGHUP, [`KesProc::reload`]).
    pub fn set_minio_access(&self, allowed: bool) {
        let path = self.dir.join("config.yaml");
        let config = std::fs::read_to_string(&path).unwrap();
        let ids = [
            self.minio.identity().to_string(),
            self.minio_cert.identity.clone(),
        ];
        let revoked = "0".repeat(63);
        let new = if allowed {
            config
                .replacen(&format!("- {revoked}a"), &format!("- {}", ids[0]), 1)
                .replacen(&format!("- {revoked}b"), &format!("- {}", ids[1]), 1)
        } else {
            config
                .replacen(&format!("- {}", ids[0]), &format!("- {revoked}a"), 1)
                .replacen(&format!("- {}", ids[1]), &format!("- {revoked}b"), 1)
        };
        assert_ne!(new, config, "policy unchanged");
        std::fs::write(&path, new).unwrap();
    }

    /// The audit log (stdout) of server `name` so far.
    pub fn audit_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.stdout.log"))).unwrap_or_default()
    }

    /// The object server's `MINIO_KMS_KES_*` variables for `endpoints`, authenticating with the
    /// API key or (`cert_auth`) the certificate files.
    pub fn object_server_env(
        &self,
        endpoints: &[&KesProc],
        key_name: &str,
        cert_auth: bool,
    ) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "MINIO_KMS_KES_ENDPOINT".to_owned(),
                endpoints
                    .iter()
                    .map(|k| k.url())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("MINIO_KMS_KES_KEY_NAME".to_owned(), key_name.to_owned()),
            (
                "MINIO_KMS_KES_CAPATH".to_owned(),
                self.ca.display().to_string(),
            ),
        ];
        if cert_auth {
            env.push((
                "MINIO_KMS_KES_CERT_FILE".to_owned(),
                self.minio_cert.cert.display().to_string(),
            ));
            env.push((
                "MINIO_KMS_KES_KEY_FILE".to_owned(),
                self.minio_cert.key.display().to_string(),
            ));
        } else {
            env.push(("MINIO_KMS_KES_API_KEY".to_owned(), self.minio.to_string()));
        }
        env
    }
}

/// A running `kes server`; killed on drop.
pub struct KesProc {
    child: Child,
    pub addr: SocketAddr,
}

impl KesProc {
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// SIGHUP: the server reloads its config file.
    pub fn reload(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL and reap; returns the address for a restart on the same port.
    pub fn kill(mut self) -> SocketAddr {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.addr
    }
}

impl Drop for KesProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
