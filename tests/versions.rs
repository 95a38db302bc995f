//! Key versions end to end over real TLS (kes-api.md "Extension: key versions, rotation,
//! rewrap"): 50 rotations, after which every ciphertext made along the way decrypts (upstream's
//! raw format for version 0, the framed format for the others) as do the msgpack and JSON legacy
//! ciphertexts of version 0 (kes-vectors.json); rewrap re-seals under the newest version; the
//! extension describe lists the versions; rotation keeps HMACs; a legacy JSON key rotates too.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;
mod lc;
mod ops;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use client::Error as E;
use common::TestServer;
use lc::{b64_field, call, framed_version};
use serde_json::{Value, json};

const VECTORS: &str = include_str!("../src/crypto/testdata/kes-vectors.json");

/// The AES256 vectors of kes-vectors.json made with the all-zero key: (format, ciphertext as
/// sent in JSON, plaintext, context), in the raw, msgpack and JSON formats.
fn zero_key_vectors() -> Vec<(String, String, String, String)> {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let zero = B64.encode([0u8; 32]);
    doc["decrypt"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["cipher"] == "AES256" && v["key_b64"] == zero.as_str())
        .map(|v| {
            let ct = match v["format"].as_str().unwrap() {
                "json" => B64.encode(v["ciphertext_text"].as_str().unwrap()),
                _ => v["ciphertext_b64"].as_str().unwrap().to_owned(),
            };
            let s = |n: &str| v[n].as_str().unwrap().to_owned();
            (s("format"), ct, s("plaintext_b64"), s("context_b64"))
        })
        .collect()
}

#[tokio::test]
async fn fifty_rotations_keep_every_ciphertext_readable() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    let u = |p: &str| s.url(p);
    let import = json!({"key": B64.encode([0u8; 32]), "cipher": "AES256"});
    assert_eq!(
        call(&c, "POST", u("/v1/key/import/k"), Some(import))
            .await
            .0,
        200
    );
    let (_, mac0) = call(
        &c,
        "PUT",
        u("/v1/key/hmac/k"),
        Some(json!({"message": "bQ=="})),
    )
    .await;
    let legacy = zero_key_vectors();
    let formats: Vec<&str> = legacy.iter().map(|v| v.0.as_str()).collect();
    assert_eq!(
        formats,
        ["json", "msgpack", "raw"],
        "kes-vectors.json changed"
    );

    // (ciphertext, plaintext, context, version) made along the way.
    let mut made: Vec<(String, String, String, u32)> = Vec::new();
    for version in 0..=50u32 {
        if version > 0 {
            let (st, r) = call(&c, "PUT", u("/v1/ext/key/rotate/k"), None).await;
            assert_eq!((st, r), (200, json!({"version": version})));
        }
        let ctx = B64.encode(format!("ctx-{version}"));
        let (st, g) = call(
            &c,
            "POST",
            u("/v1/key/generate/k"),
            Some(json!({"context": ctx})),
        )
        .await;
        assert_eq!(st, 200);
        let pt = B64.encode(format!("plaintext {version}"));
        let (st, e) = call(
            &c,
            "POST",
            u("/v1/key/encrypt/k"),
            Some(json!({"plaintext": pt, "context": ctx})),
        )
        .await;
        assert_eq!(st, 200);
        for (ct, plain) in [
            (&g["ciphertext"], &g["plaintext"]),
            (&e["ciphertext"], &json!(pt)),
        ] {
            let raw = B64.decode(ct.as_str().unwrap()).unwrap();
            match version {
                // Version 0 is upstream's raw format: 32- or 15-byte plaintext + 44.
                0 => assert!(framed_version(&raw).is_none() && raw.len() <= 32 + 44),
                v => assert_eq!(framed_version(&raw), Some(v), "newest version is used"),
            }
            made.push((
                ct.as_str().unwrap().to_owned(),
                plain.as_str().unwrap().to_owned(),
                ctx.clone(),
                version,
            ));
        }
    }
    for (ct, pt, ctx, version) in &made {
        let body = json!({"ciphertext": ct, "context": ctx});
        let (st, d) = call(&c, "POST", u("/v1/key/decrypt/k"), Some(body)).await;
        assert_eq!(
            (st, &d["plaintext"]),
            (200, &json!(pt)),
            "version {version}"
        );
        let wrong = json!({"ciphertext": ct, "context": B64.encode("other")});
        assert_eq!(
            call(&c, "POST", u("/v1/key/decrypt/k"), Some(wrong)).await,
            (400, json!({"message": E::DECRYPT_FAILED.1})),
            "version {version}"
        );
    }
    for (format, ct, pt, ctx) in &legacy {
        let body = json!({"ciphertext": ct, "context": ctx});
        let (st, d) = call(&c, "POST", u("/v1/key/decrypt/k"), Some(body)).await;
        assert_eq!((st, &d["plaintext"]), (200, &json!(pt)), "{format}");
    }
    // Bulk decrypt of a mix of versions and formats.
    let items: Vec<Value> = made
        .iter()
        .step_by(7)
        .map(|(ct, _, ctx, _)| json!({"ciphertext": ct, "context": ctx}))
        .chain(
            legacy
                .iter()
                .map(|(_, ct, _, ctx)| json!({"ciphertext": ct, "context": ctx})),
        )
        .collect();
    let want: Vec<Value> = made
        .iter()
        .step_by(7)
        .map(|(_, pt, _, _)| json!({"plaintext": pt}))
        .chain(legacy.iter().map(|(_, _, pt, _)| json!({"plaintext": pt})))
        .collect();
    assert_eq!(
        call(&c, "POST", u("/v1/key/bulk/decrypt/k"), Some(json!(items))).await,
        (200, json!(want))
    );

    // Describe: upstream's shape is unchanged; the extension lists 51 versions, newest last.
    let (_, plain) = call(&c, "GET", u("/v1/key/describe/k"), None).await;
    let (_, ext) = call(&c, "GET", u("/v1/ext/key/describe/k"), None).await;
    assert_eq!(plain.as_object().unwrap().len(), 4, "{plain}");
    for f in ["name", "algorithm", "created_at", "created_by"] {
        assert_eq!(plain[f], ext[f], "{f}");
    }
    assert_eq!(ext["enabled"], true);
    let versions = ext["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 51);
    for (i, v) in versions.iter().enumerate() {
        assert_eq!(v["version"], i);
        assert_eq!(v["created_by"], s.admin.identity());
    }
    assert_eq!(versions[0]["created_at"], plain["created_at"]);
    // HMAC does not change with rotation (MinIO derives root credentials from it).
    let (_, mac) = call(
        &c,
        "PUT",
        u("/v1/key/hmac/k"),
        Some(json!({"message": "bQ=="})),
    )
    .await;
    assert_eq!(mac, mac0);
    s.running.stop().await;
}

