//! JSON request and response bodies of the KES API (`kes-api.md` §1.2–§1.4, the bulk-decrypt legacy route and the
//! key disable/enable extension, which has no body).
//!
//! Every type derives both `Serialize` and `Deserialize`: the server encodes them and the client decodes them (and
//! vice versa for requests). The encoding follows Go's `encoding/json` as used by KES:
//!
//! * byte fields are standard base64 **with** padding ([`Base64`], [`SecretBase64`] for plaintext and key material);
//!   decoding also accepts missing padding;
//! * `null` where a string, list or byte field is expected decodes to the empty value, and a missing field to its
//!   default, so old and new servers/clients interoperate;
//! * field names match Go's case-insensitive decoding for the spellings clients actually send (aliases such as
//!   `Plaintext`, `Context`, `Ciphertext`, `Key`, `Cipher`, `Message`); unknown fields are ignored;
//! * times are RFC 3339 with up to nanosecond precision (module [`rfc3339`]);
//! * fields that are `omitempty` in KES are skipped when empty.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Standard base64 alphabet; encodes with padding, decodes with or without it.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes as standard base64 with padding (the encoding of Go `[]byte` in JSON).
pub fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes standard base64 (padding optional).
///
/// # Errors
/// Returns the decoder's error on characters outside the standard alphabet or a bad length.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    B64.decode(text)
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Deserializes `null` as `T::default()` (Go decodes `null` into a zero value).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn epoch() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

// ---------------------------------------------------------------------------------------------------------------
// Byte fields
// ---------------------------------------------------------------------------------------------------------------

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Zeroizing<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        B64.decode(v)
            .map(Zeroizing::new)
            .map_err(|_| E::custom("invalid base64 data"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Zeroizing::new(Vec::new()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Zeroizing::new(Vec::new()))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(BytesVisitor)
    }
}

fn deserialize_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Zeroizing<Vec<u8>>, D::Error> {
    d.deserialize_option(BytesVisitor)
}

/// Non-secret bytes (ciphertexts, contexts, MACs) carried as a base64 JSON string.
///
/// `null` decodes to empty bytes.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Base64(pub Vec<u8>);

impl Base64 {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the wrapper.
    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl Deref for Base64 {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Base64 {
    fn from(v: Vec<u8>) -> Self {
        Base64(v)
    }
}

impl From<&[u8]> for Base64 {
    fn from(v: &[u8]) -> Self {
        Base64(v.to_vec())
    }
}

impl fmt::Debug for Base64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64({})", B64.encode(&self.0))
    }
}

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut z = deserialize_bytes(d)?;
        Ok(Base64(std::mem::take(&mut *z)))
    }
}

/// Secret bytes (plaintexts, data keys, imported keys) carried as a base64 JSON string.
///
/// The bytes live in [`Zeroizing`] memory, the base64 text built for serialization is zeroized too, and `Debug`
/// prints only the length. `null` decodes to empty bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBase64(pub Zeroizing<Vec<u8>>);

impl SecretBase64 {
    /// Wraps (takes ownership of) secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBase64(Zeroizing::new(bytes))
    }

    /// The raw secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the wrapper, keeping the bytes zeroizing.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl Deref for SecretBase64 {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for SecretBase64 {
    fn from(v: Vec<u8>) -> Self {
        SecretBase64::new(v)
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBase64 {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        SecretBase64(v)
    }
}

impl From<&[u8]> for SecretBase64 {
    fn from(v: &[u8]) -> Self {
        SecretBase64::new(v.to_vec())
    }
}

impl fmt::Debug for SecretBase64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBase64(<redacted {} bytes>)", self.0.len())
    }
}

impl Serialize for SecretBase64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(B64.encode(self.0.as_slice()));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for SecretBase64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SecretBase64(deserialize_bytes(d)?))
    }
}

/// Deserializes an optional context: absent, `null` and `""` all become `None`.
fn deserialize_context<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Base64>, D::Error> {
    let b = Base64::deserialize(d)?;
    Ok(if b.0.is_empty() { None } else { Some(b) })
}

fn context_is_empty(c: &Option<Base64>) -> bool {
    c.as_ref().is_none_or(|b| b.0.is_empty())
}

// ---------------------------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------------------------

