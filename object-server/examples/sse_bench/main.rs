//! Throughput of PUT and GET for 4 KiB, 1 MiB and 64 MiB objects: plain vs SSE-C vs SSE-S3
//! (and SSE-KMS), against an in-process object server over HTTPS on loopback and a real
//! `kes server` process. A benchmark, not a test: it prints a table and asserts nothing about
//! speed.
//!
//! ```sh
//! cargo build --release --bin kes
//! cargo run --release -p object-server --example sse_bench            # KES_BIN overrides target/release/kes
//! ```
//!
//! The client is Rust (reqwest, HTTP/1.1, one connection, requests in sequence, SigV4 with
//! `UNSIGNED-PAYLOAD`), so the numbers are the server's cost plus one client on the same 2 cores.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// A benchmark driver: failing loudly is fine.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_lc_rs::{digest, hmac};
use object_server::sse::kms_config::KmsSettings;
use object_server::{Config, Credentials};

const AK: &str = "bench";
const SK: &str = "bench-secret-key";
const SSEC_KEY: &str = "MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0cHJvdmlkZWQ=";
const SSEC_MD5: &str = "7PpPLAK26ONlVUGOWlusfg==";

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg)
        .as_ref()
        .to_vec()
}

/// SigV4 (header form, `UNSIGNED-PAYLOAD`) for a path-style request without query.
fn signed(
    client: &reqwest::Client,
    method: reqwest::Method,
    base: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let host = base.split("://").nth(1).unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let amz_date = now.format(&fmt).unwrap();
    let date = &amz_date[..8];
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host),
        ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
        ("x-amz-date".into(), amz_date.clone()),
    ];
    headers.extend(
        extra
            .iter()
            .map(|(k, v)| (k.to_lowercase(), (*v).to_owned())),
    );
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical =
        format!("{method}\n{path}\n\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD");
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    );
    let mut k = hmac_sha256(format!("AWS4{SK}").as_bytes(), date.as_bytes());
    for part in ["us-east-1", "s3", "aws4_request"] {
        k = hmac_sha256(&k, part.as_bytes());
    }
    let sig = hex::encode(hmac_sha256(&k, sts.as_bytes()));
    let mut rb = client.request(method, format!("{base}{path}"));
    for (name, value) in &headers {
        if name != "host" {
            rb = rb.header(name.as_str(), value.as_str());
        }
    }
    rb.header(
        "authorization",
        format!("AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={signed_headers}, Signature={sig}"),
    )
}

fn self_signed(dir: &Path, cert: &str, key: &str) -> String {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let c = params.self_signed(&kp).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(cert), c.pem()).unwrap();
    std::fs::write(dir.join(key), kp.serialize_pem()).unwrap();
    c.pem()
}

/// A `kes server` child process, killed and reaped on drop.
struct KesChild(std::process::Child);

