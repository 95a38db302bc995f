//! The Secret Manager v1 REST methods the keystore calls, answered as the
//! reference documents them. Pages followed:
//! - secrets.create <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create>
//!   (`POST /v1/{parent=projects/*}/secrets?secretId=`; `ALREADY_EXISTS` 409)
//! - secrets.addVersion <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/addVersion>
//! - secrets.get / patch / delete / list
//!   <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/get>,
//!   <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/patch>
//!   (`updateMask`, etag in the body), <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/delete>
//!   (`etag` query), <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/list>
//!   (`pageSize`, `pageToken` → `nextPageToken`, `totalSize`; 0 = the server
//!   decides: this mock's page is 3 secrets, so paging is exercised)
//! - versions.access / disable / enable / destroy
//!   <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access>
//!   (`versions/latest` alias; a version not ENABLED → `FAILED_PRECONDITION`
//!   "Secret Version [...] is in DISABLED state.")
//! - etags <https://cloud.google.com/secret-manager/docs/etags> (mismatch →
//!   `FAILED_PRECONDITION`, HTTP 400)
//! - errors <https://cloud.google.com/apis/design/errors> (`google.rpc.Status`
//!   in `{"error":{"code","message","status"}}`).
//!
//! Resource names in answers use the project *number*, as Google does.

use serde_json::{Value, json};

use super::state::{
    Query, State, VersionState, access_json, secret_json, string_map, version_json,
};

/// A mock answer: HTTP status and JSON body.
pub type Answer = (u16, Value);

