//! Known-answer tests: DARE 2.0 streams and MinIO key sealing from `fixtures/sse-vectors.json`
//! (copied from the project spec), plus the §3.3 table of object-sse.md.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]
// Test code: unwrapping is the assertion.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use object_server::sse::dare::{self, CipherSuite, Decryptor, Encryptor, MAX_PACKAGE};
use object_server::sse::keys::{self, Domain, Key32, ObjectKey};
use serde_json::Value;
use sha2::Sha256;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sse-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn dare_streams_match_minio_sio() {
    let v = vectors();
    let d = &v["dare"];
    let key = hex32(&s(d, "key_hex"));
    let nonce: [u8; 12] = hex::decode(s(d, "nonce_hex")).unwrap().try_into().unwrap();
    let list = d["vectors"].as_array().unwrap();
    assert!(list.len() >= 13);
    for vec in list {
        let suite = match vec["cipher_suite"].as_u64().unwrap() {
            0 => CipherSuite::Aes256Gcm,
            1 => CipherSuite::ChaCha20Poly1305,
            other => panic!("suite {other}"),
        };
        let n = vec["plaintext_len"].as_u64().unwrap() as usize;
        let pt: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let mut enc = Encryptor::with_nonce(&key, suite, nonce).unwrap();
        let ct = dare::encrypt(&mut enc, &pt).unwrap();
        assert_eq!(
            ct.len() as u64,
            vec["ciphertext_len"].as_u64().unwrap(),
            "len {n} {suite:?}"
        );
        assert_eq!(
            hex::encode(Sha256::digest(&ct)),
            s(vec, "ciphertext_sha256"),
            "sha {n} {suite:?}"
        );
        if let Some(full) = vec.get("ciphertext_hex") {
            assert_eq!(hex::encode(&ct), full.as_str().unwrap());
        }
        if let Some(first) = vec.get("ciphertext_first_64_hex") {
            let want = first.as_str().unwrap();
            assert_eq!(&hex::encode(&ct)[..want.len()], want);
        }
        assert_eq!(
            dare::decrypt(&key, &ct).unwrap(),
            pt,
            "decrypt {n} {suite:?}"
        );
        if vec.get("decrypt_from_package_1_ok").is_some() {
            // Decrypt starting at package 1 with sequence number 1.
            let mut dec = Decryptor::new(&key, 1);
            let mut rest = ct[MAX_PACKAGE..].to_vec();
            let mut out = Vec::new();
            let mut pos = 0;
            while pos < rest.len() {
                let len = Decryptor::package_len(&rest[pos..]).unwrap();
                out.extend_from_slice(dec.open_package(&mut rest[pos..pos + len]).unwrap());
                pos += len;
            }
            assert!(dec.finished());
            assert_eq!(out, pt[65536..]);
        }
    }
}

#[test]
fn sealing_matches_minio() {
    let v = vectors();
    let sealing = &v["sealing"];
    let client_raw = STANDARD.decode(s(sealing, "client_key_b64")).unwrap();
    assert_eq!(
        STANDARD.encode(Md5::digest(&client_raw)),
        s(sealing, "client_key_md5_b64")
    );
    let client = Key32::from_slice(&client_raw).unwrap();
    for vec in sealing["vectors"].as_array().unwrap() {
        let domain = match s(vec, "domain").as_str() {
            "SSE-C" => Domain::SseC,
            "SSE-S3" => Domain::SseS3,
            "SSE-KMS" => Domain::SseKms,
            other => panic!("{other}"),
        };
        let (bucket, object) = (s(vec, "bucket"), s(vec, "object"));
        assert_eq!(keys::path_join(&bucket, &object), s(vec, "path_join"));
        let iv = hex32(&s(vec, "iv_hex"));
        let kek = keys::kek(&client, &iv, domain, &bucket, &object);
        assert_eq!(hex::encode(kek.expose()), s(vec, "kek_hex"), "{domain:?}");
        let oek = ObjectKey::derive(&client, &hex32(&s(vec, "random32_hex")));
        assert_eq!(hex::encode(oek.0.expose()), s(vec, "oek_hex"));
        let nonce: [u8; 12] = hex::decode(s(vec, "seal_nonce_hex"))
            .unwrap()
            .try_into()
            .unwrap();
        let sealed = oek.seal_with_nonce(&kek, nonce).unwrap();
        assert_eq!(sealed.len(), 64);
        assert_eq!(STANDARD.encode(&sealed), s(vec, "sealed_oek_b64"));
        let opened =
            ObjectKey::unseal(&STANDARD.decode(s(vec, "sealed_oek_b64")).unwrap(), &kek).unwrap();
        assert_eq!(hex::encode(opened.0.expose()), s(vec, "oek_hex"));
        assert_eq!(
            hex::encode(oek.part_key(1).expose()),
            s(vec, "part1_key_hex")
        );
        assert_eq!(hex::encode(oek.etag_key().expose()), s(vec, "etag_key_hex"));
        // A different path or key does not open it.
        let other = keys::kek(&client, &iv, domain, &bucket, "other");
        assert!(ObjectKey::unseal(&sealed, &other).is_err());
    }
}

