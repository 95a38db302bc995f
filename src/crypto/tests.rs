//! Unit tests for the crypto module: known-answer vectors (`testdata/kes-vectors.json`, a verbatim
//! copy of `shared/spec/kes-vectors.json`), stored-value formats, round trips, HMAC and a
//! fuzz-style no-panic loop.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;

const VECTORS: &str = include_str!("testdata/kes-vectors.json");

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

#[test]
fn every_vector_decrypts_with_every_key_form() {
    let vs = vectors();
    for (i, v) in vs.iter().enumerate() {
        let imported = KeyVersion::import(v.cipher, &v.key, "test").unwrap();
        let stored = KeyVersion::decode(&imported.encode()).unwrap();
        let legacy_named = legacy_json_key(&v.key, Some(v.cipher.as_str()));
        let legacy_old_name = legacy_json_key(
            &v.key,
            Some(match v.cipher {
                Cipher::Aes256 => "AES256-GCM_SHA256",
                Cipher::ChaCha20 => "XCHACHA20-POLY1305",
            }),
        );
        for (form, key) in [
            ("imported", &imported),
            ("protobuf", &stored),
            ("legacy", &legacy_named),
            ("legacy-old-name", &legacy_old_name),
        ] {
            let pt = key
                .decrypt(&v.ciphertext, &v.context)
                .unwrap_or_else(|e| panic!("vector {i} ({}, {form}): {e}", v.format));
            assert_eq!(pt.as_slice(), v.plaintext.as_slice(), "vector {i} {form}");
        }

        // A legacy key without a recorded algorithm: legacy ciphertexts say which cipher to use,
        // raw ones default to AES256.
        let unknown = legacy_json_key(&v.key, None);
        let res = unknown.decrypt(&v.ciphertext, &v.context);
        if v.format == "raw" && v.cipher == Cipher::ChaCha20 {
            assert!(matches!(res, Err(Error::NotAuthentic)), "vector {i}");
        } else {
            assert_eq!(
                res.unwrap().as_slice(),
                v.plaintext.as_slice(),
                "vector {i}"
            );
        }
    }
}

#[test]
fn every_vector_rejects_any_single_byte_change() {
    for (i, v) in vectors().iter().enumerate() {
        let key = KeyVersion::import(v.cipher, &v.key, "").unwrap();
        if v.format == "json" {
            continue; // covered by json_vectors_reject_changes_to_decoded_fields
        }
        let skip = if v.format == "msgpack" {
            msgpack_key_id_range(&v.ciphertext)
        } else {
            0..0
        };
        let mut tried = 0;
        for pos in 0..v.ciphertext.len() {
            if skip.contains(&pos) {
                continue;
            }
            for mask in [0x01u8, 0x80, 0xff] {
                let mut ct = v.ciphertext.clone();
                ct[pos] ^= mask;
                assert!(
                    matches!(key.decrypt(&ct, &v.context), Err(Error::NotAuthentic)),
                    "vector {i}: flipping byte {pos} with {mask:#x} must fail"
                );
                tried += 1;
            }
        }
        assert!(tried >= 3 * 60, "vector {i}: only {tried} mutations");
        // Truncation and extension also fail.
        let n = v.ciphertext.len();
        assert!(key.decrypt(&v.ciphertext[..n - 1], &v.context).is_err());
        let mut longer = v.ciphertext.clone();
        longer.push(0);
        assert!(key.decrypt(&longer, &v.context).is_err());
    }
}

#[test]
fn msgpack_key_id_is_not_checked() {
    // Spec §6.3: the key id is carried but not checked, so changing it does not matter.
    for v in vectors().iter().filter(|v| v.format == "msgpack") {
        let key = KeyVersion::import(v.cipher, &v.key, "").unwrap();
        let mut ct = v.ciphertext.clone();
        for pos in msgpack_key_id_range(&ct) {
            ct[pos] ^= 0x01;
        }
        assert_ne!(ct, v.ciphertext);
        assert_eq!(
            key.decrypt(&ct, &v.context).unwrap().as_slice(),
            v.plaintext
        );
    }
}

