//! DARE 2.0 (`minio/sio` format), object-sse.md §5.1.
//!
//! A stream is a sequence of packages `header(16) ‖ ciphertext(1..=65536) ‖ tag(16)`.
//! Header: `0x20`, cipher suite, LE16 `len − 1`, 12-byte stream nonce whose byte 0 bit 7
//! is the "final package" flag. AEAD nonce for sequence number `s` = header nonce with its last
//! four bytes XORed with LE32(`s`); associated data = header bytes 0..4.
//!
//! Contracts:
//! * every non-final package carries exactly [`PACKAGE_SIZE`] bytes, the final one 1..=65536;
//!   nothing may follow the final package; empty plaintext encrypts to zero bytes;
//! * plaintext is released only after its package's tag verified;
//! * all packages of a stream share the nonce (except the final flag) and the cipher suite.
//!
//! We always write AES-256-GCM; both AES-256-GCM and ChaCha20-Poly1305 are readable.
#![allow(
    clippy::indexing_slicing,
    reason = "DARE package arithmetic: every index is bounded by HEADER_SIZE/TAG_SIZE/the package length, checked when a header is parsed or a package is framed"
)]

use aws_lc_rs::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use rand::RngCore;

/// Plaintext bytes per full package.
pub const PACKAGE_SIZE: usize = 65536;
/// Header bytes per package.
pub const HEADER_SIZE: usize = 16;
/// AEAD tag bytes per package.
pub const TAG_SIZE: usize = 16;
/// Per-package overhead (header + tag).
pub const OVERHEAD: usize = HEADER_SIZE + TAG_SIZE;
/// Largest possible package on disk.
pub const MAX_PACKAGE: usize = PACKAGE_SIZE + OVERHEAD;
/// Version byte of DARE 2.0.
pub const VERSION_20: u8 = 0x20;

const FINAL_FLAG: u8 = 0x80;

/// The AEAD of a DARE stream (header byte 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherSuite {
    /// `0x00`
    Aes256Gcm,
    /// `0x01`
    ChaCha20Poly1305,
}

impl CipherSuite {
    fn id(self) -> u8 {
        match self {
            CipherSuite::Aes256Gcm => 0,
            CipherSuite::ChaCha20Poly1305 => 1,
        }
    }

    fn from_id(id: u8) -> Result<Self, DareError> {
        match id {
            0 => Ok(CipherSuite::Aes256Gcm),
            1 => Ok(CipherSuite::ChaCha20Poly1305),
            _ => Err(DareError::UnsupportedCipher),
        }
    }

    fn key(self, key: &[u8; 32]) -> Result<LessSafeKey, DareError> {
        let alg = match self {
            CipherSuite::Aes256Gcm => &AES_256_GCM,
            CipherSuite::ChaCha20Poly1305 => &CHACHA20_POLY1305,
        };
        UnboundKey::new(alg, key)
            .map(LessSafeKey::new)
            .map_err(|_| DareError::Internal)
    }
}

/// Why a DARE stream could not be produced or opened. Every variant except `Internal` means the
/// ciphertext is not authentic (wrong key, tampering, truncation or reordering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DareError {
    /// Header version is not DARE 2.0.
    #[error("sio: unsupported version")]
    UnsupportedVersion,
    /// Unknown cipher suite or a suite change within a stream.
    #[error("sio: unsupported cipher suite")]
    UnsupportedCipher,
    /// The nonce differs from the stream's first package.
    #[error("sio: header nonce mismatch")]
    NonceMismatch,
    /// AEAD tag verification failed.
    #[error("sio: authentication failed")]
    NotAuthentic,
    /// A package is cut short, a non-final package is not full, data follows the final package,
    /// or the stream ends without a final package.
    #[error("sio: invalid payload size")]
    InvalidSize,
    /// More than 2^32 packages.
    #[error("sio: sequence number overflow")]
    SequenceOverflow,
    /// The crypto library refused a key (cannot happen with 32-byte keys).
    #[error("sio: internal error")]
    Internal,
}

