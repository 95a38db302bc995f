//! [`ApiError`]: every error the API sends, with its exact KES status and message.
//!
//! Statuses and messages are verbatim those of current KES (kes-api.md §2.2);
//! Go clients compare them byte for byte. Server-side failures carry their
//! cause for the error log only; clients see KES's generic message.

use http::StatusCode;

/// Which keystore operation failed (selects KES's generic 502 message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeystoreOp {
    /// `failed to create key`
    Create,
    /// `failed to read key`
    Read,
    /// `failed to delete key`
    Delete,
    /// `failed to list keys`
    List,
    /// `failed to update key` (extension: disable, enable, rotate)
    Update,
}

/// Every error response of the KES API.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// 400 `key already exists`
    #[error("key already exists")]
    KeyExists,
    /// 404 `key does not exist`
    #[error("key does not exist")]
    KeyNotFound,
    /// 403 `not authorized: insufficient permissions`
    #[error("not authorized: insufficient permissions")]
    NotAllowed,
    /// 400 `decryption failed: ciphertext is not authentic`
    #[error("decryption failed: ciphertext is not authentic")]
    NotAuthentic,
    /// 404 `policy does not exist`
    #[error("policy does not exist")]
    PolicyNotFound,
    /// 404 `identity does not exist`
    #[error("identity does not exist")]
    IdentityNotFound,
    /// 400 `tls: client certificate is required`
    #[error("tls: client certificate is required")]
    NoCertificate,
    /// 400 `tls: received more than one client certificate`
    #[error("tls: received more than one client certificate")]
    TooManyCertificates,
    /// 400 `key name '<n>' is empty, too long or contains invalid characters`
    #[error("key name '{0}' is empty, too long or contains invalid characters")]
    InvalidKeyName(String),
    /// 400 `policy name '<n>' is empty, too long or contains invalid characters`
    #[error("policy name '{0}' is empty, too long or contains invalid characters")]
    InvalidPolicyName(String),
    /// 400 `identity '<n>' is empty, too long or contains invalid characters`
    #[error("identity '{0}' is empty, too long or contains invalid characters")]
    InvalidIdentity(String),
    /// 400 `listing pattern '<p>' is empty, too long or is invalid`
    #[error("listing pattern '{0}' is empty, too long or is invalid")]
    InvalidPattern(String),
    /// 400 `invalid request body`
    #[error("invalid request body")]
    InvalidBody,
    /// 400 `invalid import key request body`
    #[error("invalid import key request body")]
    InvalidImportBody,
    /// 406 `algorithm '<x>' is not supported`
    #[error("algorithm '{0}' is not supported")]
    UnsupportedAlgorithm(String),
    /// 406 `invalid key size for '<x>'`
    #[error("invalid key size for '{0}'")]
    InvalidKeySize(String),
    /// 403 `key is disabled` (extension, kes-api.md decision e): generate,
    /// encrypt, decrypt, bulk decrypt, HMAC and rewrap on a disabled key.
    #[error("key is disabled")]
    KeyDisabled,
    /// 409 `key does not support HMAC`
    #[error("key does not support HMAC")]
    NoHmac,
    /// 400 `too many ciphertexts` (legacy bulk decrypt)
    #[error("too many ciphertexts")]
    TooManyCiphertexts,
    /// 502 with KES's generic message; the cause goes to the error log.
    #[error("{}", keystore_message(*.op))]
    Keystore {
        /// The failed operation.
        op: KeystoreOp,
        /// The cause (logged, never sent).
        #[source]
        source: keystores::Error,
    },
    /// 504 `key store is not reachable`
    #[error("key store is not reachable")]
    KeystoreUnreachable,
    /// 502 `key store is unavailable`
    #[error("key store is unavailable")]
    KeystoreUnavailable,
    /// 500 with a fixed message (`failed to encrypt plaintext`, …).
    #[error("{0}")]
    Internal(&'static str),
    /// 405 `received method 'X' expected 'Y'` with an `Accept` header.
    #[error("received method '{got}' expected '{expected}'")]
    MethodNotAllowed {
        /// The method received.
        got: String,
        /// The method the route declares.
        expected: &'static str,
    },
    /// 400 `invalid request path`: a path that is not in canonical form
    /// (`//`, `.` or `..` segments, bad percent-encoding).
    #[error("invalid request path")]
    InvalidPath,
    /// 503 `request timed out`: the route's timeout elapsed.
    #[error("request timed out")]
    Timeout,
}