#[test]
fn json_vectors_reject_changes_to_decoded_fields() {
    for (i, v) in vectors().iter().enumerate() {
        if v.format != "json" {
            continue;
        }
        let key = KeyVersion::import(v.cipher, &v.key, "").unwrap();
        let doc: Value = serde_json::from_slice(&v.ciphertext).unwrap();
        let rebuild = |field: &str, bytes: &[u8]| {
            let mut d = doc.clone();
            d[field] = json!(B64.encode(bytes));
            d.to_string().into_bytes()
        };
        for field in ["bytes", "iv", "nonce"] {
            let orig = B64.decode(doc[field].as_str().unwrap()).unwrap();
            // The unmodified re-encoding decrypts, so the failures below are due to the flip.
            assert_eq!(
                key.decrypt(&rebuild(field, &orig), &v.context)
                    .unwrap()
                    .as_slice(),
                v.plaintext
            );
            for pos in 0..orig.len() {
                for mask in [0x01u8, 0xff] {
                    let mut changed = orig.clone();
                    changed[pos] ^= mask;
                    assert!(
                        matches!(
                            key.decrypt(&rebuild(field, &changed), &v.context),
                            Err(Error::NotAuthentic)
                        ),
                        "vector {i}: {field}[{pos}] ^ {mask:#x} must fail"
                    );
                }
            }
        }
        // Wrong lengths, unknown aead, missing fields.
        let iv = B64.decode(doc["iv"].as_str().unwrap()).unwrap();
        assert!(key.decrypt(&rebuild("iv", &iv[..15]), &v.context).is_err());
        let mut d = doc.clone();
        d["aead"] = json!("AES-128-GCM");
        assert!(key.decrypt(d.to_string().as_bytes(), &v.context).is_err());
        let mut d = doc.clone();
        d.as_object_mut().unwrap().remove("nonce");
        assert!(key.decrypt(d.to_string().as_bytes(), &v.context).is_err());
        // Field names match case-insensitively, as in Go.
        let upper: serde_json::Map<String, Value> = doc
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_uppercase(), v.clone()))
            .collect();
        let text = Value::Object(upper).to_string();
        assert_eq!(
            key.decrypt(text.as_bytes(), &v.context).unwrap().as_slice(),
            v.plaintext
        );
    }
}

#[test]
fn every_vector_rejects_wrong_context_and_wrong_key() {
    for (i, v) in vectors().iter().enumerate() {
        let key = KeyVersion::import(v.cipher, &v.key, "").unwrap();
        let mut ctx = v.context.clone();
        ctx.push(b'x');
        assert!(
            matches!(key.decrypt(&v.ciphertext, &ctx), Err(Error::NotAuthentic)),
            "vector {i}: wrong context"
        );
        if !v.context.is_empty() {
            assert!(key.decrypt(&v.ciphertext, b"").is_err(), "vector {i}");
        }
        let mut wrong = v.key.clone();
        wrong[0] ^= 1;
        let wrong = KeyVersion::import(v.cipher, &wrong, "").unwrap();
        assert!(
            matches!(
                wrong.decrypt(&v.ciphertext, &v.context),
                Err(Error::NotAuthentic)
            ),
            "vector {i}: wrong key"
        );
        // Same bytes, other cipher: fails (for legacy formats because the recorded algorithm
        // disagrees, for raw because the derivation differs).
        let other = KeyVersion::import(other(v.cipher), &v.key, "").unwrap();
        assert!(
            matches!(
                other.decrypt(&v.ciphertext, &v.context),
                Err(Error::NotAuthentic)
            ),
            "vector {i}: other cipher"
        );
    }
}

#[test]
fn hchacha20_known_answer() {
    // draft-irtf-cfrg-xchacha §2.2.1.
    let key: [u8; 32] = core::array::from_fn(|i| i as u8);
    let input: [u8; 16] = hex::decode("000000090000004a0000000031415927")
        .unwrap()
        .try_into()
        .unwrap();
    let out = chacha20::hchacha::<chacha20::cipher::consts::U10>((&key).into(), (&input).into());
    assert_eq!(
        hex::encode(out),
        "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"
    );
}

