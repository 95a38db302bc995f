//! Unit tests of `ring.rs` and `framing.rs`: stored values (verbatim single version, envelope,
//! refusals), rotation, encryption with the newest version, decryption of every version and every
//! upstream format, version swaps, and a raw version-0 ciphertext that starts with the magic.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::ciphertext::seal_with;
use super::framing::{self, HEADER_LEN, MAGIC};
use super::*;

const VECTORS: &str = include_str!("testdata/kes-vectors.json");

fn stored_key() -> Zeroizing<Vec<u8>> {
    KeyVersion::generate("creator").unwrap().encode()
}

fn rotated(stored: &[u8], times: u32) -> StoredRing {
    let mut ring = StoredRing::parse(stored).unwrap();
    for i in 1..=times {
        assert_eq!(ring.rotate("rotator").unwrap(), i);
    }
    ring
}

#[test]
fn a_single_enabled_version_is_stored_verbatim() {
    let protobuf = stored_key();
    let legacy = format!(
        r#"{{"bytes":"{}","algorithm":"AES256"}}"#,
        B64.encode([7u8; 32])
    );
    for stored in [protobuf.as_slice(), legacy.as_bytes()] {
        let ring = StoredRing::parse(stored).unwrap();
        assert_eq!((ring.newest(), ring.is_disabled()), (0, false));
        assert_eq!(ring.encode().as_slice(), stored);
        let decoded = ring.decode().unwrap();
        assert_eq!(decoded.newest(), 0);
        assert!(!decoded.is_disabled());
    }
}

#[test]
fn disable_then_enable_restores_the_exact_bytes() {
    let stored = stored_key();
    let mut ring = StoredRing::parse(&stored).unwrap();
    assert!(ring.set_disabled(true));
    assert!(!ring.set_disabled(true), "no change the second time");
    let disabled = ring.encode();
    assert!(
        disabled.starts_with(RING_PREFIX),
        "disabled keys use the envelope"
    );
    assert!(
        KeyVersion::decode(&disabled).is_err(),
        "upstream rules cannot read it"
    );
    let mut back = StoredRing::parse(&disabled).unwrap();
    assert!(back.is_disabled());
    assert!(KeyRing::decode(&disabled).unwrap().is_disabled());
    assert!(back.set_disabled(false));
    assert_eq!(back.encode().as_slice(), stored.as_slice());
}

#[test]
fn the_envelope_keeps_every_version_verbatim() {
    let stored = stored_key();
    let mut ring = rotated(&stored, 3);
    ring.set_disabled(true);
    let text = ring.encode();
    let b64 = text.strip_prefix(RING_PREFIX).unwrap();
    let raw = B64.decode(b64).unwrap();
    let message = <pb::KeyRing as prost::Message>::decode(raw.as_slice()).unwrap();
    assert_eq!(message.versions.len(), 4);
    assert_eq!(message.versions[0], stored.as_slice());
    assert!(message.disabled);
    for v in &message.versions {
        KeyVersion::decode(v).unwrap();
    }
    let again = StoredRing::parse(&text).unwrap();
    assert_eq!(again.encode().as_slice(), text.as_slice());
    // Rotation keeps the HMAC key and makes AES256 keys.
    let decoded = again.decode().unwrap();
    let want = decoded.first().hmac(b"m").unwrap();
    for (n, v) in decoded.versions() {
        assert_eq!(v.hmac(b"m").unwrap(), want, "version {n}");
        assert_eq!(v.algorithm(), Some(Cipher::Aes256));
        if n > 0 {
            assert_eq!(v.created_by(), "rotator");
        }
    }
    assert_eq!(decoded.hmac(b"m").unwrap(), want);
}

#[test]
fn malformed_or_unknown_envelopes_are_refused() {
    let empty = pb::KeyRing {
        versions: vec![],
        disabled: true,
    };
    let empty = format!(
        "kes:ring:v1:{}",
        B64.encode(prost::Message::encode_to_vec(&empty))
    );
    let bad_version = pb::KeyRing {
        versions: vec![b"not a key".to_vec()],
        disabled: false,
    };
    let bad_version = format!(
        "kes:ring:v1:{}",
        B64.encode(prost::Message::encode_to_vec(&bad_version))
    );
    for stored in [
        "kes:ring:v2:AAAA",
        "kes:other",
        "kes:ring:v1:!!!!",
        "kes:ring:v1:/w==",
        empty.as_str(),
        bad_version.as_str(),
    ] {
        assert!(KeyRing::decode(stored.as_bytes()).is_err(), "{stored}");
    }
    assert!(StoredRing::parse(bad_version.as_bytes()).is_ok());
    assert!(
        StoredRing::parse(bad_version.as_bytes())
            .unwrap()
            .decode()
            .is_err()
    );
}

