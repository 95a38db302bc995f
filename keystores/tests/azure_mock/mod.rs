//! A contract mock of Azure Key Vault (secrets) and of the Entra ID token
//! endpoint, served over real TLS on `127.0.0.1:<port 0>` with a test CA.
//!
//! It implements exactly the requests the `azure` keystore sends, from
//! Microsoft's published REST references, and rejects anything else with
//! Key Vault's error shape (and records it, see [`Mock::unexpected`]):
//!
//! - Entra ID client-credentials grant, `POST /{tenant}/oauth2/v2.0/token`
//!   (form `client_id`, `client_secret`, `grant_type=client_credentials`,
//!   `scope`): <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>
//!   (success `{"token_type","expires_in","ext_expires_in","access_token"}`;
//!   errors `{"error","error_description","error_codes",…}` as in the
//!   "Error response" section).
//! - Key Vault authentication: a request without a valid bearer token gets
//!   `401` with `WWW-Authenticate: Bearer authorization="<authority>/<tenant>",
//!   resource="https://vault.azure.net"`:
//!   <https://learn.microsoft.com/en-us/azure/key-vault/general/authentication-requests-and-responses>
//!   ("Authentication" and the error-code table of that page).
//! - The secrets operations (module `secrets`), each citing its page.
//!
//! Tokens are random strings the mock remembers; [`Mock::revoke_tokens`]
//! forgets them (what a revoked or expired token looks like to a client).
#![allow(
    unreachable_pub,
    reason = "a test support module: `pub` is for the test binary"
)]
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test support: a panic is the failure report"
)]

mod secrets;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The tenant, client and secret the mock's token endpoint accepts.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT_ID: &str = "4f1c5e2a-7d3b-4c8e-9a6f-0b2d1e3c4a5b";
pub const CLIENT_SECRET: &str = "mock-client-secret-value";

/// Shared state of one mock server.
pub(crate) struct State {
    /// `https://127.0.0.1:<port>` (vault and authority alike).
    pub(crate) base: String,
    pub(crate) tokens: HashSet<String>,
    pub(crate) vault: secrets::Vault,
    /// Requests the contract does not cover: `METHOD path?query`.
    pub(crate) unexpected: Vec<String>,
    /// Every request as `METHOD path?query` (a token's value is never logged).
    pub(crate) log: Vec<String>,
}

/// A running mock; stops when dropped.
pub struct Mock {
    state: Arc<Mutex<State>>,
    addr: SocketAddr,
    pub dir: tempfile::TempDir,
    task: tokio::task::AbortHandle,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    /// Starts a mock whose secret listings return at most `page_size`
    /// items per page when the client does not ask for fewer.
    pub async fn start(page_size: usize) -> Mock {
        let dir = tempfile::tempdir().unwrap();
        let (ca_pem, cert, key) = test_pki();
        std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("https://127.0.0.1:{}", addr.port());
        let state = Arc::new(Mutex::new(State {
            base: base.clone(),
            tokens: HashSet::new(),
            vault: secrets::Vault::new(page_size),
            unexpected: Vec::new(),
            log: Vec::new(),
        }));
        let task = tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&state))).abort_handle();
        Mock {
            state,
            addr,
            dir,
            task,
        }
    }

    /// `https://127.0.0.1:<port>`: the vault endpoint and the authority host.
    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// The PEM file of the test CA.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The `keystore.azure.keyvault` section for this mock with `secret`.
    pub fn section(&self, secret: &str) -> Value {
        json!({
            "endpoint": self.endpoint(),
            "credentials": {
                "tenant_id": TENANT,
                "client_id": CLIENT_ID,
                "client_secret": secret,
            },
            "tls": {"ca": self.ca_file()},
            "authority_host": self.endpoint(),
            "verify_challenge_resource": false,
        })
    }

    /// Runs `f` on the vault's state (what a user does in the portal).
    pub fn vault<T>(&self, f: impl FnOnce(&mut secrets::Vault) -> T) -> T {
        f(&mut self.state.lock().unwrap().vault)
    }

    /// Forgets every issued token.
    pub fn revoke_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }

    /// Requests outside the contract, if any.
    pub fn unexpected(&self) -> Vec<String> {
        self.state.lock().unwrap().unexpected.clone()
    }

    /// Every request so far (`METHOD path?query`).
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