/// Google's error body.
pub fn error(code: u16, status: &str, message: &str) -> Answer {
    (
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

/// The mock's page size when the request leaves it to the server.
const DEFAULT_PAGE: usize = 3;
const MAX_PAGE: usize = 25_000;
const MAX_PAYLOAD: usize = 64 * 1024;

/// The project the mock serves.
pub struct Project {
    pub id: String,
    pub number: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Routes one authenticated request. `path` is below `/v1/`.
pub fn route(
    st: &mut State,
    project: &Project,
    method: &str,
    path: &str,
    query: &Query,
    body: &Value,
) -> Answer {
    let ints = query
        .get("$alt")
        .is_some_and(|a| a.contains("enum-encoding=int"));
    let Some(rest) = path.strip_prefix("projects/") else {
        return unexpected(st, method, path);
    };
    let (proj, rest) = rest.split_once('/').unwrap_or((rest, ""));
    if proj != project.id && proj != project.number {
        return error(
            403,
            "PERMISSION_DENIED",
            &format!("Permission denied on resource project {proj}."),
        );
    }
    let base = format!("projects/{}/secrets", project.number);
    let segs: Vec<&str> = rest.split('/').collect();
    match (method, segs.as_slice()) {
        ("GET", ["secrets"]) => list(st, &base, query),
        ("POST", ["secrets"]) => create(st, &base, query, body),
        ("POST", ["secrets", s]) if s.ends_with(":addVersion") => {
            add_version(st, &base, s.trim_end_matches(":addVersion"), body, ints)
        }
        ("GET", ["secrets", s]) => get(st, &base, s),
        ("PATCH", ["secrets", s]) => patch(st, &base, s, query, body),
        ("DELETE", ["secrets", s]) => delete(st, &base, s, query),
        ("GET", ["secrets", s, "versions", v]) if v.ends_with(":access") => {
            access(st, &base, s, v.trim_end_matches(":access"))
        }
        ("POST", ["secrets", s, "versions", v]) => match v.split_once(':') {
            Some((v, op @ ("disable" | "enable" | "destroy"))) => {
                change_state(st, &base, s, v, op, body, ints)
            }
            _ => unexpected(st, method, path),
        },
        _ => unexpected(st, method, path),
    }
}

fn unexpected(st: &mut State, method: &str, path: &str) -> Answer {
    st.unexpected.push(format!("{method} /v1/{path}"));
    error(404, "NOT_FOUND", "Method not found.")
}

fn not_found(base: &str, id: &str) -> Answer {
    error(
        404,
        "NOT_FOUND",
        &format!("Secret [{base}/{id}] not found."),
    )
}

fn etag_mismatch() -> Answer {
    error(
        400,
        "FAILED_PRECONDITION",
        "The etag provided in the request does not match the current etag of the resource.",
    )
}

fn list(st: &mut State, base: &str, q: &Query) -> Answer {
    let size = match q.get("pageSize").map(|s| s.parse::<i64>()) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if n < 0 => {
            return error(400, "INVALID_ARGUMENT", "page_size must be non-negative.");
        }
        Some(Ok(0)) => DEFAULT_PAGE,
        Some(Ok(n)) => usize::try_from(n).unwrap().min(MAX_PAGE),
        Some(Err(_)) => return error(400, "INVALID_ARGUMENT", "Invalid pageSize."),
    };
    let token = q.get("pageToken").map(String::as_str).unwrap_or("");
    let start = if token.is_empty() {
        String::new()
    } else {
        st.list_continuations += 1;
        match token.strip_prefix("after:") {
            Some(s) if st.secrets.contains_key(s) || valid_id(s) => format!("{s}\u{0}"),
            _ => return error(400, "INVALID_ARGUMENT", "Invalid page token."),
        }
    };
    if q.get("filter").is_some_and(|f| !f.is_empty()) {
        return error(400, "INVALID_ARGUMENT", "This mock implements no filter.");
    }
    let total = st.secrets.len();
    let page: Vec<(&String, _)> = st.secrets.range(start..).take(size + 1).collect();
    let more = page.len() > size;
    let secrets: Vec<Value> = page
        .iter()
        .take(size)
        .map(|(id, s)| secret_json(&format!("{base}/{id}"), s))
        .collect();
    let mut out = json!({"totalSize": total});
    if !secrets.is_empty() {
        out["secrets"] = json!(secrets);
    }
    if more {
        let last = page.get(size - 1).map(|(id, _)| id.as_str()).unwrap();
        out["nextPageToken"] = json!(format!("after:{last}"));
    }
    (200, out)
}

fn create(st: &mut State, base: &str, q: &Query, body: &Value) -> Answer {
    let id = q.get("secretId").map(String::as_str).unwrap_or("");
    if !valid_id(id) {
        return error(
            400,
            "INVALID_ARGUMENT",
            "Secret ID must be 1-255 characters of [a-zA-Z0-9_-].",
        );
    }
    if body["replication"]["automatic"].is_null() && body["replication"]["userManaged"].is_null() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "Replication policy must be specified.",
        );
    }
    if st.secrets.contains_key(id) {
        return error(
            409,
            "ALREADY_EXISTS",
            &format!("Secret [{base}/{id}] already exists."),
        );
    }
    let mut secret = st.new_secret();
    let (Some(labels), Some(annotations)) = (
        string_map(&body["labels"]),
        string_map(&body["annotations"]),
    ) else {
        return error(400, "INVALID_ARGUMENT", "Invalid labels or annotations.");
    };
    secret.labels = labels;
    secret.annotations = annotations;
    let out = secret_json(&format!("{base}/{id}"), &secret);
    st.secrets.insert(id.to_owned(), secret);
    (200, out)
}

fn add_version(st: &mut State, base: &str, id: &str, body: &Value, ints: bool) -> Answer {
    if std::mem::take(&mut st.fail_next_add) {
        return error(503, "UNAVAILABLE", "The service is currently unavailable.");
    }
    use base64::Engine as _;
    let data = match body["payload"]["data"]
        .as_str()
        .map(|d| base64::engine::general_purpose::STANDARD.decode(d))
    {
        Some(Ok(d)) => d,
        _ => {
            return error(
                400,
                "INVALID_ARGUMENT",
                "SecretPayload.data must be base64.",
            );
        }
    };
    if data.len() > MAX_PAYLOAD {
        return error(
            400,
            "INVALID_ARGUMENT",
            "Secret payload cannot exceed 65536 bytes.",
        );
    }
    if !st.secrets.contains_key(id) {
        return not_found(base, id);
    }
    let version = st.new_version(data);
    let secret = st.secrets.get_mut(id).unwrap();
    secret.versions.push(version);
    let n = secret.versions.len();
    let v = secret.versions.last().unwrap();
    (
        200,
        version_json(&format!("{base}/{id}/versions/{n}"), v, ints),
    )
}

