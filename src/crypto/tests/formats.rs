//! Ciphertext framing (msgpack strictness) and a fuzz-style no-panic loop.

use super::*;

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