/// Serde adapter for `time::OffsetDateTime` as RFC 3339 text with nanoseconds (Go `time.RFC3339Nano`).
///
/// Serialization converts to UTC first (so the offset is always `Z`); trailing zero digits of the fraction are
/// dropped, as Go does. Deserialization accepts any RFC 3339 offset; `null` decodes to the Unix epoch.
pub mod rfc3339 {
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
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = format(t).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Deserializes an RFC 3339 string (`null` → Unix epoch).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(OffsetDateTime::UNIX_EPOCH),
            Some(text) => OffsetDateTime::parse(&text, &Rfc3339).map_err(de::Error::custom),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Server information
// ---------------------------------------------------------------------------------------------------------------

/// `GET /version` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResponse {
    /// Server version, e.g. `2025-03-12T09-35-18Z`.
    #[serde(default, deserialize_with = "null_default")]
    pub version: String,
    /// Source commit id.
    #[serde(default, deserialize_with = "null_default")]
    pub commit: String,
}

/// `GET /v1/status` response (`kes-api.md` §1.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// Server version.
    #[serde(default, deserialize_with = "null_default")]
    pub version: String,
    /// Operating system, e.g. `linux`.
    #[serde(default, deserialize_with = "null_default")]
    pub os: String,
    /// CPU architecture, e.g. `amd64`.
    #[serde(default, deserialize_with = "null_default")]
    pub arch: String,
    /// Uptime in **seconds**.
    #[serde(default, deserialize_with = "null_default")]
    pub uptime: u64,
    /// Logical CPUs.
    #[serde(default, deserialize_with = "null_default")]
    pub num_cpu: u64,
    /// CPUs usable by the server.
    #[serde(default, deserialize_with = "null_default")]
    pub num_cpu_used: u64,
    /// Heap in use, bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub mem_heap_used: u64,
    /// Stack in use, bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub mem_stack_used: u64,
    /// Keystore status round trip in whole **milliseconds** (minimum 1); absent when unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore_latency: Option<u64>,
    /// True when the keystore status call failed.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "null_default"
    )]
    pub keystore_unreachable: bool,
    /// Legacy (2023) flag; current KES never sends it (see `kes-api.md` §1.3).
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "null_default"
    )]
    pub keystore_unavailable: bool,
}

/// One entry of the `GET /v1/api` response array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRoute {
    /// HTTP method the route declares (`GET`, `PUT`, `POST`, `DELETE`).
    #[serde(default, deserialize_with = "null_default")]
    pub method: String,
    /// Path, e.g. `/v1/key/create/` (subtree routes end in `/`).
    #[serde(default, deserialize_with = "null_default")]
    pub path: String,
    /// Maximum request body in bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub max_body: i64,
    /// Route timeout in whole seconds (0 = none).
    #[serde(default, deserialize_with = "null_default")]
    pub timeout: i64,
}

// ---------------------------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------------------------

/// `POST /v1/key/import/{name}` body. Accepts the legacy `{"bytes","algorithm"}` form too.
///
/// An empty `cipher` is the legacy "default" (the server treats it as AES256, `kes-api.md` decision table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportKeyRequest {
    /// The 32-byte key.
    #[serde(alias = "Key", alias = "bytes", alias = "Bytes")]
    pub key: SecretBase64,
    /// `AES256`, `ChaCha20` or a legacy spelling; may be empty.
    #[serde(
        default,
        alias = "Cipher",
        alias = "algorithm",
        alias = "Algorithm",
        deserialize_with = "null_default"
    )]
    pub cipher: String,
}

/// `GET /v1/key/describe/{name}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeKeyResponse {
    /// Key name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `AES256` or `ChaCha20` (legacy servers: `AES256-GCM_SHA256`, `XCHACHA20-POLY1305`).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub algorithm: String,
    /// Creation time.
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// Identity that created the key.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub created_by: String,
}

/// `GET /v1/key/list/{prefix}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListKeysResponse {
    /// Key names, sorted.
    #[serde(default, deserialize_with = "null_default")]
    pub names: Vec<String>,
    /// Where the next page starts; empty when this is the last page.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub continue_at: String,
}

/// `POST /v1/key/encrypt/{name}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptRequest {
    /// Plaintext to seal.
    #[serde(alias = "Plaintext")]
    pub plaintext: SecretBase64,
    /// Associated data; `None` when absent, `null` or `""`.
    #[serde(
        default,
        alias = "Context",
        skip_serializing_if = "context_is_empty",
        deserialize_with = "deserialize_context"
    )]
    pub context: Option<Base64>,
    /// Key version (accepted and ignored by the server).
    #[serde(default, alias = "Version", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `POST /v1/key/encrypt/{name}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptResponse {
    /// The ciphertext.
    #[serde(default, alias = "Ciphertext")]
    pub ciphertext: Base64,
}

