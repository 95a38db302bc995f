//! Ciphertext framing and the AEAD itself (kes-api.md §6.2, §6.3).
//!
//! * Current (raw) layout, the only one we write: `sealed (len(pt)+16) ‖ iv (16) ‖ nonce (12)`.
//! * Legacy msgpack (first byte `0x95`): `[str algorithm, str key-id, bin iv(16), bin nonce(12),
//!   bin sealed]`, parsed strictly (exactly five items, exact lengths, no trailing bytes). The
//!   key-id is not checked, as upstream.
//! * Legacy JSON (first byte `{`): `{"aead","id"?,"iv","nonce","bytes"}`, field names matched
//!   case-insensitively, unknown fields ignored (Go `encoding/json` semantics).
//!
//! A msgpack or JSON parse failure falls back to the raw layout. All three normalise to
//! [`Parsed`]; key derivation and AEAD are identical across them:
//! AES256 → `k = HMAC-SHA256(master, iv)`, AES-256-GCM; ChaCha20 → `k = HChaCha20(master, iv)`,
//! ChaCha20-Poly1305. AAD = context. Nothing in this file can panic on any input.

use std::borrow::Cow;

use aws_lc_rs::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use chacha20::cipher::consts::U10;
use zeroize::{Zeroize, Zeroizing};

use super::{Cipher, Error, KEY_LEN, fill_random};

/// Length of the iv (HMAC / HChaCha20 input).
pub(crate) const IV_LEN: usize = 16;
/// Length of the AEAD nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of the AEAD tag.
pub(crate) const TAG_LEN: usize = 16;

/// Base64 as Go's `encoding/base64.StdEncoding` decodes it: padded standard alphabet,
/// non-zero trailing bits tolerated.
pub(crate) const GO_STD_B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// A ciphertext in any accepted format, normalised to `sealed`, `iv`, `nonce`.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    /// The algorithm a legacy (msgpack/JSON) ciphertext records; `None` for the raw format.
    pub(crate) recorded: Option<Cipher>,
    /// AEAD output: encrypted bytes followed by the 16-byte tag.
    pub(crate) sealed: Cow<'a, [u8]>,
    pub(crate) iv: [u8; IV_LEN],
    pub(crate) nonce: [u8; NONCE_LEN],
}

/// Parses a ciphertext in any of the three formats. `None` means it cannot be authentic.
pub(crate) fn parse(ct: &[u8]) -> Option<Parsed<'_>> {
    let legacy = match ct.first() {
        Some(0x95) => parse_msgpack(ct),
        Some(b'{') => parse_json(ct),
        Some(_) | None => None,
    };
    legacy.or_else(|| parse_raw(ct))
}

/// The current layout; requires `len > 28`.
pub(crate) fn parse_raw(ct: &[u8]) -> Option<Parsed<'_>> {
    let (sealed, tail) = ct.split_last_chunk::<{ IV_LEN + NONCE_LEN }>()?;
    if sealed.is_empty() {
        return None;
    }
    let (iv, nonce) = tail.split_first_chunk::<IV_LEN>()?;
    Some(Parsed {
        recorded: None,
        sealed: Cow::Borrowed(sealed),
        iv: *iv,
        nonce: nonce.try_into().ok()?,
    })
}

/// Minimal strict msgpack cursor for the five-item legacy array.
struct MsgPack<'a> {
    rest: &'a [u8],
}

impl<'a> MsgPack<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, tail) = self.rest.split_first()?;
        self.rest = tail;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.rest.split_at_checked(n)?;
        self.rest = tail;
        Some(head)
    }

    fn be_len(&mut self, width: usize) -> Option<usize> {
        let mut n: usize = 0;
        for &b in self.take(width)? {
            n = n.checked_mul(256)?.checked_add(usize::from(b))?;
        }
        Some(n)
    }

    /// A msgpack `str` (fixstr, str8, str16, str32); bytes are returned unvalidated, as Go does.
    fn str(&mut self) -> Option<&'a [u8]> {
        let lead = self.byte()?;
        let len = match lead {
            0xa0..=0xbf => usize::from(lead & 0x1f),
            0xd9 => self.be_len(1)?,
            0xda => self.be_len(2)?,
            0xdb => self.be_len(4)?,
            _ => return None,
        };
        self.take(len)
    }

    /// A msgpack `bin` (bin8, bin16, bin32).
    fn bin(&mut self) -> Option<&'a [u8]> {
        let len = match self.byte()? {
            0xc4 => self.be_len(1)?,
            0xc5 => self.be_len(2)?,
            0xc6 => self.be_len(4)?,
            _ => return None,
        };
        self.take(len)
    }
}

fn parse_msgpack(ct: &[u8]) -> Option<Parsed<'_>> {
    let mut mp = MsgPack { rest: ct };
    if mp.byte()? != 0x95 {
        return None;
    }
    let algorithm = std::str::from_utf8(mp.str()?).ok()?;
    let recorded = Cipher::parse_legacy_ciphertext(algorithm)?;
    let _key_id = mp.str()?; // hex(SHA-256(master)[..16]); not checked (spec §6.3)
    let iv: [u8; IV_LEN] = mp.bin()?.try_into().ok()?;
    let nonce: [u8; NONCE_LEN] = mp.bin()?.try_into().ok()?;
    let sealed = mp.bin()?;
    if !mp.rest.is_empty() || sealed.is_empty() {
        return None;
    }
    Some(Parsed {
        recorded: Some(recorded),
        sealed: Cow::Borrowed(sealed),
        iv,
        nonce,
    })
}

