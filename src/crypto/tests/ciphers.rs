//! Round trips, DEK generation, HMAC, imports, cipher names and `Debug` redaction.

use super::*;

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