/// `POST /v1/key/generate/{name}` body (the body itself is optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// Associated data; `None` when absent, `null` or `""`.
    #[serde(
        default,
        alias = "Context",
        skip_serializing_if = "context_is_empty",
        deserialize_with = "deserialize_context"
    )]
    pub context: Option<Base64>,
    /// Key version (accepted and ignored by the server).
    #[serde(default, alias = "Version", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
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

/// `POST /v1/key/decrypt/{name}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecryptRequest {
    /// Ciphertext (any of the three formats of `kes-api.md` §6).
    #[serde(default, alias = "Ciphertext")]
    pub ciphertext: Base64,
    /// Associated data; `None` when absent, `null` or `""`.
    #[serde(
        default,
        alias = "Context",
        skip_serializing_if = "context_is_empty",
        deserialize_with = "deserialize_context"
    )]
    pub context: Option<Base64>,
    /// Key version (accepted and ignored by the server).
    #[serde(default, alias = "Version", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `POST /v1/key/decrypt/{name}` response; also one element of the bulk-decrypt response array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecryptResponse {
    /// The plaintext.
    #[serde(default, alias = "Plaintext")]
    pub plaintext: SecretBase64,
}

/// One element of the `POST /v1/key/bulk/decrypt/{name}` request array (at most 1000 per request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkDecryptItem {
    /// Ciphertext.
    #[serde(default, alias = "Ciphertext")]
    pub ciphertext: Base64,
    /// Associated data; `None` when absent, `null` or `""`.
    #[serde(
        default,
        alias = "Context",
        skip_serializing_if = "context_is_empty",
        deserialize_with = "deserialize_context"
    )]
    pub context: Option<Base64>,
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

macro_rules! context_accessor {
    ($($t:ty),*) => {$(
        impl $t {
            /// The associated data; empty when none was given.
            pub fn context_bytes(&self) -> &[u8] {
                self.context.as_ref().map_or(&[], |c| c.as_bytes())
            }
        }
    )*};
}
context_accessor!(
    EncryptRequest,
    GenerateRequest,
    DecryptRequest,
    BulkDecryptItem
);

// ---------------------------------------------------------------------------------------------------------------
// Policies and identities
// ---------------------------------------------------------------------------------------------------------------

/// The JSON `{}` value of a policy rule (Go `struct{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// A set of policy path patterns: JSON `{"<pattern>":{}}`. Decoding also accepts the legacy array of strings.
pub type Rules = BTreeMap<String, Empty>;

fn deserialize_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Rules, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        Map(BTreeMap<String, de::IgnoredAny>),
        List(Vec<String>),
    }
    Ok(match Option::<Form>::deserialize(d)? {
        None => Rules::new(),
        Some(Form::Map(m)) => m.into_keys().map(|k| (k, Empty {})).collect(),
        Some(Form::List(l)) => l.into_iter().map(|k| (k, Empty {})).collect(),
    })
}

/// `GET /v1/policy/describe/{name}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribePolicyResponse {
    /// Policy name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Server start time (policies are static config).
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// The admin identity.
    #[serde(default, deserialize_with = "null_default")]
    pub created_by: String,
}

/// `GET /v1/policy/read/{name}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyResponse {
    /// Policy name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Allowed path patterns.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_rules"
    )]
    pub allow: Rules,
    /// Denied path patterns (deny wins).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_rules"
    )]
    pub deny: Rules,
    /// Server start time.
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// The admin identity.
    #[serde(default, deserialize_with = "null_default")]
    pub created_by: String,
}

/// `GET /v1/policy/list/{pattern}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPoliciesResponse {
    /// Policy names, sorted.
    #[serde(default, deserialize_with = "null_default")]
    pub names: Vec<String>,
    /// Always empty (no pagination for static config).
    #[serde(default, deserialize_with = "null_default")]
    pub continue_at: String,
}

/// `GET /v1/identity/describe/{identity}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeIdentityResponse {
    /// True for the admin identity.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "null_default"
    )]
    pub admin: bool,
    /// Name of the identity's policy (absent for the admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Server start time.
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// The admin identity (absent for the admin itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// `GET /v1/identity/list/{pattern}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListIdentitiesResponse {
    /// Identities (hex), sorted; includes the admin.
    #[serde(default, deserialize_with = "null_default")]
    pub identities: Vec<String>,
    /// Always empty.
    #[serde(default, deserialize_with = "null_default")]
    pub continue_at: String,
}