#[tokio::test]
async fn rewrap_seals_under_the_newest_version() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    let u = |p: &str| s.url(p);
    assert_eq!(call(&c, "POST", u("/v1/key/create/k"), None).await.0, 200);
    let ctx = B64.encode("bucket/object");
    let (_, g) = call(
        &c,
        "POST",
        u("/v1/key/generate/k"),
        Some(json!({"context": ctx})),
    )
    .await;
    let v0 = g["ciphertext"].clone();
    for want in 1..=2u32 {
        let (_, r) = call(&c, "PUT", u("/v1/ext/key/rotate/k"), None).await;
        assert_eq!(r["version"], want);
    }
    let (_, mid) = call(
        &c,
        "POST",
        u("/v1/key/generate/k"),
        Some(json!({"context": ctx})),
    )
    .await;
    let (_, r) = call(&c, "POST", u("/v1/ext/key/rotate/k"), None).await;
    assert_eq!(r["version"], 3);

    for (old, pt) in [
        (&v0, &g["plaintext"]),
        (&mid["ciphertext"], &mid["plaintext"]),
    ] {
        let (st, w) = call(
            &c,
            "PUT",
            u("/v1/ext/key/rewrap/k"),
            Some(json!({"ciphertext": old, "context": ctx})),
        )
        .await;
        assert_eq!(st, 200, "{w}");
        assert_eq!(w.as_object().unwrap().len(), 1, "only the ciphertext: {w}");
        let new = b64_field(&w, "ciphertext");
        assert_eq!(framed_version(&new), Some(3), "the newest version");
        let (st, d) = call(
            &c,
            "POST",
            u("/v1/key/decrypt/k"),
            Some(json!({"ciphertext": w["ciphertext"], "context": ctx})),
        )
        .await;
        assert_eq!((st, &d["plaintext"]), (200, pt));
        // The context is kept: without it the new ciphertext does not open.
        let (st, _) = call(
            &c,
            "POST",
            u("/v1/key/decrypt/k"),
            Some(json!({"ciphertext": w["ciphertext"]})),
        )
        .await;
        assert_eq!(st, 400);
    }

    let not_authentic = (400, json!({"message": E::DECRYPT_FAILED.1}));
    let bad = [
        json!({"ciphertext": v0}),
        json!({"ciphertext": v0, "context": B64.encode("other")}),
        json!({"ciphertext": B64.encode([7u8; 80]), "context": ctx}),
    ];
    for body in bad {
        assert_eq!(
            call(&c, "PUT", u("/v1/ext/key/rewrap/k"), Some(body)).await,
            not_authentic
        );
    }
    let (st, m) = call(&c, "PUT", u("/v1/ext/key/rewrap/k"), Some(json!("nope"))).await;
    assert_eq!(
        (st, m["message"].as_str()),
        (400, Some(E::INVALID_REQUEST_BODY.1))
    );
    let (st, _) = call(
        &c,
        "PUT",
        u("/v1/ext/key/rewrap/missing"),
        Some(json!({"ciphertext": v0})),
    )
    .await;
    assert_eq!(st, 404);
    // Rotation is allowed while disabled (the key stays disabled); rewrap is not.
    assert_eq!(
        call(&c, "PUT", u("/v1/ext/key/disable/k"), None).await.0,
        200
    );
    assert_eq!(
        call(&c, "PUT", u("/v1/ext/key/rotate/k"), None).await,
        (200, json!({"version": 4}))
    );
    assert_eq!(
        call(
            &c,
            "PUT",
            u("/v1/ext/key/rewrap/k"),
            Some(json!({"ciphertext": v0, "context": ctx}))
        )
        .await,
        (403, json!({"message": E::KEY_DISABLED.1}))
    );
    let (_, d) = call(&c, "GET", u("/v1/ext/key/describe/k"), None).await;
    assert_eq!(
        (
            d["enabled"].clone(),
            d["versions"].as_array().unwrap().len()
        ),
        (json!(false), 5)
    );
    s.running.stop().await;
}

