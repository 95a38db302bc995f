//! The stored `KeyVersion` protobuf schema (kes-api.md §6.1) as `prost` messages, derived in code
//! (no `.proto` file, no build script):
//!
//! ```text
//! message KeyVersion { SecretKey key = 1; HMACKey hmac_key = 2;
//!                      google.protobuf.Timestamp created_at = 3; string created_by = 4; }
//! message SecretKey  { bytes key = 1; uint32 type = 2; }
//! message HMACKey    { bytes key = 1; uint32 hash = 2; }
//! message Timestamp  { int64 seconds = 1; int32 nanos = 2; }   // google.protobuf.Timestamp
//! message KeyRing    { repeated bytes versions = 1; bool disabled = 2; }  // project envelope
//! ```
//!
//! Wire contract (what `prost` does, relied on by `key.rs` and pinned by the known-answer tests):
//! fields are written in number order; proto3 scalar defaults (0, empty bytes/string) are omitted;
//! a present message field is always written, even when empty (a zero `Timestamp` is `1a 00`).
//! Reading skips unknown fields of every wire type (well-formed groups included, as protobuf-go
//! does), merges repeated message fields (last scalar wins), truncates a `uint32` varint to its
//! low 32 bits (as protobuf-go does) and rejects truncated input, over-long varints, field
//! number 0, wire types 6/7, a known field with the wrong wire type and non-UTF-8 strings.
//!
//! Secrets: [`SecretKey`], [`HmacKey`] and [`KeyRing`] (whose versions hold encoded keys) wipe
//! their key bytes on drop ([`ZeroizeOnDrop`]), and their `Debug` never prints them. `prost`
//! needs a plain `Vec<u8>` for a `bytes` field; it allocates it once at the payload's length. Only
//! a stored value that repeats a key field with a longer payload makes it reallocate, and then
//! the earlier (attacker-supplied) bytes are freed without wiping (for `KeyRing.versions`, the
//! outer list may also grow and move its elements, which moves the inner buffers without copying
//! their bytes).

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// `miniohq.kms.KeyVersion`.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub(crate) struct KeyVersion {
    #[prost(message, optional, tag = "1")]
    pub key: Option<SecretKey>,
    #[prost(message, optional, tag = "2")]
    pub hmac_key: Option<HmacKey>,
    #[prost(message, optional, tag = "3")]
    pub created_at: Option<Timestamp>,
    #[prost(string, tag = "4")]
    pub created_by: String,
}

/// `miniohq.kms.SecretKey`: the 32-byte key and its `Type` (0 unset, 1 AES256, 2 ChaCha20).
#[derive(Clone, PartialEq, prost::Message, Zeroize, ZeroizeOnDrop)]
#[prost(skip_debug)]
pub(crate) struct SecretKey {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(uint32, tag = "2")]
    pub r#type: u32,
}

/// `miniohq.kms.HMACKey`: the 32-byte HMAC key and its `Hash` (1 SHA-256).
#[derive(Clone, PartialEq, prost::Message, Zeroize, ZeroizeOnDrop)]
#[prost(skip_debug)]
pub(crate) struct HmacKey {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(uint32, tag = "2")]
    pub hash: u32,
}

/// `kes.KeyRing`: the project's envelope for a key with more than one version or a disabled flag
/// (not an upstream message; see `ring.rs`). `versions[i]` is the upstream-format stored value
/// (`base64(protobuf KeyVersion)` or legacy JSON text) of version `i`, verbatim.
#[derive(Clone, PartialEq, prost::Message, Zeroize, ZeroizeOnDrop)]
#[prost(skip_debug)]
pub(crate) struct KeyRing {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub versions: Vec<Vec<u8>>,
    #[prost(bool, tag = "2")]
    pub disabled: bool,
}

/// `google.protobuf.Timestamp` (same field numbers and types).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub(crate) struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVersion")
            .field("key", &self.key)
            .field("hmac_key", &self.hmac_key)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .finish()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("versions", &self.versions.len())
            .field("disabled", &self.disabled)
            .finish()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key", &"[REDACTED]")
            .field("type", &self.r#type)
            .finish()
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacKey")
            .field("key", &"[REDACTED]")
            .field("hash", &self.hash)
            .finish()
    }
}

#[cfg(test)]
mod pb_tests {
    use prost::Message as _;

    use super::*;

    fn decode(bytes: &[u8]) -> Result<KeyVersion, prost::DecodeError> {
        KeyVersion::decode(bytes)
    }

