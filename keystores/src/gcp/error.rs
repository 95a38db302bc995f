//! How a failed Secret Manager call maps to the keystore's [`Error`] kinds.
//!
//! Secret Manager answers errors as `google.rpc.Status`
//! (`{"error":{"code":404,"message":…,"status":"NOT_FOUND"}}`); the client
//! library hands them over as a status code and message.
//!
//! | answer | [`Failure`] | usual [`Error`] |
//! |---|---|---|
//! | `NOT_FOUND` (404) | `NotFound` | [`Error::NotFound`] |
//! | `ALREADY_EXISTS` (409) | `AlreadyExists` | [`Error::KeyExists`] (create) |
//! | `FAILED_PRECONDITION` (400: etag mismatch, version disabled/destroyed) | `Precondition` | [`Error::Conflict`] (update) or [`Error::Backend`] |
//! | `UNAUTHENTICATED` (401), `PERMISSION_DENIED` (403) | `Denied` | [`Error::Backend`] |
//! | no answer (connection refused, TLS failure, timeout), `UNAVAILABLE`, `DEADLINE_EXCEEDED`, HTTP 502–504 without a Google body | `Unreachable` | [`Error::Unreachable`] |
//! | anything else (credentials that cannot sign, 400, 500, a body we cannot parse) | `Other` | [`Error::Backend`] |
//!
//! Messages name the operation and the resource and carry Google's own
//! message; they never contain payloads or tokens (Google's error bodies
//! hold neither).

use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::error::rpc::Code;

use crate::Error;

/// The backend's view of a failed call.
#[derive(Debug)]
pub(super) enum Failure {
    /// `NOT_FOUND`.
    NotFound(String),
    /// `ALREADY_EXISTS`.
    AlreadyExists(String),
    /// `FAILED_PRECONDITION`.
    Precondition(String),
    /// `UNAUTHENTICATED` or `PERMISSION_DENIED`.
    Denied(String),
    /// Secret Manager cannot be reached or cannot serve.
    Unreachable(String),
    /// Any other failure.
    Other(String),
}

impl Failure {
    /// The keystore error for a failure without an operation-specific
    /// meaning (`NotFound`, `AlreadyExists`, `Precondition` included, as
    /// backend errors).
    pub(super) fn into_error(self, op: &str, resource: &str) -> Error {
        let what = format!("gcp: failed to {op} '{resource}'");
        match self {
            Failure::Unreachable(msg) => Error::unreachable(format!("{what}: {msg}")),
            Failure::NotFound(msg)
            | Failure::AlreadyExists(msg)
            | Failure::Precondition(msg)
            | Failure::Denied(msg)
            | Failure::Other(msg) => Error::backend(format!("{what}: {msg}")),
        }
    }
}

/// Google's status as one line: `NOT_FOUND: Secret [..] not found (HTTP 404)`.
fn describe(code: Code, message: &str, http: Option<u16>) -> String {
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match http {
        Some(status) => format!("{}: {message} (HTTP {status})", code.name()),
        None => format!("{}: {message}", code.name()),
    }
}

/// Classifies an error of the client library.
pub(super) fn classify(err: &GaxError) -> Failure {
    if err.is_exhausted() {
        // The retry policy gave up: what matters is the last attempt's error.
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            if let Some(last) = s.downcast_ref::<GaxError>() {
                return classify(last);
            }
            source = s.source();
        }
        return Failure::Unreachable(chain(err));
    }
    if let Some(status) = err.status() {
        let msg = describe(status.code, &status.message, err.http_status_code());
        return match status.code {
            Code::NotFound => Failure::NotFound(msg),
            Code::AlreadyExists => Failure::AlreadyExists(msg),
            Code::FailedPrecondition => Failure::Precondition(msg),
            Code::Unauthenticated | Code::PermissionDenied => Failure::Denied(msg),
            Code::Unavailable | Code::DeadlineExceeded => Failure::Unreachable(msg),
            _ => Failure::Other(msg),
        };
    }
    let msg = chain(err);
    if err.is_timeout() || err.is_connect() || err.is_io() {
        return Failure::Unreachable(msg);
    }
    match err.http_status_code() {
        Some(502..=504) => Failure::Unreachable(msg),
        Some(401 | 403) => Failure::Denied(msg),
        _ => Failure::Other(msg),
    }
}

/// The error and its sources on one line.
fn chain(err: &GaxError) -> String {
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// Shorthand: classify and convert, for calls whose `NotFound`,
/// `AlreadyExists` and `Precondition` have no special meaning.
pub(super) fn to_error(err: &GaxError, op: &str, resource: &str) -> Error {
    classify(err).into_error(op, resource)
}

#[cfg(test)]
mod tests {
    use google_cloud_gax::error::rpc::Status;

    use super::*;

    fn service(code: Code, message: &str) -> GaxError {
        GaxError::service(Status::default().set_code(code).set_message(message))
    }

    #[test]
    fn statuses_map_to_the_keystore_error_kinds() {
        assert!(matches!(
            classify(&service(Code::NotFound, "Secret [x] not found")),
            Failure::NotFound(_)
        ));
        assert!(matches!(
            classify(&service(Code::AlreadyExists, "exists")),
            Failure::AlreadyExists(_)
        ));
        assert!(matches!(
            classify(&service(Code::FailedPrecondition, "etag")),
            Failure::Precondition(_)
        ));
        for code in [Code::Unauthenticated, Code::PermissionDenied] {
            assert!(matches!(classify(&service(code, "no")), Failure::Denied(_)));
        }
        for code in [Code::Unavailable, Code::DeadlineExceeded] {
            assert!(matches!(
                classify(&service(code, "down")),
                Failure::Unreachable(_)
            ));
        }
        assert!(matches!(
            classify(&service(Code::Internal, "boom")),
            Failure::Other(_)
        ));
        assert!(matches!(
            classify(&GaxError::timeout("slow")),
            Failure::Unreachable(_)
        ));
    }

    #[test]
    fn errors_name_the_operation_and_resource() {
        let err = to_error(
            &service(
                Code::PermissionDenied,
                "Permission 'secretmanager.versions.access' denied",
            ),
            "read",
            "projects/p/secrets/k",
        );
        assert!(matches!(err, Error::Backend(_)));
        assert_eq!(
            err.to_string(),
            "keystore error: gcp: failed to read 'projects/p/secrets/k': PERMISSION_DENIED: \
             Permission 'secretmanager.versions.access' denied"
        );
        let err = to_error(&service(Code::Unavailable, "down"), "list", "projects/p");
        assert!(matches!(err, Error::Unreachable(_)));
    }
}
