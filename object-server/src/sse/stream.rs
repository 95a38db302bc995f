//! DARE streams over object data: [`StreamSealer`] turns a plaintext byte stream into sealed
//! packages as it arrives, and [`decrypt_plan`] reads and opens the packages a range needs
//! from a stored data region (object-sse.md §5.4). The S3 layer moves bytes; only this module
//! builds AEADs for object data.

use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::dare::{
    DareError, Decryptor, Encryptor, HEADER_SIZE, MAX_PACKAGE, PACKAGE_SIZE, TAG_SIZE,
};
use super::keys::Key32;
use super::range::ReadPlan;

/// Sealed bytes handed out per batch by [`StreamSealer::push`] (16 packages, about 1 MiB):
/// large writes, few hand-offs to the file writer.
pub const SEAL_BATCH: usize = 16 * MAX_PACKAGE;

/// Incremental DARE 2.0 sealing of one stream (random stream nonce, AES-256-GCM). Plaintext is
/// copied once, straight into its package's slot in a reused batch buffer, and sealed there in
/// place. A full package is sealed only once more data follows it, so the final package is
/// known at [`StreamSealer::finish`].
pub struct StreamSealer {
    enc: Encryptor,
    /// Sealed packages, then the open package (header slot + plaintext so far).
    buf: Vec<u8>,
    /// Where the open package starts in `buf` (`None`: no open package).
    open: Option<usize>,
    /// The batch in `buf` was handed out; cleared at the next call.
    handed_out: bool,
}

impl std::fmt::Debug for StreamSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSealer")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Drop for StreamSealer {
    fn drop(&mut self) {
        // Plaintext waiting to be sealed (everything before it is ciphertext).
        if let Some(start) = self.open
            && let Some(plain) = self.buf.get_mut(start..)
        {
            zeroize::Zeroize::zeroize(plain);
        }
    }
}

impl StreamSealer {
    /// A sealer keyed with `key` (OEK or part key).
    pub fn new(key: &Key32) -> Result<Self, DareError> {
        Ok(Self {
            enc: Encryptor::new(key.expose())?,
            buf: Vec::new(),
            open: None,
            handed_out: false,
        })
    }

    fn reset_if_handed_out(&mut self) {
        if self.handed_out {
            self.buf.clear();
            self.handed_out = false;
        }
    }

    /// Seals the open package in place.
    fn seal_open(&mut self, last: bool) -> Result<(), DareError> {
        if let Some(start) = self.open.take() {
            self.buf.extend_from_slice(&[0u8; TAG_SIZE]);
            let package = self.buf.get_mut(start..).ok_or(DareError::Internal)?;
            self.enc.seal_in_place(package, last)?;
        }
        Ok(())
    }

    /// Consumes plaintext from the front of `data` until either all of it is buffered
    /// (`None`) or a batch of sealed packages is ready (`Some`, at most [`SEAL_BATCH`]
    /// bytes; call again with the rest of `data`):
    ///
    /// ```ignore
    /// let mut rest = chunk;
    /// while let Some(sealed) = sealer.push(&mut rest)? { write(sealed)?; }
    /// ```
    pub fn push(&mut self, data: &mut &[u8]) -> Result<Option<&[u8]>, DareError> {
        self.reset_if_handed_out();
        while !data.is_empty() {
            let Some(start) = self.open else {
                if self.buf.capacity() < self.buf.len() + MAX_PACKAGE {
                    // One package for small objects; a whole batch once a second one starts.
                    let want = if self.buf.is_empty() {
                        MAX_PACKAGE
                    } else {
                        SEAL_BATCH
                    };
                    self.buf.reserve_exact(want - self.buf.len());
                }
                self.open = Some(self.buf.len());
                self.buf.extend_from_slice(&[0u8; HEADER_SIZE]);
                continue;
            };
            let filled = self.buf.len() - start - HEADER_SIZE;
            if filled == PACKAGE_SIZE {
                // More data follows: the full package is not the final one.
                self.seal_open(false)?;
                if self.buf.len() + MAX_PACKAGE > SEAL_BATCH {
                    self.handed_out = true;
                    return Ok(Some(&self.buf));
                }
                continue;
            }
            let (head, rest) = data.split_at((PACKAGE_SIZE - filled).min(data.len()));
            self.buf.extend_from_slice(head);
            *data = rest;
        }
        Ok(None)
    }

