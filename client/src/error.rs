//! The crate's error type and the canonical KES API errors (`kes-api.md` §2).
//!
//! Go clients compare KES errors by **(status, message)** equality, so the constants here are protocol, not prose.
//! The server builds its responses from them and tests compare against them.

use std::path::PathBuf;

/// A canonical KES API error: HTTP status and the exact message text.
pub type Canonical = (u16, &'static str);

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error of the `client` crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an error status (≥ 400). `Display` is the message alone, as in Go's `kes.Error`.
    #[error("{message}")]
    Api {
        /// HTTP status code.
        status: u16,
        /// Error text from the `{"message"}` / `{"error"}` JSON body, or the raw body.
        message: String,
    },
    /// The server could not be reached or the connection broke (DNS, refused, reset, TLS handshake, timeout).
    #[error("kes: connection error: {0}")]
    Connection(String),
    /// A TLS configuration problem on our side (bad CA file, unusable client certificate).
    #[error("kes: tls: {0}")]
    Tls(String),
    /// Invalid client configuration (endpoint URL, conflicting credentials, missing identity).
    #[error("kes: {0}")]
    Config(String),
    /// Reading or writing a local file failed.
    #[error("kes: {}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An API key string is malformed; the payload says why (never contains the key).
    #[error("kes: invalid API key: {0}")]
    InvalidApiKey(&'static str),
    /// A certificate could not be parsed or generated.
    #[error("kes: certificate: {0}")]
    Certificate(String),
    /// A successful response had a body we could not decode.
    #[error("kes: invalid response from server: {0}")]
    Decode(String),
}

impl Error {
    /// 400 — the key already exists (400, **not** 409).
    pub const KEY_EXISTS: Canonical = (400, "key already exists");
    /// 400 — legacy (≤ v0.17) spelling of [`Error::KEY_EXISTS`]; later SDKs map it to the same error.
    pub const KEY_EXISTS_LEGACY: Canonical = (400, "key does already exist");
    /// 404 — the key does not exist.
    pub const KEY_NOT_FOUND: Canonical = (404, "key does not exist");
    /// 403 — unknown identity or policy denies the request.
    pub const NOT_ALLOWED: Canonical = (403, "not authorized: insufficient permissions");
    /// 403 — legacy (≤ v0.17) spelling of [`Error::NOT_ALLOWED`].
    pub const NOT_ALLOWED_LEGACY: Canonical = (403, "prohibited by policy");
    /// 400 — ciphertext not authentic (bad bytes, wrong context or key).
    pub const DECRYPT_FAILED: Canonical = (400, "decryption failed: ciphertext is not authentic");
    /// 404 — policy not found.
    pub const POLICY_NOT_FOUND: Canonical = (404, "policy does not exist");
    /// 404 — identity not found.
    pub const IDENTITY_NOT_FOUND: Canonical = (404, "identity does not exist");
    /// 400 — plain HTTP request.
    pub const TLS_REQUIRED: Canonical = (400, "insecure connection: TLS is required");
    /// 400 — no (non-CA) client certificate.
    pub const CLIENT_CERT_REQUIRED: Canonical = (400, "tls: client certificate is required");
    /// 400 — more than one non-CA client certificate.
    pub const TOO_MANY_CLIENT_CERTS: Canonical =
        (400, "tls: received more than one client certificate");
    /// 400 — malformed or oversized body.
    pub const INVALID_REQUEST_BODY: Canonical = (400, "invalid request body");
    /// 400 — malformed import body.
    pub const INVALID_IMPORT_BODY: Canonical = (400, "invalid import key request body");
    /// 409 — the key has no HMAC key (old JSON key format).
    pub const HMAC_NOT_SUPPORTED: Canonical = (409, "key does not support HMAC");
    /// 502 — keystore create failed.
    pub const CREATE_KEY_FAILED: Canonical = (502, "failed to create key");
    /// 502 — keystore read failed.
    pub const READ_KEY_FAILED: Canonical = (502, "failed to read key");
    /// 502 — keystore delete failed.
    pub const DELETE_KEY_FAILED: Canonical = (502, "failed to delete key");
    /// 502 — keystore list failed.
    pub const LIST_KEYS_FAILED: Canonical = (502, "failed to list keys");
    /// 502 — **extension**: a disable, enable or rotate could not be written to the keystore.
    pub const UPDATE_KEY_FAILED: Canonical = (502, "failed to update key");
    /// 504 — `/v1/ready`: keystore not reachable.
    pub const KEYSTORE_UNREACHABLE: Canonical = (504, "key store is not reachable");
    /// 502 — `/v1/ready`: keystore unavailable.
    pub const KEYSTORE_UNAVAILABLE: Canonical = (502, "key store is unavailable");
    /// 500 — internal encryption failure.
    pub const ENCRYPT_FAILED: Canonical = (500, "failed to encrypt plaintext");
    /// 500 — internal failure generating a key or data key.
    pub const GENERATE_FAILED: Canonical = (500, "failed to generate encryption key");
    /// 500 — internal decryption failure other than authentication.
    pub const DECRYPT_INTERNAL: Canonical = (500, "failed to decrypt ciphertext");
    /// 500 — creating an imported key failed internally.
    pub const IMPORT_FAILED: Canonical = (500, "failed to create key");
    /// 500 — the server cannot read its own version.
    pub const VERSION_FAILED: Canonical = (500, "failed to read server version");
    /// 400 — bulk decrypt with more than 1000 items.
    pub const TOO_MANY_CIPHERTEXTS: Canonical = (400, "too many ciphertexts");
    /// 501 — the legacy server's answer to unknown paths.
    pub const NOT_IMPLEMENTED: Canonical = (501, "not implemented");
    /// 403 — **extension**: the key is disabled (`kes-api.md` decision e).
    pub const KEY_DISABLED: Canonical = (403, "key is disabled");

    /// Builds an API error from a status and message.
    pub fn api(status: u16, message: impl Into<String>) -> Self {
        Error::Api {
            status,
            message: message.into(),
        }
    }

    /// 400 `key name '<name>' is empty, too long or contains invalid characters`.
    pub fn invalid_key_name(name: &str) -> Self {
        Self::api(
            400,
            format!("key name '{name}' is empty, too long or contains invalid characters"),
        )
    }

    /// 400 `policy name '<name>' is empty, too long or contains invalid characters`.
    pub fn invalid_policy_name(name: &str) -> Self {
        Self::api(
            400,
            format!("policy name '{name}' is empty, too long or contains invalid characters"),
        )
    }

    /// 400 `identity '<id>' is empty, too long or contains invalid characters`.
    pub fn invalid_identity(identity: &str) -> Self {
        Self::api(
            400,
            format!("identity '{identity}' is empty, too long or contains invalid characters"),
        )
    }

    /// 400 `listing pattern '<pattern>' is empty, too long or is invalid`.
    pub fn invalid_pattern(pattern: &str) -> Self {
        Self::api(
            400,
            format!("listing pattern '{pattern}' is empty, too long or is invalid"),
        )
    }

    /// 406 `algorithm '<cipher>' is not supported`.
    pub fn algorithm_not_supported(cipher: &str) -> Self {
        Self::api(406, format!("algorithm '{cipher}' is not supported"))
    }

    /// 406 `algorithm '<cipher>' not supported by FIPS 140-2`.
    pub fn algorithm_not_fips(cipher: &str) -> Self {
        Self::api(
            406,
            format!("algorithm '{cipher}' not supported by FIPS 140-2"),
        )
    }

    /// 406 `invalid key size for '<cipher>'`.
    pub fn invalid_key_size(cipher: &str) -> Self {
        Self::api(406, format!("invalid key size for '{cipher}'"))
    }

    /// 405 `received method '<got>' expected '<expected>'` (the server also sets `Accept: <expected>`).
    pub fn method_not_allowed(got: &str, expected: &str) -> Self {
        Self::api(
            405,
            format!("received method '{got}' expected '{expected}'"),
        )
    }

    /// The HTTP status of an [`Error::Api`]; `None` for every other variant.
    pub fn status(&self) -> Option<u16> {
        self.api_parts().map(|(status, _)| status)
    }

    /// True if this is an API error with exactly this status and message.
    pub fn is(&self, status: u16, message: &str) -> bool {
        self.api_parts() == Some((status, message))
    }

    /// Status and message of an [`Error::Api`]; `None` for every other variant.
    fn api_parts(&self) -> Option<(u16, &str)> {
        match self {
            Error::Api { status, message } => Some((*status, message)),
            Error::Connection(_)
            | Error::Tls(_)
            | Error::Config(_)
            | Error::Io { .. }
            | Error::InvalidApiKey(_)
            | Error::Certificate(_)
            | Error::Decode(_) => None,
        }
    }

    /// True if this is the given canonical error (exact status and message).
    pub fn matches(&self, canonical: Canonical) -> bool {
        self.is(canonical.0, canonical.1)
    }

    /// "Key exists", current or legacy spelling (what the Go SDKs map to `ErrKeyExists`).
    pub fn is_key_exists(&self) -> bool {
        self.matches(Self::KEY_EXISTS) || self.matches(Self::KEY_EXISTS_LEGACY)
    }

    /// "Key not found".
    pub fn is_key_not_found(&self) -> bool {
        self.matches(Self::KEY_NOT_FOUND)
    }

    /// "Not allowed", current or legacy spelling.
    pub fn is_not_allowed(&self) -> bool {
        self.matches(Self::NOT_ALLOWED) || self.matches(Self::NOT_ALLOWED_LEGACY)
    }

    /// True for transport failures (the class the client retries and fails over on).
    pub fn is_connection(&self) -> bool {
        matches!(self, Error::Connection(_))
    }

    /// Parses an error response as the Go SDK does: if `Content-Type` starts with `application/json`, the message
    /// is the `message` (or else `error`) string of the JSON object; otherwise the raw body (trimmed) is the message.
    /// An empty result falls back to the HTTP reason phrase so the error is never blank.
    pub fn from_response(status: u16, content_type: Option<&str>, body: &[u8]) -> Self {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default, alias = "Message")]
            message: Option<String>,
            #[serde(default, alias = "Error")]
            error: Option<String>,
        }
        let is_json = content_type.is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
        let mut message = if is_json {
            match serde_json::from_slice::<Body>(body) {
                Ok(b) => b
                    .message
                    .filter(|m| !m.is_empty())
                    .or(b.error)
                    .unwrap_or_default(),
                Err(_) => String::from_utf8_lossy(body).trim().to_string(),
            }
        } else {
            String::from_utf8_lossy(body).trim().to_string()
        };
        if message.is_empty() {
            message = http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("unknown error")
                .to_string();
        }
        Error::Api { status, message }
    }
}

