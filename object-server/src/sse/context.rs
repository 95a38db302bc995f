//! The KMS context (associated data of every KES generate/decrypt), object-sse.md §2.2.
//!
//! A context is a string map serialised as canonical JSON exactly as Go's `encoding/json`
//! writes a `map[string]string`: keys in byte order, no whitespace, HTML-safe escaping (`<`,
//! `>`, `&` → `\u003c`, `\u003e`, `\u0026`), control characters as `\u00xx` except `\n`, `\r`,
//! `\t`, and U+2028/U+2029 escaped. KES uses these bytes verbatim as AEAD associated data, so
//! one differing byte makes every existing object undecryptable: the encoding is pinned by the
//! known-answer vectors of `sse-vectors.json`.

use std::collections::BTreeMap;

use super::keys::path_join;

/// A KMS context map (sorted by key bytes, as Go sorts map keys when encoding).
pub type Context = BTreeMap<String, String>;

fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Canonical JSON bytes of `ctx` (`{}` when empty).
pub fn encode(ctx: &Context) -> Vec<u8> {
    let mut out = String::from("{");
    for (i, (k, v)) in ctx.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        escape_into(&mut out, k);
        out.push(':');
        escape_into(&mut out, v);
    }
    out.push('}');
    out.into_bytes()
}

/// The KES context of an SSE-S3/SSE-KMS object: the client's map (SSE-KMS only) plus
/// `{bucket: path.Join(bucket, object)}` unless the client map already has a key equal to the
/// bucket name.
pub fn object_context(client: Option<&Context>, bucket: &str, object: &str) -> Vec<u8> {
    let mut ctx = client.cloned().unwrap_or_default();
    if !ctx.contains_key(bucket) {
        ctx.insert(bucket.to_owned(), path_join(bucket, object));
    }
    encode(&ctx)
}

/// Why an `x-amz-server-side-encryption-context` header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("The SSE-KMS encryption context must be a base64-encoded JSON object of strings")]
pub struct InvalidContext;

/// Parses an `x-amz-server-side-encryption-context` header: standard base64 of a JSON object
/// whose values are strings.
pub fn parse_header(b64: &str) -> Result<Context, InvalidContext> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| InvalidContext)?;
    serde_json::from_slice::<Context>(&raw).map_err(|_| InvalidContext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_context_and_bucket_key() {
        assert_eq!(
            object_context(None, "mybucket", "my/object.txt"),
            br#"{"mybucket":"mybucket/my/object.txt"}"#
        );
        let mut client = Context::new();
        client.insert("mybucket".into(), "mine".into());
        client.insert("a".into(), "b".into());
        assert_eq!(
            object_context(Some(&client), "mybucket", "x"),
            br#"{"a":"b","mybucket":"mine"}"#
        );
        assert_eq!(encode(&Context::new()), b"{}");
        assert!(parse_header("e30=").unwrap().is_empty());
        assert_eq!(parse_header("bm90IGpzb24="), Err(InvalidContext));
        assert_eq!(parse_header("!!"), Err(InvalidContext));
        // {"a":1}: values must be strings
        assert_eq!(parse_header("eyJhIjoxfQ=="), Err(InvalidContext));
    }
}
