//! Escaping of characters that could make a log line display misleadingly.
//!
//! Log values come from clients (request paths, key names, identities). A
//! value carrying a right-to-left override (U+202E), a zero-width character
//! or a line separator would land raw in a terminal or a log viewer and show
//! something other than what was received. Every text and JSON line and
//! every stream line is therefore written with such characters escaped, so it
//! shows exactly which code points arrived:
//!
//! - text (slog) lines: Go-quoted escapes, `\u202e`, `\U000e0001`;
//! - JSON lines: `\u202e` escapes (surrogate pairs beyond the BMP), which any
//!   JSON decoder turns back into the original string.
//!
//! [`is_suspicious`] says which characters: Unicode general categories Cc
//! (controls, C0, DEL and C1), Cf (format characters, which include the bidi
//! embeddings, overrides and isolates), Zl and Zp (line and paragraph
//! separators).

use std::fmt::Write as _;

/// The Cf (format) ranges of Unicode 16, inclusive.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Whether `c` must be escaped in a log line: a control (Cc), a format
/// character (Cf), or a line or paragraph separator (Zl, Zp).
pub fn is_suspicious(c: char) -> bool {
    let u = u32::from(c);
    if c.is_control() || u == 0x2028 || u == 0x2029 {
        return true;
    }
    u >= 0xAD && FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))
}

/// Appends the Go-quoted escape of a suspicious `c` (text lines).
pub fn push_go_escape(out: &mut String, c: char) {
    let u = u32::from(c);
    let _ = if u < 0x80 {
        write!(out, "\\x{u:02x}")
    } else if u <= 0xFFFF {
        write!(out, "\\u{u:04x}")
    } else {
        write!(out, "\\U{u:08x}")
    };
}

/// Rewrites one serialized JSON document so that every suspicious character
/// inside its strings is a `\uXXXX` escape. JSON's structure is ASCII, so
/// every non-ASCII or DEL character of valid JSON is inside a string; C0
/// controls are already escaped by the serializer. Returns the input
/// unchanged (no copy) when there is nothing to escape.
pub fn json(raw: Vec<u8>) -> Vec<u8> {
    if raw.iter().all(|&b| b < 0x7F) {
        return raw;
    }
    let text = match String::from_utf8(raw) {
        Ok(text) => text,
        Err(err) => return err.into_bytes(), // serde_json only writes UTF-8
    };
    if !text.chars().any(is_suspicious) {
        return text.into_bytes();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_suspicious(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        for c in [
            '\u{0}',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{9f}',
            '\u{ad}',
            '\u{200b}',
            '\u{200e}',
            '\u{202a}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{2028}',
            '\u{2029}',
            '\u{feff}',
            '\u{e0001}',
            '\u{e007f}',
        ] {
            assert!(is_suspicious(c), "{:x}", u32::from(c));
        }
        for c in ['a', ' ', '/', 'é', 'ß', '中', '\u{a0}', '😀', '\u{2030}'] {
            assert!(!is_suspicious(c), "{:x}", u32::from(c));
        }
    }

    #[test]
    fn json_escapes_round_trip() {
        let original = "/v1/key/create/a\u{202e}b\u{2028}c\u{7f}\u{e0001}é";
        let raw = serde_json::to_vec(&serde_json::json!({ "path": original })).unwrap_or_default();
        let escaped = String::from_utf8(json(raw)).unwrap_or_default();
        assert_eq!(
            escaped,
            r#"{"path":"/v1/key/create/a\u202eb\u2028c\u007f\udb40\udc01é"}"#
        );
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap_or_default();
        assert_eq!(back["path"], original);
    }

    #[test]
    fn plain_json_is_not_copied() {
        let raw = br#"{"a":"b"}"#.to_vec();
        let ptr = raw.as_ptr();
        let out = json(raw);
        assert_eq!(out.as_ptr(), ptr);
    }
}
