//! Unit tests for the crypto module, by topic:
//! - `vectors`: the known-answer vectors (`testdata/kes-vectors.json`, a verbatim copy of
//!   `shared/spec/kes-vectors.json`), with every byte flip, wrong context and wrong key;
//! - `ciphers`: round trips, DEK generation, HMAC, imports, cipher names, `Debug` redaction;
//! - `stored`: stored key values (protobuf `KeyVersion` and legacy JSON);
//! - `formats`: ciphertext framing (msgpack strictness) and a fuzz-style no-panic loop;
//! - this file: the vector loader and helpers they share.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;

mod ciphers;
mod formats;
mod stored;
mod vectors;

const VECTORS: &str = include_str!("../testdata/kes-vectors.json");

struct Vector {
    cipher: Cipher,
    key: Vec<u8>,
    plaintext: Vec<u8>,
    context: Vec<u8>,
    format: String,
    ciphertext: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let list = doc["decrypt"].as_array().unwrap();
    assert_eq!(list.len(), 8, "vector file changed: update the tests");
    list.iter()
        .map(|v| {
            let s = |name: &str| v[name].as_str().unwrap().to_owned();
            let b = |name: &str| B64.decode(s(name)).unwrap();
            let format = s("format");
            let ciphertext = if format == "json" {
                s("ciphertext_text").into_bytes()
            } else {
                b("ciphertext_b64")
            };
            Vector {
                cipher: Cipher::parse(&s("cipher")).unwrap(),
                key: b("key_b64"),
                plaintext: b("plaintext_b64"),
                context: b("context_b64"),
                format,
                ciphertext,
            }
        })
        .collect()
}

fn legacy_json_key(key: &[u8], algorithm: Option<&str>) -> KeyVersion {
    let mut v = json!({ "bytes": B64.encode(key) });
    if let Some(a) = algorithm {
        v["algorithm"] = json!(a);
    }
    KeyVersion::decode(v.to_string().as_bytes()).unwrap()
}

fn other(c: Cipher) -> Cipher {
    match c {
        Cipher::Aes256 => Cipher::ChaCha20,
        Cipher::ChaCha20 => Cipher::Aes256,
    }
}

/// Byte positions of the (unauthenticated, unchecked) key-id payload in a msgpack ciphertext.
fn msgpack_key_id_range(ct: &[u8]) -> std::ops::Range<usize> {
    assert_eq!(ct[0], 0x95);
    let alg_len = usize::from(ct[1] & 0x1f);
    assert_eq!(ct[1] & 0xe0, 0xa0, "vectors use a fixstr algorithm");
    let p = 2 + alg_len;
    assert_eq!(ct[p], 0xd9, "vectors use a str8 key id");
    let len = usize::from(ct[p + 1]);
    p + 2..p + 2 + len
}

/// Deterministic xorshift64* so failures are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A hand-built `KeyVersion` protobuf: ChaCha20 key 0x11.., HMAC key 0..31, created
/// 2024-03-01T12:00:00.000000123Z by "admin".
fn hand_built_protobuf() -> Vec<u8> {
    let mut b = vec![0x0a, 0x24, 0x0a, 0x20];
    b.extend([0x11u8; 32]);
    b.extend([0x10, 0x02]);
    b.extend([0x12, 0x24, 0x0a, 0x20]);
    b.extend(0u8..32);
    b.extend([0x10, 0x01]);
    // Timestamp{seconds: 1709294400, nanos: 123}
    b.extend([0x1a, 0x08, 0x08, 0xc0, 0x86, 0x87, 0xaf, 0x06, 0x10, 0x7b]);
    b.extend([0x22, 0x05]);
    b.extend(b"admin");
    b
}
