//! Server information: `GET /version`, `GET /v1/status` and `GET /v1/api` (`kes-api.md` §1.3).

use serde::{Deserialize, Serialize};

use super::go::{is_zero, nullable};

/// `GET /version` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResponse {
    /// Server version, e.g. `2025-03-12T09-35-18Z`.
    #[serde(default, with = "nullable")]
    pub version: String,
    /// Source commit id.
    #[serde(default, with = "nullable")]
    pub commit: String,
}

/// `GET /v1/status` response (`kes-api.md` §1.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// Server version.
    #[serde(default, with = "nullable")]
    pub version: String,
    /// Operating system, e.g. `linux`.
    #[serde(default, with = "nullable")]
    pub os: String,
    /// CPU architecture, e.g. `amd64`.
    #[serde(default, with = "nullable")]
    pub arch: String,
    /// Uptime in **seconds**.
    #[serde(default, with = "nullable")]
    pub uptime: u64,
    /// Logical CPUs.
    #[serde(default, with = "nullable")]
    pub num_cpu: u64,
    /// CPUs usable by the server.
    #[serde(default, with = "nullable")]
    pub num_cpu_used: u64,
    /// Heap in use, bytes.
    #[serde(default, with = "nullable")]
    pub mem_heap_used: u64,
    /// Stack in use, bytes.
    #[serde(default, with = "nullable")]
    pub mem_stack_used: u64,
    /// Keystore status round trip in whole **milliseconds** (minimum 1); absent when unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore_latency: Option<u64>,
    /// True when the keystore status call failed.
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
    pub keystore_unreachable: bool,
    /// Legacy (2023) flag; current KES never sends it (see `kes-api.md` §1.3).
    #[serde(default, skip_serializing_if = "is_zero", with = "nullable")]
    pub keystore_unavailable: bool,
}

/// One entry of the `GET /v1/api` response array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRoute {
    /// HTTP method the route declares (`GET`, `PUT`, `POST`, `DELETE`).
    #[serde(default, with = "nullable")]
    pub method: String,
    /// Path, e.g. `/v1/key/create/` (subtree routes end in `/`).
    #[serde(default, with = "nullable")]
    pub path: String,
    /// Maximum request body in bytes.
    #[serde(default, with = "nullable")]
    pub max_body: i64,
    /// Route timeout in whole seconds (0 = none).
    #[serde(default, with = "nullable")]
    pub timeout: i64,
}
