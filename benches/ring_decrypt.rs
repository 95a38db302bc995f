//! Decrypt cost by key version (no benchmark framework: a plain `main`, `harness = false`).
//!
//! ```text
//! cargo bench --bench ring_decrypt
//! ```
//!
//! Decrypts a 32-byte data key (the `ciphertext` of `/v1/key/generate`, 20 bytes of context) made
//! with version 1 of a key with 2 versions, version 50 of a key with 51 versions, version 1000 of
//! a key with 1001 versions, and the upstream baselines (a never-rotated key; a version-0 raw
//! ciphertext of a rotated key, which takes the fallback path). Prints, per case, the median and
//! the spread (min–max) of the per-operation time over 25 batches. A version is an index, so the
//! cost must not depend on the number of versions; only the version-0 fallback on a rotated key
//! may cost one AEAD open more when its bytes happen to start with the frame magic (p = 2^-32).
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests: a panic is the failure report"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use kes::crypto::{KeyRing, KeyVersion, StoredRing};

const BATCHES: usize = 25;
const PER_BATCH: u32 = 20_000;
const CONTEXT: &[u8] = b"bucket/object-name-1";

/// A key with versions 0..=newest, decoded.
fn ring(newest: u32) -> KeyRing {
    let v0 = KeyVersion::generate("bench").expect("rng").encode();
    let mut stored = StoredRing::parse(&v0).expect("stored value");
    for _ in 0..newest {
        stored.rotate("bench").expect("rotate");
    }
    stored.decode().expect("decode")
}

/// Median, min and max per-operation time of decrypting `ciphertext` with `ring`.
fn measure(ring: &KeyRing, ciphertext: &[u8]) -> (Duration, Duration, Duration) {
    let mut per_op: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..PER_BATCH {
                let pt = ring
                    .decrypt(black_box(ciphertext), black_box(CONTEXT))
                    .expect("decrypts");
                black_box(pt);
            }
            t.elapsed() / PER_BATCH
        })
        .collect();
    per_op.sort();
    (per_op[BATCHES / 2], per_op[0], per_op[BATCHES - 1])
}

fn main() {
    let dek = [7u8; 32];
    let single = ring(0);
    let two = ring(1);
    let fifty_one = ring(50);
    let thousand = ring(1000);
    // A version-0 ciphertext of the rotated key: made before the rotations, same key bytes.
    let v0_raw = {
        let mut stored = StoredRing::parse(&KeyVersion::generate("b").expect("rng").encode())
            .expect("stored value");
        let before = stored
            .decode()
            .expect("decode")
            .encrypt(&dek, CONTEXT)
            .expect("seal");
        for _ in 0..50 {
            stored.rotate("b").expect("rotate");
        }
        (stored.decode().expect("decode"), before)
    };
    let cases: Vec<(&str, &KeyRing, Vec<u8>)> = vec![
        (
            "never rotated (upstream raw)",
            &single,
            single.encrypt(&dek, CONTEXT).expect("seal"),
        ),
        (
            "version 1 of 2",
            &two,
            two.encrypt(&dek, CONTEXT).expect("seal"),
        ),
        (
            "version 50 of 51",
            &fifty_one,
            fifty_one.encrypt(&dek, CONTEXT).expect("seal"),
        ),
        (
            "version 1000 of 1001",
            &thousand,
            thousand.encrypt(&dek, CONTEXT).expect("seal"),
        ),
        ("version 0 (raw) of 51", &v0_raw.0, v0_raw.1.clone()),
    ];
    println!("decrypt of a 32-byte data key, {BATCHES} batches of {PER_BATCH}; per operation:");
    println!("{:<30} {:>10} {:>22}", "case", "median", "min – max");
    for (name, ring, ct) in &cases {
        let (median, min, max) = measure(ring, ct);
        println!(
            "{name:<30} {:>10} {:>22}",
            format!("{median:.2?}"),
            format!("{min:.2?} – {max:.2?}")
        );
    }
}
