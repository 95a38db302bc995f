//! MinIO's Prometheus endpoint `GET /minio/v2/metrics/cluster` (metrics v2), limited to the KMS
//! family (object-sse.md §8), in Prometheus text format 0.0.4. Served by the hyper front
//! service before s3s, because Prometheus authenticates with a bearer token s3s would reject.
//!
//! | Metric | Type | Value |
//! |---|---|---|
//! | `minio_cluster_kms_online` | gauge | 1 when KES answers `GET /v1/status` (through the failover client), else 0 |
//! | `minio_cluster_kms_request_success` | counter | successful KMS requests (generate, decrypt, create) |
//! | `minio_cluster_kms_request_error` | counter | KMS requests answered with a status below 500 |
//! | `minio_cluster_kms_request_failure` | counter | KMS requests answered 5xx or not at all |
//! | `minio_cluster_kms_uptime` | counter | KES uptime in seconds (from the same status call; absent while offline) |
//!
//! Without a KMS the body is empty. Each scrape costs one KES status call, bounded by
//! [`STATUS_TIMEOUT`].
//!
//! Authentication (MinIO's `MINIO_PROMETHEUS_AUTH_TYPE`): `jwt` (default) requires
//! `Authorization: Bearer <JWT>` as `mc admin prometheus generate` makes it — HS256/384/512
//! signed with the root secret key, `sub` (or `accessKey`) = the root access key, `exp` (when
//! present) in the future; `public` requires nothing. Refusals are 403 `AccessDenied` (JSON).

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, Response, StatusCode};
use zeroize::Zeroizing;

use crate::config::Credentials;
use crate::sse::kms::Kms;

/// The path served.
pub const PATH: &str = "/minio/v2/metrics/cluster";
/// Bound of the KES status call of one scrape.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The endpoint: the KMS (if any) and how scrapes authenticate.
#[derive(Clone)]
pub struct Metrics {
    kms: Option<Kms>,
    access_key: String,
    secret_key: Zeroizing<String>,
    public: bool,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("kms", &self.kms.is_some())
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("public", &self.public)
            .finish()
    }
}