fn parse_json(ct: &[u8]) -> Option<Parsed<'static>> {
    let serde_json::Value::Object(map) = serde_json::from_slice(ct).ok()? else {
        return None;
    };
    let (mut aead, mut iv, mut nonce, mut bytes) = (None, None, None, None);
    for (name, value) in map {
        let slot = match name.to_ascii_lowercase().as_str() {
            "aead" => &mut aead,
            "iv" => &mut iv,
            "nonce" => &mut nonce,
            "bytes" => &mut bytes,
            _ => continue, // "id" and unknown fields are ignored
        };
        *slot = Some(value);
    }
    let as_str = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(_) | None => None,
    };
    let recorded = Cipher::parse_legacy_ciphertext(&as_str(aead)?)?;
    let iv: [u8; IV_LEN] = GO_STD_B64.decode(as_str(iv)?).ok()?.try_into().ok()?;
    let nonce: [u8; NONCE_LEN] = GO_STD_B64.decode(as_str(nonce)?).ok()?.try_into().ok()?;
    let sealed = GO_STD_B64.decode(as_str(bytes)?).ok()?;
    if sealed.is_empty() {
        return None;
    }
    Some(Parsed {
        recorded: Some(recorded),
        sealed: Cow::Owned(sealed),
        iv,
        nonce,
    })
}

/// Derives the per-message AEAD key from the master key and the iv.
fn message_key(
    cipher: Cipher,
    master: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    match cipher {
        Cipher::Aes256 => {
            let mac = hmac::Key::new(hmac::HMAC_SHA256, master);
            let written = hmac::sign_to_buffer(&mac, iv, k.as_mut_slice())
                .map_err(|_| Error::Internal("HMAC-SHA256 key derivation failed"))?;
            if written.len() != KEY_LEN {
                return Err(Error::Internal("HMAC-SHA256 output has the wrong length"));
            }
        }
        Cipher::ChaCha20 => {
            let mut out = chacha20::hchacha::<U10>(master.into(), iv.into());
            k.copy_from_slice(out.as_slice());
            out.as_mut_slice().zeroize();
        }
    }
    Ok(k)
}

fn aead_key(cipher: Cipher, k: &[u8; KEY_LEN]) -> Result<LessSafeKey, Error> {
    let algorithm = match cipher {
        Cipher::Aes256 => &AES_256_GCM,
        Cipher::ChaCha20 => &CHACHA20_POLY1305,
    };
    let unbound =
        UnboundKey::new(algorithm, k).map_err(|_| Error::Internal("AEAD key setup failed"))?;
    Ok(LessSafeKey::new(unbound))
}

/// Encrypts `plaintext` in the current raw layout with fresh random iv and nonce.
///
/// Output length is `plaintext.len() + 44`.
///
/// # Errors
/// [`Error::Random`] if the RNG fails; [`Error::Internal`] if the AEAD fails.
pub(crate) fn seal(
    cipher: Cipher,
    master: &[u8; KEY_LEN],
    plaintext: &[u8],
    context: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut random = [0u8; IV_LEN + NONCE_LEN];
    fill_random(&mut random)?;
    let (iv, nonce) = random
        .split_first_chunk::<IV_LEN>()
        .ok_or(Error::Internal("iv split"))?;
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| Error::Internal("nonce split"))?;
    seal_with(cipher, master, iv, nonce, plaintext, context)
}

/// [`seal`] with a given iv and nonce (tests build ciphertexts with chosen bytes through it).
///
/// # Errors
/// [`Error::Internal`] if the AEAD fails.
pub(crate) fn seal_with(
    cipher: Cipher,
    master: &[u8; KEY_LEN],
    iv: &[u8; IV_LEN],
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
    context: &[u8],
) -> Result<Vec<u8>, Error> {
    let k = message_key(cipher, master, iv)?;
    let key = aead_key(cipher, &k)?;

    // Holds plaintext until sealed in place; capacity is exact so no reallocation leaves copies.
    let mut out = Zeroizing::new(Vec::with_capacity(
        plaintext.len() + TAG_LEN + IV_LEN + NONCE_LEN,
    ));
    out.extend_from_slice(plaintext);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(context),
        &mut *out,
    )
    .map_err(|_| Error::Internal("AEAD seal failed"))?;
    out.extend_from_slice(iv);
    out.extend_from_slice(&nonce);
    // The buffer now holds only ciphertext; move it out (leaving an empty Vec behind).
    Ok(std::mem::take(&mut *out))
}

/// Opens a normalised ciphertext with `cipher`.
///
/// # Errors
/// [`Error::NotAuthentic`] for any failure (wrong key, context, algorithm or tampered bytes).
pub(crate) fn open(
    cipher: Cipher,
    master: &[u8; KEY_LEN],
    parsed: &Parsed<'_>,
    context: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if parsed.sealed.len() < TAG_LEN {
        return Err(Error::NotAuthentic);
    }
    let k = message_key(cipher, master, &parsed.iv).map_err(|_| Error::NotAuthentic)?;
    let key = aead_key(cipher, &k).map_err(|_| Error::NotAuthentic)?;
    let mut buf = Zeroizing::new(parsed.sealed.to_vec());
    let len = key
        .open_in_place(
            Nonce::assume_unique_for_key(parsed.nonce),
            Aad::from(context),
            buf.as_mut_slice(),
        )
        .map_err(|_| Error::NotAuthentic)?
        .len();
    buf.truncate(len);
    Ok(buf)
}