#[test]
fn new_ciphertexts_use_the_newest_version_and_every_version_decrypts() {
    let stored = stored_key();
    let mut ring = StoredRing::parse(&stored).unwrap();
    let mut made = Vec::new();
    for n in 0..=5u32 {
        let keys = ring.decode().unwrap();
        assert_eq!(keys.newest(), n);
        let ct = keys.encrypt(format!("pt{n}").as_bytes(), b"ctx").unwrap();
        match framing::split(&ct) {
            None => assert_eq!((n, ct.len()), (0, 3 + CIPHERTEXT_OVERHEAD)),
            Some((v, body)) => {
                assert_eq!(v, n);
                assert_eq!(body.len(), 3 + CIPHERTEXT_OVERHEAD);
            }
        }
        made.push(ct);
        if n < 5 {
            ring.rotate("r").unwrap();
        }
    }
    let keys = ring.decode().unwrap();
    for (n, ct) in made.iter().enumerate() {
        let pt = keys.decrypt(ct, b"ctx").unwrap();
        assert_eq!(pt.as_slice(), format!("pt{n}").as_bytes());
        assert!(keys.decrypt(ct, b"other").is_err());
    }
}

#[test]
fn swapping_the_version_number_fails_authentication() {
    let keys = rotated(&stored_key(), 3).decode().unwrap();
    let ct = keys.encrypt(b"secret", b"").unwrap();
    assert_eq!(framing::split(&ct).unwrap().0, 3);
    for other in [0u32, 1, 2, 4, 99] {
        let mut swapped = ct.clone();
        swapped[4..HEADER_LEN].copy_from_slice(&other.to_be_bytes());
        assert!(keys.decrypt(&swapped, b"").is_err(), "version {other}");
    }
    // The frame stripped off: the body is a raw ciphertext of version 3, not of version 0.
    assert!(keys.decrypt(&ct[HEADER_LEN..], b"").is_err());
}

#[test]
fn upstream_vectors_still_decrypt_after_rotation() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    for v in doc["decrypt"].as_array().unwrap() {
        let s = |name: &str| v[name].as_str().unwrap().to_owned();
        let b = |name: &str| B64.decode(s(name)).unwrap();
        let ct = if s("format") == "json" {
            s("ciphertext_text").into_bytes()
        } else {
            b("ciphertext_b64")
        };
        let cipher = Cipher::parse(&s("cipher")).unwrap();
        let v0 = KeyVersion::import(cipher, &b("key_b64"), "")
            .unwrap()
            .encode();
        let keys = rotated(&v0, 50).decode().unwrap();
        let pt = keys.decrypt(&ct, &b("context_b64")).unwrap();
        assert_eq!(
            pt.as_slice(),
            b("plaintext_b64").as_slice(),
            "{}",
            s("format")
        );
    }
}

#[test]
fn a_raw_version_0_ciphertext_that_starts_with_the_magic_still_decrypts() {
    // AES-GCM is a stream cipher: with a chosen iv and nonce, learn the keystream's first bytes
    // by sealing zeros, then pick a plaintext whose sealed bytes start with MAGIC ‖ version 1.
    let master = [0x42u8; KEY_LEN];
    let v0 = KeyVersion::import(Cipher::Aes256, &master, "")
        .unwrap()
        .encode();
    let keys = rotated(&v0, 1).decode().unwrap();
    let (iv, nonce) = ([9u8; 16], [3u8; 12]);
    let stream = seal_with(Cipher::Aes256, &master, &iv, nonce, &[0u8; 16], b"").unwrap();
    let mut header = MAGIC.to_vec();
    header.extend(1u32.to_be_bytes());
    let mut plaintext: Vec<u8> = header.iter().zip(&stream).map(|(h, k)| h ^ k).collect();
    plaintext.extend_from_slice(b"12345678");
    let ct = seal_with(Cipher::Aes256, &master, &iv, nonce, &plaintext, b"").unwrap();
    assert_eq!(framing::split(&ct).map(|(v, _)| v), Some(1), "looks framed");
    assert_eq!(
        keys.decrypt(&ct, b"").unwrap().as_slice(),
        plaintext.as_slice()
    );
}
