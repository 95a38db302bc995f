//! The framing of versioned ciphertexts: what a key with more than one version writes for
//! versions ≥ 1 (project extension; version 0 keeps upstream's formats, §6.2–6.3).
//!
//! ```text
//! 00 4b 56 01 | v v v v      | sealed ‖ iv(16) ‖ nonce(12)
//! magic "\0KV\x01"  version (u32, big-endian, ≥ 1)   the current raw format, made with version v's key
//! ```
//!
//! Why it cannot be confused with the three upstream formats:
//! * msgpack ciphertexts start with `0x95` and JSON ones with `{`; the magic starts with `0x00`.
//! * A raw ciphertext is random-looking bytes and may start with the magic by chance
//!   (probability 2^-32). Decrypt therefore never *trusts* the frame: it opens the body with the
//!   named version's key, and if that does not authenticate (or the version does not exist) it
//!   falls back to the upstream formats under version 0 — see `KeyRing::decrypt`. Such a
//!   ciphertext still decrypts, at the cost of one extra AEAD open.
//! * Changing the version number in a frame selects another key, so authentication fails; it
//!   cannot make a ciphertext open under a different version's key.
//!
//! Cost: at most two AEAD opens per ciphertext, whatever the number of versions (the version is
//! an index, not a search).

/// The 4-byte prefix of a versioned ciphertext. First byte neither `0x95` (msgpack) nor `{`.
pub const MAGIC: [u8; 4] = [0x00, b'K', b'V', 0x01];

/// Length of the frame header: magic and version.
pub const HEADER_LEN: usize = 8;

/// Prefixes `raw` (a current-format ciphertext made with version `version`'s key) with the header.
pub fn frame(version: u32, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + raw.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(raw);
    out
}

/// Splits a ciphertext that starts with [`MAGIC`] into the version it names and its body.
/// `None` when there is no magic, no complete header, or the version is 0 (never framed).
/// A `Some` is only a hint: the body must still authenticate.
pub fn split(ciphertext: &[u8]) -> Option<(u32, &[u8])> {
    let body = ciphertext.strip_prefix(&MAGIC)?;
    let (version, body) = body.split_first_chunk::<4>()?;
    let version = u32::from_be_bytes(*version);
    (version >= 1).then_some((version, body))
}

#[cfg(test)]
mod framing_tests {
    use super::*;

    #[test]
    fn frame_and_split_round_trip() {
        let framed = frame(7, b"body");
        assert_eq!(&framed[..8], &[0, b'K', b'V', 1, 0, 0, 0, 7]);
        assert_eq!(split(&framed), Some((7, &b"body"[..])));
        assert_eq!(split(&frame(u32::MAX, b"")), Some((u32::MAX, &b""[..])));
    }

    #[test]
    fn anything_else_is_not_framed() {
        assert_eq!(split(&frame(0, b"body")), None, "version 0 is never framed");
        assert_eq!(split(&MAGIC), None, "no version");
        assert_eq!(split(&[0, b'K', b'V', 1, 0, 0, 1]), None, "short version");
        assert_eq!(split(&[0x95, 0, 0, 0, 0, 0, 0, 1]), None);
        assert_eq!(split(b"{\"aead\":1}"), None);
        assert_eq!(split(b""), None);
        assert_ne!(MAGIC[0], 0x95);
        assert_ne!(MAGIC[0], b'{');
    }
}
