//! Byte fields: Go encodes `[]byte` as standard base64 **with** padding; decoding here also accepts missing padding
//! and decodes `null` to empty bytes.
//!
//! [`Base64`] carries non-secret bytes, [`SecretBase64`] plaintexts and key material (zeroizing, redacted `Debug`),
//! and [`context`] the optional associated-data field of the key operations.

use std::fmt;
use std::ops::Deref;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use zeroize::Zeroizing;

/// Standard base64 alphabet; encodes with padding, decodes with or without it.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes as standard base64 with padding (the encoding of Go `[]byte` in JSON).
pub fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes standard base64 (padding optional).
///
/// # Errors
/// Returns the decoder's error on characters outside the standard alphabet or a bad length.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    B64.decode(text)
}

/// Decodes a base64 string or `null` straight into zeroizing memory.
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Zeroizing<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        B64.decode(v)
            .map(Zeroizing::new)
            .map_err(|_| E::custom("invalid base64 data"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Zeroizing::new(Vec::new()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(BytesVisitor)
    }
}

fn deserialize_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<Vec<u8>>, D::Error> {
    d.deserialize_option(BytesVisitor)
}

/// Non-secret bytes (ciphertexts, contexts, MACs) carried as a base64 JSON string.
///
/// `null` decodes to empty bytes.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Base64(pub Vec<u8>);

impl Base64 {
    /// Consumes the wrapper.
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Base64 {
    fn from(v: Vec<u8>) -> Self {
        Base64(v)
    }
}

impl fmt::Debug for Base64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64({})", B64.encode(&self.0))
    }
}

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut z = deserialize_bytes(d)?;
        Ok(Base64(std::mem::take(&mut *z)))
    }
}

/// Secret bytes (plaintexts, data keys, imported keys) carried as a base64 JSON string.
///
/// The bytes live in [`Zeroizing`] memory, the base64 text built for serialization is zeroized too, and `Debug`
/// prints only the length. `null` decodes to empty bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBase64(pub Zeroizing<Vec<u8>>);

impl SecretBase64 {
    /// Wraps (takes ownership of) secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBase64(Zeroizing::new(bytes))
    }

    /// Consumes the wrapper, keeping the bytes zeroizing.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl From<Vec<u8>> for SecretBase64 {
    fn from(v: Vec<u8>) -> Self {
        SecretBase64::new(v)
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBase64 {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        SecretBase64(v)
    }
}

impl fmt::Debug for SecretBase64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBase64(<redacted {} bytes>)", self.0.len())
    }
}

impl Serialize for SecretBase64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(B64.encode(self.0.as_slice()));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for SecretBase64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SecretBase64(deserialize_bytes(d)?))
    }
}

/// What both byte wrappers offer alike: `as_bytes()`, `Deref<Target = [u8]>` and `From<&[u8]>` (which copies).
macro_rules! byte_access {
    ($($t:ident),*) => {$(
        impl $t {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl Deref for $t {
            type Target = [u8];
            fn deref(&self) -> &[u8] {
                &self.0
            }
        }

        impl From<&[u8]> for $t {
            fn from(v: &[u8]) -> Self {
                Self::from(v.to_vec())
            }
        }
    )*};
}
byte_access!(Base64, SecretBase64);

/// Serde adapter of the optional `context` (associated data) field: absent, `null` and `""` all decode to `None`;
/// `Some` serializes as its base64 text (an empty context is skipped with `skip_serializing_if = "is_zero"`).
pub(super) mod context {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Base64;

    /// Serializes `Some` as base64, `None` as `null`.
    pub(in crate::wire) fn serialize<S: Serializer>(
        context: &Option<Base64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        context.serialize(s)
    }

    /// Deserializes base64 text, mapping `null` and `""` to `None`.
    pub(in crate::wire) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Base64>, D::Error> {
        let b = Base64::deserialize(d)?;
        Ok(if b.0.is_empty() { None } else { Some(b) })
    }
}
