//! How a failed Vault API call maps to the keystore's [`Error`] kinds.
//!
//! | Vault answer | [`Failure`] | usual [`Error`] |
//! |---|---|---|
//! | 404 with an empty `errors` list (KV: no such secret; LIST: nothing) | `Missing` | [`Error::NotFound`] (reads) or an empty page (list) |
//! | 400 `check-and-set parameter did not match the current version` | `CasMismatch` | [`Error::KeyExists`] (create) / [`Error::Conflict`] (update) |
//! | 403 (policy denies, token expired or revoked) | `Denied` | [`Error::Backend`] |
//! | no answer (connection refused, TLS failure, timeout), 502, 503 (sealed, standby), 504 | `Unreachable` | [`Error::Unreachable`] |
//! | anything else (404 with messages = no such mount, 400, 500, a body we cannot parse) | `Other` | [`Error::Backend`] |
//!
//! Messages name the operation and the Vault path and carry Vault's own
//! error strings; they never contain values or tokens (Vault's error bodies
//! hold neither).

use vaultrs::error::ClientError;

use crate::Error;

/// Vault's error text for a failed check-and-set.
const CAS_MISMATCH: &str = "check-and-set parameter did not match the current version";

/// The backend's view of a failed call.
#[derive(Debug)]
pub(super) enum Failure {
    /// 404 without error messages.
    Missing,
    /// A K/V v2 write whose `cas` did not match.
    CasMismatch,
    /// 403, with Vault's message.
    Denied(String),
    /// Vault cannot be reached or cannot serve (sealed, standby, gateway).
    Unreachable(String),
    /// Any other failure.
    Other(String),
}

impl Failure {
    /// The keystore error for a failure that has no operation-specific
    /// meaning (`Missing` and `CasMismatch` included, as backend errors).
    pub(super) fn into_error(self, op: &str, location: &str) -> Error {
        let what = format!("vault: failed to {op} '{location}'");
        match self {
            Failure::Unreachable(msg) => Error::unreachable(format!("{what}: {msg}")),
            Failure::Denied(msg) => Error::backend(format!("{what}: {msg}")),
            Failure::Other(msg) => Error::backend(format!("{what}: {msg}")),
            Failure::Missing => Error::backend(format!("{what}: not found")),
            Failure::CasMismatch => Error::backend(format!("{what}: {CAS_MISMATCH}")),
        }
    }
}

/// Vault's `errors` list as one line (`1 error occurred:\n\t* permission
/// denied\n\n` becomes `1 error occurred: * permission denied`).
fn one_line(errors: &[String]) -> String {
    errors
        .iter()
        .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The failure kind of an HTTP status with Vault's messages.
fn by_status(code: u16, errors: &[String]) -> Failure {
    let msg = if errors.is_empty() {
        format!("HTTP {code}")
    } else {
        format!("{} (HTTP {code})", one_line(errors))
    };
    match code {
        404 if errors.is_empty() => Failure::Missing,
        400 if errors.iter().any(|e| e.contains(CAS_MISMATCH)) => Failure::CasMismatch,
        403 => Failure::Denied(msg),
        502..=504 => Failure::Unreachable(msg),
        _ => Failure::Other(msg),
    }
}

/// Classifies a vaultrs error.
pub(super) fn classify(err: &ClientError) -> Failure {
    use rustify::errors::ClientError as Rest;
    match err {
        ClientError::APIError { code, errors } => by_status(*code, errors),
        ClientError::RestClientError { source } => match source {
            Rest::RequestError { source, .. } => Failure::Unreachable(format!("{source:#}")),
            Rest::ResponseError { source } => Failure::Unreachable(format!("{source:#}")),
            Rest::ServerResponseError { code, .. } => by_status(*code, &[]),
            other => Failure::Other(other.to_string()),
        },
        other => Failure::Other(other.to_string()),
    }
}

/// Shorthand: classify and convert, for calls whose `Missing` and
/// `CasMismatch` have no special meaning.
pub(super) fn to_error(err: &ClientError, op: &str, location: &str) -> Error {
    classify(err).into_error(op, location)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, errors: &[&str]) -> ClientError {
        ClientError::APIError {
            code,
            errors: errors.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn statuses_map_to_the_keystore_error_kinds() {
        assert!(matches!(classify(&api(404, &[])), Failure::Missing));
        assert!(matches!(
            classify(&api(404, &["no handler for route \"nope/x\""])),
            Failure::Other(_)
        ));
        assert!(matches!(
            classify(&api(400, &[CAS_MISMATCH])),
            Failure::CasMismatch
        ));
        let denied = api(403, &["1 error occurred:\n\t* permission denied\n\n"]);
        match classify(&denied) {
            Failure::Denied(msg) => {
                assert_eq!(msg, "1 error occurred: * permission denied (HTTP 403)");
            }
            other => panic!("want Denied, got {other:?}"),
        }
        assert!(matches!(
            classify(&api(503, &["Vault is sealed"])),
            Failure::Unreachable(_)
        ));
        assert!(matches!(classify(&api(500, &["boom"])), Failure::Other(_)));
        let sealed_health = ClientError::RestClientError {
            source: rustify::errors::ClientError::ServerResponseError {
                code: 503,
                content: Some("{\"sealed\":true}".to_owned()),
            },
        };
        assert!(matches!(classify(&sealed_health), Failure::Unreachable(_)));
    }

    #[test]
    fn errors_name_the_operation_and_path() {
        let err = to_error(&api(403, &["permission denied"]), "read", "kv/data/kes/k");
        assert!(matches!(err, Error::Backend(_)));
        assert_eq!(
            err.to_string(),
            "keystore error: vault: failed to read 'kv/data/kes/k': permission denied (HTTP 403)"
        );
        let err = to_error(&api(503, &["Vault is sealed"]), "list", "kv/metadata/kes");
        assert!(matches!(err, Error::Unreachable(_)));
    }
}