fn aead_nonce(header: &[u8], seq: u32) -> Result<Nonce, DareError> {
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(header.get(4..16).ok_or(DareError::InvalidSize)?);
    let tail = u32::from_le_bytes([nonce[8], nonce[9], nonce[10], nonce[11]]) ^ seq;
    nonce[8..12].copy_from_slice(&tail.to_le_bytes());
    Ok(Nonce::assume_unique_for_key(nonce))
}

/// Incremental DARE 2.0 encryptor (AES-256-GCM, or ChaCha20 for tests/vectors).
pub struct Encryptor {
    key: LessSafeKey,
    suite: CipherSuite,
    nonce: [u8; 12],
    seq: u32,
    done: bool,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("suite", &self.suite)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// An encryptor with a fresh random stream nonce (95 random bits; the flag bit is cleared).
    pub fn new(key: &[u8; 32]) -> Result<Self, DareError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        Self::with_nonce(key, CipherSuite::Aes256Gcm, nonce)
    }

    /// An encryptor with a caller-chosen nonce (known-answer tests). The final flag bit of
    /// `nonce[0]` is ignored.
    pub fn with_nonce(
        key: &[u8; 32],
        suite: CipherSuite,
        mut nonce: [u8; 12],
    ) -> Result<Self, DareError> {
        nonce[0] &= !FINAL_FLAG;
        Ok(Self {
            key: suite.key(key)?,
            suite,
            nonce,
            seq: 0,
            done: false,
        })
    }

    /// Appends one sealed package holding `payload` (1..=65536 bytes; exactly 65536 unless
    /// `last`) to `out`. After a `last` package the encryptor refuses more input.
    pub fn seal_package(
        &mut self,
        payload: &[u8],
        last: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), DareError> {
        let start = out.len();
        out.extend_from_slice(&[0u8; HEADER_SIZE]);
        out.extend_from_slice(payload);
        out.extend_from_slice(&[0u8; TAG_SIZE]);
        let sealed = self.seal_in_place(&mut out[start..], last);
        if sealed.is_err() {
            out.truncate(start);
        }
        sealed
    }

    /// Seals one package in place: `package` is `header space(16) ‖ payload ‖ tag space(16)`
    /// with the plaintext payload (1..=65536 bytes; exactly 65536 unless `last`) already in
    /// place; the header and tag slots are overwritten. No copy, no allocation. After a `last`
    /// package the encryptor refuses more input.
    pub fn seal_in_place(&mut self, package: &mut [u8], last: bool) -> Result<(), DareError> {
        let payload_len = package.len().saturating_sub(OVERHEAD);
        if self.done
            || payload_len == 0
            || payload_len > PACKAGE_SIZE
            || (!last && payload_len != PACKAGE_SIZE)
        {
            return Err(DareError::InvalidSize);
        }
        let len_minus_one = u16::try_from(payload_len - 1).map_err(|_| DareError::InvalidSize)?;
        let mut header = [0u8; HEADER_SIZE];
        header[0] = VERSION_20;
        header[1] = self.suite.id();
        header[2..4].copy_from_slice(&len_minus_one.to_le_bytes());
        header[4..].copy_from_slice(&self.nonce);
        if last {
            header[4] |= FINAL_FLAG;
        }
        let nonce = aead_nonce(&header, self.seq)?;
        let (head, rest) = package.split_at_mut(HEADER_SIZE);
        head.copy_from_slice(&header);
        let (body, tag_slot) = rest.split_at_mut(payload_len);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(&header[0..4]), body)
            .map_err(|_| DareError::Internal)?;
        tag_slot.copy_from_slice(tag.as_ref());
        self.seq = self.seq.checked_add(1).ok_or(DareError::SequenceOverflow)?;
        self.done = last;
        Ok(())
    }
}

