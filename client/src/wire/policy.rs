//! Policies: the rule sets and the `GET /v1/policy/{describe,read,list}` responses (`kes-api.md` §1.2, §4).

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::go::{epoch, is_zero, nullable};
use super::rfc3339;

/// The JSON `{}` value of a policy rule (Go `struct{}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// A set of policy path patterns: JSON `{"<pattern>":{}}`. Decoding also accepts the legacy array of strings.
pub type Rules = BTreeMap<String, Empty>;

/// Deserializes [`Rules`] from the current map form, the legacy list form or `null` (no rules).
pub(super) fn rules<'de, D: Deserializer<'de>>(d: D) -> Result<Rules, D::Error> {
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
    #[serde(default, with = "nullable")]
    pub name: String,
    /// Server start time (policies are static config).
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// The admin identity.
    #[serde(default, with = "nullable")]
    pub created_by: String,
}

/// `GET /v1/policy/read/{name}` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyResponse {
    /// Policy name.
    #[serde(default, with = "nullable")]
    pub name: String,
    /// Allowed path patterns.
    #[serde(default, skip_serializing_if = "is_zero", deserialize_with = "rules")]
    pub allow: Rules,
    /// Denied path patterns (deny wins).
    #[serde(default, skip_serializing_if = "is_zero", deserialize_with = "rules")]
    pub deny: Rules,
    /// Server start time.
    #[serde(default = "epoch", with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// The admin identity.
    #[serde(default, with = "nullable")]
    pub created_by: String,
}

/// `GET /v1/policy/list/{pattern}` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPoliciesResponse {
    /// Policy names, sorted.
    #[serde(default, with = "nullable")]
    pub names: Vec<String>,
    /// Always empty (no pagination for static config).
    #[serde(default, with = "nullable")]
    pub continue_at: String,
}
