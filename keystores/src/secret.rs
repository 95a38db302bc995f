//! [`Secret`]: a credential from a keystore's config section (an AppRole
//! secret ID, a secret access key, a client secret, a private key).

use std::fmt;

use zeroize::Zeroizing;

/// A secret string: wiped when dropped, never shown by `Debug`, compared
/// without an early exit on the first differing byte (only the length leaks).
#[derive(Clone)]
pub(crate) struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of `s`; it is wiped when the last clone is dropped.
    pub(crate) fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }

    /// The secret text, for handing to a client library.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}
