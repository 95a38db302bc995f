//! Key management and cryptographic operations: import, describe, list, encrypt, generate, decrypt, bulk decrypt
//! and HMAC (`kes-api.md` §1.2, the legacy bulk-decrypt route), and the lifecycle extension's rotate, rewrap and
//! describe (`kes-api.md` "Extension: key versions, rotation, rewrap"). Create, delete, disable and enable have no
//! body.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::b64::{Base64, SecretBase64, context};
use super::go::{epoch, is_zero, nullable};
use super::rfc3339;

/// `POST /v1/key/import/{name}` body. Accepts the legacy `{"bytes","algorithm"}` form too.
///
/// An empty `cipher` is the legacy "default" (the server treats it as AES256, `kes-api.md` decision table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportKeyRequest {
    /// The 32-byte key.
    #[serde(alias = "Key", alias = "bytes", alias = "Bytes")]
    pub key: SecretBase64,
    /// `AES256`, `ChaCha20` or a legacy spelling; may be empty.
    #[serde(alias = "Cipher", alias = "algorithm", alias = "Algorithm")]
    #[serde(default, with = "nullable")]
    pub cipher: String,
}

/// `GET /v1/key/describe/{name}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeKeyResponse {
    /// Key name.
    #[serde(default, with = "nullable")]
    pub name: String,
    /// `AES256` or `ChaCha20` (legacy servers: `AES256-GCM_SHA256`, `XCHACHA20-POLY1305`).
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
    pub algorithm: String,
    /// Creation time.
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// Identity that created the key.
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
    pub created_by: String,
}

/// `GET /v1/key/list/{prefix}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListKeysResponse {
    /// Key names, sorted.
    #[serde(default, with = "nullable")]
    pub names: Vec<String>,
    /// Where the next page starts; empty when this is the last page.
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
    pub continue_at: String,
}

/// Declares the request bodies that carry associated data: each gets its own fields, then `context` (read it with
/// `context_bytes()`), then, where `+ version` is given, the key version the server accepts and ignores. The field
/// order is the JSON order.
macro_rules! context_requests {
    ($(
        $(#[$doc:meta])*
        pub struct $name:ident { $($fields:tt)* } $(+ $version:ident)?;
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name {
            $($fields)*
            /// Associated data; `None` when absent, `null` or `""`.
            #[serde(default, alias = "Context", with = "context")]
            #[serde(skip_serializing_if = "is_zero")]
            pub context: Option<Base64>,
            $(
                /// Key version (accepted and ignored by the server).
                #[serde(default, alias = "Version", skip_serializing_if = "Option::is_none")]
                pub $version: Option<String>,
            )?
        }

        impl $name {
            /// The associated data; empty when none was given.
            pub fn context_bytes(&self) -> &[u8] {
                self.context.as_ref().map_or(&[], |c| c.as_bytes())
            }
        }
    )*};
}

context_requests! {
    /// `POST /v1/key/encrypt/{name}` body.
    pub struct EncryptRequest {
        /// Plaintext to seal.
        #[serde(alias = "Plaintext")]
        pub plaintext: SecretBase64,
    } + version;

    /// `POST /v1/key/generate/{name}` body (the body itself is optional).
    pub struct GenerateRequest {} + version;

    /// `POST /v1/key/decrypt/{name}` body.
    pub struct DecryptRequest {
        /// Ciphertext (any of the three formats of `kes-api.md` §6).
        #[serde(default, alias = "Ciphertext")]
        pub ciphertext: Base64,
    } + version;

    /// One element of the `POST /v1/key/bulk/decrypt/{name}` request array (at most 1000 per request).
    pub struct BulkDecryptItem {
        /// Ciphertext.
        #[serde(default, alias = "Ciphertext")]
        pub ciphertext: Base64,
    };

    /// `PUT|POST /v1/ext/key/rewrap/{name}` body (extension): a ciphertext of any version of the key and its
    /// context; the answer ([`RewrapResponse`]) is the same plaintext sealed under the newest version with the same
    /// context.
    pub struct RewrapRequest {
        /// Ciphertext (any version, any format decrypt accepts).
        #[serde(default, alias = "Ciphertext")]
        pub ciphertext: Base64,
    };
}

/// `PUT|POST /v1/ext/key/rewrap/{name}` response (extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapResponse {
    /// The ciphertext under the newest version.
    #[serde(default, alias = "Ciphertext")]
    pub ciphertext: Base64,
}

/// `PUT|POST /v1/ext/key/rotate/{name}` response (extension).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotateKeyResponse {
    /// The number of the version just added (the key as created is version 0).
    #[serde(default, alias = "Version")]
    pub version: u32,
}

/// One version in [`DescribeKeyExtResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVersionInfo {
    /// Version number: 0 for the key as created or imported, then 1, 2, … per rotation.
    #[serde(default)]
    pub version: u32,
    /// When the version was made (Go's zero time when the stored key records none).
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// Identity that made it (empty when not recorded).
    #[serde(default, with = "nullable")]
    pub created_by: String,
}

/// `GET /v1/ext/key/describe/{name}` response (extension): the key as created (version 0), its state and every
/// version, newest last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeKeyExtResponse {
    /// Key name.
    #[serde(default, with = "nullable")]
    pub name: String,
    /// Algorithm of version 0 (`AES256` or `ChaCha20`; versions added by rotation are AES256).
    #[serde(default, with = "nullable")]
    pub algorithm: String,
    /// Creation time of version 0.
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// Identity that created version 0.
    #[serde(default, with = "nullable")]
    pub created_by: String,
    /// `false` while the key is disabled.
    #[serde(default)]
    pub enabled: bool,
    /// Every version, oldest first.
    #[serde(default, with = "nullable")]
    pub versions: Vec<KeyVersionInfo>,
}

/// `POST /v1/key/encrypt/{name}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptResponse {
    /// The ciphertext.
    #[serde(default, alias = "Ciphertext")]
    pub ciphertext: Base64,
}

/// `POST /v1/key/generate/{name}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateResponse {
    /// The 32-byte data key.
    #[serde(default, alias = "Plaintext")]
    pub plaintext: SecretBase64,
    /// The data key sealed with the named key.
    #[serde(default, alias = "Ciphertext")]
    pub ciphertext: Base64,
}

/// `POST /v1/key/decrypt/{name}` response; also one element of the bulk-decrypt response array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecryptResponse {
    /// The plaintext.
    #[serde(default, alias = "Plaintext")]
    pub plaintext: SecretBase64,
}

/// `PUT /v1/key/hmac/{name}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HmacRequest {
    /// Message to authenticate.
    #[serde(default, alias = "Message")]
    pub message: Base64,
    /// Key version (accepted and ignored by the server).
    #[serde(default, alias = "Version", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `PUT /v1/key/hmac/{name}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HmacResponse {
    /// HMAC-SHA256, 32 bytes.
    #[serde(default, alias = "Hmac", alias = "HMAC")]
    pub hmac: Base64,
}
