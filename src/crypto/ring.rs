//! [`KeyRing`]: every version of a named key and its disabled flag; [`StoredRing`]: the same
//! as stored, not decoded (for read-modify-write).
//!
//! # Stored value
//! * A key that was never rotated and is enabled keeps **upstream's exact stored bytes** (§6.1:
//!   `base64(protobuf KeyVersion)`, or the legacy JSON value it had), byte for byte. Disabling and
//!   enabling such a key writes back exactly the original bytes.
//! * Anything more — a disabled flag, or more than one version — is stored as the envelope
//!
//!   ```text
//!   kes:ring:v1:<base64-std, padded (protobuf KeyRing)>
//!   message KeyRing { repeated bytes versions = 1; bool disabled = 2; }
//!   ```
//!
//!   where `versions[i]` is the upstream-format stored value of version `i`, verbatim.
//!
//! The two cannot be confused: an upstream value is either JSON (its first non-blank byte is
//! `{`) or base64 (alphabet `A–Z a–z 0–9 + / =`), and neither contains `:`, so neither starts
//! with `kes:`. Conversely, upstream KES reading the envelope finds no JSON and invalid base64
//! (`:` is outside the alphabet) and fails to read the key: a KES sharing the keystore fails
//! closed on a disabled or rotated key instead of using it. A value starting with `kes:` but not
//! with the `kes:ring:v1:` prefix is refused (a future envelope this build does not know).
//!
//! # Versions and ciphertexts
//! Version numbers start at 0 (the key as created or imported). Encryption uses the newest
//! version: version 0 writes upstream's raw format, versions ≥ 1 the framed format of
//! `framing.rs`. Decryption reads every version and every upstream format with at most two AEAD
//! opens ([`KeyRing::decrypt`]). HMAC always uses version 0's HMAC key, which rotation copies
//! into each new version, so rotation never changes an HMAC.

use std::fmt;

use base64::Engine as _;
use prost::Message as _;
use zeroize::Zeroizing;

use super::framing;
use super::{Error, KeyVersion, pb};

/// The envelope prefix of a key with more than one version or a disabled flag.
pub const RING_PREFIX: &[u8] = b"kes:ring:v1:";

/// Every stored value that starts with this is ours (never upstream's).
const OUR_PREFIX: &[u8] = b"kes:";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A stored key value split into the stored values of its versions, which are kept verbatim and
/// not decoded. Mutations (disable, enable, rotate) work on this, so what they write back is
/// byte-identical to what they read except for the change they make.
pub struct StoredRing {
    /// Upstream-format stored value of each version; never empty.
    versions: Vec<Zeroizing<Vec<u8>>>,
    disabled: bool,
}

impl fmt::Debug for StoredRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRing")
            .field("versions", &self.versions.len())
            .field("disabled", &self.disabled)
            .finish()
    }
}

impl StoredRing {
    /// Splits a stored value: the envelope, or a single upstream value (version 0, enabled).
    /// Versions are not decoded (see [`StoredRing::decode`]).
    ///
    /// # Errors
    /// [`Error::InvalidStoredKey`] for a malformed envelope (bad base64 or protobuf, no versions)
    /// or a `kes:` prefix of an unknown envelope.
    pub fn parse(stored: &[u8]) -> Result<StoredRing, Error> {
        let Some(rest) = stored.strip_prefix(OUR_PREFIX) else {
            return Ok(StoredRing {
                versions: vec![Zeroizing::new(stored.to_vec())],
                disabled: false,
            });
        };
        let b64 = rest
            .strip_prefix(RING_PREFIX.get(OUR_PREFIX.len()..).unwrap_or_default())
            .ok_or(Error::InvalidStoredKey)?;
        let mut raw = Zeroizing::new(vec![0u8; b64.len().div_ceil(4) * 3]);
        let n = B64
            .decode_slice(b64, raw.as_mut_slice())
            .map_err(|_| Error::InvalidStoredKey)?;
        raw.truncate(n);
        let mut message =
            pb::KeyRing::decode(raw.as_slice()).map_err(|_| Error::InvalidStoredKey)?;
        if message.versions.is_empty() {
            return Err(Error::InvalidStoredKey);
        }
        let versions = message
            .versions
            .iter_mut()
            .map(|v| Zeroizing::new(std::mem::take(v)))
            .collect();
        Ok(StoredRing {
            versions,
            disabled: message.disabled,
        })
    }

