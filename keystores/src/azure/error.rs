//! How a failed Key Vault or Entra ID call maps to the keystore's [`Error`]
//! kinds.
//!
//! | Answer | [`Failure`] | usual [`Error`] |
//! |---|---|---|
//! | 404 (`SecretNotFound`) | `Missing` | [`Error::NotFound`] (get, delete, update) |
//! | 409 `Conflict` (a soft-deleted name on set) | `Conflict` | [`Error::KeyExists`] (create) |
//! | 403 with inner code `SecretDisabled` | `Disabled` | [`Error::Backend`] "key '…' is disabled in Azure Key Vault" |
//! | 401, other 403 (permission, firewall), a refused token request | `Denied` | [`Error::Backend`], Azure's text logged at `warn` |
//! | no answer from the vault or the token endpoint (connect, TLS, timeout), 502, 503, 504 | `Unreachable` | [`Error::Unreachable`] |
//! | anything else (400, 500, an unparsable body) | `Other` | [`Error::Backend`] |
//!
//! Messages name the operation and the secret and carry Key Vault's code
//! and message; never a value or a token (Key Vault's error bodies hold
//! neither).

use azure_core::error::ErrorKind;

use crate::Error;

/// The backend's view of a failed call.
#[derive(Debug)]
pub(super) enum Failure {
    /// 404.
    Missing,
    /// 409 (Key Vault's `Conflict`: a deleted but recoverable name, or an
    /// object being deleted).
    Conflict(String),
    /// 403 `SecretDisabled`: the version read is disabled.
    Disabled,
    /// 401/403 or a credential failure, with Azure's text.
    Denied(String),
    /// Key Vault cannot be reached or cannot serve.
    Unreachable(String),
    /// Anything else.
    Other(String),
}

/// Key Vault's `innererror.code` of an error body, if any.
fn inner_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error")?;
    let inner = error
        .get("innererror")
        .or_else(|| error.get("innerError"))?;
    inner.get("code")?.as_str().map(str::to_owned)
}

/// Classifies an Azure SDK error.
pub(super) fn classify(err: &azure_core::Error) -> Failure {
    let text = err.to_string();
    match err.kind() {
        ErrorKind::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            let code = u16::from(*status);
            let inner = raw_response.as_ref().and_then(|r| inner_code(r.body()));
            let msg = match (error_code, &inner) {
                (Some(c), Some(i)) => format!("{text} ({c}/{i}, HTTP {code})"),
                (Some(c), None) => format!("{text} ({c}, HTTP {code})"),
                _ => format!("{text} (HTTP {code})"),
            };
            match code {
                404 => Failure::Missing,
                409 => Failure::Conflict(msg),
                403 if inner.as_deref() == Some("SecretDisabled") => Failure::Disabled,
                401 | 403 => Failure::Denied(msg),
                502..=504 => Failure::Unreachable(msg),
                _ => Failure::Other(msg),
            }
        }
        ErrorKind::Connection | ErrorKind::Io => Failure::Unreachable(chain(err)),
        // A token request that got no answer is an outage, not a denial.
        ErrorKind::Credential if unanswered(err) => Failure::Unreachable(chain(err)),
        ErrorKind::Credential => Failure::Denied(chain(err)),
        _ => Failure::Other(chain(err)),
    }
}

/// Whether a source of `err` is a connection or I/O failure.
fn unanswered(err: &azure_core::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(e) = s.downcast_ref::<azure_core::Error>()
            && matches!(e.kind(), ErrorKind::Connection | ErrorKind::Io)
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// The error and its sources on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Failure {
    /// The keystore error for a failure without an operation-specific
    /// meaning (`Missing` and `Conflict` included, as backend errors).
    pub(super) fn into_error(self, op: &str, name: &str) -> Error {
        let what = format!("azure: failed to {op} '{name}'");
        match self {
            Failure::Unreachable(msg) => Error::unreachable(format!("{what}: {msg}")),
            Failure::Denied(msg) => {
                tracing::warn!(operation = op, key = name, detail = %msg, "azure: access denied");
                Error::backend(format!("{what}: access denied: {msg}"))
            }
            Failure::Disabled => Error::backend(format!(
                "{what}: the secret is disabled in Azure Key Vault (enable it to use the key)"
            )),
            Failure::Other(msg) | Failure::Conflict(msg) => {
                Error::backend(format!("{what}: {msg}"))
            }
            Failure::Missing => Error::backend(format!("{what}: not found")),
        }
    }
}

/// Shorthand: classify and convert.
pub(super) fn to_error(err: &azure_core::Error, op: &str, name: &str) -> Error {
    classify(err).into_error(op, name)
}
