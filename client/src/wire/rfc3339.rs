//! Serde adapter for `time::OffsetDateTime` as RFC 3339 text with nanoseconds (Go `time.RFC3339Nano`).
//!
//! Serialization converts to UTC first (so the offset is always `Z`); trailing zero digits of the fraction are
//! dropped, as Go does. Deserialization accepts any RFC 3339 offset; `null` decodes to the Unix epoch.

use serde::{Deserialize, Deserializer, Serializer, de};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Formats `t` (converted to UTC) as RFC 3339.
///
/// # Errors
/// Fails for years outside 0000–9999, which RFC 3339 cannot express.
pub fn format(t: &OffsetDateTime) -> Result<String, time::error::Format> {
    t.to_offset(UtcOffset::UTC).format(&Rfc3339)
}

/// Serializes as an RFC 3339 string.
///
/// # Errors
/// The serializer's error, or a custom one for a time [`format()`] cannot express.
pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let text = format(t).map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

/// Deserializes an RFC 3339 string (`null` → Unix epoch).
///
/// # Errors
/// The deserializer's error for a non-string, or a custom one for text that is not RFC 3339.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(OffsetDateTime::UNIX_EPOCH),
        Some(text) => OffsetDateTime::parse(&text, &Rfc3339).map_err(de::Error::custom),
    }
}