fn keystore_message(op: KeystoreOp) -> &'static str {
    match op {
        KeystoreOp::Create => "failed to create key",
        KeystoreOp::Read => "failed to read key",
        KeystoreOp::Delete => "failed to delete key",
        KeystoreOp::List => "failed to list keys",
        KeystoreOp::Update => "failed to update key",
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(err: crate::auth::AuthError) -> Self {
        match err {
            crate::auth::AuthError::NoCertificate => ApiError::NoCertificate,
            crate::auth::AuthError::TooManyCertificates => ApiError::TooManyCertificates,
        }
    }
}

impl ApiError {
    /// The HTTP status (exhaustive, no wildcard).
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::KeyExists
            | ApiError::NotAuthentic
            | ApiError::NoCertificate
            | ApiError::TooManyCertificates
            | ApiError::InvalidKeyName(_)
            | ApiError::InvalidPolicyName(_)
            | ApiError::InvalidIdentity(_)
            | ApiError::InvalidPattern(_)
            | ApiError::InvalidBody
            | ApiError::InvalidImportBody
            | ApiError::TooManyCiphertexts
            | ApiError::InvalidPath => StatusCode::BAD_REQUEST,
            ApiError::KeyNotFound | ApiError::PolicyNotFound | ApiError::IdentityNotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::NotAllowed | ApiError::KeyDisabled => StatusCode::FORBIDDEN,
            ApiError::UnsupportedAlgorithm(_) | ApiError::InvalidKeySize(_) => {
                StatusCode::NOT_ACCEPTABLE
            }
            ApiError::NoHmac => StatusCode::CONFLICT,
            ApiError::Keystore { .. } | ApiError::KeystoreUnavailable => StatusCode::BAD_GATEWAY,
            ApiError::KeystoreUnreachable => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Maps a keystore error of operation `op`: exists and not-found become
    /// their KES errors, everything else a 502 whose cause is only logged.
    pub(crate) fn keystore(op: KeystoreOp, err: keystores::Error) -> ApiError {
        match err {
            keystores::Error::KeyExists => ApiError::KeyExists,
            keystores::Error::NotFound => ApiError::KeyNotFound,
            keystores::Error::InvalidName
            | keystores::Error::Conflict
            | keystores::Error::Unsupported(_)
            | keystores::Error::Unreachable(_)
            | keystores::Error::Backend(_) => ApiError::Keystore { op, source: err },
        }
    }

    /// Whether this is a server-side failure whose cause should be logged.
    pub(crate) fn is_server_error(&self) -> bool {
        self.status().is_server_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_kes_verbatim() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::KeyExists, 400, "key already exists"),
            (ApiError::KeyNotFound, 404, "key does not exist"),
            (
                ApiError::NotAllowed,
                403,
                "not authorized: insufficient permissions",
            ),
            (
                ApiError::NotAuthentic,
                400,
                "decryption failed: ciphertext is not authentic",
            ),
            (ApiError::NoHmac, 409, "key does not support HMAC"),
            (ApiError::KeyDisabled, 403, "key is disabled"),
            (
                ApiError::keystore(KeystoreOp::Update, keystores::Error::Conflict),
                502,
                "failed to update key",
            ),
            (
                ApiError::keystore(KeystoreOp::Read, keystores::Error::backend("disk on fire")),
                502,
                "failed to read key",
            ),
            (
                ApiError::InvalidKeySize("AES256".into()),
                406,
                "invalid key size for 'AES256'",
            ),
            (
                ApiError::MethodNotAllowed {
                    got: "GET".into(),
                    expected: "PUT",
                },
                405,
                "received method 'GET' expected 'PUT'",
            ),
        ];
        for (err, status, msg) in cases {
            assert_eq!(err.status().as_u16(), status);
            assert_eq!(err.to_string(), msg);
        }
    }
}
