//! The Key Vault secrets operations of the contract mock, each from its
//! page of the REST reference (api-version [`API_VERSION`], the version the
//! `azure_security_keyvault_secrets` 1.x client sends):
//!
//! | Request | Reference |
//! |---|---|
//! | `PUT /secrets/{name}` | <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/set-secret/set-secret> |
//! | `GET /secrets/{name}/{version}` (`version` may be empty: the latest) | <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret/get-secret> |
//! | `GET /secrets` (`maxresults` ≤ 25, `nextLink` with `$skiptoken`) | <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secrets/get-secrets> |
//! | `GET /secrets/{name}/versions` | <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret-versions/get-secret-versions> |
//! | `DELETE /secrets/{name}` (soft delete) | <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/delete-secret/delete-secret> |
//! | `DELETE /deletedsecrets/{name}` (purge, 204) | <https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/purge-deleted-secret/purge-deleted-secret> |
//!
//! Behaviour modelled from the Key Vault concept pages:
//! - soft delete: a deleted name cannot be set again until it is purged
//!   (409 `Conflict` / `ObjectIsDeletedButRecoverable`),
//!   <https://learn.microsoft.com/en-us/azure/key-vault/general/soft-delete-overview>;
//! - a disabled secret cannot be read (403 `Forbidden` / `SecretDisabled`,
//!   "Operation get is not allowed on a disabled secret."), while `nbf` and
//!   `exp` are *not* enforced on get ("A secret's get operation will work
//!   for not-yet-valid and expired secrets"),
//!   <https://learn.microsoft.com/en-us/azure/key-vault/secrets/about-secrets>;
//! - names are 1–127 characters of `0-9a-zA-Z-`
//!   (<https://learn.microsoft.com/en-us/azure/key-vault/general/about-keys-secrets-certificates#objects-identifiers-and-versioning>).
//!
//! Listing order is by name, which Key Vault does not promise; the
//! backend sorts anyway. Deletion and purge complete at once (the real
//! service may answer `ObjectIsBeingDeleted` for a moment).

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{Value, json};

use super::{Reply, State};

/// The api-version the client sends and the mock accepts.
pub const API_VERSION: &str = "2025-07-01";
/// Key Vault's largest page.
const MAX_RESULTS: usize = 25;

/// One version of a secret.
#[derive(Clone, Debug)]
pub struct Version {
    pub id: String,
    pub value: String,
    pub tags: Option<Value>,
    pub content_type: Option<String>,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
}

/// A secret: its versions in creation order.
#[derive(Clone, Debug, Default)]
pub struct Secret {
    pub versions: Vec<Version>,
    /// Set when soft-deleted.
    pub deleted_date: Option<i64>,
}

