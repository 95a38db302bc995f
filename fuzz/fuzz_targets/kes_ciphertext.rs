//! KES ciphertexts as `/v1/key/decrypt` receives them: the three upstream formats (raw binary,
//! msgpack, legacy JSON) through `KeyVersion::decrypt`, and the versioned framing
//! (`framing::split`) through `KeyRing::decrypt`. Keys are fixed (the all-zero keys of
//! shared/spec/kes-vectors.json), so the vectors in the seed corpus authenticate.
#![no_main]

use std::sync::LazyLock;

use kes::crypto::{Cipher, KeyRing, KeyVersion, StoredRing, framing};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<Option<(KeyVersion, KeyVersion, KeyRing)>> = LazyLock::new(|| {
    let aes = KeyVersion::import(Cipher::Aes256, &[0u8; 32], "fuzz").ok()?;
    let chacha = KeyVersion::import(Cipher::ChaCha20, &[0u8; 32], "fuzz").ok()?;
    let mut stored = StoredRing::parse(&aes.encode()).ok()?;
    stored.rotate("fuzz").ok()?;
    let ring = stored.decode().ok()?;
    Some((aes, chacha, ring))
});

fuzz_target!(|data: &[u8]| {
    let Some((aes, chacha, ring)) = KEYS.as_ref() else {
        panic!("fixed fuzz keys must build");
    };
    // The first byte splits the rest into (context, ciphertext), so the
    // associated data is fuzzed as well; seeds start with 0 (no context).
    let (ctx_len, rest) = data
        .split_first()
        .map_or((0, data), |(n, r)| (*n as usize, r));
    let (ctx, ct) = rest.split_at(ctx_len.min(rest.len()));
    for key in [aes, chacha] {
        let _ = key.decrypt(ct, ctx);
        let _ = key.decrypt_raw(ct, ctx);
    }
    if let Some((version, body)) = framing::split(ct) {
        assert_eq!(
            framing::frame(version, body),
            ct,
            "split/frame must round-trip"
        );
    }
    let _ = ring.decrypt(ct, ctx);
});
