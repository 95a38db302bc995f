//! [`Text`]: how backends' config sections read string fields.

use serde::{Deserialize, Deserializer};

/// A YAML scalar read as text, whatever its type (`path: 2024` is a path
/// too), as KES's typed decoding does for string fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(pub(crate) String);

impl Text {
    /// The trimmed text, or `None` if it is empty.
    #[cfg_attr(
        not(any(feature = "fs", feature = "vault", feature = "gcp", feature = "aws")),
        allow(dead_code, reason = "used by backends")
    )]
    pub(crate) fn non_empty(&self) -> Option<&str> {
        Some(self.0.trim()).filter(|s| !s.is_empty())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Any {
            S(String),
            B(bool),
            I(i64),
            F(f64),
        }
        Ok(Text(match Option::<Any>::deserialize(d)? {
            None => String::new(),
            Some(Any::S(s)) => s,
            Some(Any::B(b)) => b.to_string(),
            Some(Any::I(i)) => i.to_string(),
            Some(Any::F(f)) => f.to_string(),
        }))
    }
}
