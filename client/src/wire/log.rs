//! Log streams and errors: the NDJSON lines of `GET /v1/log/audit` and `GET /v1/log/error`, and the body of every
//! error response (`kes-api.md` §1.2, §2.1).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::go::{epoch, is_zero, nullable};
use super::rfc3339;

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
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
    pub ip: String,
    /// Request path.
    #[serde(default, with = "nullable")]
    pub path: String,
    /// Client identity.
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
    pub identity: String,
}

/// The response part of an [`AuditEvent`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditResponse {
    /// HTTP status code.
    #[serde(default, with = "nullable")]
    pub code: u16,
    /// Response time as an integer number of **milliseconds**.
    #[serde(default, with = "nullable")]
    pub time: u64,
}

/// One line of the `GET /v1/log/error` NDJSON stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// The log record in Go slog text format.
    #[serde(default, with = "nullable")]
    pub message: String,
}

/// Body of every error response: `{"message":"…"}` with `Content-Type: application/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The canonical error text (`kes-api.md` §2.2).
    #[serde(default, alias = "Message", with = "nullable")]
    pub message: String,
}