/// A test CA and a server certificate for `127.0.0.1` and `localhost`.
fn test_pki() -> (
    String,
    rustls_pki_types::CertificateDer<'static>,
    rustls_pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, PKCS_ECDSA_P256_SHA256, SanType,
    };
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "azure mock CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "azure mock");
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &issuer).unwrap();
    let der = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    (ca_cert.pem(), cert.der().clone(), der)
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<Mutex<State>>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, state) = (acceptor.clone(), Arc::clone(&state));
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

/// One HTTP response.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub(crate) fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Key Vault's error body `{"error":{"code","message"[,"innererror"]}}`.
    pub(crate) fn kv_error(
        status: StatusCode,
        code: &str,
        message: &str,
        inner: Option<&str>,
    ) -> Reply {
        let mut error = json!({"code": code, "message": message});
        if let Some(inner) = inner {
            error["innererror"] = json!({"code": inner});
        }
        Reply::json(status, json!({ "error": error }))
    }
}

async fn handle(state: &Mutex<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query: HashMap<String, String> =
        parts.uri.query().map(url_decode_pairs).unwrap_or_default();
    let line = format!("{} {}", parts.method, parts.uri);
    let reply = {
        let mut st = state.lock().unwrap();
        st.log.push(line);
        route(&mut st, &parts, &path, &query, &body)
    };
    let mut resp = Response::builder().status(reply.status);
    for (name, value) in reply.headers {
        resp = resp.header(name, value);
    }
    let bytes = match reply.body {
        Some(v) => {
            resp = resp.header("content-type", "application/json; charset=utf-8");
            Bytes::from(serde_json::to_vec(&v).unwrap())
        }
        None => Bytes::new(),
    };
    resp.body(Full::new(bytes)).unwrap()
}

/// `a=b&c=d` with percent-decoding (`+` is a space in forms).
pub(crate) fn url_decode_pairs(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn route(
    st: &mut State,
    parts: &http::request::Parts,
    path: &str,
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Reply {
    // The token endpoint of the authority.
    if let Some(tenant) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix("/oauth2/v2.0/token"))
    {
        return token(st, parts, tenant, body);
    }
    if !authorized(st, parts) {
        return challenge(st, parts);
    }
    secrets::route(st, parts, path, query, body)
}

/// Client-credentials grant.
fn token(st: &mut State, parts: &http::request::Parts, tenant: &str, body: &Bytes) -> Reply {
    let form = url_decode_pairs(std::str::from_utf8(body).unwrap_or(""));
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let aad_error = |status, error: &str, code: u32, description: &str| {
        Reply::json(
            status,
            json!({
                "error": error,
                "error_description": description,
                "error_codes": [code],
                "timestamp": "2025-04-04 21:10:04Z",
                "trace_id": "0b2d1e3c-4a5b-4f1c-5e2a-7d3b4c8e9a6f",
                "correlation_id": "7d3b4c8e-9a6f-0b2d-1e3c-4a5b4f1c5e2a",
                "error_uri": "https://login.microsoftonline.com/error?code=".to_owned() + &code.to_string(),
            }),
        )
    };
    if parts.method != http::Method::POST
        || !content_type.starts_with("application/x-www-form-urlencoded")
        || form.get("grant_type").map(String::as_str) != Some("client_credentials")
    {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
        );
    }
    if tenant != TENANT {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!("AADSTS90002: Tenant '{tenant}' not found."),
        );
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "AADSTS700016: Application with identifier was not found in the directory.",
        );
    }
    if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    if form.get("scope").map(String::as_str) != Some("https://vault.azure.net/.default") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "AADSTS70011: The provided request must include a 'scope' input parameter.",
        );
    }
    let token = format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    st.tokens.insert(token.clone());
    Reply::json(
        StatusCode::OK,
        json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }),
    )
}

fn authorized(st: &State, parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| st.tokens.contains(t))
}

/// 401 with the bearer challenge (Key Vault answers a missing token with
/// AKV10000 and an unknown one with AKV10022-style messages; the status,
/// header and body shape are what clients rely on).
fn challenge(st: &State, parts: &http::request::Parts) -> Reply {
    let message = if parts.headers.contains_key("authorization") {
        "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/."
    } else {
        "AKV10000: Request is missing a Bearer or PoP token."
    };
    let mut reply = Reply::kv_error(StatusCode::UNAUTHORIZED, "Unauthorized", message, None);
    reply.headers.push((
        "www-authenticate",
        format!(
            "Bearer authorization=\"{}/{TENANT}\", resource=\"https://vault.azure.net\"",
            st.base
        ),
    ));
    reply
}
