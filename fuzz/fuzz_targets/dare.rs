//! The DARE 2.0 decoder (`sse::dare::decrypt`, `Decryptor`) and the sealed-key parser
//! (`ObjectKey::unseal`). The key is the fixed key of shared/spec/sse-vectors.json
//! (bytes 0x00..0x1f), so the vectors in the seed corpus decrypt.
#![no_main]

use libfuzzer_sys::fuzz_target;
use object_server::sse::dare::{self, Decryptor};
use object_server::sse::keys::{Key32, ObjectKey};

fn key() -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    k
}

fuzz_target!(|data: &[u8]| {
    let k = key();
    let _ = dare::decrypt(&k, data);
    // Package by package, as the streaming GET path does.
    let mut dec = Decryptor::new(&k, 0);
    let mut rest = data.to_vec();
    let mut off = 0;
    while off < rest.len() && !dec.finished() {
        let Ok(len) = Decryptor::package_len(&rest[off..]) else {
            break;
        };
        let Some(end) = off.checked_add(len).filter(|e| *e <= rest.len()) else {
            break;
        };
        if dec.open_package(&mut rest[off..end]).is_err() {
            break;
        }
        off = end;
    }
    let _ = ObjectKey::unseal(data, &Key32::from_bytes(k));
});
