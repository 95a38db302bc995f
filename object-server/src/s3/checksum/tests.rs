use http::HeaderValue;

use super::*;

#[test]
fn check_values() {
    let data = b"123456789";
    assert_eq!(of_bytes(Algo::Crc32, data), 0xCBF4_3926u32.to_be_bytes());
    assert_eq!(of_bytes(Algo::Crc32c, data), 0xE306_9283u32.to_be_bytes());
    assert_eq!(
        of_bytes(Algo::Crc64Nvme, data),
        0xAE8B_1486_0A79_9888u64.to_be_bytes()
    );
    assert_eq!(
        hex::encode(of_bytes(Algo::Sha1, b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        hex::encode(of_bytes(Algo::Sha256, b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    for a in ALL {
        assert_eq!(of_bytes(a, data).len(), a.digest_len());
        assert_eq!(Algo::parse(&a.name().to_ascii_lowercase()), Some(a));
    }
}

#[test]
fn combined_crcs_equal_the_whole_objects() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for algo in [Algo::Crc32, Algo::Crc32c, Algo::Crc64Nvme] {
        let parts: Vec<(Vec<u8>, u64)> = data
            .chunks(3000)
            .map(|c| (of_bytes(algo, c), c.len() as u64))
            .collect();
        let whole = Checksum::full(algo, &of_bytes(algo, &data));
        assert_eq!(combined(algo, &parts), Some(whole), "{algo:?}");
    }
    assert_eq!(combined(Algo::Sha256, &[]), None);
}

#[test]
fn composite_is_the_checksum_of_the_part_checksums() {
    let p1 = of_bytes(Algo::Crc32, b"part one");
    let p2 = of_bytes(Algo::Crc32, b"part two");
    let c = composite(Algo::Crc32, &[p1.clone(), p2.clone()]);
    let mut cat = p1;
    cat.extend_from_slice(&p2);
    assert_eq!(
        c.value,
        format!("{}-2", STANDARD.encode(of_bytes(Algo::Crc32, &cat)))
    );
    assert_eq!(c.kind, Kind::Composite);
    assert_eq!(c.raw(), Some(of_bytes(Algo::Crc32, &cat)));
}

#[test]
fn stored_form_round_trips() {
    let c = Checksum::full(Algo::Crc32c, &of_bytes(Algo::Crc32c, b"x"));
    let s = c.encode(None).unwrap();
    assert!(s.starts_with("CRC32C:FULL_OBJECT:"), "{s}");
    assert_eq!(Checksum::decode(&s, None), Some(c));
    assert_eq!(Checksum::decode("MD5:FULL_OBJECT:x", None), None);
    assert_eq!(
        Checksum::decode("CRC32:FULL_OBJECT:~00", None),
        None,
        "sealed values need the key"
    );
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn request_headers() {
    let crc = STANDARD.encode(of_bytes(Algo::Crc32, b"hello"));
    assert_eq!(requested(&HeaderMap::new()).unwrap(), None);
    let r = requested(&headers(&[
        ("x-amz-checksum-crc32", &crc),
        ("x-amz-sdk-checksum-algorithm", "crc32"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(r.algo, Algo::Crc32);
    let digests = {
        let mut h = Hashers::new(&[Algo::Crc32, Algo::Crc64Nvme, Algo::Crc32]);
        h.update(b"hel");
        h.update(b"lo");
        h.finish()
    };
    r.verify(&digests, None).unwrap();
    let mut other = Hashers::new(&[Algo::Crc32]);
    other.update(b"hello!");
    let err = r.verify(&other.finish(), None).unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch("CRC32")), "{err:?}");
    assert_eq!(
        err.to_string(),
        "The CRC32 you specified did not match the calculated checksum."
    );

    let t = requested(&headers(&[
        ("x-amz-trailer", "x-amz-checksum-crc64nvme"),
        ("x-amz-sdk-checksum-algorithm", "CRC64NVME"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(t.source, Source::Trailer);
    assert!(matches!(
        t.verify(&digests, None),
        Err(Error::InvalidRequest(_))
    ));

    for bad in [
        headers(&[("x-amz-checksum-crc32", "not base64!")]),
        headers(&[("x-amz-checksum-crc32", "AAAAAAAA")]),
        headers(&[
            ("x-amz-checksum-crc32", &crc),
            ("x-amz-checksum-sha1", &crc),
        ]),
        headers(&[("x-amz-sdk-checksum-algorithm", "CRC32")]),
        headers(&[("x-amz-sdk-checksum-algorithm", "MD5")]),
        headers(&[
            ("x-amz-checksum-crc32", &crc),
            ("x-amz-sdk-checksum-algorithm", "SHA256"),
        ]),
        headers(&[("x-amz-trailer", "x-amz-meta-foo")]),
    ] {
        assert!(
            matches!(requested(&bad), Err(Error::InvalidRequest(_))),
            "{bad:?}"
        );
    }
}
