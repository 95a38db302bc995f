//! `kes server --dev` as a user runs it: the binary starts on port 0, prints
//! its endpoint and a fresh admin API key, and that key works over TLS.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn dev_server_prints_a_working_admin_api_key() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kes"))
        .args(["server", "--dev", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Kill(child);
    let (mut endpoint, mut api_key, mut admin) = (None, None, None);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("Endpoint"), Some(v)) => endpoint = Some(v.to_owned()),
            (Some("API"), Some("Key")) => api_key = words.next().map(str::to_owned),
            (Some("Admin"), Some(v)) => admin = Some(v.to_owned()),
            _ => {}
        }
        if endpoint.is_some() && api_key.is_some() && admin.is_some() {
            break;
        }
    }
    let endpoint = endpoint.expect("endpoint printed");
    let key = client::ApiKey::parse(&api_key.expect("API key printed")).unwrap();
    assert_eq!(key.identity(), admin.unwrap());
    let ck = key.certificate().unwrap();
    let http = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .identity(
            reqwest::Identity::from_pem(
                format!("{}{}", ck.key_pem.as_str(), ck.cert_pem).as_bytes(),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let r = http
        .post(format!("{endpoint}/v1/key/create/dev-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{endpoint}/v1/key/generate/dev-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = http
        .get(format!("{endpoint}/v1/identity/self/describe"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["admin"], true);
    // A different, unknown API key is refused.
    let other = client::ApiKey::generate().unwrap().certificate().unwrap();
    let http = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .identity(
            reqwest::Identity::from_pem(
                format!("{}{}", other.key_pem.as_str(), other.cert_pem).as_bytes(),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(
        http.get(format!("{endpoint}/v1/status"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    drop(child);
}