/// The vault's secrets.
pub struct Vault {
    pub live: BTreeMap<String, Secret>,
    pub deleted: BTreeMap<String, Secret>,
    /// Values another client writes to a name just before the next `PUT`
    /// of it arrives (a write racing ours, made deterministic).
    pub interpose: HashMap<String, String>,
    page_size: usize,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Vault {
    pub fn new(page_size: usize) -> Vault {
        Vault {
            live: BTreeMap::new(),
            deleted: BTreeMap::new(),
            interpose: HashMap::new(),
            page_size: page_size.clamp(1, MAX_RESULTS),
        }
    }

    /// The latest version of `name` (panics if there is none).
    pub fn latest(&mut self, name: &str) -> &mut Version {
        self.live
            .get_mut(name)
            .and_then(|s| s.versions.last_mut())
            .unwrap_or_else(|| panic!("no secret {name}"))
    }

    /// Soft-deletes `name` as a portal user would (no purge).
    pub fn soft_delete(&mut self, name: &str) {
        let mut secret = self.live.remove(name).expect("no such secret");
        secret.deleted_date = Some(now());
        self.deleted.insert(name.to_owned(), secret);
    }

    /// Adds a version as another client would (e.g. a second KES server).
    pub fn set(&mut self, name: &str, value: &str) -> String {
        let t = now();
        let id = format!("{:032x}", rand::random::<u128>());
        self.live
            .entry(name.to_owned())
            .or_default()
            .versions
            .push(Version {
                id: id.clone(),
                value: value.to_owned(),
                tags: None,
                content_type: None,
                enabled: true,
                nbf: None,
                exp: None,
                created: t,
                updated: t,
            });
        id
    }
}

fn attributes(v: &Version) -> Value {
    let mut a = json!({
        "enabled": v.enabled,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    });
    if let Some(nbf) = v.nbf {
        a["nbf"] = json!(nbf);
    }
    if let Some(exp) = v.exp {
        a["exp"] = json!(exp);
    }
    a
}

fn item(base: &str, name: &str, v: &Version, with_version: bool) -> Value {
    let id = if with_version {
        format!("{base}/secrets/{name}/{}", v.id)
    } else {
        format!("{base}/secrets/{name}")
    };
    let mut o = json!({"id": id, "attributes": attributes(v)});
    if let Some(tags) = &v.tags {
        o["tags"] = tags.clone();
    }
    if let Some(ct) = &v.content_type {
        o["contentType"] = json!(ct);
    }
    o
}

fn bundle(base: &str, name: &str, v: &Version) -> Value {
    let mut o = item(base, name, v, true);
    o["value"] = json!(v.value);
    o
}

fn not_found(name: &str) -> Reply {
    Reply::kv_error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        &format!(
            "A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
        ),
        None,
    )
}

fn bad(message: &str) -> Reply {
    Reply::kv_error(StatusCode::BAD_REQUEST, "BadParameter", message, None)
}

fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Dispatches one authenticated request.
pub(super) fn route(
    st: &mut State,
    parts: &http::request::Parts,
    path: &str,
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Reply {
    let line = format!("{} {}", parts.method, parts.uri);
    match query.get("api-version") {
        Some(v) if v == API_VERSION => {}
        Some(v) => {
            st.unexpected.push(line);
            return bad(&format!(
                "The specified version ({v}) is not recognized. Consider using the latest supported version ({API_VERSION})."
            ));
        }
        None => {
            st.unexpected.push(line);
            return bad(
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
        }
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = parts.method.as_str();
    match (method, segments.as_slice()) {
        ("PUT", ["secrets", name]) => set(st, name, body),
        ("GET", ["secrets", name, "versions"]) => list(st, query, Some(name)),
        ("GET", ["secrets", name, version]) => get(st, name, version),
        ("GET", ["secrets"] | ["secrets", ""]) => list(st, query, None),
        ("GET", ["secrets", name]) => get(st, name, ""),
        ("DELETE", ["secrets", name]) => delete(st, name),
        ("DELETE", ["deletedsecrets", name]) => purge(st, name),
        _ => {
            st.unexpected.push(line);
            bad("The request is not part of this contract mock.")
        }
    }
}

fn set(st: &mut State, name: &str, body: &Bytes) -> Reply {
    if !valid_name(name) {
        return bad(&format!("The request URI contains an invalid name: {name}"));
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return bad("The request body is not valid JSON.");
    };
    let Some(Value::String(value)) = req.get("value") else {
        return bad("Property value is required.");
    };
    if st.vault.deleted.contains_key(name) {
        return Reply::kv_error(
            StatusCode::CONFLICT,
            "Conflict",
            &format!(
                "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
            ),
            Some("ObjectIsDeletedButRecoverable"),
        );
    }
    if let Some(other) = st.vault.interpose.remove(name) {
        st.vault.set(name, &other);
    }
    let t = now();
    let attrs = req.get("attributes");
    let version = Version {
        id: format!("{:032x}", rand::random::<u128>()),
        value: value.clone(),
        tags: req.get("tags").cloned().filter(|t| !t.is_null()),
        content_type: req
            .get("contentType")
            .and_then(Value::as_str)
            .map(str::to_owned),
        enabled: attrs
            .and_then(|a| a.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(true),
        nbf: attrs.and_then(|a| a.get("nbf")).and_then(Value::as_i64),
        exp: attrs.and_then(|a| a.get("exp")).and_then(Value::as_i64),
        created: t,
        updated: t,
    };
    let reply = bundle(&st.base, name, &version);
    st.vault
        .live
        .entry(name.to_owned())
        .or_default()
        .versions
        .push(version);
    Reply::json(StatusCode::OK, reply)
}

fn get(st: &mut State, name: &str, version: &str) -> Reply {
    let Some(secret) = st.vault.live.get(name) else {
        return not_found(name);
    };
    let found = if version.is_empty() {
        secret.versions.last()
    } else {
        secret.versions.iter().find(|v| v.id == version)
    };
    let Some(v) = found else {
        return not_found(name);
    };
    if !v.enabled {
        return Reply::kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            Some("SecretDisabled"),
        );
    }
    Reply::json(StatusCode::OK, bundle(&st.base, name, v))
}

/// `GET /secrets` (one item per live secret, its latest version's
/// attributes, no version in the id) or `GET /secrets/{name}/versions`.
fn list(st: &mut State, query: &HashMap<String, String>, name: Option<&str>) -> Reply {
    let size = match query.get("maxresults") {
        None => st.vault.page_size,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => n.min(st.vault.page_size),
            _ => {
                return bad(&format!(
                    "Invalid maxresults: {n}. It must be between 1 and 25."
                ));
            }
        },
    };
    // (sort key, item), sorted by key so a `$skiptoken` (the last key
    // returned) finds its place again.
    let mut all: Vec<(String, Value)> = match name {
        None => st
            .vault
            .live
            .iter()
            .filter_map(|(n, s)| {
                s.versions
                    .last()
                    .map(|v| (n.clone(), item(&st.base, n, v, false)))
            })
            .collect(),
        Some(n) => st
            .vault
            .live
            .get(n)
            .map(|s| {
                s.versions
                    .iter()
                    .map(|v| (v.id.clone(), item(&st.base, n, v, true)))
                    .collect()
            })
            .unwrap_or_default(),
    };
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let start = match query.get("$skiptoken") {
        None => 0,
        Some(token) => {
            let Some(after) = hex::decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
            else {
                return bad("Invalid $skiptoken.");
            };
            all.iter()
                .position(|(k, _)| *k > after)
                .unwrap_or(all.len())
        }
    };
    let page: Vec<(String, Value)> = all.iter().skip(start).take(size).cloned().collect();
    let more = start + page.len() < all.len();
    let next = match (more, page.last()) {
        (true, Some((last, _))) => {
            let path = match name {
                None => "secrets".to_owned(),
                Some(n) => format!("secrets/{n}/versions"),
            };
            json!(format!(
                "{}/{path}?api-version={API_VERSION}&$skiptoken={}&maxresults={size}",
                st.base,
                hex::encode(last)
            ))
        }
        _ => Value::Null,
    };
    Reply::json(
        StatusCode::OK,
        json!({
            "value": page.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            "nextLink": next,
        }),
    )
}

fn delete(st: &mut State, name: &str) -> Reply {
    let Some(mut secret) = st.vault.live.remove(name) else {
        return not_found(name);
    };
    let t = now();
    secret.deleted_date = Some(t);
    let latest = secret.versions.last().cloned();
    st.vault.deleted.insert(name.to_owned(), secret);
    let mut body = match &latest {
        Some(v) => item(&st.base, name, v, true),
        None => json!({}),
    };
    body["recoveryId"] = json!(format!("{}/deletedsecrets/{name}", st.base));
    body["deletedDate"] = json!(t);
    body["scheduledPurgeDate"] = json!(t + 90 * 24 * 3600);
    Reply::json(StatusCode::OK, body)
}

fn purge(st: &mut State, name: &str) -> Reply {
    if st.vault.deleted.remove(name).is_none() {
        return Reply::kv_error(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            &format!("Deleted Secret not found: {name}"),
            None,
        );
    }
    Reply::empty(StatusCode::NO_CONTENT)
}
