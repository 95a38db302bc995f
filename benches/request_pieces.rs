//! Criterion benchmarks of the per-request pieces of a KES call, through the crate's
//! public API: policy match (1 vs 1,000 policies; 1 vs 1,000 patterns), ciphertext seal
//! and open (the current raw format and the two legacy formats decrypt accepts, plus a
//! versioned ciphertext of a rotated key), stored-key decode, the JSON of generate and
//! decrypt, and API key → identity.
//!
//! ```text
//! cargo bench --bench request_pieces               # all
//! cargo bench --bench request_pieces -- policy     # one group
//! ```
#![allow(
    missing_docs,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmarks: a panic is the failure report"
)]

use std::collections::BTreeMap;
use std::hint::black_box;

use base64::Engine as _;
use client::ApiKey;
use client::wire::{DecryptRequest, DecryptResponse, GenerateRequest, GenerateResponse};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kes::crypto::{KeyRing, KeyVersion, StoredRing};
use kes::policy::{Identity, Policy, PolicySet};

/// 20 bytes of associated data, as MinIO sends (bucket/object).
const CONTEXT: &[u8] = b"bucket/object-name-1";
const PATH: &str = "/v1/key/generate/minio-sse-key";

/// The allow list of the shipped MinIO policy (14 patterns) and its deny pattern.
fn minio_policy() -> Policy {
    let allow = [
        "create",
        "import",
        "generate",
        "encrypt",
        "decrypt",
        "bulk/decrypt",
        "describe",
        "list",
        "hmac",
    ]
    .iter()
    .map(|op| format!("/v1/key/{op}/*"))
    .chain(
        [
            "/v1/status",
            "/v1/api",
            "/v1/metrics",
            "/v1/log/audit",
            "/v1/log/error",
        ]
        .map(String::from),
    )
    .collect();
    Policy {
        allow,
        deny: vec!["/v1/key/delete/*".into()],
    }
}

fn identity(i: usize) -> Identity {
    Identity::parse(&format!("{i:064x}")).expect("64 hex digits")
}

/// `n` policies, each with its own identity; the caller's is the last one.
fn policy_set(n: usize) -> (PolicySet, Identity) {
    let mut set = PolicySet {
        policies: BTreeMap::new(),
        identities: BTreeMap::new(),
    };
    for i in 0..n {
        set.policies
            .insert(format!("policy-{i:04}"), minio_policy());
        set.identities.insert(identity(i), format!("policy-{i:04}"));
    }
    (set, identity(n - 1))
}

fn policy(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy");
    for n in [1, 1000] {
        let (set, caller) = policy_set(n);
        g.bench_with_input(
            BenchmarkId::new("lookup+permits, policies", n),
            &n,
            |b, _| {
                b.iter(|| {
                    let (_, p) = set.policy_of(black_box(&caller)).expect("assigned");
                    black_box(p.permits(black_box(PATH)))
                });
            },
        );
    }
    for n in [1, 1000] {
        // The only matching pattern is the last one.
        let mut allow: Vec<String> = (1..n)
            .map(|i| format!("/v1/key/generate/other-{i}-*"))
            .collect();
        allow.push("/v1/key/generate/minio-*".into());
        let p = Policy {
            allow,
            deny: vec!["/v1/key/delete/*".into()],
        };
        g.bench_with_input(BenchmarkId::new("permits, patterns", n), &n, |b, _| {
            b.iter(|| black_box(p.permits(black_box(PATH))));
        });
    }
    g.finish();
}

/// The raw ciphertext's parts: sealed (ct ‖ tag), iv (16), nonce (12).
fn parts(raw: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let (sealed, tail) = raw.split_at(raw.len() - 28);
    let (iv, nonce) = tail.split_at(16);
    (sealed, iv, nonce)
}

/// The same ciphertext in the legacy msgpack layout (`[alg, id, iv, nonce, sealed]`).
fn msgpack(raw: &[u8]) -> Vec<u8> {
    let (sealed, iv, nonce) = parts(raw);
    let alg = b"AES-256-GCM-HMAC-SHA-256";
    let mut out = vec![0x95, 0xa0 | alg.len() as u8];
    out.extend_from_slice(alg);
    out.extend_from_slice(&[0xd9, 32]);
    out.extend_from_slice(&[b'0'; 32]);
    for bin in [iv, nonce, sealed] {
        out.extend_from_slice(&[0xc4, bin.len() as u8]);
        out.extend_from_slice(bin);
    }
    out
}

