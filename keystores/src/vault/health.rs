//! Vault's health endpoint: [`check`] (the keystore's `status`) and
//! [`poll_loop`] (every `status.ping`, tells the session whether Vault is
//! sealed so that token renewal waits).
//!
//! `GET /v1/sys/health` is a root-only path: it is sent without the
//! namespace header (Vault and OpenBao answer it with 400/404 inside a
//! namespace) and without a token. Standby nodes count as healthy
//! (`standbyok`, `perfstandbyok`). A sealed Vault answers 503, an
//! uninitialized one 501; both, and no answer at all, are
//! [`Error::Unreachable`], so the key cache's offline mode engages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustify::endpoint::Endpoint;
use rustify::enums::{RequestMethod, RequestType, ResponseType};
use vaultrs::client::VaultClient;
use vaultrs::error::ClientError;

use super::auth::Session;
use super::error::to_error;
use crate::{Error, Status};

/// What the health endpoint said.
enum Health {
    Ready,
    Sealed,
    Uninitialized,
}

const HEALTH_PATH: &str = "sys/health";

/// `GET /v1/sys/health?standbyok=true&perfstandbyok=true`. vaultrs' own
/// request expects fields OpenBao does not send (`performance_standby`);
/// this one reads only the two flags it needs.
struct HealthRequest;

#[derive(serde::Deserialize)]
struct HealthResponse {
    initialized: bool,
    sealed: bool,
}

impl Endpoint for HealthRequest {
    type Response = HealthResponse;
    const REQUEST_BODY_TYPE: RequestType = RequestType::JSON;
    const RESPONSE_BODY_TYPE: ResponseType = ResponseType::JSON;

    fn path(&self) -> String {
        HEALTH_PATH.to_owned()
    }

    fn method(&self) -> RequestMethod {
        RequestMethod::GET
    }

    fn query(&self) -> Result<Option<String>, rustify::errors::ClientError> {
        Ok(Some("standbyok=true&perfstandbyok=true".to_owned()))
    }
}

async fn health(root: &VaultClient) -> Result<Health, Error> {
    match vaultrs::api::exec_with_no_result(root, HealthRequest).await {
        Ok(h) if !h.initialized => Ok(Health::Uninitialized),
        Ok(h) if h.sealed => Ok(Health::Sealed),
        Ok(_) => Ok(Health::Ready),
        Err(ClientError::RestClientError {
            source: rustify::errors::ClientError::ServerResponseError { code: 503, .. },
        }) => Ok(Health::Sealed),
        Err(ClientError::RestClientError {
            source: rustify::errors::ClientError::ServerResponseError { code: 501, .. },
        }) => Ok(Health::Uninitialized),
        Err(err) => Err(to_error(&err, "check the health of", HEALTH_PATH)),
    }
}

/// The keystore's status: `Ok` with the round trip if Vault is initialized
/// and unsealed, else [`Error::Unreachable`] (sealed, not initialized, no
/// answer) or [`Error::Backend`] (an unexpected answer).
pub(super) async fn check(root: &VaultClient) -> Result<Status, Error> {
    let start = Instant::now();
    match health(root).await? {
        Health::Ready => Ok(Status {
            latency: start.elapsed(),
        }),
        Health::Sealed => Err(Error::unreachable("vault: key store is sealed")),
        Health::Uninitialized => Err(Error::unreachable("vault: key store is not initialized")),
    }
}

/// Polls the health endpoint every `ping` and records in `session` whether
/// Vault is sealed (an unanswered poll changes nothing). Logs transitions.
pub(super) async fn poll_loop(session: Arc<Session>, root: Arc<VaultClient>, ping: Duration) {
    let mut was_sealed = false;
    loop {
        let sealed = match health(&root).await {
            Ok(Health::Sealed) => Some(true),
            Ok(Health::Ready | Health::Uninitialized) => Some(false),
            Err(_) => None,
        };
        if let Some(sealed) = sealed {
            if sealed != was_sealed {
                if sealed {
                    tracing::warn!("vault is sealed");
                } else {
                    tracing::info!("vault is unsealed");
                }
            }
            was_sealed = sealed;
            session.set_sealed(sealed);
        }
        tokio::time::sleep(ping).await;
    }
}
