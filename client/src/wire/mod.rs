//! JSON request and response bodies of the KES API (`kes-api.md` §1.2–§1.4, the bulk-decrypt legacy route and the
//! key lifecycle extension: disable/enable have no body; rotate, rewrap and the extension describe do).
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
//!
//! # Layout
//!
//! * `b64` — [`Base64`], [`SecretBase64`], [`b64_encode`]/[`b64_decode`] and the optional `context` field adapter.
//! * `go` — Go semantics named for serde attributes: `nullable`, `is_zero` (`omitempty`), `epoch`.
//! * [`rfc3339`] — the time adapter.
//! * `status` — `/version`, `/v1/status`, `/v1/api`.
//! * `key` — key management and cryptographic operations.
//! * `policy` — [`Empty`], [`Rules`] and the policy responses.
//! * `identity` — the identity responses.
//! * `log` — audit and error log events, and [`ErrorResponse`].

mod b64;
mod go;
mod identity;
mod key;
mod log;
mod policy;
pub mod rfc3339;
mod status;
#[cfg(test)]
mod tests;

pub use b64::{Base64, SecretBase64, b64_decode, b64_encode};
pub use identity::{DescribeIdentityResponse, ListIdentitiesResponse, SelfDescribeResponse};
pub use key::{
    BulkDecryptItem, DecryptRequest, DecryptResponse, DescribeKeyExtResponse, DescribeKeyResponse,
    EncryptRequest, EncryptResponse, GenerateRequest, GenerateResponse, HmacRequest, HmacResponse,
    ImportKeyRequest, KeyVersionInfo, ListKeysResponse, RewrapRequest, RewrapResponse,
    RotateKeyResponse,
};
pub use log::{AuditEvent, AuditRequest, AuditResponse, ErrorEvent, ErrorResponse};
pub use policy::{DescribePolicyResponse, Empty, ListPoliciesResponse, PolicyResponse, Rules};
pub use status::{ApiRoute, StatusResponse, VersionResponse};
