//! Support for the key lifecycle tests (`lifecycle.rs`, `versions.rs`, `lifecycle_processes.rs`):
//! request helpers, a decoder of stored values that follows kes-api.md §6.1 literally (written
//! from the spec, independent of `src/crypto`), the versioned-ciphertext header, and a real
//! `kes server` child process.
#![allow(
    unreachable_pub,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support shared by test binaries: `pub` is for them, a panic is the failure report"
)]
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use tokio::io::AsyncReadExt as _;

use crate::ops::eventually;

/// Sends `method url` with an optional JSON body; returns the status and the JSON body (or
/// `Value::Null` for an empty or non-JSON body).
pub async fn call(
    c: &reqwest::Client,
    method: &str,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = c.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The 8-byte header of a versioned ciphertext: `00 'K' 'V' 01` and the version, big-endian.
pub fn framed_version(ciphertext: &[u8]) -> Option<u32> {
    let rest = ciphertext.strip_prefix(&[0x00, b'K', b'V', 0x01])?;
    let v: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(v))
}

/// Base64 field of a JSON answer, decoded.
pub fn b64_field(v: &Value, name: &str) -> Vec<u8> {
    B64.decode(v[name].as_str().unwrap()).unwrap()
}

// ---------------------------------------------------------------------------
// kes-api.md §6.1, literally: "valid JSON → legacy. Otherwise base64-decode and unmarshal the
// protobuf" `KeyVersion { SecretKey Key = 1; HMACKey HMACKey = 2; Timestamp CreatedAt = 3;
// string CreatedBy = 4 }`, `SecretKey { bytes Key = 1; uint32 Type = 2 }`,
// `HMACKey { bytes Key = 1; uint32 Hash = 2 }`.

/// A stored value as upstream KES reads it.
#[derive(Debug)]
pub enum Upstream {
    /// Legacy JSON value.
    Legacy(Value),
    /// Current protobuf value.
    Current {
        key: Vec<u8>,
        key_type: u64,
        hmac_key: Vec<u8>,
        hmac_hash: u64,
        created_seconds: i64,
        created_by: String,
    },
}

enum Field {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first().ok_or("truncated varint")?;
        *buf = rest;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err("varint too long".into())
}

fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Field)>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let tag = varint(&mut buf)?;
        let field = match tag & 7 {
            0 => Field::Varint(varint(&mut buf)?),
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|e| e.to_string())?;
                if buf.len() < len {
                    return Err("truncated field".into());
                }
                let (data, rest) = buf.split_at(len);
                buf = rest;
                Field::Bytes(data.to_vec())
            }
            wt => return Err(format!("unexpected wire type {wt}")),
        };
        out.push((tag >> 3, field));
    }
    Ok(out)
}

fn bytes_of(fs: &[(u64, Field)], n: u64) -> Vec<u8> {
    fs.iter()
        .rev()
        .find_map(|(k, f)| match f {
            Field::Bytes(b) if *k == n => Some(b.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn varint_of(fs: &[(u64, Field)], n: u64) -> u64 {
    fs.iter()
        .rev()
        .find_map(|(k, f)| match f {
            Field::Varint(v) if *k == n => Some(*v),
            _ => None,
        })
        .unwrap_or_default()
}

/// Decodes a stored value by the §6.1 rule; `Err` is what upstream KES would fail with.
pub fn upstream_decode(stored: &[u8]) -> Result<Upstream, String> {
    if let Ok(v) = serde_json::from_slice::<Value>(stored) {
        return Ok(Upstream::Legacy(v));
    }
    let raw = B64.decode(stored).map_err(|e| format!("base64: {e}"))?;
    let top = fields(&raw)?;
    let secret = fields(&bytes_of(&top, 1))?;
    let hmac = fields(&bytes_of(&top, 2))?;
    let created = fields(&bytes_of(&top, 3))?;
    Ok(Upstream::Current {
        key: bytes_of(&secret, 1),
        key_type: varint_of(&secret, 2),
        hmac_key: bytes_of(&hmac, 1),
        hmac_hash: varint_of(&hmac, 2),
        created_seconds: varint_of(&created, 1) as i64,
        created_by: String::from_utf8(bytes_of(&top, 4)).map_err(|e| e.to_string())?,
    })
}

// ---------------------------------------------------------------------------
// A real `kes server` process.

/// A `kes server --config … --addr 127.0.0.1:0` child process (killed on drop).
pub struct Kes {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    output: Arc<std::sync::Mutex<String>>,
}

impl Kes {
    /// Starts the binary and waits for its `Endpoint` line.
    pub async fn spawn(config: &std::path::Path) -> Kes {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kes"))
            .args(["server", "--config"])
            .arg(config)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let output = Arc::new(std::sync::Mutex::new(String::new()));
        let pipes: [Box<dyn tokio::io::AsyncRead + Unpin + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for mut pipe in pipes {
            let sink = output.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    // Into the suite's output too, for the secrets scan of scripts/test.sh.
                    eprint!("{text}");
                    sink.lock().unwrap().push_str(&text);
                }
            });
        }
        let mut addr = None;
        eventually("the Endpoint line", Duration::from_secs(30), || {
            addr = output.lock().unwrap().lines().find_map(|l| {
                l.strip_prefix("Endpoint     https://")
                    .and_then(|a| a.trim().parse().ok())
            });
            async move { addr.is_some() }
        })
        .await;
        Kes {
            child,
            addr: addr.unwrap(),
            output,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// How many SIGHUP reloads the server has logged so far.
    pub fn reloads(&self) -> usize {
        self.output
            .lock()
            .unwrap()
            .matches("configuration reloaded")
            .count()
    }
}