impl From<Canonical> for Error {
    fn from(c: Canonical) -> Self {
        Error::api(c.0, c.1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests may panic")]
mod tests {
    use super::*;

    #[test]
    fn parses_message_and_error_fields() {
        let e = Error::from_response(
            400,
            Some("application/json"),
            b"{\"message\":\"key already exists\"\n}",
        );
        assert!(e.matches(Error::KEY_EXISTS));
        assert!(e.is_key_exists());
        assert_eq!(e.to_string(), "key already exists");
        let e = Error::from_response(
            404,
            Some("application/json; charset=utf-8"),
            br#"{"error":"key does not exist"}"#,
        );
        assert!(e.is_key_not_found());
        assert_eq!(e.status(), Some(404));
    }

    #[test]
    fn non_json_body_is_the_message() {
        let e = Error::from_response(
            404,
            Some("text/plain; charset=utf-8"),
            b"404 page not found\n",
        );
        assert!(e.is(404, "404 page not found"));
        // JSON text without a JSON content type is taken verbatim, as the Go SDK does.
        let e = Error::from_response(403, None, br#"{"message":"x"}"#);
        assert!(e.is(403, r#"{"message":"x"}"#));
    }

    #[test]
    fn empty_body_falls_back_to_reason() {
        let e = Error::from_response(503, None, b"");
        assert!(e.is(503, "Service Unavailable"));
        let e = Error::from_response(500, Some("application/json"), b"{}");
        assert!(e.is(500, "Internal Server Error"));
    }

    #[test]
    fn legacy_spellings_map() {
        assert!(Error::from(Error::KEY_EXISTS_LEGACY).is_key_exists());
        assert!(Error::from(Error::NOT_ALLOWED_LEGACY).is_not_allowed());
        assert!(!Error::from(Error::NOT_ALLOWED).is_key_exists());
        assert!(!Error::Connection("x".into()).is(400, "key already exists"));
    }

    #[test]
    fn formatted_messages() {
        assert!(Error::invalid_key_name("a/b").is(
            400,
            "key name 'a/b' is empty, too long or contains invalid characters"
        ));
        assert!(Error::invalid_pattern("*a*").is(
            400,
            "listing pattern '*a*' is empty, too long or is invalid"
        ));
        assert!(Error::algorithm_not_supported("DES").is(406, "algorithm 'DES' is not supported"));
        assert!(Error::invalid_key_size("AES256").is(406, "invalid key size for 'AES256'"));
        assert!(
            Error::method_not_allowed("GET", "PUT").is(405, "received method 'GET' expected 'PUT'")
        );
        assert_eq!(Error::KEY_DISABLED, (403, "key is disabled"));
        assert_eq!(
            Error::NOT_ALLOWED,
            (403, "not authorized: insufficient permissions")
        );
    }
}
