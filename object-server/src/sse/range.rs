//! DARE size and range arithmetic (object-sse.md §5.2, §5.4). Pure functions, all sizes in bytes.

use super::dare::{MAX_PACKAGE, OVERHEAD, PACKAGE_SIZE};

const PKG: u64 = PACKAGE_SIZE as u64;
const MAX_PKG: u64 = MAX_PACKAGE as u64;

/// Encrypted size of a DARE stream of `plain` plaintext bytes (`E(0) = 0`).
pub fn encrypted_size(plain: u64) -> u64 {
    let rem = plain % PKG;
    (plain / PKG) * MAX_PKG + if rem > 0 { rem + OVERHEAD as u64 } else { 0 }
}

/// Plaintext size of a DARE stream of `enc` bytes; `None` when no stream has that size
/// (a trailing partial package of 1..=32 bytes), i.e. the object was tampered with.
pub fn plaintext_size(enc: u64) -> Option<u64> {
    let rem = enc % MAX_PKG;
    if rem > 0 && rem <= OVERHEAD as u64 {
        return None;
    }
    Some((enc / MAX_PKG) * PKG + if rem > 0 { rem - OVERHEAD as u64 } else { 0 })
}

/// One DARE stream inside an object's data region (single-part objects have exactly one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLayout {
    /// Part number the key is derived from (`None` for a single-part object: the OEK is used).
    pub part_number: Option<u32>,
    /// Plaintext bytes of the stream.
    pub plain_size: u64,
}

/// A contiguous encrypted span to read and decrypt with one stream key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Index into the layout slice.
    pub stream_index: usize,
    /// Offset of the span within the object's data region.
    pub enc_offset: u64,
    /// Length of the span (whole packages).
    pub enc_len: u64,
    /// Sequence number of the first package in the span.
    pub start_seq: u32,
    /// Whether the span ends with the stream's final package (must carry the final flag).
    pub reaches_end: bool,
}

/// The packages to read for a plaintext range, and how to trim the decrypted output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    /// Spans in order.
    pub segments: Vec<Segment>,
    /// Plaintext bytes to drop from the start of the first segment's output.
    pub skip: u64,
    /// Plaintext bytes to deliver.
    pub len: u64,
}

/// Plans a read of plaintext `[offset, offset + len)` over the given streams (§5.4): only the
/// packages overlapping the range are read, keys switch at stream boundaries and sequence
/// numbers restart at 0 per stream. `len == 0` gives an empty plan. The caller has checked the
/// range against the total plaintext size.
pub fn plan(streams: &[StreamLayout], offset: u64, len: u64) -> ReadPlan {
    let mut segments = Vec::new();
    let end = offset.saturating_add(len);
    let mut plain_cum = 0u64;
    let mut enc_cum = 0u64;
    let mut skip = 0u64;
    for (index, stream) in streams.iter().enumerate() {
        let s_start = plain_cum;
        let s_end = plain_cum + stream.plain_size;
        let enc_size = encrypted_size(stream.plain_size);
        if len > 0 && s_end > offset && s_start < end {
            let local_start = offset.max(s_start) - s_start;
            let local_end = end.min(s_end) - s_start; // exclusive
            let first_pkg = local_start / PKG;
            let last_pkg = (local_end - 1) / PKG;
            if segments.is_empty() {
                skip = local_start - first_pkg * PKG;
            }
            let span_start = first_pkg * MAX_PKG;
            let span_end = ((last_pkg + 1) * MAX_PKG).min(enc_size);
            segments.push(Segment {
                stream_index: index,
                enc_offset: enc_cum + span_start,
                enc_len: span_end - span_start,
                start_seq: u32::try_from(first_pkg).unwrap_or(u32::MAX),
                reaches_end: span_end == enc_size,
            });
        }
        plain_cum = s_end;
        enc_cum += enc_size;
    }
    ReadPlan {
        segments,
        skip,
        len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_table() {
        for (p, e) in [
            (0u64, 0u64),
            (1, 33),
            (13, 45),
            (1024, 1056),
            (65536, 65568),
            (65537, 65601),
            (1 << 20, 1_049_088),
            (5 << 20, 5_245_440),
        ] {
            assert_eq!(encrypted_size(p), e);
            assert_eq!(plaintext_size(e), Some(p));
        }
        for bad in [1u64, 32, 65568 + 1, 65568 + 32] {
            assert_eq!(plaintext_size(bad), None, "{bad}");
        }
        assert_eq!(plaintext_size(65568 + 33), Some(65537));
    }

    #[test]
    fn plan_single_stream() {
        let s = [StreamLayout {
            part_number: None,
            plain_size: 200_000,
        }];
        let p = plan(&s, 65530, 10);
        assert_eq!(p.skip, 65530);
        assert_eq!(p.segments.len(), 1);
        assert_eq!(p.segments[0].enc_offset, 0);
        assert_eq!(p.segments[0].enc_len, 2 * MAX_PKG);
        assert_eq!(p.segments[0].start_seq, 0);
        assert!(!p.segments[0].reaches_end);
        let p = plan(&s, 199_999, 1);
        assert_eq!(p.segments[0].start_seq, 3);
        assert_eq!(p.segments[0].enc_offset, 3 * MAX_PKG);
        assert_eq!(p.segments[0].enc_len, encrypted_size(200_000) - 3 * MAX_PKG);
        assert!(p.segments[0].reaches_end);
        assert_eq!(p.skip, 199_999 - 3 * PKG);
    }

    #[test]
    fn plan_multi_stream() {
        let s = [
            StreamLayout {
                part_number: Some(1),
                plain_size: 100,
            },
            StreamLayout {
                part_number: Some(2),
                plain_size: 70_000,
            },
            StreamLayout {
                part_number: Some(3),
                plain_size: 5,
            },
        ];
        let p = plan(&s, 50, 100 + 70_000);
        assert_eq!(p.segments.len(), 3);
        assert_eq!(p.skip, 50);
        assert_eq!(p.segments[1].enc_offset, encrypted_size(100));
        assert_eq!(p.segments[1].enc_len, encrypted_size(70_000));
        assert_eq!(p.segments[2].enc_len, encrypted_size(5));
        let p = plan(&s, 100 + 65_536, 10);
        assert_eq!(p.segments.len(), 1);
        assert_eq!(p.segments[0].stream_index, 1);
        assert_eq!(p.segments[0].start_seq, 1);
        assert_eq!(p.skip, 0);
        assert!(plan(&s, 0, 0).segments.is_empty());
    }
}