/// `GET /v1/identity/self/describe` response in the shape the current Go SDK decodes (`kes-api.md` §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfDescribeResponse {
    /// The caller's identity.
    #[serde(default, deserialize_with = "null_default")]
    pub identity: String,
    /// True when the caller is the admin.
    #[serde(
        default,
        skip_serializing_if = "is_false",
        deserialize_with = "null_default"
    )]
    pub admin: bool,
    /// Name of the caller's policy (absent for the admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The policy's allow rules.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_rules"
    )]
    pub allow: Rules,
    /// The policy's deny rules.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "deserialize_rules"
    )]
    pub deny: Rules,
    /// Server start time.
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// The admin identity (absent for the admin itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// Logs and errors
// ---------------------------------------------------------------------------------------------------------------

/// One line of the `GET /v1/log/audit` NDJSON stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When the request was answered.
    #[serde(default = "epoch", with = "rfc3339")]
    pub time: OffsetDateTime,
    /// The request.
    #[serde(default)]
    pub request: AuditRequest,
    /// The response.
    #[serde(default)]
    pub response: AuditResponse,
}

/// The request part of an [`AuditEvent`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRequest {
    /// Client IP address.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub ip: String,
    /// Request path.
    #[serde(default, deserialize_with = "null_default")]
    pub path: String,
    /// Client identity.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_default"
    )]
    pub identity: String,
}

/// The response part of an [`AuditEvent`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditResponse {
    /// HTTP status code.
    #[serde(default, deserialize_with = "null_default")]
    pub code: u16,
    /// Response time as an integer number of **milliseconds**.
    #[serde(default, deserialize_with = "null_default")]
    pub time: u64,
}

/// One line of the `GET /v1/log/error` NDJSON stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// The log record in Go slog text format.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
}

