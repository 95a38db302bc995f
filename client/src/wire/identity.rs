//! Identities: the `GET /v1/identity/{describe,list,self/describe}` responses (`kes-api.md` §1.2, §1.4).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::go::{epoch, is_zero, nullable};
use super::policy::{Rules, rules};
use super::rfc3339;

/// `GET /v1/identity/describe/{identity}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeIdentityResponse {
    /// True for the admin identity.
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
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
    #[serde(default, with = "nullable")]
    pub identities: Vec<String>,
    /// Always empty.
    #[serde(default, with = "nullable")]
    pub continue_at: String,
}

/// `GET /v1/identity/self/describe` response in the shape the current Go SDK decodes (`kes-api.md` §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfDescribeResponse {
    /// The caller's identity.
    #[serde(default, with = "nullable")]
    pub identity: String,
    /// True when the caller is the admin.
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
    pub admin: bool,
    /// Name of the caller's policy (absent for the admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The policy's allow rules.
    #[serde(default, skip_serializing_if = "is_zero", deserialize_with = "rules")]
    pub allow: Rules,
    /// The policy's deny rules.
    #[serde(default, skip_serializing_if = "is_zero", deserialize_with = "rules")]
    pub deny: Rules,
    /// Server start time.
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// The admin identity (absent for the admin itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}