fn get(st: &State, base: &str, id: &str) -> Answer {
    match st.secrets.get(id) {
        Some(s) => (200, secret_json(&format!("{base}/{id}"), s)),
        None => not_found(base, id),
    }
}

fn patch(st: &mut State, base: &str, id: &str, q: &Query, body: &Value) -> Answer {
    let mask = q.get("updateMask").cloned().unwrap_or_default();
    if mask.is_empty() {
        return error(400, "INVALID_ARGUMENT", "update_mask must be specified.");
    }
    let new_etag = st.etag();
    let Some(secret) = st.secrets.get_mut(id) else {
        return not_found(base, id);
    };
    let etag = body["etag"].as_str().unwrap_or("");
    if !etag.is_empty() && etag != secret.etag {
        return etag_mismatch();
    }
    for field in mask.split(',') {
        let map = match field {
            "labels" => &mut secret.labels,
            "annotations" => &mut secret.annotations,
            other => {
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Unsupported field in update_mask: {other}."),
                );
            }
        };
        match string_map(&body[field]) {
            Some(m) => *map = m,
            None => return error(400, "INVALID_ARGUMENT", "Invalid map value."),
        }
    }
    secret.etag = new_etag;
    (200, secret_json(&format!("{base}/{id}"), secret))
}

fn delete(st: &mut State, base: &str, id: &str, q: &Query) -> Answer {
    let Some(secret) = st.secrets.get(id) else {
        return not_found(base, id);
    };
    let etag = q.get("etag").map(String::as_str).unwrap_or("");
    if !etag.is_empty() && etag != secret.etag {
        return etag_mismatch();
    }
    st.secrets.remove(id);
    (200, json!({}))
}

/// The version a path segment names (`latest` = the newest).
fn version_index(secret: &super::state::Secret, v: &str) -> Option<usize> {
    if v == "latest" {
        return secret.versions.len().checked_sub(1);
    }
    let n: usize = v.parse().ok()?;
    (1..=secret.versions.len()).contains(&n).then(|| n - 1)
}

fn access(st: &State, base: &str, id: &str, v: &str) -> Answer {
    let Some(secret) = st.secrets.get(id) else {
        return error(
            404,
            "NOT_FOUND",
            &format!("Secret [{base}/{id}] not found or has no versions."),
        );
    };
    let Some(i) = version_index(secret, v) else {
        let what = if v == "latest" {
            format!("Secret [{base}/{id}] not found or has no versions.")
        } else {
            format!("Secret Version [{base}/{id}/versions/{v}] not found.")
        };
        return error(404, "NOT_FOUND", &what);
    };
    let name = format!("{base}/{id}/versions/{}", i + 1);
    let version = &secret.versions[i];
    if version.state != VersionState::Enabled {
        return error(
            400,
            "FAILED_PRECONDITION",
            &format!(
                "Secret Version [{name}] is in {} state.",
                version.state.name()
            ),
        );
    }
    (200, access_json(&name, version))
}

fn change_state(
    st: &mut State,
    base: &str,
    id: &str,
    v: &str,
    op: &str,
    body: &Value,
    ints: bool,
) -> Answer {
    let new_etag = st.etag();
    let Some(secret) = st.secrets.get_mut(id) else {
        return not_found(base, id);
    };
    let Some(i) = version_index(secret, v) else {
        return error(
            404,
            "NOT_FOUND",
            &format!("Secret Version [{base}/{id}/versions/{v}] not found."),
        );
    };
    let name = format!("{base}/{id}/versions/{}", i + 1);
    let version = &mut secret.versions[i];
    let etag = body["etag"].as_str().unwrap_or("");
    if !etag.is_empty() && etag != version.etag {
        return etag_mismatch();
    }
    if version.state == VersionState::Destroyed {
        return error(
            400,
            "FAILED_PRECONDITION",
            &format!("Secret Version [{name}] is in DESTROYED state."),
        );
    }
    match op {
        "disable" => version.state = VersionState::Disabled,
        "enable" => version.state = VersionState::Enabled,
        _ => {
            version.state = VersionState::Destroyed;
            version.data.clear();
            version.destroy_time = Some(super::state::now());
        }
    }
    version.etag = new_etag;
    (200, version_json(&name, version, ints))
}