/// Why a bearer token was refused (logged at debug level; clients get 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Missing,
    Malformed,
    Algorithm,
    Signature,
    Subject,
    Expired,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Metrics {
    /// The endpoint over `kms` with the root `credentials`; `public` skips authentication.
    pub fn new(kms: Option<Kms>, credentials: &Credentials, public: bool) -> Self {
        Self {
            kms,
            access_key: credentials.access_key.clone(),
            secret_key: credentials.secret_key.clone(),
            public,
        }
    }

    /// Checks `Authorization: Bearer <header.payload.signature>`.
    fn authorize(&self, headers: &HeaderMap, now: u64) -> Result<(), Refused> {
        if self.public {
            return Ok(());
        }
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refused::Missing)?
            .trim();
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refused::Malformed);
        };
        let decode = |x: &str| URL_SAFE_NO_PAD.decode(x).map_err(|_| Refused::Malformed);
        let json = |b: Vec<u8>| {
            serde_json::from_slice::<serde_json::Value>(&b).map_err(|_| Refused::Malformed)
        };
        let header = json(decode(h)?)?;
        let alg = match header.get("alg").and_then(|a| a.as_str()) {
            Some("HS256") => aws_lc_rs::hmac::HMAC_SHA256,
            Some("HS384") => aws_lc_rs::hmac::HMAC_SHA384,
            Some("HS512") => aws_lc_rs::hmac::HMAC_SHA512,
            _ => return Err(Refused::Algorithm),
        };
        let key = aws_lc_rs::hmac::Key::new(alg, self.secret_key.as_bytes());
        let signed = format!("{h}.{p}");
        aws_lc_rs::hmac::verify(&key, signed.as_bytes(), &decode(s)?)
            .map_err(|_| Refused::Signature)?;
        let claims = json(decode(p)?)?;
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str());
        let subject = text("sub").or_else(|| text("accessKey"));
        if subject != Some(self.access_key.as_str()) {
            return Err(Refused::Subject);
        }
        match claims.get("exp") {
            None | Some(serde_json::Value::Null) => Ok(()),
            Some(exp) => match exp.as_f64() {
                Some(e) if e > now as f64 => Ok(()),
                _ => Err(Refused::Expired),
            },
        }
    }

    /// The exposition text.
    async fn render(&self) -> String {
        let Some(kms) = &self.kms else {
            return String::new();
        };
        let status = tokio::time::timeout(STATUS_TIMEOUT, kms.client().status()).await;
        let uptime = match status {
            Ok(Ok(s)) => Some(s.uptime),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "KMS status for metrics failed");
                None
            }
            Err(_) => None,
        };
        let (success, error, failure) = kms.metrics().counts();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, value: u64| {
            out.push_str(&format!(
                "# HELP minio_cluster_kms_{name} {help}\n# TYPE minio_cluster_kms_{name} {kind}\n\
                 minio_cluster_kms_{name} {value}\n"
            ));
        };
        family(
            "online",
            "gauge",
            "Whether the KMS is online (1) or offline (0)",
            u64::from(uptime.is_some()),
        );
        family(
            "request_success",
            "counter",
            "KMS requests that succeeded",
            success,
        );
        family(
            "request_error",
            "counter",
            "KMS requests that failed with an error (HTTP 4xx status code)",
            error,
        );
        family(
            "request_failure",
            "counter",
            "KMS requests that failed internally or got no answer (HTTP 5xx status code)",
            failure,
        );
        if let Some(up) = uptime {
            family(
                "uptime",
                "counter",
                "How long the KMS has been up, in seconds",
                up,
            );
        }
        out
    }

    /// Answers one request for [`PATH`] (any method but GET/HEAD: 405).
    pub async fn respond(&self, method: &http::Method, headers: &HeaderMap) -> Response<s3s::Body> {
        let reply = |status: StatusCode, ctype: &'static str, body: String| {
            let mut r = Response::new(s3s::Body::from(body));
            *r.status_mut() = status;
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(ctype),
            );
            r
        };
        if method != http::Method::GET && method != http::Method::HEAD {
            return reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "application/json",
                r#"{"Code":"MethodNotAllowed","Message":"The specified method is not allowed against this resource."}"#.to_owned(),
            );
        }
        if let Err(why) = self.authorize(headers, unix_now()) {
            tracing::debug!(reason = ?why, "metrics request refused");
            return reply(
                StatusCode::FORBIDDEN,
                "application/json",
                r#"{"Code":"AccessDenied","Message":"Access Denied."}"#.to_owned(),
            );
        }
        reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            self.render().await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(alg: &str, claims: &serde_json::Value, secret: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let a = match alg {
            "HS256" => aws_lc_rs::hmac::HMAC_SHA256,
            _ => aws_lc_rs::hmac::HMAC_SHA512,
        };
        let sig = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(a, secret.as_bytes()),
            format!("{h}.{p}").as_bytes(),
        );
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn bearer(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
        h
    }

    #[test]
    fn bearer_tokens() {
        let creds = Credentials {
            access_key: "admin".into(),
            secret_key: Zeroizing::new("secret-key-123".into()),
        };
        let m = Metrics::new(None, &creds, false);
        let now = 1_000_000;
        let good = serde_json::json!({"exp": now + 60, "sub": "admin", "iss": "prometheus"});
        for alg in ["HS512", "HS256"] {
            let t = token(alg, &good, "secret-key-123");
            assert_eq!(m.authorize(&bearer(&t), now), Ok(()), "{alg}");
        }
        let legacy = serde_json::json!({"accessKey": "admin"});
        assert_eq!(
            m.authorize(&bearer(&token("HS512", &legacy, "secret-key-123")), now),
            Ok(())
        );
        let cases = [
            (token("HS512", &good, "wrong"), Refused::Signature),
            (
                token(
                    "HS512",
                    &serde_json::json!({"exp": now - 1, "sub": "admin"}),
                    "secret-key-123",
                ),
                Refused::Expired,
            ),
            (
                token(
                    "HS512",
                    &serde_json::json!({"sub": "other"}),
                    "secret-key-123",
                ),
                Refused::Subject,
            ),
            (token("RS256", &good, "secret-key-123"), Refused::Algorithm),
            ("a.b".to_owned(), Refused::Malformed),
        ];
        for (t, want) in cases {
            assert_eq!(m.authorize(&bearer(&t), now), Err(want), "{t}");
        }
        // A valid token with its payload swapped fails the signature.
        let t = token("HS512", &good, "secret-key-123");
        let other = URL_SAFE_NO_PAD.encode(r#"{"sub":"admin","exp":99999999999}"#);
        let mut p = t.split('.');
        let forged = format!("{}.{other}.{}", p.next().unwrap(), p.nth(1).unwrap());
        assert_eq!(m.authorize(&bearer(&forged), now), Err(Refused::Signature));
        assert_eq!(m.authorize(&HeaderMap::new(), now), Err(Refused::Missing));
        assert!(!format!("{m:?}").contains("secret-key-123"));
        assert_eq!(
            Metrics::new(None, &creds, true).authorize(&HeaderMap::new(), now),
            Ok(())
        );
    }
}