#[test]
fn spec_table_3_3() {
    let a = STANDARD
        .decode("pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=")
        .unwrap();
    assert_eq!(STANDARD.encode(Md5::digest(&a)), "DWygnHRtgiJ77HCm+1rvHw==");
    let b = STANDARD
        .decode("6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4=")
        .unwrap();
    assert_eq!(STANDARD.encode(Md5::digest(&b)), "arxBvwY2V4SiOne6yppVPQ==");
    let key_a = Key32::from_slice(&a).unwrap();
    let iv: [u8; 32] = std::array::from_fn(|i| i as u8);
    let kek = keys::kek(&key_a, &iv, Domain::SseC, "mybucket", "my/object.txt");
    assert_eq!(
        hex::encode(kek.expose()),
        "82b2b8b8b72dd61802e64ba390b830f3cd0c31cd59bc4831475dced2695660a1"
    );
    let oek = ObjectKey::derive(&key_a, &[0xAA; 32]);
    assert_eq!(
        hex::encode(oek.0.expose()),
        "7d9d0de3e19c566bb9106b1914b98a4523d16351e8f1a6431620bb4f8b17cb4a"
    );
    assert_eq!(
        hex::encode(oek.part_key(1).expose()),
        "fc2b31b4abded4733c1ce03e4b2d675cf05b89def6c6f3daa7c6cb8852b5d8e5"
    );
    assert_eq!(
        hex::encode(oek.etag_key().expose()),
        "e8f392602b25bdc82654106b392014d2ca17166179088b9c54c89d27ccd23d44"
    );
}

#[test]
fn dare_sizes_and_tampering() {
    let key = [3u8; 32];
    for n in [0usize, 1, 65535, 65536, 65537, 1024 * 1024 + 13] {
        let pt: Vec<u8> = (0..n).map(|i| (i * 7 % 256) as u8).collect();
        let mut enc = Encryptor::new(&key).unwrap();
        let ct = dare::encrypt(&mut enc, &pt).unwrap();
        assert_eq!(
            ct.len() as u64,
            object_server::sse::range::encrypted_size(n as u64)
        );
        assert_eq!(dare::decrypt(&key, &ct).unwrap(), pt);
        if n == 0 {
            assert!(ct.is_empty());
            continue;
        }
        let mut flipped = ct.clone();
        let mid = ct.len() / 2;
        flipped[mid] ^= 0x80;
        assert!(
            dare::decrypt(&key, &flipped).is_err(),
            "bit flip at {mid} of {n}"
        );
        assert!(
            dare::decrypt(&key, &ct[..ct.len() - 16]).is_err(),
            "truncated {n}"
        );
        if ct.len() > 2 * MAX_PACKAGE {
            let mut swapped = ct.clone();
            swapped[..MAX_PACKAGE].copy_from_slice(&ct[MAX_PACKAGE..2 * MAX_PACKAGE]);
            swapped[MAX_PACKAGE..2 * MAX_PACKAGE].copy_from_slice(&ct[..MAX_PACKAGE]);
            assert!(dare::decrypt(&key, &swapped).is_err(), "reordered {n}");
            // dropping a whole middle package is detected too
            let mut dropped = ct[..MAX_PACKAGE].to_vec();
            dropped.extend_from_slice(&ct[2 * MAX_PACKAGE..]);
            assert!(
                dare::decrypt(&key, &dropped).is_err(),
                "dropped package {n}"
            );
        }
    }
}

#[test]
fn kms_context_encodings_match_minio() {
    use object_server::sse::context::{self, Context};
    let v = vectors();
    let list = v["context"]["vectors"].as_array().unwrap();
    assert!(list.len() >= 5);
    for vec in list {
        let ctx: Context = serde_json::from_value(vec["context"].clone()).unwrap();
        let encoded = context::encode(&ctx);
        assert_eq!(
            String::from_utf8(encoded.clone()).unwrap(),
            s(vec, "encoded"),
            "{ctx:?}"
        );
        assert_eq!(STANDARD.encode(&encoded), s(vec, "encoded_b64"), "{ctx:?}");
    }
    // The object context of §2.2: {bucket: path.Join(bucket, object)}.
    assert_eq!(
        STANDARD.encode(context::object_context(None, "mybucket", "my/object.txt")),
        "eyJteWJ1Y2tldCI6Im15YnVja2V0L215L29iamVjdC50eHQifQ=="
    );
    assert_eq!(
        context::object_context(None, "b", "a//b/../c"),
        br#"{"b":"b/a/c"}"#
    );
}
