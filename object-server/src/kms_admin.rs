//! MinIO's KMS admin API (object-sse.md §8) as an s3s custom route: the endpoints behind
//! `mc admin kms key status|create|list`. Requests are SigV4-signed with the root credentials
//! (s3s verifies them before [`KmsAdmin::call`]); answers are JSON.
//!
//! | Path | Method | Answer |
//! |---|---|---|
//! | `/minio/kms/v1/status`, `/minio/admin/v3/kms/status` | GET / POST | `{"name":"MinIO KES","default-key-id","endpoints":{url:"online"\|"offline"}}` |
//! | `/minio/kms/v1/metrics` | GET | local counters ([`crate::sse::kms_metrics`]) |
//! | `/minio/kms/v1/apis` | GET | KES `/v1/api` |
//! | `/minio/kms/v1/version` | GET | `{"version"}` |
//! | `/minio/kms/v1/key/create?key-id=X`, `/minio/admin/v3/kms/key/create?key-id=X` | POST | 200, empty |
//! | `/minio/kms/v1/key/list?pattern=P` | GET | `[{"name"}]` (`*` = all, trailing `*` = prefix) |
//! | `/minio/kms/v1/key/status?key-id=X`, `/minio/admin/v3/kms/key/status[?key-id=X]` | GET | `{"key-id"}` plus `"encryption-error"` / `"decryption-error"` |
//!
//! Without a KMS every path answers `501 NotImplemented`; KES failures answer 500 with the
//! KES error text (never key material). A bucket named `minio` cannot reach these object paths.
//!
//! Health (unauthenticated, as MinIO): `/minio/health/live` is 200 while the process serves;
//! `/minio/health/ready` is 200 when the default key can generate a data key (context
//! `{"healthcheck":""}`, 1 min bound), else the mapped KMS status (e.g. 500 when KES is
//! unreachable); without a KMS it is 200.