/// The same ciphertext in the legacy JSON layout.
fn json(raw: &[u8]) -> Vec<u8> {
    let (sealed, iv, nonce) = parts(raw);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    format!(
        r#"{{"aead":"AES-256-GCM-HMAC-SHA-256","id":"{}","iv":"{}","nonce":"{}","bytes":"{}"}}"#,
        "0".repeat(32),
        b64(iv),
        b64(nonce),
        b64(sealed)
    )
    .into_bytes()
}

fn ciphertext(c: &mut Criterion) {
    let mut g = c.benchmark_group("ciphertext");
    let key = KeyVersion::generate("bench").expect("rng");
    let dek = [7u8; 32];
    g.bench_function("seal raw (generate)", |b| {
        b.iter(|| {
            black_box(
                key.encrypt(black_box(&dek), black_box(CONTEXT))
                    .expect("seal"),
            )
        });
    });
    let raw = key.encrypt(&dek, CONTEXT).expect("seal");
    let mut stored = StoredRing::parse(&key.encode()).expect("stored value");
    stored.rotate("bench").expect("rotate");
    let ring = stored.decode().expect("decode");
    let framed = ring.encrypt(&dek, CONTEXT).expect("seal");
    let cases = [
        ("open raw", &key, raw.clone()),
        ("open legacy msgpack", &key, msgpack(&raw)),
        ("open legacy JSON", &key, json(&raw)),
    ];
    for (name, key, ct) in &cases {
        assert_eq!(*key.decrypt(ct, CONTEXT).expect("opens"), dek, "{name}");
        g.bench_function(*name, |b| {
            b.iter(|| {
                black_box(
                    key.decrypt(black_box(ct), black_box(CONTEXT))
                        .expect("opens"),
                )
            });
        });
    }
    g.bench_function("open versioned (v1 of a rotated key)", |b| {
        b.iter(|| {
            black_box(
                ring.decrypt(black_box(&framed), black_box(CONTEXT))
                    .expect("opens"),
            )
        });
    });
    g.finish();
}

fn stored_key(c: &mut Criterion) {
    let mut g = c.benchmark_group("stored key");
    let key = KeyVersion::generate("bench").expect("rng");
    let encoded = key.encode();
    g.bench_function("decode KeyVersion", |b| {
        b.iter(|| black_box(KeyVersion::decode(black_box(&encoded)).expect("decodes")));
    });
    g.bench_function("decode KeyRing (upstream value)", |b| {
        b.iter(|| black_box(KeyRing::decode(black_box(&encoded)).expect("decodes")));
    });
    let mut stored = StoredRing::parse(&encoded).expect("stored value");
    stored.rotate("bench").expect("rotate");
    let ring = stored.encode();
    g.bench_function("decode KeyRing (2 versions)", |b| {
        b.iter(|| black_box(KeyRing::decode(black_box(&ring)).expect("decodes")));
    });
    g.finish();
}

fn wire_json(c: &mut Criterion) {
    let mut g = c.benchmark_group("json");
    let key = KeyVersion::generate("bench").expect("rng");
    let dek = [7u8; 32];
    let ct = key.encrypt(&dek, CONTEXT).expect("seal");
    let gen_req = br#"{"context":"YnVja2V0L29iamVjdC1uYW1lLTE="}"#;
    g.bench_function("decode generate request", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<GenerateRequest>(black_box(gen_req)).expect("json"))
        });
    });
    let gen_resp = GenerateResponse {
        plaintext: dek.to_vec().into(),
        ciphertext: ct.clone().into(),
    };
    g.bench_function("encode generate response", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&gen_resp)).expect("json")));
    });
    let dec_req = serde_json::to_vec(&DecryptRequest {
        ciphertext: ct.into(),
        context: Some(CONTEXT.to_vec().into()),
        version: None,
    })
    .expect("json");
    g.bench_function("decode decrypt request", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<DecryptRequest>(black_box(&dec_req)).expect("json"))
        });
    });
    let dec_resp = DecryptResponse {
        plaintext: dek.to_vec().into(),
    };
    g.bench_function("encode decrypt response", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&dec_resp)).expect("json")));
    });
    g.finish();
}

fn api_key(c: &mut Criterion) {
    let mut g = c.benchmark_group("identity");
    let key = ApiKey::generate().expect("rng");
    let text = key.to_string();
    g.bench_function("API key text -> identity", |b| {
        b.iter(|| black_box(ApiKey::parse(black_box(&text)).expect("parses").identity()));
    });
    let cert = key.certificate().expect("certificate");
    g.bench_function("client certificate -> identity", |b| {
        b.iter(|| {
            black_box(client::identity::of_certificate(black_box(&cert.cert_der)).expect("parses"))
        });
    });
    g.finish();
}

criterion_group!(benches, policy, ciphertext, stored_key, wire_json, api_key);
criterion_main!(benches);