/// Encrypts a whole buffer into a DARE 2.0 stream (empty input → empty output).
pub fn encrypt(enc: &mut Encryptor, plaintext: &[u8]) -> Result<Vec<u8>, DareError> {
    let mut out =
        Vec::with_capacity(crate::sse::range::encrypted_size(plaintext.len() as u64) as usize);
    let mut chunks = plaintext.chunks(PACKAGE_SIZE).peekable();
    while let Some(chunk) = chunks.next() {
        enc.seal_package(chunk, chunks.peek().is_none(), &mut out)?;
    }
    Ok(out)
}

/// Incremental DARE 2.0 decryptor for a run of consecutive packages of one stream.
pub struct Decryptor {
    key: [u8; 32],
    opened: Option<(CipherSuite, LessSafeKey)>,
    reference_nonce: Option<[u8; 12]>,
    seq: u32,
    finished: bool,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("seq", &self.seq)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Drop for Decryptor {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl Decryptor {
    /// A decryptor whose first package has sequence number `start_seq` (0 for a whole stream,
    /// `n` when a range read starts at package `n`).
    pub fn new(key: &[u8; 32], start_seq: u32) -> Self {
        Self {
            key: *key,
            opened: None,
            reference_nonce: None,
            seq: start_seq,
            finished: false,
        }
    }

    /// Total on-disk length of the package whose header is `header` (header + payload + tag).
    pub fn package_len(header: &[u8]) -> Result<usize, DareError> {
        let len = header.get(2..4).ok_or(DareError::InvalidSize)?;
        Ok(usize::from(u16::from_le_bytes([len[0], len[1]])) + 1 + OVERHEAD)
    }

    /// Whether the last opened package carried the final flag.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Checks a complete package's framing against the stream state and returns the AEAD
    /// nonce, the key, the payload length and the final flag. State is not advanced.
    fn check(&mut self, package: &[u8]) -> Result<(Nonce, usize, bool), DareError> {
        if self.finished {
            return Err(DareError::InvalidSize);
        }
        if package.len() < HEADER_SIZE + 1 + TAG_SIZE {
            return Err(DareError::InvalidSize);
        }
        let header = &package[..HEADER_SIZE];
        if header[0] != VERSION_20 {
            return Err(DareError::UnsupportedVersion);
        }
        if Self::package_len(header)? != package.len() {
            return Err(DareError::InvalidSize);
        }
        let suite = CipherSuite::from_id(header[1])?;
        let last = header[4] & FINAL_FLAG != 0;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&header[4..16]);
        nonce[0] &= !FINAL_FLAG;
        match &self.reference_nonce {
            Some(reference) if *reference != nonce => return Err(DareError::NonceMismatch),
            Some(_) => {}
            None => self.reference_nonce = Some(nonce),
        }
        match &self.opened {
            Some((s, _)) if *s == suite => {}
            Some(_) => return Err(DareError::UnsupportedCipher),
            None => self.opened = Some((suite, suite.key(&self.key)?)),
        }
        let payload_len = package.len() - OVERHEAD;
        if !last && payload_len != PACKAGE_SIZE {
            return Err(DareError::InvalidSize);
        }
        Ok((aead_nonce(header, self.seq)?, payload_len, last))
    }

    fn advance(&mut self, last: bool) -> Result<(), DareError> {
        self.seq = self.seq.checked_add(1).ok_or(DareError::SequenceOverflow)?;
        self.finished = last;
        Ok(())
    }

    fn key(&self) -> Result<&LessSafeKey, DareError> {
        self.opened
            .as_ref()
            .map(|(_, k)| k)
            .ok_or(DareError::Internal)
    }

    /// Verifies and decrypts one complete package in place and returns its plaintext.
    /// Rejects data after a final package, nonce/cipher changes, short non-final packages
    /// and any authentication failure.
    pub fn open_package<'a>(&mut self, package: &'a mut [u8]) -> Result<&'a [u8], DareError> {
        let (nonce, _, last) = self.check(package)?;
        let (header, body) = package.split_at_mut(HEADER_SIZE);
        let plain = self
            .key()?
            .open_in_place(nonce, Aad::from(&header[0..4]), body)
            .map_err(|_| DareError::NotAuthentic)?;
        self.advance(last)?;
        Ok(plain)
    }

    /// [`Decryptor::open_package`] without touching the package: verifies it and decrypts its
    /// payload into the front of `out` (at least the payload length), returning the payload
    /// length. On any failure `out` holds no verified plaintext and must be discarded.
    pub fn open_package_into(
        &mut self,
        package: &[u8],
        out: &mut [u8],
    ) -> Result<usize, DareError> {
        let (nonce, payload_len, last) = self.check(package)?;
        let out = out.get_mut(..payload_len).ok_or(DareError::InvalidSize)?;
        let (body, tag) = package[HEADER_SIZE..].split_at(payload_len);
        self.key()?
            .open_separate_gather(nonce, Aad::from(&package[0..4]), body, tag, out)
            .map_err(|_| DareError::NotAuthentic)?;
        self.advance(last)?;
        Ok(payload_len)
    }
}