#[test]
fn round_trip_both_ciphers_with_and_without_context() {
    for cipher in [Cipher::Aes256, Cipher::ChaCha20] {
        let key = KeyVersion::import(cipher, &[7u8; 32], "me").unwrap();
        for len in [0usize, 1, 15, 16, 32, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for ctx in [&b""[..], b"{\"bucket\":\"b/o\"}"] {
                let ct = key.encrypt(&pt, ctx).unwrap();
                assert_eq!(ct.len(), len + 44);
                assert_eq!(key.decrypt(&ct, ctx).unwrap().as_slice(), pt.as_slice());
                assert!(key.decrypt(&ct, b"other").is_err());
                // Fresh iv and nonce each time.
                assert_ne!(key.encrypt(&pt, ctx).unwrap(), ct);
            }
        }
        // A legacy key without algorithm reads raw ciphertexts as AES only.
        let ct = key.encrypt(b"data", b"").unwrap();
        let unknown = legacy_json_key(&[7u8; 32], None);
        assert_eq!(unknown.decrypt(&ct, b"").is_ok(), cipher == Cipher::Aes256);
    }
    // Generated keys are AES256 and work.
    let key = KeyVersion::generate("admin").unwrap();
    assert_eq!(key.algorithm(), Some(Cipher::Aes256));
    let dek = generate_dek().unwrap();
    let ct = key.encrypt(dek.as_slice(), b"").unwrap();
    assert_eq!(ct.len(), 76);
    assert_eq!(B64.encode(&ct).len(), 104);
    assert_eq!(key.decrypt(&ct, b"").unwrap().as_slice(), dek.as_slice());
    // ...and a different generated key cannot open it.
    let other = KeyVersion::generate("admin").unwrap();
    assert!(other.decrypt(&ct, b"").is_err());
}

#[test]
fn generate_dek_is_random() {
    let a = generate_dek().unwrap();
    let b = generate_dek().unwrap();
    assert_ne!(*a, *b);
    assert_ne!(*a, [0u8; 32]);
}

