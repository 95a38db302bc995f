//! [`Revision`], the opaque token of a conditional update, and [`Versioned`],
//! a value together with its revision.
//!
//! Each backend chooses what a revision is: the memory store a store-wide
//! counter, the fs store a SHA-256 digest of the value, Vault K/V v2 the
//! secret's version, AWS the `VersionId`. Callers only compare revisions for
//! equality and hand them back to [`Keystore::update`](crate::Keystore::update).

use std::fmt;

use zeroize::Zeroizing;

/// The revision of a stored value, as returned by
/// [`Keystore::get_versioned`](crate::Keystore::get_versioned) and
/// [`Keystore::update`](crate::Keystore::update).
///
/// Opaque bytes chosen by the backend; two revisions of one name in one store
/// are equal exactly when the backend considers the stored value unchanged.
/// Not secret: `Debug` shows the bytes in hex.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Revision(Box<[u8]>);

impl Revision {
    /// Wraps the backend's token.
    pub fn from_bytes(bytes: impl Into<Box<[u8]>>) -> Self {
        Revision(bytes.into())
    }

    /// The backend's token.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Revision(")?;
        for b in self.0.iter() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// A stored value and the revision of exactly that value.
pub struct Versioned {
    /// The value (wiped when dropped).
    pub value: Zeroizing<Vec<u8>>,
    /// Its revision, to pass to [`Keystore::update`](crate::Keystore::update).
    pub revision: Revision,
}

impl fmt::Debug for Versioned {
    /// Shows the value's length and the revision, never the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Versioned")
            .field("value_len", &self.value.len())
            .field("revision", &self.revision)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_revision_but_not_the_value() {
        let v = Versioned {
            value: Zeroizing::new(b"secret-value".to_vec()),
            revision: Revision::from_bytes(vec![0x01, 0xab]),
        };
        let debug = format!("{v:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("Revision(01ab)"), "{debug}");
        assert!(debug.contains("value_len: 12"), "{debug}");
        assert_eq!(v.revision.as_bytes(), [0x01, 0xab]);
        assert_ne!(v.revision, Revision::from_bytes(vec![0x01]));
    }
}
