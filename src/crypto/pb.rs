//! A tiny protobuf wire-format reader and writer, just enough for the stored `KeyVersion` (§6.1).
//!
//! Reader contract: fields are returned in input order as `(number, value)`; wire types 0 (varint),
//! 1 (64-bit), 2 (length-delimited) and 5 (32-bit) are understood, so callers can skip unknown
//! fields of those types. Groups (3, 4), wire types 6/7, field number 0, over-long varints and
//! truncated input are rejected with [`Error::InvalidStoredKey`]. The reader never panics.
//!
//! Writer contract: appends to a caller-provided `Vec<u8>` (which the caller keeps in a
//! `Zeroizing` buffer with enough capacity when it holds secrets).

use super::Error;

/// Wire type numbers.
const WT_VARINT: u8 = 0;
const WT_I64: u8 = 1;
const WT_LEN: u8 = 2;
const WT_I32: u8 = 5;

/// Largest field number protobuf allows (2^29 - 1).
const MAX_FIELD: u64 = (1 << 29) - 1;

/// One decoded field value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// Wire type 0: the raw 64-bit varint value.
    Varint(u64),
    /// Wire type 1: 8 bytes, little-endian.
    I64(u64),
    /// Wire type 2: the payload bytes.
    Len(&'a [u8]),
    /// Wire type 5: 4 bytes, little-endian.
    I32(u32),
}

/// Sequential reader over one message's bytes.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { rest: buf }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or(Error::InvalidStoredKey)?;
        self.rest = tail;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let (&b, tail) = self.rest.split_first().ok_or(Error::InvalidStoredKey)?;
            self.rest = tail;
            // The 10th byte may only contribute the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(Error::InvalidStoredKey);
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::InvalidStoredKey)
    }

    /// Next field, or `Ok(None)` at the end of the message.
    ///
    /// # Errors
    /// [`Error::InvalidStoredKey`] on truncated input, an unsupported wire type or a bad field number.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, Error> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let number = tag >> 3;
        if number == 0 || number > MAX_FIELD {
            return Err(Error::InvalidStoredKey);
        }
        let number = u32::try_from(number).map_err(|_| Error::InvalidStoredKey)?;
        let value = match u8::try_from(tag & 0x7).map_err(|_| Error::InvalidStoredKey)? {
            WT_VARINT => Value::Varint(self.varint()?),
            WT_I64 => {
                let b: [u8; 8] = self
                    .take(8)?
                    .try_into()
                    .map_err(|_| Error::InvalidStoredKey)?;
                Value::I64(u64::from_le_bytes(b))
            }
            WT_LEN => {
                let len = usize::try_from(self.varint()?).map_err(|_| Error::InvalidStoredKey)?;
                Value::Len(self.take(len)?)
            }
            WT_I32 => {
                let b: [u8; 4] = self
                    .take(4)?
                    .try_into()
                    .map_err(|_| Error::InvalidStoredKey)?;
                Value::I32(u32::from_le_bytes(b))
            }
            _ => return Err(Error::InvalidStoredKey),
        };
        Ok(Some((number, value)))
    }
}

/// Appends `v` as a base-128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        // Truncation intended: low 7 bits plus the continuation bit.
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

/// Appends a varint field (uint32, uint64, int64; int32 callers sign-extend first).
pub(crate) fn put_varint_field(out: &mut Vec<u8>, number: u32, v: u64) {
    put_tag(out, number, WT_VARINT);
    put_varint(out, v);
}

/// Appends a length-delimited field (bytes, string or embedded message).
pub(crate) fn put_len_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_tag(out, number, WT_LEN);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Number of bytes [`put_varint`] writes for `v`.
pub(crate) fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Number of bytes [`put_len_field`] writes for a payload of `len` bytes with a one-byte tag
/// (field numbers 1..=15).
pub(crate) fn len_field_size(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

#[cfg(test)]
mod pb_tests {
    use super::*;

    #[test]
    fn varint_round_trip_and_length() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            i64::MAX as u64,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "length of {v}");
            let mut r = Reader::new(&out);
            assert_eq!(r.varint().ok(), Some(v));
            assert!(r.rest.is_empty());
        }
    }

    #[test]
    fn rejects_overlong_and_truncated() {
        // 11-byte varint
        let mut r = Reader::new(&[0xff; 11]);
        assert!(r.varint().is_err());
        // 10th byte > 1 overflows u64
        let mut bytes = vec![0xff; 9];
        bytes.push(0x02);
        assert!(Reader::new(&bytes).varint().is_err());
        // truncated length-delimited payload
        assert!(Reader::new(&[0x0a, 0x05, 1, 2]).next_field().is_err());
        // group wire types and field number 0
        assert!(Reader::new(&[0x0b]).next_field().is_err());
        assert!(Reader::new(&[0x0c]).next_field().is_err());
        assert!(Reader::new(&[0x02, 0x00]).next_field().is_err());
        // truncated fixed32 / fixed64
        assert!(Reader::new(&[0x0d, 1, 2, 3]).next_field().is_err());
        assert!(
            Reader::new(&[0x09, 1, 2, 3, 4, 5, 6, 7])
                .next_field()
                .is_err()
        );
    }

    #[test]
    fn reads_all_wire_types() {
        let bytes = [
            0x08, 0x96, 0x01, // 1: varint 150
            0x11, 1, 0, 0, 0, 0, 0, 0, 0, // 2: fixed64 1
            0x1a, 0x02, b'h', b'i', // 3: len "hi"
            0x25, 2, 0, 0, 0, // 4: fixed32 2
        ];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.next_field().ok(), Some(Some((1, Value::Varint(150)))));
        assert_eq!(r.next_field().ok(), Some(Some((2, Value::I64(1)))));
        assert_eq!(r.next_field().ok(), Some(Some((3, Value::Len(b"hi")))));
        assert_eq!(r.next_field().ok(), Some(Some((4, Value::I32(2)))));
        assert_eq!(r.next_field().ok(), Some(None));
    }
}