#[tokio::test]
async fn a_legacy_json_key_rotates() {
    let s = TestServer::start().await;
    let c = s.client(&s.admin);
    let u = |p: &str| s.url(p);
    // A 2021-era stored key: JSON, no algorithm, no HMAC key.
    let legacy = format!(r#"{{"bytes":"{}"}}"#, B64.encode([0u8; 32]));
    std::fs::write(s.dir.path().join("keys").join("old"), &legacy).unwrap();
    let vectors = zero_key_vectors();
    let (st, r) = call(&c, "PUT", u("/v1/ext/key/rotate/old"), None).await;
    assert_eq!((st, r), (200, json!({"version": 1})));
    let stored = std::fs::read(s.dir.path().join("keys").join("old")).unwrap();
    assert!(stored.starts_with(b"kes:ring:v1:"));
    for (format, ct, pt, ctx) in &vectors {
        let (st, d) = call(
            &c,
            "POST",
            u("/v1/key/decrypt/old"),
            Some(json!({"ciphertext": ct, "context": ctx})),
        )
        .await;
        assert_eq!((st, &d["plaintext"]), (200, &json!(pt)), "{format}");
    }
    let (_, e) = call(
        &c,
        "POST",
        u("/v1/key/encrypt/old"),
        Some(json!({"plaintext": "aGk="})),
    )
    .await;
    assert_eq!(framed_version(&b64_field(&e, "ciphertext")), Some(1));
    let (st, d) = call(
        &c,
        "POST",
        u("/v1/key/decrypt/old"),
        Some(json!({"ciphertext": e["ciphertext"]})),
    )
    .await;
    assert_eq!((st, &d["plaintext"]), (200, &json!("aGk=")));
    // Still no HMAC key: rotation does not invent one.
    let (st, _) = call(
        &c,
        "PUT",
        u("/v1/key/hmac/old"),
        Some(json!({"message": "bQ=="})),
    )
    .await;
    assert_eq!(st, 409);
    let (_, ext) = call(&c, "GET", u("/v1/ext/key/describe/old"), None).await;
    assert_eq!(ext["versions"][0]["created_at"], "0001-01-01T00:00:00Z");
    assert_eq!(ext["versions"][1]["created_by"], s.admin.identity());
    s.running.stop().await;
}
