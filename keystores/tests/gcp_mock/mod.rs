//! A contract mock of GCP Secret Manager (REST v1) for the keystore tests:
//! HTTPS with a test CA, the bearer-token check of Google's
//! service-account JWTs, and the methods the keystore calls (see `api` for
//! the pages each follows, `state` for the data model, `auth` for the
//! token rules).
//!
//! Every request must carry `Host: secretmanager.googleapis.com` (or the
//! mock's own `127.0.0.1`, which the client library names for an endpoint
//! outside googleapis.com) and a valid bearer token; a missing or bad token is answered 401 with Google's body and
//! `WWW-Authenticate: Bearer realm="https://accounts.google.com/"`
//! (<https://cloud.google.com/docs/authentication/troubleshoot-rest>). A
//! valid token of an account without access is 403 `PERMISSION_DENIED`.
//! A request the keystore is not expected to send is answered 404 and
//! recorded in [`Mock::unexpected`], which the tests check is empty.
#![allow(dead_code, reason = "each test binary uses part of the mock")]
#![allow(
    unreachable_pub,
    reason = "a test module: `pub` is its interface to the test"
)]

pub mod api;
pub mod auth;
pub mod state;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use tokio::net::TcpListener;

pub use auth::ServiceAccount;
pub use state::{State, VersionState};

/// The Host headers Secret Manager answers: Google's, and the loopback
/// address the client library names for an endpoint outside googleapis.com.
const HOST: &str = "secretmanager.googleapis.com";
const LOOPBACK: &str = "127.0.0.1";
const UNAUTHENTICATED: &str = "Request had invalid authentication credentials. Expected OAuth 2 \
access token, login cookie or other valid authentication credential. See \
https://developers.google.com/identity/sign-in/web/devconsole-project.";

struct Shared {
    state: Mutex<State>,
    project: api::Project,
    /// Accounts whose tokens are valid, and whether each may use the API.
    accounts: Vec<(ServiceAccount, bool)>,
}

/// A running mock. Stops when dropped.
pub struct Mock {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: tokio::task::AbortHandle,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn tls_config(dir: &Path) -> rustls::ServerConfig {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg
}

impl Mock {
    /// Starts the mock for project `id` (number `number`) on a free
    /// loopback port, serving TLS with `dir/server.{crt,key}`. `accounts`:
    /// the service accounts Google knows, each with whether IAM lets it use
    /// Secret Manager.
    pub async fn start(
        dir: &Path,
        id: &str,
        number: &str,
        accounts: Vec<(ServiceAccount, bool)>,
    ) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(dir)));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            project: api::Project {
                id: id.to_owned(),
                number: number.to_owned(),
            },
            accounts,
        });
        let sh = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, sh) = (acceptor.clone(), Arc::clone(&sh));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req| {
                        let sh = Arc::clone(&sh);
                        async move { Ok::<_, std::convert::Infallible>(handle(&sh, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        })
        .abort_handle();
        Mock { shared, addr, task }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Inspects or changes the stored state (the console / gcloud of the
    /// tests: disabling a version by hand, writing a key as KES does).
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.shared.state.lock().unwrap())
    }

    /// Requests the mock does not implement.
    pub fn unexpected(&self) -> Vec<String> {
        self.with(|s| s.unexpected.clone())
    }
}

fn answer(status: u16, body: &Value) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
    *res.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    res.headers_mut().insert(
        "content-type",
        "application/json; charset=UTF-8".parse().unwrap(),
    );
    res
}

async fn handle(sh: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let url = reqwest::Url::parse(&format!("https://{HOST}{}", parts.uri)).unwrap();
    let query: state::Query = url.query_pairs().into_owned().collect();
    let path = url.path().to_owned();
    sh.state
        .lock()
        .unwrap()
        .log
        .push(format!("{method} {path}"));
    let host = parts.headers.get("host").and_then(|h| h.to_str().ok());
    if host != Some(HOST) && host != Some(LOOPBACK) {
        let (s, b) = api::error(404, "NOT_FOUND", &format!("Unknown host {host:?}."));
        return answer(s, &b);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = parts
        .headers
        .get("authorization")
        .and_then(|h| h.to_str().ok());
    let accounts: Vec<&ServiceAccount> = sh.accounts.iter().map(|(a, _)| a).collect();
    let email = match auth::verify_refs(header, &accounts, now) {
        Ok(email) => email,
        Err(_why) => {
            let (s, b) = api::error(401, "UNAUTHENTICATED", UNAUTHENTICATED);
            let mut res = answer(s, &b);
            res.headers_mut().insert(
                "www-authenticate",
                "Bearer realm=\"https://accounts.google.com/\""
                    .parse()
                    .unwrap(),
            );
            return res;
        }
    };
    let allowed = sh.accounts.iter().any(|(a, ok)| a.email == email && *ok);
    let Some(rest) = path.strip_prefix("/v1/") else {
        let (s, b) = api::error(404, "NOT_FOUND", "Method not found.");
        return answer(s, &b);
    };
    if !allowed {
        let (s, b) = api::error(
            403,
            "PERMISSION_DENIED",
            &format!(
                "Permission denied on resource project {} (or it may not exist).",
                sh.project.id
            ),
        );
        return answer(s, &b);
    }
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json: Value = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(_) => {
                let (s, b) = api::error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
                return answer(s, &b);
            }
        }
    };
    let (status, out) = {
        let mut st = sh.state.lock().unwrap();
        api::route(&mut st, &sh.project, &method, rest, &query, &json)
    };
    answer(status, &out)
}
