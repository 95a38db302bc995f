//! Stored key values: `KeyVersion::decode` (protobuf and legacy JSON),
//! `StoredRing::parse` / `KeyRing::decode` (`kes:ring:v1:`).
#![no_main]

use kes::crypto::{KeyRing, KeyVersion, StoredRing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = KeyVersion::decode(data) {
        // A decoded key must re-encode and decode to the same algorithm.
        let again = KeyVersion::decode(&k.encode()).ok();
        assert_eq!(again.map(|a| a.algorithm()), Some(k.algorithm()));
    }
    if let Ok(r) = StoredRing::parse(data) {
        let _ = r.decode();
        let _ = r.encode();
    }
    let _ = KeyRing::decode(data);
});