    /// The stored value: the single upstream value verbatim when there is one version and the
    /// key is enabled, else the `kes:ring:v1:` envelope.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        if let [only] = self.versions.as_slice()
            && !self.disabled
        {
            return only.clone();
        }
        let message = pb::KeyRing {
            versions: self.versions.iter().map(|v| v.to_vec()).collect(),
            disabled: self.disabled,
        };
        let mut raw = Zeroizing::new(Vec::with_capacity(message.encoded_len()));
        message.encode_raw(&mut *raw);
        let b64_len = base64::encoded_len(raw.len(), true).unwrap_or(0);
        let mut out = Zeroizing::new(Vec::with_capacity(RING_PREFIX.len() + b64_len));
        out.extend_from_slice(RING_PREFIX);
        out.resize(RING_PREFIX.len() + b64_len, 0);
        let n = match out.get_mut(RING_PREFIX.len()..) {
            Some(tail) => B64.encode_slice(raw.as_slice(), tail).unwrap_or(0),
            None => 0,
        };
        out.truncate(RING_PREFIX.len() + n);
        out
    }

    /// Whether the key is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Sets the disabled flag; returns whether it changed.
    pub fn set_disabled(&mut self, disabled: bool) -> bool {
        let changed = self.disabled != disabled;
        self.disabled = disabled;
        changed
    }

    /// The newest version number.
    pub fn newest(&self) -> u32 {
        u32::try_from(self.versions.len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// Appends a new version (see [`KeyVersion::rotated`]) and returns its number. The disabled
    /// flag is unchanged.
    ///
    /// # Errors
    /// [`Error::InvalidStoredKey`] if version 0 does not decode or the version numbers are
    /// exhausted; [`Error::Random`] if the RNG fails.
    pub fn rotate(&mut self, created_by: &str) -> Result<u32, Error> {
        let number = u32::try_from(self.versions.len()).map_err(|_| Error::InvalidStoredKey)?;
        let first = self.versions.first().ok_or(Error::InvalidStoredKey)?;
        let next = KeyVersion::decode(first)?.rotated(created_by)?;
        self.versions.push(next.encode());
        Ok(number)
    }

    /// Decodes every version.
    ///
    /// # Errors
    /// [`Error::InvalidStoredKey`] if any version does not decode by the upstream rules.
    pub fn decode(&self) -> Result<KeyRing, Error> {
        let mut versions = self.versions.iter();
        let head = KeyVersion::decode(versions.next().ok_or(Error::InvalidStoredKey)?)?;
        let tail = versions
            .map(|v| KeyVersion::decode(v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeyRing {
            head,
            tail,
            disabled: self.disabled,
        })
    }
}

/// Every version of a key, decoded, and its state: what the key cache holds, so a request
/// decodes nothing. Version `n` is an index, found in O(1).
pub struct KeyRing {
    /// Version 0.
    head: KeyVersion,
    /// Versions 1, 2, …
    tail: Vec<KeyVersion>,
    disabled: bool,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("versions", &(self.tail.len() + 1))
            .field("disabled", &self.disabled)
            .finish()
    }
}

impl KeyRing {
    /// Decodes a stored value (either form, see the module docs).
    ///
    /// # Errors
    /// [`Error::InvalidStoredKey`] for anything malformed.
    pub fn decode(stored: &[u8]) -> Result<KeyRing, Error> {
        StoredRing::parse(stored)?.decode()
    }

    /// Whether the key is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The newest version number (0 for a key never rotated).
    pub fn newest(&self) -> u32 {
        u32::try_from(self.tail.len()).unwrap_or(u32::MAX)
    }

    /// Version 0: the key as created or imported (what upstream's describe shows).
    pub fn first(&self) -> &KeyVersion {
        &self.head
    }

    /// Version `n`, if it exists.
    pub fn version(&self, n: u32) -> Option<&KeyVersion> {
        match n.checked_sub(1) {
            None => Some(&self.head),
            Some(i) => self.tail.get(usize::try_from(i).ok()?),
        }
    }

    /// Every version, oldest first, with its number.
    pub fn versions(&self) -> impl Iterator<Item = (u32, &KeyVersion)> {
        std::iter::once(&self.head)
            .chain(&self.tail)
            .zip(0u32..)
            .map(|(v, n)| (n, v))
    }

    /// Encrypts with the newest version: upstream's raw format for version 0, the framed format
    /// for versions ≥ 1.
    ///
    /// # Errors
    /// As [`KeyVersion::encrypt`].
    pub fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, Error> {
        match self.tail.last() {
            None => self.head.encrypt(plaintext, context),
            Some(newest) => {
                let raw = newest.encrypt(plaintext, context)?;
                Ok(framing::frame(self.newest(), &raw))
            }
        }
    }

    /// Decrypts a ciphertext of any version in any accepted format, with at most two AEAD opens:
    /// a framed ciphertext naming an existing version ≥ 1 is opened with that version's key; if
    /// that fails, or there is no such frame, the whole ciphertext is decrypted by version 0 in
    /// the upstream formats (raw, msgpack, JSON).
    ///
    /// # Errors
    /// [`Error::NotAuthentic`] if neither authenticates.
    pub fn decrypt(&self, ciphertext: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if let Some((n, body)) = framing::split(ciphertext)
            && let Some(version) = self.version(n)
            && let Ok(plaintext) = version.decrypt_raw(body, context)
        {
            return Ok(plaintext);
        }
        self.head.decrypt(ciphertext, context)
    }

    /// HMAC-SHA256 with version 0's HMAC key (the same in every version).
    ///
    /// # Errors
    /// As [`KeyVersion::hmac`].
    pub fn hmac(&self, message: &[u8]) -> Result<[u8; 32], Error> {
        self.head.hmac(message)
    }
}
