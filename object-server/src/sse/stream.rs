//! DARE streams over object data: [`StreamSealer`] turns a plaintext byte stream into sealed
//! packages as it arrives, and [`decrypt_plan`] reads and opens the packages a range needs
//! from a stored data region (object-sse.md §5.4). The S3 layer moves bytes; only this module
//! builds AEADs for object data.

use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::dare::{DareError, Decryptor, Encryptor, HEADER_SIZE, MAX_PACKAGE, PACKAGE_SIZE};
use super::keys::Key32;
use super::range::ReadPlan;

/// Incremental DARE 2.0 sealing of one stream (random stream nonce, AES-256-GCM). A full
/// package is sealed only once more data follows it, so the final package is known at
/// [`StreamSealer::finish`].
pub struct StreamSealer {
    enc: Encryptor,
    pending: Vec<u8>,
    out: Vec<u8>,
}

impl std::fmt::Debug for StreamSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSealer")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Drop for StreamSealer {
    fn drop(&mut self) {
        // Plaintext waiting to be sealed.
        zeroize::Zeroize::zeroize(&mut self.pending);
    }
}

impl StreamSealer {
    /// A sealer keyed with `key` (OEK or part key).
    pub fn new(key: &Key32) -> Result<Self, DareError> {
        Ok(Self {
            enc: Encryptor::new(key.expose())?,
            pending: Vec::with_capacity(PACKAGE_SIZE),
            out: Vec::with_capacity(MAX_PACKAGE * 4),
        })
    }

    /// Feeds plaintext; returns the packages sealed by this call (possibly none).
    pub fn push(&mut self, mut data: &[u8]) -> Result<&[u8], DareError> {
        self.out.clear();
        while !data.is_empty() {
            if self.pending.len() == PACKAGE_SIZE {
                self.enc.seal_package(&self.pending, false, &mut self.out)?;
                self.pending.clear();
            }
            let take = (PACKAGE_SIZE - self.pending.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            self.pending.extend_from_slice(head);
            data = rest;
        }
        Ok(&self.out)
    }

    /// Seals what is left as the final package (nothing for an empty stream).
    pub fn finish(&mut self) -> Result<&[u8], DareError> {
        self.out.clear();
        if !self.pending.is_empty() {
            self.enc.seal_package(&self.pending, true, &mut self.out)?;
            self.pending.clear();
        }
        Ok(&self.out)
    }
}

fn tampered(msg: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("object data not authentic: {msg}"),
    )
}

/// Packages read (and plaintext handed out) per batch.
const BATCH_PACKAGES: usize = 4;

/// Reads and opens the packages of `plan` from the data region starting at `base` in `file`
/// (blocking), with one key per stream of the object, and hands the verified plaintext to
/// `sink` (up to [`BATCH_PACKAGES`] packages per chunk) until it returns `false`. Any
/// authentication, framing or size failure is an `InvalidData` error; nothing unverified is
/// ever handed out.
pub fn decrypt_plan(
    file: &std::fs::File,
    base: u64,
    keys: &[Key32],
    plan: &ReadPlan,
    mut sink: impl FnMut(Bytes) -> bool,
) -> std::io::Result<()> {
    let mut skip = plan.skip;
    let mut left = plan.len;
    let mut buf = vec![0u8; MAX_PACKAGE * BATCH_PACKAGES];
    for seg in &plan.segments {
        let key = keys
            .get(seg.stream_index)
            .ok_or_else(|| tampered("missing stream key"))?;
        let mut dec = Decryptor::new(key.expose(), seg.start_seq);
        let mut pos = seg.enc_offset;
        let end = seg.enc_offset + seg.enc_len;
        while pos < end && left > 0 {
            let want = usize::try_from((end - pos).min(buf.len() as u64)).unwrap_or(buf.len());
            let batch = buf.get_mut(..want).ok_or_else(|| tampered("buffer"))?;
            file.read_exact_at(batch, base + pos)?;
            let mut out = bytes::BytesMut::with_capacity(want);
            let mut off = 0usize;
            while off < want && left > 0 {
                let rest = batch.get_mut(off..).ok_or_else(|| tampered("buffer"))?;
                let whole = rest.len() >= HEADER_SIZE
                    && Decryptor::package_len(rest).is_ok_and(|l| l <= rest.len());
                if !whole {
                    if off == 0 {
                        return Err(tampered("package exceeds stream"));
                    }
                    break; // a package cut by the batch end: read it again from its start
                }
                let pkg_len = Decryptor::package_len(rest).map_err(|e| tampered(&e.to_string()))?;
                let pkg = rest.get_mut(..pkg_len).ok_or_else(|| tampered("buffer"))?;
                let plain = dec
                    .open_package(pkg)
                    .map_err(|e| tampered(&e.to_string()))?;
                off += pkg_len;
                let expect_final = pos + off as u64 == end && seg.reaches_end;
                if dec.finished() != expect_final {
                    return Err(tampered("final flag misplaced"));
                }
                let from = usize::try_from(skip.min(plain.len() as u64)).unwrap_or(0);
                skip -= from as u64;
                let avail = plain.get(from..).unwrap_or_default();
                let take = usize::try_from(left.min(avail.len() as u64)).unwrap_or(avail.len());
                left -= take as u64;
                out.extend_from_slice(avail.get(..take).unwrap_or_default());
            }
            pos += off as u64;
            if !out.is_empty() && !sink(out.freeze()) {
                return Ok(());
            }
        }
    }
    if left > 0 {
        return Err(tampered("stream shorter than its size"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealer_matches_whole_buffer_encryption() {
        let key = Key32::from_bytes([5u8; 32]);
        for n in [
            0usize,
            1,
            PACKAGE_SIZE,
            PACKAGE_SIZE + 1,
            3 * PACKAGE_SIZE + 7,
        ] {
            let pt: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
            let mut s = StreamSealer::new(&key).unwrap();
            let mut ct = Vec::new();
            for chunk in pt.chunks(1000) {
                ct.extend_from_slice(s.push(chunk).unwrap());
            }
            ct.extend_from_slice(s.finish().unwrap());
            assert_eq!(
                ct.len() as u64,
                super::super::range::encrypted_size(n as u64)
            );
            assert_eq!(super::super::dare::decrypt(key.expose(), &ct).unwrap(), pt);
        }
    }
}
