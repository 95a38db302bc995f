//! What K/V v1 and v2 share: where a key lives, how a value is stored in
//! the secret (KES's layout), and transit wrapping.
//!
//! # Layout of one key (KES's)
//! The secret at `<prefix>/<name>` inside the mount holds one field named
//! after the key whose string value is the encoded key
//! (`{"my-key": "<base64 protobuf>"}`). With `transit:` configured the
//! string is the transit ciphertext of the value (`vault:v1:…`, the
//! plaintext sent to transit being base64 of the value, as KES does); a
//! value starting with `vault:v1:` is unwrapped on read, one without is
//! returned as is (written before transit was enabled).
//!
//! Our extension: a value that is not UTF-8 (the server never writes one,
//! KES neither) is stored base64-encoded with a second field
//! `".encoding": "base64"`. `.` cannot occur in a key name, so this field
//! never collides with a key's field.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use vaultrs::client::VaultClient;
use vaultrs::error::ClientError;
use zeroize::Zeroizing;

use super::auth::Session;
use super::config::Transit;
use super::error::{Failure, classify};
use crate::{Error, Page, list_page, validate_name};

/// The prefix of a transit ciphertext.
pub(super) const TRANSIT_PREFIX: &str = "vault:v1:";
/// The field marking a base64-stored (non-UTF-8) value, and its value.
const ENCODING_FIELD: &str = ".encoding";
const BASE64: &str = "base64";

/// Mount, folder and transit settings shared by both K/V versions.
pub(super) struct Kv {
    /// The K/V mount.
    pub(super) engine: String,
    /// The folder inside the mount ("" = top level).
    pub(super) prefix: String,
    pub(super) transit: Option<Transit>,
}

/// One operation's view: the settings, the client with the current token,
/// and the session to nudge when Vault answers 403.
pub(super) struct Ctx<'a> {
    pub(super) kv: &'a Kv,
    pub(super) client: Arc<VaultClient>,
    pub(super) session: &'a Session,
}

impl Ctx<'_> {
    /// Classifies a failed call; a 403 also nudges the token renewal.
    pub(super) fn failure(&self, err: &ClientError) -> Failure {
        let failure = classify(err);
        if matches!(failure, Failure::Denied(_)) {
            self.session.nudge();
        }
        failure
    }

    /// [`Ctx::failure`] as a keystore error.
    pub(super) fn error(&self, err: &ClientError, op: &str, location: &str) -> Error {
        self.failure(err).into_error(op, location)
    }

    /// The error for a failed existence check before a delete of `location`:
    /// a missing entry is [`Error::NotFound`].
    pub(super) fn missing_on_delete(&self, err: &ClientError, location: &str) -> Error {
        match self.failure(err) {
            Failure::Missing => Error::NotFound,
            other => other.into_error("delete", location),
        }
    }

    /// One page of the names a K/V list call returned (see [`page`]); a
    /// missing folder (no key written yet) is an empty page.
    pub(super) fn list_page(
        &self,
        listed: Result<Vec<String>, ClientError>,
        location: &str,
        (prefix, continue_at, limit): (&str, &str, usize),
    ) -> Result<Page, Error> {
        match listed {
            Ok(keys) => Ok(page(keys, prefix, continue_at, limit)),
            Err(err) => match self.failure(&err) {
                Failure::Missing => Ok(Page::default()),
                other => Err(other.into_error("list", location)),
            },
        }
    }
}

/// The fields of one stored secret, ready to send.
pub(super) struct Fields {
    text: Zeroizing<String>,
    base64: bool,
}

impl Fields {
    /// The secret's data map for key `name`.
    pub(super) fn map<'a>(&'a self, name: &'a str) -> HashMap<&'a str, &'a str> {
        let mut map = HashMap::from([(name, self.text.as_str())]);
        if self.base64 {
            map.insert(ENCODING_FIELD, BASE64);
        }
        map
    }

    /// The stored text (what K/V v1 revisions digest).
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Whether the text is base64 of a non-UTF-8 value.
    pub(super) fn is_base64(&self) -> bool {
        self.base64
    }
}

