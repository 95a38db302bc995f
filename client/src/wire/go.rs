//! Go `encoding/json` semantics shared by the wire types: `null` decodes to the zero value, `omitempty` skips the
//! zero value, and a missing or `null` time is the Unix epoch.
//!
//! The names are meant for serde attributes; a Go `omitempty` string, for example, is
//! `#[serde(default, with = "nullable", skip_serializing_if = "is_zero")]`.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::b64::Base64;

/// Serde adapter of a field Go may send as `null`: serializes the value as is, deserializes `null` as
/// `T::default()` (Go decodes `null` into the zero value).
pub(super) mod nullable {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes `value` unchanged.
    pub(in crate::wire) fn serialize<T: Serialize, S: Serializer>(
        value: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(s)
    }

    /// Deserializes a `T`, or `T::default()` for `null`.
    pub(in crate::wire) fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Default + Deserialize<'de>,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }
}

/// The default of a missing time field: the Unix epoch (what [`super::rfc3339`] decodes `null` to).
pub(super) fn epoch() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

/// Go's zero value, as tested by `omitempty`.
pub(super) trait Zero {
    /// True for the value `omitempty` leaves out.
    fn is_zero(&self) -> bool;
}

impl Zero for bool {
    fn is_zero(&self) -> bool {
        !*self
    }
}

impl Zero for String {
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl<K, V> Zero for BTreeMap<K, V> {
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

/// An optional context is zero when absent or empty (KES sends no `context` for empty associated data).
impl Zero for Option<Base64> {
    fn is_zero(&self) -> bool {
        self.as_ref().is_none_or(|b| b.is_empty())
    }
}

/// `skip_serializing_if` predicate: true for Go's zero value of `T`.
pub(super) fn is_zero<T: Zero>(value: &T) -> bool {
    value.is_zero()
}