/// Decrypts a complete DARE 2.0 stream held in memory. The stream must end with its final
/// package (truncation is detected); empty input is the empty plaintext.
pub fn decrypt(key: &[u8; 32], stream: &[u8]) -> Result<Vec<u8>, DareError> {
    let mut dec = Decryptor::new(key, 0);
    let mut out = vec![0u8; stream.len()];
    let mut rest = stream;
    let mut filled = 0usize;
    while !rest.is_empty() {
        let len = Decryptor::package_len(rest)?;
        let package = rest.get(..len).ok_or(DareError::InvalidSize)?;
        filled += dec.open_package_into(package, &mut out[filled..])?;
        rest = &rest[len..];
    }
    out.truncate(filled);
    if !stream.is_empty() && !dec.finished() {
        return Err(DareError::InvalidSize);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> [u8; 32] {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        k
    }

    fn plaintext(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn round_trip_sizes() {
        for n in [0usize, 1, 65535, 65536, 65537, 1024 * 1024 + 13] {
            let pt = plaintext(n);
            let mut enc = Encryptor::new(&key()).unwrap();
            let ct = encrypt(&mut enc, &pt).unwrap();
            assert_eq!(
                ct.len() as u64,
                crate::sse::range::encrypted_size(n as u64),
                "size {n}"
            );
            assert_eq!(decrypt(&key(), &ct).unwrap(), pt, "size {n}");
        }
    }

    #[test]
    fn tamper_detected() {
        let pt = plaintext(3 * PACKAGE_SIZE + 100);
        let mut enc = Encryptor::new(&key()).unwrap();
        let ct = encrypt(&mut enc, &pt).unwrap();
        // truncation: drop the final package
        assert!(decrypt(&key(), &ct[..3 * MAX_PACKAGE]).is_err());
        // truncation inside a package
        assert!(decrypt(&key(), &ct[..ct.len() - 1]).is_err());
        // reordering: swap packages 0 and 1
        let mut swapped = ct.clone();
        swapped[..MAX_PACKAGE].copy_from_slice(&ct[MAX_PACKAGE..2 * MAX_PACKAGE]);
        swapped[MAX_PACKAGE..2 * MAX_PACKAGE].copy_from_slice(&ct[..MAX_PACKAGE]);
        assert_eq!(decrypt(&key(), &swapped), Err(DareError::NotAuthentic));
        // bit flips in header, body, tag
        for pos in [
            0usize,
            1,
            5,
            20,
            MAX_PACKAGE - 1,
            MAX_PACKAGE + 3,
            ct.len() - 1,
        ] {
            let mut bad = ct.clone();
            bad[pos] ^= 0x01;
            assert!(decrypt(&key(), &bad).is_err(), "flip at {pos} undetected");
        }
        // extra data after the final package
        let mut extra = ct.clone();
        extra.extend_from_slice(&ct[..MAX_PACKAGE]);
        assert!(decrypt(&key(), &extra).is_err());
        // wrong key
        let mut other = key();
        other[0] ^= 1;
        assert!(decrypt(&other, &ct).is_err());
    }
}
