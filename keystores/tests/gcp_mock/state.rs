//! The mock's data model: secrets, their versions and version states, as
//! the Secret Manager v1 REST reference describes them
//! (<https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets>,
//! <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions>),
//! and the etags of <https://cloud.google.com/secret-manager/docs/etags>
//! (new on create/addVersion, changed by every modification of that
//! resource only).

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// `SecretVersion.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    Enabled,
    Disabled,
    Destroyed,
}

impl VersionState {
    pub fn name(self) -> &'static str {
        match self {
            VersionState::Enabled => "ENABLED",
            VersionState::Disabled => "DISABLED",
            VersionState::Destroyed => "DESTROYED",
        }
    }

    /// The enum number (`$alt=json;enum-encoding=int`).
    fn number(self) -> u8 {
        match self {
            VersionState::Enabled => 1,
            VersionState::Disabled => 2,
            VersionState::Destroyed => 3,
        }
    }
}

pub struct Version {
    pub data: Vec<u8>,
    pub state: VersionState,
    pub create_time: String,
    pub destroy_time: Option<String>,
    pub etag: String,
}

pub struct Secret {
    pub create_time: String,
    pub etag: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Version `n` at index `n - 1`.
    pub versions: Vec<Version>,
}

/// Everything the mock stores, plus what tests inspect.
#[derive(Default)]
pub struct State {
    pub secrets: BTreeMap<String, Secret>,
    etags: u64,
    /// Requests the mock does not implement (must stay empty).
    pub unexpected: Vec<String>,
    /// `secrets.list` requests that carried a page token.
    pub list_continuations: usize,
    /// Answer the next `addVersion` with 503 UNAVAILABLE (fault injection).
    pub fail_next_add: bool,
    /// Every request line (`METHOD path`), in order.
    pub log: Vec<String>,
}

pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// CRC32C (Castagnoli) of the payload, as `dataCrc32c` reports it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

impl State {
    /// A fresh etag: a quoted opaque string, as Google's are.
    pub fn etag(&mut self) -> String {
        self.etags += 1;
        format!("\"{:x}{:04x}\"", rand::random::<u32>(), self.etags)
    }

    pub fn new_secret(&mut self) -> Secret {
        Secret {
            create_time: now(),
            etag: self.etag(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            versions: Vec::new(),
        }
    }

    pub fn new_version(&mut self, data: Vec<u8>) -> Version {
        Version {
            data,
            state: VersionState::Enabled,
            create_time: now(),
            destroy_time: None,
            etag: self.etag(),
        }
    }
}

/// Encodes an enum as the request asked (`enum-encoding=int` or names).
pub fn state_json(state: VersionState, ints: bool) -> Value {
    if ints {
        json!(state.number())
    } else {
        json!(state.name())
    }
}

/// The `Secret` resource.
pub fn secret_json(name: &str, s: &Secret) -> Value {
    let mut v = json!({
        "name": name,
        "replication": {"automatic": {}},
        "createTime": s.create_time,
        "etag": s.etag,
    });
    if !s.labels.is_empty() {
        v["labels"] = json!(s.labels);
    }
    if !s.annotations.is_empty() {
        v["annotations"] = json!(s.annotations);
    }
    v
}

/// The `SecretVersion` resource.
pub fn version_json(name: &str, v: &Version, ints: bool) -> Value {
    let mut out = json!({
        "name": name,
        "createTime": v.create_time,
        "state": state_json(v.state, ints),
        "replicationStatus": {"automatic": {}},
        "etag": v.etag,
        "clientSpecifiedPayloadChecksum": false,
    });
    if let Some(t) = &v.destroy_time {
        out["destroyTime"] = json!(t);
    }
    out
}

/// `AccessSecretVersionResponse`.
pub fn access_json(name: &str, v: &Version) -> Value {
    json!({
        "name": name,
        "payload": {
            "data": STANDARD.encode(&v.data),
            "dataCrc32c": crc32c(&v.data).to_string(),
        },
    })
}

/// Reads `labels`/`annotations` maps from a request body.
pub fn string_map(v: &Value) -> Option<BTreeMap<String, String>> {
    match v {
        Value::Null => Some(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect(),
        _ => None,
    }
}

pub type Query = HashMap<String, String>;