impl Drop for KesChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `kes server` with a filesystem keystore in `dir`; returns the child and its URL.
fn start_kes(dir: &Path, admin: &client::ApiKey, minio: &client::ApiKey) -> (KesChild, String) {
    let bin = std::env::var_os("KES_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/kes"));
    self_signed(dir, "server.crt", "server.key");
    let config = format!(
        "version: v1\naddress: 127.0.0.1:0\nadmin:\n  identity: {}\ntls:\n  key: server.key\n  cert: server.crt\n\
         policy:\n  minio:\n    allow:\n    - /v1/key/*\n    identities:\n    - {}\nkeystore:\n  fs:\n    path: keys\n",
        admin.identity(),
        minio.identity()
    );
    std::fs::write(dir.join("config.yaml"), config).unwrap();
    let out = dir.join("kes.out");
    let child = KesChild(
        std::process::Command::new(&bin)
            .args(["server", "--config"])
            .arg(dir.join("config.yaml"))
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if let Some(url) = text
            .lines()
            .find_map(|l| l.strip_prefix("Endpoint").map(|u| u.trim().to_owned()))
        {
            return (child, url);
        }
        assert!(Instant::now() < deadline, "kes did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Mode {
    name: &'static str,
    put_headers: Vec<(&'static str, &'static str)>,
    get_headers: Vec<(&'static str, &'static str)>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let admin = client::ApiKey::generate().unwrap();
    let minio = client::ApiKey::generate().unwrap();
    let kes_dir = dir.path().join("kes");
    let (kes, kes_url) = start_kes(&kes_dir, &admin, &minio);
    let kes_admin = client::Client::builder()
        .endpoint(&kes_url)
        .api_key(admin)
        .ca_file(kes_dir.join("server.crt"))
        .build()
        .unwrap();
    kes_admin.create_key("bench-key").await.unwrap();

    let certs = dir.path().join("certs");
    self_signed(&certs, "public.crt", "private.key");
    let vars = [
        ("MINIO_KMS_KES_ENDPOINT", kes_url.clone()),
        ("MINIO_KMS_KES_KEY_NAME", "bench-key".to_owned()),
        ("MINIO_KMS_KES_API_KEY", minio.to_string()),
        (
            "MINIO_KMS_KES_CAPATH",
            kes_dir.join("server.crt").display().to_string(),
        ),
    ];
    let kms = KmsSettings::from_lookup(
        &|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()),
        None,
    )
    .unwrap();
    let (credentials, _) = Credentials::from_lookup(&|k| match k {
        "MINIO_ROOT_USER" => Some(AK.to_owned()),
        "MINIO_ROOT_PASSWORD" => Some(SK.to_owned()),
        _ => None,
    })
    .unwrap();
    let server = object_server::spawn(Config {
        address: "127.0.0.1:0".to_owned(),
        data_dir: dir.path().join("data"),
        certs_dir: Some(certs),
        credentials,
        limits: Default::default(),
        kms,
        domains: Vec::new(),
        metrics_public: false,
    })
    .await
    .unwrap();
    let base = server.url();
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .build()
        .unwrap();
    let r = signed(&http, reqwest::Method::PUT, &base, "/bench", &[])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);

    let ssec = vec![
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", SSEC_KEY),
        ("x-amz-server-side-encryption-customer-key-md5", SSEC_MD5),
    ];
    let modes = [
        Mode {
            name: "plain",
            put_headers: vec![],
            get_headers: vec![],
        },
        Mode {
            name: "SSE-C",
            put_headers: ssec.clone(),
            get_headers: ssec,
        },
        Mode {
            name: "SSE-S3",
            put_headers: vec![("x-amz-server-side-encryption", "AES256")],
            get_headers: vec![],
        },
        Mode {
            name: "SSE-KMS",
            put_headers: vec![
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "bench-key"),
            ],
            get_headers: vec![],
        },
    ];
    let sizes: [(usize, &str, usize); 3] = [
        (4 * 1024, "4 KiB", 300),
        (1024 * 1024, "1 MiB", 60),
        (64 * 1024 * 1024, "64 MiB", 6),
    ];
    println!("| size | mode | PUT ops/s | PUT MiB/s | GET ops/s | GET MiB/s |");
    println!("|---|---|---|---|---|---|");
    for (size, label, n) in sizes {
        let body = bytes::Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        for mode in &modes {
            // one warm-up round trip, then n timed PUTs and n timed GETs
            let path = format!("/bench/{}-{label}", mode.name).replace(' ', "");
            let put = |p: String| {
                signed(&http, reqwest::Method::PUT, &base, &p, &mode.put_headers).body(body.clone())
            };
            assert!(
                put(path.clone())
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .is_success()
            );
            let t = Instant::now();
            for i in 0..n {
                let r = put(format!("{path}-{i}")).send().await.unwrap();
                assert!(
                    r.status().is_success(),
                    "{} {:?}",
                    mode.name,
                    r.text().await
                );
            }
            let put_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            for i in 0..n {
                let r = signed(
                    &http,
                    reqwest::Method::GET,
                    &base,
                    &format!("{path}-{i}"),
                    &mode.get_headers,
                )
                .send()
                .await
                .unwrap();
                assert!(r.status().is_success());
                let got = r.bytes().await.unwrap();
                assert_eq!(got.len(), size);
            }
            let get_s = t.elapsed().as_secs_f64();
            let mib = (size * n) as f64 / (1024.0 * 1024.0);
            println!(
                "| {label} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
                mode.name,
                n as f64 / put_s,
                mib / put_s,
                n as f64 / get_s,
                mib / get_s
            );
        }
    }
    server.shutdown().await;
    drop(kes);
}