impl Kv {
    /// The path of `name` inside the mount: `<prefix>/<name>`.
    pub(super) fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// The full Vault path, for messages: `<engine>/<middle>/<prefix>/<name>`
    /// (`middle` is `data` or `metadata` on v2, empty on v1).
    pub(super) fn location(&self, middle: &str, name: &str) -> String {
        [self.engine.as_str(), middle, self.prefix.as_str(), name]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Reads the fields of key `name` out of a secret's data map.
    pub(super) fn fields(&self, data: &Value, name: &str, location: &str) -> Result<Fields, Error> {
        let text = match data.get(name) {
            Some(Value::String(s)) => Zeroizing::new(s.clone()),
            Some(_) => {
                return Err(Error::backend(format!(
                    "vault: failed to read '{location}': the field '{name}' is not a string"
                )));
            }
            None => {
                return Err(Error::backend(format!(
                    "vault: failed to read '{location}': entry exists but no secret key is present"
                )));
            }
        };
        let base64 = data.get(ENCODING_FIELD).and_then(Value::as_str) == Some(BASE64);
        Ok(Fields { text, base64 })
    }
}

impl Ctx<'_> {
    /// Turns a value into the fields to store (wrapping it with transit if
    /// configured).
    pub(super) async fn seal(&self, value: &[u8]) -> Result<Fields, Error> {
        if let Some(transit) = &self.kv.transit {
            let plaintext = Zeroizing::new(B64.encode(value));
            let location = format!("{}/encrypt/{}", transit.engine, transit.key);
            let res = vaultrs::transit::data::encrypt(
                &*self.client,
                &transit.engine,
                &transit.key,
                &plaintext,
                None,
            )
            .await
            .map_err(|e| self.error(&e, "encrypt a key with", &location))?;
            if !res.ciphertext.starts_with(TRANSIT_PREFIX) {
                return Err(Error::backend(format!(
                    "vault: failed to encrypt a key with '{location}': unexpected ciphertext format"
                )));
            }
            return Ok(Fields {
                text: Zeroizing::new(res.ciphertext),
                base64: false,
            });
        }
        Ok(match std::str::from_utf8(value) {
            Ok(text) => Fields {
                text: Zeroizing::new(text.to_owned()),
                base64: false,
            },
            Err(_) => Fields {
                text: Zeroizing::new(B64.encode(value)),
                base64: true,
            },
        })
    }

    /// The value the fields hold (unwrapping transit ciphertext).
    pub(super) async fn open(
        &self,
        fields: &Fields,
        location: &str,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let decode = |text: &str, what: &str| {
            B64.decode(text).map(Zeroizing::new).map_err(|e| {
                Error::backend(format!("vault: failed to read '{location}': {what}: {e}"))
            })
        };
        if fields.text.starts_with(TRANSIT_PREFIX) {
            let Some(transit) = &self.kv.transit else {
                return Err(Error::backend(format!(
                    "vault: failed to read '{location}': key is encrypted with vault transit key (no transit configured)"
                )));
            };
            let at = format!("{}/decrypt/{}", transit.engine, transit.key);
            let res = vaultrs::transit::data::decrypt(
                &*self.client,
                &transit.engine,
                &transit.key,
                &fields.text,
                None,
            )
            .await
            .map_err(|e| self.error(&e, "decrypt a key with", &at))?;
            let plaintext = Zeroizing::new(res.plaintext);
            return decode(&plaintext, "invalid transit plaintext");
        }
        if fields.base64 {
            return decode(&fields.text, "invalid base64 value");
        }
        Ok(Zeroizing::new(fields.text.as_bytes().to_vec()))
    }
}

/// One page of a LIST answer: sub-folders (`x/`) and names that are not
/// key names are left out.
pub(super) fn page(keys: Vec<String>, prefix: &str, continue_at: &str, limit: usize) -> Page {
    let names = keys.into_iter().filter(|k| validate_name(k).is_ok());
    list_page(names, prefix, continue_at, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(prefix: &str) -> Kv {
        Kv {
            engine: "kv".to_owned(),
            prefix: prefix.to_owned(),
            transit: None,
        }
    }

    #[test]
    fn paths_follow_kes() {
        assert_eq!(kv("").path("k"), "k");
        assert_eq!(kv("a/b").path("k"), "a/b/k");
        assert_eq!(kv("").location("data", "k"), "kv/data/k");
        assert_eq!(kv("kes").location("metadata", "k"), "kv/metadata/kes/k");
        assert_eq!(kv("kes").location("", "k"), "kv/kes/k");
    }

    #[test]
    fn listing_skips_folders_and_foreign_names() {
        let keys = ["b", "a/", "a", "x.y", "c"].map(str::to_owned).to_vec();
        assert_eq!(page(keys, "", "", 0).names, ["a", "b", "c"]);
    }

    #[test]
    fn fields_of_kes_layout_and_of_binary_values() {
        let store = kv("");
        let data = serde_json::json!({"k": "c2VjcmV0", "other": 1});
        let f = store
            .fields(&data, "k", "kv/k")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((f.text(), f.is_base64()), ("c2VjcmV0", false));
        assert_eq!(f.map("k"), HashMap::from([("k", "c2VjcmV0")]));

        let data = serde_json::json!({"k": "/w==", ".encoding": "base64"});
        let f = store
            .fields(&data, "k", "kv/k")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(f.is_base64());
        assert_eq!(f.map("k").get(".encoding"), Some(&"base64"));

        for bad in [
            serde_json::json!({"other": "x"}),
            serde_json::json!({"k": 1}),
        ] {
            assert!(matches!(
                store.fields(&bad, "k", "kv/k"),
                Err(Error::Backend(_))
            ));
        }
    }
}
