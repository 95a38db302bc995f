//! DARE 2.0 against raw aws-lc-rs AES-256-GCM on the same buffers (64 KiB and 1 MiB), and the
//! other per-byte work of an upload (MD5 for the ETag, the default CRC64NVME checksum).
//!
//! ```sh
//! cargo bench -p object-server --bench dare
//! ```
//!
//! Rows (throughput in bytes of plaintext):
//! * `seal/raw` — one `seal_in_place_separate_tag` over the whole buffer (the ceiling);
//! * `seal/dare_in_place` — the buffer as DARE packages sealed in place
//!   ([`Encryptor::seal_in_place`]), steady state (one encryptor, non-final packages);
//! * `seal/dare_stream` — what a PUT does per object: a fresh [`StreamSealer`] (key schedule,
//!   random nonce), plaintext pushed in 16 KiB chunks as a request body arrives, `finish`;
//! * `open/raw` — one `open_separate_gather` over the whole buffer into a second buffer;
//! * `open/dare` — what a GET does: a fresh [`Decryptor`], every package opened into the
//!   output buffer ([`Decryptor::open_package_into`]);
//! * `digest/*` — MD5 (md-5), CRC64NVME (crc-fast) alone and together as a PUT runs them.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "a benchmark: a panic is the failure report; criterion's macros generate items"
)]

use std::hint::black_box;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use md5::{Digest as _, Md5};
use object_server::sse::dare::{
    self, CipherSuite, Decryptor, Encryptor, MAX_PACKAGE, OVERHEAD, PACKAGE_SIZE,
};
use object_server::sse::keys::Key32;
use object_server::sse::stream::StreamSealer;

const KEY: [u8; 32] = [7u8; 32];
const SIZES: [(usize, &str); 2] = [(64 * 1024, "64KiB"), (1024 * 1024, "1MiB")];
/// Body chunk size for the streaming row (a typical hyper body frame).
const CHUNK: usize = 16 * 1024;

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn raw_key() -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &KEY).unwrap())
}

fn seal(c: &mut Criterion) {
    let mut g = c.benchmark_group("seal");
    for (n, label) in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let key = raw_key();
        let mut buf = plaintext(n);
        g.bench_function(BenchmarkId::new("raw", label), |b| {
            b.iter(|| {
                let tag = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key([1u8; 12]),
                        Aad::from([0u8; 4]),
                        &mut buf,
                    )
                    .unwrap();
                black_box(tag.as_ref());
            });
        });
        // The same plaintext laid out as packages (header slot ‖ payload ‖ tag slot).
        let packages = n / PACKAGE_SIZE;
        let mut laid = vec![0u8; packages * MAX_PACKAGE];
        let mut enc = Encryptor::with_nonce(&KEY, CipherSuite::Aes256Gcm, [3u8; 12]).unwrap();
        g.bench_function(BenchmarkId::new("dare_in_place", label), |b| {
            b.iter(|| {
                for pkg in laid.chunks_mut(MAX_PACKAGE) {
                    enc.seal_in_place(pkg, false).unwrap();
                }
                black_box(&laid);
            });
        });
        let pt = plaintext(n);
        let oek = Key32::from_bytes(KEY);
        g.bench_function(BenchmarkId::new("dare_stream", label), |b| {
            b.iter(|| {
                let mut s = StreamSealer::new(&oek).unwrap();
                let mut sealed = 0usize;
                for chunk in pt.chunks(CHUNK) {
                    let mut rest = chunk;
                    while let Some(out) = s.push(&mut rest).unwrap() {
                        sealed += out.len();
                    }
                }
                sealed += s.finish().unwrap().len();
                assert_eq!(sealed, packages * MAX_PACKAGE);
            });
        });
    }
    g.finish();
}

fn open(c: &mut Criterion) {
    let mut g = c.benchmark_group("open");
    for (n, label) in SIZES {
        g.throughput(Throughput::Bytes(n as u64));
        let key = raw_key();
        let mut ct = plaintext(n);
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key([1u8; 12]),
                Aad::from([0u8; 4]),
                &mut ct,
            )
            .unwrap();
        let mut out = vec![0u8; n];
        g.bench_function(BenchmarkId::new("raw", label), |b| {
            b.iter(|| {
                key.open_separate_gather(
                    Nonce::assume_unique_for_key([1u8; 12]),
                    Aad::from([0u8; 4]),
                    &ct,
                    tag.as_ref(),
                    &mut out,
                )
                .unwrap();
                black_box(&out);
            });
        });
        let mut enc = Encryptor::new(&KEY).unwrap();
        let stream = dare::encrypt(&mut enc, &plaintext(n)).unwrap();
        assert_eq!(stream.len(), n + n / PACKAGE_SIZE * OVERHEAD);
        g.bench_function(BenchmarkId::new("dare", label), |b| {
            b.iter(|| {
                let mut dec = Decryptor::new(&KEY, 0);
                let mut filled = 0usize;
                for pkg in stream.chunks(MAX_PACKAGE) {
                    filled += dec.open_package_into(pkg, &mut out[filled..]).unwrap();
                }
                assert!(dec.finished() && filled == n);
            });
        });
    }
    g.finish();
}

fn digests(c: &mut Criterion) {
    let mut g = c.benchmark_group("digest");
    let n = 1024 * 1024;
    let pt = plaintext(n);
    g.throughput(Throughput::Bytes(n as u64));
    g.bench_function("md5/1MiB", |b| {
        b.iter(|| black_box(Md5::digest(&pt)));
    });
    g.bench_function("crc64nvme/1MiB", |b| {
        b.iter(|| black_box(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &pt)));
    });
    g.bench_function("md5+crc64nvme/1MiB", |b| {
        b.iter(|| {
            let mut md5 = Md5::new();
            let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme);
            for chunk in pt.chunks(CHUNK) {
                md5.update(chunk);
                crc.update(chunk);
            }
            black_box((md5.finalize(), crc.finalize()));
        });
    });
    g.finish();
}

criterion_group!(benches, seal, open, digests);
criterion_main!(benches);
