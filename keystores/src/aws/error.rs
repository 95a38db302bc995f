//! How a failed Secrets Manager call maps to the keystore's [`Error`] kinds.
//!
//! | SDK error | [`Failure`] | usual [`Error`] |
//! |---|---|---|
//! | service error `ResourceNotFoundException` | `NotFound` | [`Error::NotFound`] |
//! | service error `ResourceExistsException` | `Exists` | [`Error::KeyExists`] (create) / [`Error::Conflict`] (update: the version token is taken) |
//! | `AccessDeniedException`, `UnrecognizedClientException`, `InvalidClientTokenId`, `InvalidSignatureException`, `SignatureDoesNotMatch`, `IncompleteSignature`, `MissingAuthenticationToken`, `ExpiredTokenException`, any other HTTP 403 | `Denied` | [`Error::Backend`] (502 at the API, detail in the error log) |
//! | no answer: connection refused or reset, DNS, TLS, timeout (connect, attempt, operation); HTTP 502, 503, 504; `ThrottlingException` after the SDK's retries | `Unreachable` | [`Error::Unreachable`] (the key cache's offline mode) |
//! | anything else (`InvalidRequestException` such as a secret scheduled for deletion, `DecryptionFailure`, `InternalServiceError`, an unparsable answer, a request the SDK could not build) | `Other` | [`Error::Backend`] |
//!
//! Messages name the operation and the secret and carry the service's error
//! code and message (or the transport error chain); they never contain
//! secret values or credentials (the service's error bodies hold neither).

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::Error;

/// The backend's view of a failed call.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// The secret does not exist.
    NotFound,
    /// The secret (create) or the version token (update) already exists.
    Exists,
    /// Credentials missing, wrong or not allowed to do this.
    Denied(String),
    /// The service cannot be reached or cannot serve now.
    Unreachable(String),
    /// Any other failure.
    Other(String),
}

impl Failure {
    /// The keystore error for a failure without an operation-specific
    /// meaning (`NotFound` and `Exists` included, as [`Error::NotFound`] and
    /// a backend error).
    pub(super) fn into_error(self, op: &str, name: &str) -> Error {
        let what = format!("aws: failed to {op} '{name}'");
        match self {
            Failure::NotFound => Error::NotFound,
            Failure::Exists => Error::backend(format!("{what}: resource already exists")),
            Failure::Denied(msg) => Error::backend(format!("{what}: access denied: {msg}")),
            Failure::Unreachable(msg) => Error::unreachable(format!("{what}: {msg}")),
            Failure::Other(msg) => Error::backend(format!("{what}: {msg}")),
        }
    }
}

/// Error codes that mean "these credentials may not do this".
const DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
];

/// Error codes that mean "up, but cannot serve now" (after the SDK's own
/// bounded retries).
const BUSY: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// The failure kind of a service answer with HTTP `status`, error `code`
/// and the text to report.
pub(super) fn by_code(status: u16, code: Option<&str>, text: String) -> Failure {
    match code {
        Some("ResourceNotFoundException") => Failure::NotFound,
        Some("ResourceExistsException") => Failure::Exists,
        Some(c) if DENIED.contains(&c) => Failure::Denied(text),
        Some(c) if BUSY.contains(&c) => Failure::Unreachable(text),
        _ => match status {
            401 | 403 => Failure::Denied(text),
            502..=504 => Failure::Unreachable(text),
            _ => Failure::Other(text),
        },
    }
}

/// `code: message (HTTP status)` of a service answer.
fn answer_text(status: u16, code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m} (HTTP {status})"),
        (Some(c), None) => format!("{c} (HTTP {status})"),
        (None, Some(m)) => format!("{m} (HTTP {status})"),
        (None, None) => format!("HTTP {status}"),
    }
}

/// Classifies an SDK error.
pub(super) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let e = se.err();
            by_code(status, e.code(), answer_text(status, e.code(), e.message()))
        }
        SdkError::ResponseError(re) => {
            let status = re.raw().status().as_u16();
            let text = format!("unexpected response: {}", DisplayErrorContext(err));
            match status {
                502..=504 => Failure::Unreachable(text),
                _ => Failure::Other(text),
            }
        }
        SdkError::TimeoutError(_) => {
            Failure::Unreachable(format!("timed out: {}", DisplayErrorContext(err)))
        }
        SdkError::DispatchFailure(df) => {
            let text = DisplayErrorContext(err).to_string();
            if df.is_user() {
                Failure::Other(text)
            } else {
                Failure::Unreachable(text)
            }
        }
        SdkError::ConstructionFailure(_) => Failure::Other(DisplayErrorContext(err).to_string()),
        _ => Failure::Other(DisplayErrorContext(err).to_string()),
    }
}

/// Shorthand: classify and convert, for calls whose `Exists` has no
/// special meaning.
pub(super) fn to_error<E>(err: &SdkError<E, HttpResponse>, op: &str, name: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(err).into_error(op, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        s.to_owned()
    }

    #[test]
    fn codes_and_statuses_map_to_the_keystore_error_kinds() {
        let cases = [
            (400, Some("ResourceNotFoundException"), Failure::NotFound),
            (400, Some("ResourceExistsException"), Failure::Exists),
            (
                400,
                Some("AccessDeniedException"),
                Failure::Denied(text("t")),
            ),
            (
                403,
                Some("UnrecognizedClientException"),
                Failure::Denied(text("t")),
            ),
            (
                403,
                Some("InvalidClientTokenId"),
                Failure::Denied(text("t")),
            ),
            (403, Some("SomethingNew"), Failure::Denied(text("t"))),
            (
                400,
                Some("ExpiredTokenException"),
                Failure::Denied(text("t")),
            ),
            (
                400,
                Some("ThrottlingException"),
                Failure::Unreachable(text("t")),
            ),
            (
                503,
                Some("ServiceUnavailable"),
                Failure::Unreachable(text("t")),
            ),
            (502, None, Failure::Unreachable(text("t"))),
            (504, None, Failure::Unreachable(text("t"))),
            (500, Some("InternalServiceError"), Failure::Other(text("t"))),
            (
                400,
                Some("InvalidRequestException"),
                Failure::Other(text("t")),
            ),
            (400, Some("DecryptionFailure"), Failure::Other(text("t"))),
        ];
        for (status, code, want) in cases {
            assert_eq!(by_code(status, code, text("t")), want, "{status} {code:?}");
        }
    }

    #[test]
    fn errors_name_the_operation_and_secret_and_keep_the_detail() {
        let denied = by_code(
            400,
            Some("AccessDeniedException"),
            answer_text(
                400,
                Some("AccessDeniedException"),
                Some("User: arn:aws:iam::1:user/kes is not authorized"),
            ),
        );
        let err = denied.into_error("create", "my-key");
        assert!(matches!(err, Error::Backend(_)));
        assert_eq!(
            err.to_string(),
            "keystore error: aws: failed to create 'my-key': access denied: AccessDeniedException: \
             User: arn:aws:iam::1:user/kes is not authorized (HTTP 400)"
        );
        let err = Failure::Unreachable(text("connection refused")).into_error("read", "k");
        assert!(matches!(err, Error::Unreachable(_)));
        assert!(matches!(
            Failure::NotFound.into_error("read", "k"),
            Error::NotFound
        ));
        assert!(matches!(
            Failure::Exists.into_error("delete", "k"),
            Error::Backend(_)
        ));
        assert_eq!(answer_text(503, None, None), "HTTP 503");
    }
}