#[test]
fn encode_decode_round_trip() {
    let before = OffsetDateTime::now_utc();
    let key = KeyVersion::generate("3ecfcdf38fcbe141").unwrap();
    assert!(key.created_at().unwrap() >= before);
    let stored = key.encode();
    assert!(
        stored
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
    );
    let back = KeyVersion::decode(&stored).unwrap();
    assert_eq!(back.algorithm(), Some(Cipher::Aes256));
    assert_eq!(back.created_at(), key.created_at());
    assert_eq!(back.created_by(), "3ecfcdf38fcbe141");
    assert_eq!(back.hmac(b"m").unwrap(), key.hmac(b"m").unwrap());
    let ct = key.encrypt(b"secret", b"ctx").unwrap();
    assert_eq!(back.decrypt(&ct, b"ctx").unwrap().as_slice(), b"secret");
    // Re-encoding is stable.
    assert_eq!(back.encode().as_slice(), stored.as_slice());

    // Legacy keys round-trip too (no algorithm, no HMAC key, no metadata).
    let legacy = legacy_json_key(&[9u8; 32], None);
    let back = KeyVersion::decode(&legacy.encode()).unwrap();
    assert_eq!(back.algorithm(), None);
    assert!(matches!(back.hmac(b""), Err(Error::NoHmacKey)));
    assert_eq!(back.created_at(), None);
    assert_eq!(back.created_by(), "");

    // Negative seconds and zero time survive as well.
    for (text, t) in [
        (
            "1969-07-20T20:17:40.5Z",
            datetime!(1969-07-20 20:17:40.5 UTC),
        ),
        ("1970-01-01T00:00:00Z", OffsetDateTime::UNIX_EPOCH),
        ("0001-01-01T00:00:00Z", datetime!(0001-01-01 00:00:00 UTC)),
    ] {
        let value =
            json!({"bytes": B64.encode([1u8; 32]), "algorithm": "ChaCha20", "created_at": text});
        let k = KeyVersion::decode(value.to_string().as_bytes()).unwrap();
        assert_eq!(k.created_at(), Some(t));
        let back = KeyVersion::decode(&k.encode()).unwrap();
        assert_eq!(back.created_at(), Some(t), "{text}");
        assert_eq!(back.algorithm(), Some(Cipher::ChaCha20));
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

#[test]
fn hand_built_protobuf_decodes() {
    let pb = hand_built_protobuf();
    let key = KeyVersion::decode(B64.encode(&pb).as_bytes()).unwrap();
    assert_eq!(key.algorithm(), Some(Cipher::ChaCha20));
    assert_eq!(
        key.created_at(),
        Some(datetime!(2024-03-01 12:00:00.000000123 UTC))
    );
    assert_eq!(key.created_by(), "admin");
    // HMAC-SHA256 known answers for key 00..1f (computed with Python's hmac module).
    assert_eq!(
        hex::encode(key.hmac(b"hello").unwrap()),
        "53c40272a70c15ca4ee0af4df1f155fd6c41e00ce2307d8987ecd4bb36a7e990"
    );
    assert_eq!(
        hex::encode(key.hmac(b"").unwrap()),
        "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb"
    );
    // We write exactly the standard encoding.
    assert_eq!(key.encode().as_slice(), B64.encode(&pb).as_bytes());
    // The secret key is 0x11.. with ChaCha20.
    let same = KeyVersion::import(Cipher::ChaCha20, &[0x11u8; 32], "").unwrap();
    let ct = same.encrypt(b"abc", b"").unwrap();
    assert_eq!(key.decrypt(&ct, b"").unwrap().as_slice(), b"abc");

    // Unknown fields of every known wire type are skipped, at every level; '\n' in base64 is ignored.
    let mut with_unknown = vec![0x48, 0x01, 0x55, 1, 2, 3, 4, 0x59, 1, 2, 3, 4, 5, 6, 7, 8];
    with_unknown.extend([0x62, 0x02, b'h', b'i']);
    let mut inner = pb.clone();
    inner[1] = 0x27; // SecretKey grows by three bytes: an unknown varint field 15
    inner.splice(2..2, [0x78, 0x96, 0x01]);
    with_unknown.extend(inner);
    let mut text = B64.encode(&with_unknown).into_bytes();
    text.insert(10, b'\n');
    text.insert(20, b'\r');
    let key2 = KeyVersion::decode(&text).unwrap();
    assert_eq!(key2.hmac(b"hello").unwrap(), key.hmac(b"hello").unwrap());
    assert_eq!(key2.encode().as_slice(), key.encode().as_slice());
}

#[test]
fn malformed_protobuf_is_rejected() {
    let pb = hand_built_protobuf();
    let check = |bytes: &[u8], what: &str| {
        assert!(
            matches!(
                KeyVersion::decode(B64.encode(bytes).as_bytes()),
                Err(Error::InvalidStoredKey)
            ),
            "{what}"
        );
    };
    // Every truncation inside the SecretKey field.
    for n in 0..38 {
        check(&pb[..n], &format!("prefix {n}"));
    }
    // Every truncation inside later fields that are not at a field boundary.
    for n in 39..pb.len() {
        if [38, 76, 86].contains(&n) {
            continue; // field boundaries: a shorter but valid message
        }
        check(&pb[..n], &format!("prefix {n}"));
    }
    let mut b = pb.clone();
    b[3] = 0x1f; // 31-byte secret key
    b[1] = 0x23;
    b.remove(4);
    check(&b, "31-byte key");
    let mut b = pb.clone();
    b[37] = 0x03;
    check(&b, "unknown key type");
    let mut b = pb.clone();
    b[75] = 0x02;
    check(&b, "unknown hash");
    let mut b = pb.clone();
    b[0] = 0x08; // field 1 as varint
    check(&b, "wrong wire type for a known field");
    let mut b = pb.clone();
    b.extend([0x0b]); // group start
    check(&b, "group");
    let mut b = pb.clone();
    let n = b.len();
    b[n - 1] = 0xff; // created_by not UTF-8
    check(&b, "created_by not UTF-8");
    // nanos out of range: 1e9
    let mut b = pb[..76].to_vec();
    b.extend([0x1a, 0x06, 0x10, 0x80, 0x94, 0xeb, 0xdc, 0x03]);
    check(&b, "nanos out of range");
    // Missing secret key.
    check(&pb[38..], "no secret key");
    check(b"", "empty");
    // Not base64 and not JSON.
    for garbage in [&b"!!!!"[..], b"abc", b"AAAA=", b"\xff\xfe", b"  "] {
        assert!(
            matches!(KeyVersion::decode(garbage), Err(Error::InvalidStoredKey)),
            "{garbage:?}"
        );
    }
}

#[test]
fn legacy_json_values_decode() {
    let key = [0x42u8; 32];
    let b = B64.encode(key);

    let minimal = KeyVersion::decode(format!("{{\"bytes\":\"{b}\"}}").as_bytes()).unwrap();
    assert_eq!(minimal.algorithm(), None);
    assert_eq!(minimal.created_at(), None);
    assert_eq!(minimal.created_by(), "");
    assert!(matches!(minimal.hmac(b"x"), Err(Error::NoHmacKey)));

    let full = json!({
        "bytes": b,
        "algorithm": "XCHACHA20-POLY1305",
        "created_at": "2021-05-04T10:11:12.123456789Z",
        "created_by": "3ecfcdf3",
        "version": "v1",
        "unknown": [1, 2],
    });
    let full = KeyVersion::decode(full.to_string().as_bytes()).unwrap();
    assert_eq!(full.algorithm(), Some(Cipher::ChaCha20));
    assert_eq!(
        full.created_at(),
        Some(datetime!(2021-05-04 10:11:12.123456789 UTC))
    );
    assert_eq!(full.created_by(), "3ecfcdf3");
    assert!(matches!(full.hmac(b"x"), Err(Error::NoHmacKey)));

    for (name, want) in [
        ("AES256-GCM_SHA256", Some(Cipher::Aes256)),
        ("AES256", Some(Cipher::Aes256)),
        ("ChaCha20", Some(Cipher::ChaCha20)),
        ("XCHACHA20-POLY1305", Some(Cipher::ChaCha20)),
        ("", None),
    ] {
        let k = KeyVersion::decode(
            json!({"bytes": b, "algorithm": name})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(k.algorithm(), want, "{name}");
    }
    // Case-insensitive field names and surrounding whitespace, as Go's encoding/json.
    let k = KeyVersion::decode(
        format!(" {{\"Bytes\":\"{b}\",\"ALGORITHM\":\"AES256\",\"Created_By\":\"me\"}}\n")
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(k.algorithm(), Some(Cipher::Aes256));
    assert_eq!(k.created_by(), "me");
    let ct = k.encrypt(b"pt", b"").unwrap();
    let same = KeyVersion::import(Cipher::Aes256, &key, "").unwrap();
    assert_eq!(same.decrypt(&ct, b"").unwrap().as_slice(), b"pt");

    // Invalid legacy values.
    let short = B64.encode([0u8; 31]);
    for bad in [
        json!({"bytes": short}),
        json!({"bytes": B64.encode([0u8; 33])}),
        json!({"bytes": "not base64!"}),
        json!({"bytes": 5}),
        json!({"algorithm": "AES256"}),
        json!({"bytes": b, "algorithm": "AES128"}),
        json!({"bytes": b, "algorithm": 1}),
        json!({"bytes": b, "created_at": "yesterday"}),
        json!({"bytes": b, "created_by": 7}),
        json!([b]),
        json!(b),
        json!(123),
        json!(null),
    ] {
        assert!(
            matches!(
                KeyVersion::decode(bad.to_string().as_bytes()),
                Err(Error::InvalidStoredKey)
            ),
            "{bad}"
        );
    }
}

#[test]
fn hmac_properties() {
    let a = KeyVersion::generate("").unwrap();
    let b = KeyVersion::generate("").unwrap();
    let ha = a.hmac(b"message").unwrap();
    assert_eq!(ha.len(), 32);
    assert_eq!(a.hmac(b"message").unwrap(), ha);
    assert_ne!(a.hmac(b"message2").unwrap(), ha);
    assert_ne!(b.hmac(b"message").unwrap(), ha);
    // Imported keys with the same secret key still get independent HMAC keys.
    let i1 = KeyVersion::import(Cipher::Aes256, &[3u8; 32], "").unwrap();
    let i2 = KeyVersion::import(Cipher::Aes256, &[3u8; 32], "").unwrap();
    assert_ne!(i1.hmac(b"m").unwrap(), i2.hmac(b"m").unwrap());
    assert!(matches!(
        legacy_json_key(&[3u8; 32], Some("AES256")).hmac(b"m"),
        Err(Error::NoHmacKey)
    ));
}

#[test]
fn import_requires_32_bytes() {
    for len in [0usize, 16, 31, 33, 64] {
        for cipher in [Cipher::Aes256, Cipher::ChaCha20] {
            assert!(
                matches!(
                    KeyVersion::import(cipher, &vec![1u8; len], ""),
                    Err(Error::InvalidKeySize)
                ),
                "{len}"
            );
        }
    }
    let k = KeyVersion::import(Cipher::ChaCha20, &[1u8; 32], "id").unwrap();
    assert_eq!(k.algorithm(), Some(Cipher::ChaCha20));
    assert_eq!(k.created_by(), "id");
    assert!(k.created_at().is_some());
}

#[test]
fn cipher_names() {
    assert_eq!(Cipher::Aes256.as_str(), "AES256");
    assert_eq!(Cipher::ChaCha20.as_str(), "ChaCha20");
    for (s, c) in [
        ("AES256", Some(Cipher::Aes256)),
        ("AES256-GCM_SHA256", Some(Cipher::Aes256)),
        ("ChaCha20", Some(Cipher::ChaCha20)),
        ("XCHACHA20-POLY1305", Some(Cipher::ChaCha20)),
        ("aes256", None),
        ("AES-256-GCM-HMAC-SHA-256", None),
        ("", None),
    ] {
        assert_eq!(Cipher::parse(s), c, "{s}");
    }
    assert_eq!(
        Cipher::parse_legacy_ciphertext("AES-256-GCM-HMAC-SHA-256"),
        Some(Cipher::Aes256)
    );
    assert_eq!(
        Cipher::parse_legacy_ciphertext("ChaCha20Poly1305"),
        Some(Cipher::ChaCha20)
    );
}

#[test]
fn debug_never_shows_key_bytes() {
    let key = [0xabu8; 32];
    let value = json!({"bytes": B64.encode(key), "created_at": "2020-02-02T02:02:02Z", "created_by": "owner"});
    let legacy = KeyVersion::decode(value.to_string().as_bytes()).unwrap();
    // Also after a trip through the protobuf stored format.
    let k = KeyVersion::decode(&legacy.encode()).unwrap();
    let dbg = format!("{k:?} {k:#?}");
    assert!(dbg.contains("[REDACTED]"), "{dbg}");
    assert!(dbg.contains("owner"));
    assert!(!dbg.contains("171"), "{dbg}"); // 0xab as a decimal byte
    assert!(!dbg.to_lowercase().contains("abab"), "{dbg}");
    assert!(!dbg.contains(&B64.encode(key)[..8]), "{dbg}");
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

#[test]
fn fuzz_decrypt_and_decode_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let key = KeyVersion::import(Cipher::Aes256, &[0u8; 32], "").unwrap();
    let chacha = legacy_json_key(&[0u8; 32], None);
    let vs = vectors();
    let stored = B64.encode(hand_built_protobuf()).into_bytes();
    let legacy = json!({"bytes": B64.encode([1u8; 32]), "algorithm": "AES256"})
        .to_string()
        .into_bytes();

    for round in 0..20_000 {
        // Pure random input with interesting first bytes.
        let len = rng.below(200);
        let mut bytes = rng.bytes(len);
        if let Some(first) = bytes.first_mut() {
            *first = [0x95, b'{', *first][rng.below(3)];
        }
        assert!(key.decrypt(&bytes, b"").is_err(), "round {round}");
        assert!(chacha.decrypt(&bytes, b"").is_err(), "round {round}");
        assert!(KeyVersion::decode(&bytes).is_err(), "round {round}");

        // Mutations of valid inputs: random byte changes, truncations and insertions.
        let mutate = |rng: &mut Rng, base: &[u8]| {
            let mut m = base.to_vec();
            for _ in 0..=rng.below(4) {
                match rng.below(3) {
                    0 if !m.is_empty() => {
                        let p = rng.below(m.len());
                        m[p] = rng.next() as u8;
                    }
                    1 if !m.is_empty() => {
                        let p = rng.below(m.len());
                        m.truncate(p);
                    }
                    _ => {
                        let p = rng.below(m.len() + 1);
                        m.insert(p, rng.next() as u8);
                    }
                }
            }
            m
        };
        let v = &vs[rng.below(vs.len())];
        let m = mutate(&mut rng, &v.ciphertext);
        let _ = key.decrypt(&m, &v.context);
        let _ = chacha.decrypt(&m, &v.context);
        let _ = KeyVersion::decode(&mutate(&mut rng, &stored));
        let _ = KeyVersion::decode(&mutate(&mut rng, &legacy));
        let raw_pb = mutate(&mut rng, &hand_built_protobuf());
        let _ = KeyVersion::decode(B64.encode(raw_pb).as_bytes());
    }
}

/// Re-frames a raw ciphertext as a legacy msgpack array, with a chosen algorithm and header forms.
fn to_msgpack(raw: &[u8], algorithm: &str, str16: bool, bin16: bool) -> Vec<u8> {
    let (sealed, tail) = raw.split_at(raw.len() - 28);
    let (iv, nonce) = tail.split_at(16);
    let mut m = vec![0x95];
    let put_str = |m: &mut Vec<u8>, s: &[u8]| {
        if str16 {
            m.push(0xda);
            m.extend((s.len() as u16).to_be_bytes());
        } else {
            m.extend([0xd9, s.len() as u8]);
        }
        m.extend(s);
    };
    let put_bin = |m: &mut Vec<u8>, b: &[u8]| {
        if bin16 {
            m.push(0xc5);
            m.extend((b.len() as u16).to_be_bytes());
        } else {
            m.extend([0xc4, b.len() as u8]);
        }
        m.extend(b);
    };
    put_str(&mut m, algorithm.as_bytes());
    put_str(&mut m, b"66687aadf862bd776c8fc18b8e9f8e20");
    put_bin(&mut m, iv);
    put_bin(&mut m, nonce);
    put_bin(&mut m, sealed);
    m
}

#[test]
fn msgpack_framing_is_strict() {
    for (cipher, names) in [
        (Cipher::Aes256, ["AES256-GCM_SHA256", "AES256"]),
        (Cipher::ChaCha20, ["XCHACHA20-POLY1305", "ChaCha20"]),
    ] {
        let key = KeyVersion::import(cipher, &[5u8; 32], "").unwrap();
        let unknown = legacy_json_key(&[5u8; 32], None);
        let raw = key.encrypt(b"legacy framing", b"ctx").unwrap();
        for name in names {
            for (str16, bin16) in [(false, false), (true, false), (false, true), (true, true)] {
                let m = to_msgpack(&raw, name, str16, bin16);
                assert_eq!(
                    key.decrypt(&m, b"ctx").unwrap().as_slice(),
                    b"legacy framing"
                );
                assert_eq!(
                    unknown.decrypt(&m, b"ctx").unwrap().as_slice(),
                    b"legacy framing",
                    "{name}: a key without algorithm follows the ciphertext"
                );
            }
        }
        let good = to_msgpack(&raw, names[0], false, false);
        // Recorded algorithm disagrees with the key's.
        let other_name = match cipher {
            Cipher::Aes256 => "ChaCha20",
            Cipher::ChaCha20 => "AES256",
        };
        assert!(matches!(
            key.decrypt(&to_msgpack(&raw, other_name, false, false), b"ctx"),
            Err(Error::NotAuthentic)
        ));
        // Unknown algorithm, trailing byte, four items, wrong iv length, bin where str belongs.
        assert!(
            key.decrypt(&to_msgpack(&raw, "AES128", false, false), b"ctx")
                .is_err()
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(key.decrypt(&trailing, b"ctx").is_err());
        let mut four = good.clone();
        four[0] = 0x94;
        assert!(key.decrypt(&four, b"ctx").is_err());
        let mut short_iv = raw.clone();
        short_iv.remove(raw.len() - 20); // iv 15 bytes, sealed one byte longer
        let mut m = to_msgpack(&short_iv, names[0], false, false);
        let p = 1 + 2 + names[0].len() + 2 + 0x20 + 2;
        assert_eq!(m[p - 2..p], [0xc4, 16]);
        m[p - 1] = 15;
        m.remove(p + 15);
        assert!(key.decrypt(&m, b"ctx").is_err());
        let mut as_bin = good.clone();
        as_bin[1] = 0xc4;
        assert!(key.decrypt(&as_bin, b"ctx").is_err());
    }
}

#[test]
fn raw_ciphertext_that_looks_like_msgpack_or_json_still_decrypts() {
    let key = KeyVersion::import(Cipher::Aes256, &[8u8; 32], "").unwrap();
    let mut seen = (false, false);
    for _ in 0..100_000 {
        let ct = key.encrypt(b"x", b"").unwrap();
        match ct[0] {
            0x95 => seen.0 = true,
            b'{' => seen.1 = true,
            _ => continue,
        }
        assert_eq!(key.decrypt(&ct, b"").unwrap().as_slice(), b"x");
        if seen.0 && seen.1 {
            return;
        }
    }
    panic!("no raw ciphertext starting with 0x95 and '{{' in 100000 tries: {seen:?}");
}
