//! A `kes` server (in this process) started from a config file on a real
//! keystore backend, with an mTLS admin client and its log outputs: the
//! harness of the end-to-end backend tests (`vault_e2e`, `aws_e2e`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use client::ApiKey;
use serde_json::{Value, json};

/// The key cache's health probe interval: short, so outages show quickly.
pub const PROBE: Duration = Duration::from_millis(100);

/// A `kes` server started from a config file whose keystore is a real backend.
pub struct Kes {
    pub running: kes::server::Running,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// The server's audit and error log outputs.
    pub logs: super::Outputs,
}

impl Kes {
    /// Starts with `keystore` (the lines under `keystore:`, indented by two
    /// spaces) and extra top-level YAML `extra`.
    pub async fn start(keystore: &str, extra: &str) -> Kes {
        let dir = tempfile::tempdir().unwrap();
        let cert = super::write_server_cert(dir.path());
        let admin = ApiKey::generate().unwrap();
        let config = format!(
            "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {}\ntls:\n  key: server.key\n  cert: server.crt\n\
             {extra}keystore:\n{keystore}",
            admin.identity()
        );
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, config).unwrap();
        let settings = kes::config::load(&path).unwrap();
        let logs = super::Outputs::default();
        let options = kes::server::Options {
            probe_interval: PROBE,
            telemetry: Some(kes::logs::Telemetry::new(&settings.log, logs.sinks())),
            ..kes::server::Options::default()
        };
        let running = kes::server::Builder::from_file(&path)
            .unwrap()
            .options(options)
            .start()
            .await
            .expect("kes server starts on its keystore");
        let ck = admin.certificate().unwrap();
        let pem = format!("{}{}", ck.key_pem.as_str(), ck.cert_pem);
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(cert.as_bytes()).unwrap()])
            .identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
            .build()
            .unwrap();
        Kes {
            addr: running.addr,
            running,
            _dir: dir,
            client,
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(self.url(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn create(&self, name: &str) -> u16 {
        self.post(&format!("/v1/key/create/{name}"), Value::Null)
            .await
            .0
    }

    pub async fn generate(&self, name: &str) -> (u16, Value) {
        self.post(&format!("/v1/key/generate/{name}"), json!({}))
            .await
    }

    pub async fn decrypt(&self, name: &str, ciphertext: &Value, context: &str) -> (u16, Value) {
        let body = json!({ "ciphertext": ciphertext, "context": context });
        self.post(&format!("/v1/key/decrypt/{name}"), body).await
    }

    /// Waits until `/v1/ready` answers `status`.
    /// Both log outputs.
    pub fn log_text(&self) -> String {
        format!("{}{}", self.logs.audit.text(), self.logs.error.text())
    }

    pub async fn ready_becomes(&self, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.get("/v1/ready").await.0 != status {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for /v1/ready {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