/// Body of every error response: `{"message":"…"}` with `Content-Type: application/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The canonical error text (`kes-api.md` §2.2).
    #[serde(default, alias = "Message", deserialize_with = "null_default")]
    pub message: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn base64_round_trip_with_padding() {
        let r = EncryptResponse {
            ciphertext: Base64(vec![1, 2, 3, 4]),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"ciphertext":"AQIDBA=="}"#);
        let back: EncryptResponse = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        // Unpadded input is accepted too.
        let back: EncryptResponse = serde_json::from_str(r#"{"ciphertext":"AQIDBA"}"#).unwrap();
        assert_eq!(back.ciphertext.as_bytes(), &[1, 2, 3, 4]);
    }

    #[test]
    fn bad_base64_is_an_error() {
        assert!(serde_json::from_str::<DecryptRequest>(r#"{"ciphertext":"!!!"}"#).is_err());
        assert!(serde_json::from_str::<DecryptRequest>(r#"{"ciphertext":5}"#).is_err());
    }

    #[test]
    fn context_absent_null_and_empty_are_none() {
        for body in [
            r#"{"plaintext":"AAE="}"#,
            r#"{"plaintext":"AAE=","context":null}"#,
            r#"{"plaintext":"AAE=","context":""}"#,
        ] {
            let r: EncryptRequest = serde_json::from_str(body).unwrap();
            assert_eq!(r.context, None, "{body}");
            assert_eq!(r.context_bytes(), b"");
            assert_eq!(r.plaintext.as_bytes(), &[0, 1]);
        }
        let r: EncryptRequest =
            serde_json::from_str(r#"{"plaintext":"AAE=","context":"Y3R4"}"#).unwrap();
        assert_eq!(r.context_bytes(), b"ctx");
    }

    #[test]
    fn empty_context_and_version_are_omitted() {
        let r = GenerateRequest::default();
        assert_eq!(serde_json::to_string(&r).unwrap(), "{}");
        let r = DecryptRequest {
            ciphertext: Base64(vec![0]),
            context: Some(Base64(vec![])),
            version: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"ciphertext":"AA=="}"#
        );
        let r = DecryptRequest {
            ciphertext: Base64(vec![0]),
            context: Some(Base64(b"c".to_vec())),
            version: Some("v1".into()),
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"ciphertext":"AA==","context":"Yw==","version":"v1"}"#
        );
    }

    #[test]
    fn capitalised_field_names_and_unknown_fields() {
        let r: DecryptRequest = serde_json::from_str(
            r#"{"Ciphertext":"AA==","Context":"Yw==","extra":1,"Version":"x"}"#,
        )
        .unwrap();
        assert_eq!(r.ciphertext.as_bytes(), &[0]);
        assert_eq!(r.context_bytes(), b"c");
        assert_eq!(r.version.as_deref(), Some("x"));
        let r: HmacRequest = serde_json::from_str(r#"{"Message":"bXNn"}"#).unwrap();
        assert_eq!(r.message.as_bytes(), b"msg");
        let r: EncryptRequest = serde_json::from_str(r#"{"Plaintext":"bXNn"}"#).unwrap();
        assert_eq!(r.plaintext.as_bytes(), b"msg");
    }

    #[test]
    fn import_accepts_current_and_legacy_bodies() {
        let key = vec![7u8; 32];
        let k64 = b64_encode(&key);
        let cur: ImportKeyRequest =
            serde_json::from_value(json!({"key": k64, "cipher": "AES256"})).unwrap();
        assert_eq!(cur.key.as_bytes(), key.as_slice());
        assert_eq!(cur.cipher, "AES256");
        let leg: ImportKeyRequest = serde_json::from_value(json!({"bytes": k64})).unwrap();
        assert_eq!(leg.key.as_bytes(), key.as_slice());
        assert_eq!(leg.cipher, "");
        let leg: ImportKeyRequest =
            serde_json::from_value(json!({"bytes": k64, "algorithm": "XCHACHA20-POLY1305"}))
                .unwrap();
        assert_eq!(leg.cipher, "XCHACHA20-POLY1305");
        let cap: ImportKeyRequest =
            serde_json::from_value(json!({"Key": k64, "Cipher": "ChaCha20"})).unwrap();
        assert_eq!(cap.cipher, "ChaCha20");
        // Like Go, a missing key decodes as empty; the server then answers 406 `invalid key size`.
        let missing: ImportKeyRequest =
            serde_json::from_value(json!({"cipher": "AES256"})).unwrap();
        assert!(missing.key.is_empty());
        assert_eq!(
            serde_json::to_value(&cur).unwrap(),
            json!({"key": k64, "cipher": "AES256"})
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = SecretBase64::new(b"top secret".to_vec());
        let d = format!(
            "{:?}",
            GenerateResponse {
                plaintext: s,
                ciphertext: Base64(vec![1])
            }
        );
        assert!(!d.contains("top secret"));
        assert!(!d.contains(&b64_encode(b"top secret")));
        assert!(d.contains("redacted 10 bytes"));
    }

    #[test]
    fn status_omits_empty_optional_fields() {
        let s = StatusResponse {
            version: "v".into(),
            os: "linux".into(),
            arch: "amd64".into(),
            uptime: 3,
            num_cpu: 2,
            num_cpu_used: 2,
            mem_heap_used: 10,
            mem_stack_used: 20,
            keystore_latency: None,
            keystore_unreachable: false,
            keystore_unavailable: false,
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            json!({"version":"v","os":"linux","arch":"amd64","uptime":3,"num_cpu":2,"num_cpu_used":2,
                   "mem_heap_used":10,"mem_stack_used":20})
        );
        let s2 = StatusResponse {
            keystore_latency: Some(1),
            keystore_unreachable: true,
            ..s
        };
        let v = serde_json::to_value(&s2).unwrap();
        assert_eq!(v["keystore_latency"], 1);
        assert_eq!(v["keystore_unreachable"], true);
        assert!(v.get("keystore_unavailable").is_none());
        assert_eq!(serde_json::from_value::<StatusResponse>(v).unwrap(), s2);
    }

    #[test]
    fn times_are_rfc3339_nano_utc() {
        let d = DescribeKeyResponse {
            name: "k".into(),
            algorithm: "AES256".into(),
            created_at: datetime!(2024-01-02 03:04:05.123456789 UTC),
            created_by: "id".into(),
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["created_at"], "2024-01-02T03:04:05.123456789Z");
        assert_eq!(serde_json::from_value::<DescribeKeyResponse>(v).unwrap(), d);
        // Go trims trailing zeros of the fraction, and a non-UTC offset is converted.
        let t = datetime!(2024-01-02 05:04:05.5 +02:00);
        assert_eq!(rfc3339::format(&t).unwrap(), "2024-01-02T03:04:05.5Z");
        let parsed: DescribePolicyResponse = serde_json::from_str(
            r#"{"name":"p","created_at":"2024-01-02T05:04:05.5+02:00","created_by":"a"}"#,
        )
        .unwrap();
        assert_eq!(parsed.created_at, t);
        assert!(
            serde_json::from_str::<DescribePolicyResponse>(
                r#"{"name":"p","created_at":"yesterday"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn list_responses_tolerate_null() {
        let l: ListKeysResponse = serde_json::from_str(r#"{"names":null}"#).unwrap();
        assert!(l.names.is_empty());
        assert_eq!(l.continue_at, "");
        let l = ListKeysResponse {
            names: vec!["a".into()],
            continue_at: String::new(),
        };
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"{"names":["a"]}"#);
        let l = ListIdentitiesResponse {
            identities: vec!["x".into()],
            continue_at: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"identities":["x"],"continue_at":""}"#
        );
    }

    #[test]
    fn policy_rules_map_and_legacy_list() {
        let p = PolicyResponse {
            name: "p".into(),
            allow: [("/v1/key/*".to_string(), Empty {})].into_iter().collect(),
            deny: Rules::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: "a".into(),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            json!({"name":"p","allow":{"/v1/key/*":{}},"created_at":"1970-01-01T00:00:00Z","created_by":"a"})
        );
        assert_eq!(serde_json::from_value::<PolicyResponse>(v).unwrap(), p);
        let legacy: PolicyResponse = serde_json::from_str(
            r#"{"name":"p","allow":["/v1/key/*"],"deny":null,"created_at":"1970-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(legacy.allow, p.allow);
        assert!(legacy.deny.is_empty());
    }

    #[test]
    fn identity_shapes() {
        let admin = DescribeIdentityResponse {
            admin: true,
            policy: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: None,
        };
        assert_eq!(
            serde_json::to_value(&admin).unwrap(),
            json!({"admin":true,"created_at":"1970-01-01T00:00:00Z"})
        );
        let other = DescribeIdentityResponse {
            admin: false,
            policy: Some("p".into()),
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: Some("a".into()),
        };
        let v = serde_json::to_value(&other).unwrap();
        assert_eq!(
            v,
            json!({"policy":"p","created_at":"1970-01-01T00:00:00Z","created_by":"a"})
        );
        assert_eq!(
            serde_json::from_value::<DescribeIdentityResponse>(v).unwrap(),
            other
        );

        let me = SelfDescribeResponse {
            identity: "id".into(),
            admin: false,
            policy: Some("p".into()),
            allow: [("/v1/status".to_string(), Empty {})].into_iter().collect(),
            deny: Rules::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: Some("a".into()),
        };
        let v = serde_json::to_value(&me).unwrap();
        assert_eq!(
            v,
            json!({"identity":"id","policy":"p","allow":{"/v1/status":{}},"created_at":"1970-01-01T00:00:00Z","created_by":"a"})
        );
        assert_eq!(
            serde_json::from_value::<SelfDescribeResponse>(v).unwrap(),
            me
        );
    }

    #[test]
    fn audit_event_shape() {
        let e = AuditEvent {
            time: datetime!(2025-03-12 09:35:18 UTC),
            request: AuditRequest {
                ip: "127.0.0.1".into(),
                path: "/v1/key/create/k".into(),
                identity: "abc".into(),
            },
            response: AuditResponse { code: 200, time: 3 },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({"time":"2025-03-12T09:35:18Z","request":{"ip":"127.0.0.1","path":"/v1/key/create/k","identity":"abc"},
                   "response":{"code":200,"time":3}})
        );
        assert_eq!(serde_json::from_value::<AuditEvent>(v).unwrap(), e);
    }

    #[test]
    fn bulk_and_api_shapes() {
        let items: Vec<BulkDecryptItem> = serde_json::from_str(
            r#"[{"ciphertext":"AA==","context":"Yw=="},{"ciphertext":"AQ=="}]"#,
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].context_bytes(), b"c");
        assert_eq!(items[1].context_bytes(), b"");
        let routes: Vec<ApiRoute> = serde_json::from_str(
            r#"[{"method":"GET","path":"/version","max_body":0,"timeout":10,"verify_auth":false}]"#,
        )
        .unwrap();
        assert_eq!(routes[0].path, "/version");
        assert_eq!(routes[0].timeout, 10);
        let e: ErrorResponse =
            serde_json::from_str("{\"message\":\"key already exists\"\n}").unwrap();
        assert_eq!(e.message, "key already exists");
    }
}