use http::{HeaderMap, Method, StatusCode, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use crate::sse::context::{self, Context};
use crate::sse::kms::Kms;

const V1: &str = "/minio/kms/v1/";
const V3: &str = "/minio/admin/v3/kms/";
const LIVE: &str = "/minio/health/live";
const READY: &str = "/minio/health/ready";
/// Bound of the readiness check's KES call.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The KMS admin route.
#[derive(Debug, Clone)]
pub struct KmsAdmin {
    kms: Option<Kms>,
}

fn json_response(status: StatusCode, body: &Value) -> S3Response<Body> {
    let mut resp = S3Response::new(Body::from(body.to_string()));
    resp.status = Some(status);
    resp.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: StatusCode, code: &str, message: &str) -> S3Response<Body> {
    json_response(status, &json!({"Code": code, "Message": message}))
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let q = uri.query()?;
    q.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

impl KmsAdmin {
    /// The route over the server's KMS (`None`: every call answers 501).
    pub fn new(kms: Option<Kms>) -> Self {
        Self { kms }
    }

    /// `{"key-id"}` plus the first failure of generate → decrypt → compare (MinIO's key status).
    async fn key_status(kms: &Kms, key: &str) -> Value {
        let mut ctx = Context::new();
        ctx.insert("MinIO admin API".into(), "KMSKeyStatusHandler".into());
        let ctx = context::encode(&ctx);
        let generated = match kms.client().generate(key, &ctx).await {
            Ok(g) => g,
            Err(e) => return json!({"key-id": key, "encryption-error": e.to_string()}),
        };
        match kms.client().decrypt(key, &generated.ciphertext, &ctx).await {
            Err(e) => json!({"key-id": key, "decryption-error": e.to_string()}),
            Ok(plain) if bool::from(plain.as_slice().ct_eq(generated.plaintext.as_bytes())) => {
                json!({"key-id": key})
            }
            Ok(_) => json!({
                "key-id": key,
                "decryption-error": "The generated and the decrypted data key do not match"
            }),
        }
    }

    /// `/minio/health/ready`: a data key of the default key can be generated.
    async fn ready(&self) -> S3Response<Body> {
        let mut status = StatusCode::OK;
        if let Some(kms) = &self.kms {
            let mut ctx = Context::new();
            ctx.insert("healthcheck".into(), String::new());
            let ctx = context::encode(&ctx);
            let check = kms.generate(kms.default_key(), &ctx);
            status = match tokio::time::timeout(READY_TIMEOUT, check).await {
                Ok(Ok(_)) => StatusCode::OK,
                Ok(Err(e)) => s3s::S3Error::from(e)
                    .status_code()
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                Err(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
        }
        let mut resp = S3Response::new(Body::empty());
        resp.status = Some(status);
        resp
    }

    async fn dispatch(&self, kms: &Kms, method: &Method, uri: &Uri) -> S3Response<Body> {
        let path = uri.path();
        let (rel, v3) = match (path.strip_prefix(V1), path.strip_prefix(V3)) {
            (Some(r), _) => (r, false),
            (_, Some(r)) => (r, true),
            _ => return error(StatusCode::NOT_FOUND, "NotFound", "unknown KMS API"),
        };
        let server_error = |e: client::Error| {
            tracing::warn!(error = %e, "KMS admin request failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &e.to_string(),
            )
        };
        match (method.as_str(), rel, v3) {
            ("GET", "status", false) | ("POST", "status", true) => {
                let endpoints: serde_json::Map<String, Value> = kms
                    .endpoint_status()
                    .await
                    .into_iter()
                    .map(|(u, up)| (u, Value::from(if up { "online" } else { "offline" })))
                    .collect();
                json_response(
                    StatusCode::OK,
                    &json!({"name": "MinIO KES", "default-key-id": kms.default_key(), "endpoints": endpoints}),
                )
            }
            ("GET", "metrics", false) => json_response(StatusCode::OK, &kms.metrics().to_json()),
            ("GET", "apis", false) => match kms.client().api().await {
                Ok(apis) => json_response(StatusCode::OK, &json!(apis)),
                Err(e) => server_error(e),
            },
            ("GET", "version", false) => match kms.client().version().await {
                Ok(v) => json_response(StatusCode::OK, &json!({"version": v.version})),
                Err(e) => server_error(e),
            },
            ("POST", "key/create", _) => {
                let Some(key) = query_param(uri, "key-id").filter(|k| !k.is_empty()) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "InvalidArgument",
                        "key-id is missing",
                    );
                };
                match kms.create_key(&key).await {
                    Ok(()) => S3Response::new(Body::empty()),
                    Err(e) if e.is_key_exists() => error(
                        StatusCode::CONFLICT,
                        "kms:KeyAlreadyExists",
                        "key with given key ID already exists",
                    ),
                    Err(e) => server_error(e),
                }
            }
            ("GET", "key/list", false) => {
                let pattern = query_param(uri, "pattern").unwrap_or_default();
                let prefix = pattern.strip_suffix('*').unwrap_or(&pattern);
                match kms.client().list_all_keys(prefix).await {
                    Ok(names) => json_response(
                        StatusCode::OK,
                        &Value::Array(names.into_iter().map(|n| json!({"name": n})).collect()),
                    ),
                    Err(e) => server_error(e),
                }
            }
            ("GET", "key/status", _) => {
                let key = query_param(uri, "key-id")
                    .filter(|k| !k.is_empty())
                    .unwrap_or_else(|| kms.default_key().to_owned());
                json_response(StatusCode::OK, &Self::key_status(kms, &key).await)
            }
            _ => error(StatusCode::NOT_FOUND, "NotFound", "unknown KMS API"),
        }
    }
}

#[async_trait::async_trait]
impl S3Route for KmsAdmin {
    fn is_match(
        &self,
        _method: &Method,
        uri: &Uri,
        _headers: &HeaderMap,
        _extensions: &mut http::Extensions,
    ) -> bool {
        let p = uri.path();
        p.starts_with(V1) || p.starts_with(V3) || p == LIVE || p == READY
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        let health = [LIVE, READY].contains(&req.uri.path());
        if health || req.credentials.is_some() {
            Ok(())
        } else {
            Err(s3s::s3_error!(AccessDenied, "Access Denied."))
        }
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        match req.uri.path() {
            LIVE => return Ok(S3Response::new(Body::empty())),
            READY => return Ok(self.ready().await),
            _ => {}
        }
        Ok(match &self.kms {
            None => error(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                "Server side encryption specified but KMS is not configured",
            ),
            Some(kms) => self.dispatch(kms, &req.method, &req.uri).await,
        })
    }
}