    #[test]
    fn defaults_are_omitted_and_present_messages_written() {
        let empty = KeyVersion {
            key: None,
            hmac_key: None,
            created_at: Some(Timestamp::default()),
            created_by: String::new(),
        };
        assert_eq!(empty.encode_to_vec(), [0x1a, 0x00]);
        let msg = KeyVersion {
            key: Some(SecretKey {
                key: vec![7],
                r#type: 0,
            }),
            hmac_key: None,
            created_at: Some(Timestamp {
                seconds: -1,
                nanos: 5,
            }),
            created_by: "a".into(),
        };
        let mut want = vec![0x0a, 0x03, 0x0a, 0x01, 7, 0x1a, 0x0d, 0x08];
        want.extend([0xff; 9]);
        want.extend([0x01, 0x10, 0x05, 0x22, 0x01, b'a']);
        assert_eq!(msg.encode_to_vec(), want);
        assert_eq!(decode(&want).ok(), Some(msg));
    }

    #[test]
    fn rejects_malformed_wire_data() {
        for (bytes, what) in [
            (&[0xffu8; 11][..], "11-byte varint"),
            (
                &[
                    0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                ],
                "u64 overflow",
            ),
            (&[0x0a, 0x05, 1, 2], "truncated length-delimited"),
            (&[0x0b], "unterminated group"),
            (&[0x0c], "end group without start"),
            (&[0x02, 0x00], "field number 0"),
            (&[0x4e], "wire type 6"),
            (&[0x4f], "wire type 7"),
            (&[0x4d, 1, 2, 3], "truncated fixed32"),
            (&[0x49, 1, 2, 3, 4, 5, 6, 7], "truncated fixed64"),
            (&[0x08, 0x01], "known field, wrong wire type"),
            (&[0x22, 0x01, 0xff], "created_by not UTF-8"),
        ] {
            assert!(decode(bytes).is_err(), "{what}");
        }
    }

    #[test]
    fn skips_unknown_fields_and_truncates_uint32() {
        // Unknown varint, fixed64, bytes, fixed32 and a well-formed group, then created_by.
        let mut bytes = vec![0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8];
        bytes.extend([0x5a, 0x01, b'x', 0x65, 1, 2, 3, 4, 0x6b, 0x08, 0x01, 0x6c]);
        bytes.extend([0x22, 0x01, b'a']);
        let msg = decode(&bytes).ok();
        assert_eq!(msg.map(|m| m.created_by), Some("a".to_owned()));
        // SecretKey.type = 2^32 + 2 reads as 2, as protobuf-go does.
        let bytes = [0x0a, 0x06, 0x10, 0x82, 0x80, 0x80, 0x80, 0x10];
        let msg = decode(&bytes).ok();
        assert_eq!(msg.and_then(|m| m.key.map(|k| k.r#type)), Some(2));
    }

    #[test]
    fn stored_legacy_key_known_answer() {
        use base64::Engine as _;
        // A legacy JSON key (no algorithm, no HMAC key) created at the Unix epoch: no
        // `SecretKey.type`, no field 2, an empty but present Timestamp, no `created_by`.
        let key = [0x42u8; 32];
        let b64 = base64::engine::general_purpose::STANDARD;
        let json = format!(
            r#"{{"bytes":"{}","created_at":"1970-01-01T00:00:00Z"}}"#,
            b64.encode(key)
        );
        let stored = crate::crypto::KeyVersion::decode(json.as_bytes()).map(|k| k.encode());
        let mut want = vec![0x0a, 0x22, 0x0a, 0x20];
        want.extend(key);
        want.extend([0x1a, 0x00]);
        assert_eq!(
            stored.ok().as_deref().map(Vec::as_slice),
            Some(b64.encode(want).as_bytes())
        );
    }

    #[test]
    fn debug_redacts_key_bytes() {
        let msg = KeyVersion {
            key: Some(SecretKey {
                key: vec![0xab; 32],
                r#type: 1,
            }),
            hmac_key: Some(HmacKey {
                key: vec![0xcd; 32],
                hash: 1,
            }),
            created_at: None,
            created_by: "me".into(),
        };
        let text = format!("{msg:?}");
        assert!(
            text.contains("[REDACTED]") && text.contains("\"me\""),
            "{text}"
        );
        assert!(!text.contains("171") && !text.contains("205"), "{text}");
    }
}
