//! Stored key values: protobuf `KeyVersion` encode/decode and legacy JSON.

use super::*;

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