    /// Seals what is left as the final package and returns the last sealed bytes (nothing
    /// for an empty stream).
    pub fn finish(&mut self) -> Result<&[u8], DareError> {
        self.reset_if_handed_out();
        self.seal_open(true)?;
        self.handed_out = true;
        Ok(&self.buf)
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
/// ever handed out. Ciphertext is read into one reused buffer and decrypted straight into the
/// chunk handed out (no copy besides the decryption itself).
pub fn decrypt_plan(
    file: &std::fs::File,
    base: u64,
    keys: &[Key32],
    plan: &ReadPlan,
    mut sink: impl FnMut(Bytes) -> bool,
) -> std::io::Result<()> {
    let mut skip = plan.skip;
    let mut left = plan.len;
    let largest = plan.segments.iter().map(|s| s.enc_len).max().unwrap_or(0);
    let batch_len = usize::try_from(largest)
        .unwrap_or(usize::MAX)
        .min(MAX_PACKAGE * BATCH_PACKAGES);
    let mut buf = vec![0u8; batch_len];
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
            let batch = &*batch;
            let mut out = vec![0u8; want];
            let (mut off, mut produced) = (0usize, 0usize);
            while off < want && (produced as u64) < skip.saturating_add(left) {
                let rest = batch.get(off..).ok_or_else(|| tampered("buffer"))?;
                let pkg_len = match Decryptor::package_len(rest) {
                    Ok(l) if rest.len() >= HEADER_SIZE && l <= rest.len() => l,
                    _ if off == 0 => return Err(tampered("package exceeds stream")),
                    _ => break, // a package cut by the batch end: read it again from its start
                };
                let pkg = rest.get(..pkg_len).ok_or_else(|| tampered("buffer"))?;
                let into = out.get_mut(produced..).ok_or_else(|| tampered("buffer"))?;
                produced += dec
                    .open_package_into(pkg, into)
                    .map_err(|e| tampered(&e.to_string()))?;
                off += pkg_len;
                let expect_final = pos + off as u64 == end && seg.reaches_end;
                if dec.finished() != expect_final {
                    return Err(tampered("final flag misplaced"));
                }
            }
            pos += off as u64;
            let from = usize::try_from(skip.min(produced as u64)).unwrap_or(produced);
            skip -= from as u64;
            let take = usize::try_from(left.min((produced - from) as u64)).unwrap_or(0);
            left -= take as u64;
            if take > 0 && !sink(Bytes::from(out).slice(from..from + take)) {
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
            // several batches: hand-offs in the middle of a pushed chunk
            40 * PACKAGE_SIZE + 5,
            2 * SEAL_BATCH / MAX_PACKAGE * PACKAGE_SIZE,
        ] {
            let pt: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
            let mut s = StreamSealer::new(&key).unwrap();
            let mut ct = Vec::new();
            for chunk in pt.chunks(if n > SEAL_BATCH { 100_003 } else { 1000 }) {
                let mut rest = chunk;
                while let Some(sealed) = s.push(&mut rest).unwrap() {
                    ct.extend_from_slice(sealed);
                }
            }
            ct.extend_from_slice(s.finish().unwrap());
            assert_eq!(
                ct.len() as u64,
                super::super::range::encrypted_size(n as u64)
            );
            assert_eq!(super::super::dare::decrypt(key.expose(), &ct).unwrap(), pt);
        }
    }

    /// Every range of a two-stream object (as multipart objects are laid out) read back
    /// through [`decrypt_plan`] equals the plaintext range, in batches of any cut.
    #[test]
    fn decrypt_plan_ranges() {
        use super::super::range::{StreamLayout, plan};
        use std::io::Write as _;
        let keys = [Key32::from_bytes([1u8; 32]), Key32::from_bytes([2u8; 32])];
        let sizes = [5 * PACKAGE_SIZE + 3, 2 * PACKAGE_SIZE];
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"junk before the data region").unwrap();
        let base = 27u64;
        let mut plain = Vec::new();
        let mut layout = Vec::new();
        for (key, n) in keys.iter().zip(sizes) {
            let pt: Vec<u8> = (0..n).map(|i| (i % 241) as u8 ^ key.expose()[0]).collect();
            let mut enc = Encryptor::new(key.expose()).unwrap();
            file.write_all(&super::super::dare::encrypt(&mut enc, &pt).unwrap())
                .unwrap();
            plain.extend_from_slice(&pt);
            layout.push(StreamLayout {
                part_number: None,
                plain_size: n as u64,
            });
        }
        let total = plain.len() as u64;
        for (offset, len) in [
            (0, total),
            (1, 10),
            (65_535, 3),
            (65_536 * 4 + 7, 65_536 * 2),
            (total - 1, 1),
            (sizes[0] as u64 - 2, 70_000),
            (0, 0),
        ] {
            let mut got = Vec::new();
            decrypt_plan(&file, base, &keys, &plan(&layout, offset, len), |b| {
                got.extend_from_slice(&b);
                true
            })
            .unwrap();
            let (o, l) = (offset as usize, len as usize);
            assert_eq!(got, plain[o..o + l], "range {offset}+{len}");
        }
        // a flipped bit anywhere in the read span fails the read
        let flip_at = base + 3 * MAX_PACKAGE as u64 + 100;
        let mut byte = [0u8; 1];
        file.read_exact_at(&mut byte, flip_at).unwrap();
        file.write_all_at(&[byte[0] ^ 1], flip_at).unwrap();
        let err = decrypt_plan(&file, base, &keys, &plan(&layout, 0, total), |_| true);
        assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }
}
