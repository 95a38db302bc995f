//! [`Session`]: the Vault token the backend works with, how it is obtained
//! (AppRole or Kubernetes login) and kept alive (renewal, re-login).
//!
//! # Token life cycle (`renew_loop`)
//! - Login at open; a failed first login fails the open.
//! - Renew (`auth/token/renew-self`, increment = the login's TTL) when half
//!   of the current TTL has passed.
//! - Log in again instead when the token is not renewable (batch tokens),
//!   when renewal fails, or when it grants no more than half of the login's
//!   TTL (the token approaches its max TTL): the new token replaces the old
//!   one while the old one is still valid, so requests never see a gap.
//! - A failed login is retried every [`LOGIN_RETRY`].
//! - While the health poller sees Vault sealed, renewal waits.
//! - A request answered 403 "nudges" the loop: it renews (or logs in) at
//!   once instead of waiting, at most once per [`NUDGE_SPACING`]. This
//!   recovers quickly from a token revoked or expired behind our back.
//! - A token without TTL (e.g. a root token from a custom login) is never
//!   renewed, only replaced after a nudge.
//!
//! Tokens are held in [`Zeroizing`] strings where this code owns them; the
//! copies inside vaultrs' request middleware and in HTTP buffers are
//! outside its control.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use vaultrs::api::AuthInfo;
use vaultrs::client::VaultClient;
use zeroize::Zeroizing;

use super::config::{Auth, AuthNamespace, Jwt};
use super::error::to_error;
use super::http::Http;
use crate::Error;

/// Pause between failed logins.
pub(super) const LOGIN_RETRY: Duration = Duration::from_secs(5);
/// Least time between two nudge-driven renewals.
pub(super) const NUDGE_SPACING: Duration = Duration::from_secs(1);

/// A token from a login or renewal.
pub(super) struct Lease {
    /// Time to live as granted (zero = does not expire).
    pub(super) ttl: Duration,
    /// Whether `renew-self` may extend it.
    pub(super) renewable: bool,
}

/// The login settings and the current token.
pub(super) struct Session {
    http: Http,
    auth: Auth,
    /// Namespace of K/V and transit requests.
    namespace: Option<String>,
    /// The client that logs in (no token, the auth namespace).
    login: VaultClient,
    /// The client of K/V and transit requests, carrying the current token.
    current: RwLock<Arc<VaultClient>>,
    /// Last seen by the health poller.
    sealed: AtomicBool,
    nudge: Notify,
}

impl Session {
    /// Logs in once; returns the session and the first token's lease.
    pub(super) async fn open(
        http: Http,
        auth: Auth,
        namespace: Option<String>,
    ) -> Result<(Session, Lease), Error> {
        let login_ns = match auth_namespace(&auth) {
            AuthNamespace::Inherit => namespace.clone(),
            AuthNamespace::Root => None,
            AuthNamespace::Named(ns) => Some(ns.clone()),
        };
        let login = http.vault("", login_ns.as_deref());
        let session = Session {
            current: RwLock::new(Arc::new(http.vault("", namespace.as_deref()))),
            http,
            auth,
            namespace,
            login,
            sealed: AtomicBool::new(false),
            nudge: Notify::new(),
        };
        let lease = session.login().await?;
        Ok((session, lease))
    }

    /// The client for K/V and transit requests (current token).
    pub(super) fn client(&self) -> Arc<VaultClient> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Asks the renewal loop to check the token now (after a 403).
    pub(super) fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Records what the health poller saw.
    pub(super) fn set_sealed(&self, sealed: bool) {
        self.sealed.store(sealed, Ordering::Relaxed);
    }

    fn sealed(&self) -> bool {
        self.sealed.load(Ordering::Relaxed)
    }

    /// Logs in with the configured method and installs the new token.
    async fn login(&self) -> Result<Lease, Error> {
        let (result, location) = match &self.auth {
            Auth::AppRole {
                engine, id, secret, ..
            } => (
                vaultrs::auth::approle::login(&self.login, engine, id, secret.expose()).await,
                format!("auth/{engine}/login"),
            ),
            Auth::Kubernetes {
                engine, role, jwt, ..
            } => {
                let jwt = read_jwt(jwt).await?;
                (
                    vaultrs::auth::kubernetes::login(&self.login, engine, role, &jwt).await,
                    format!("auth/{engine}/login"),
                )
            }
        };
        let mut info: AuthInfo = result.map_err(|e| to_error(&e, "log in at", &location))?;
        let token = Zeroizing::new(std::mem::take(&mut info.client_token));
        if token.is_empty() {
            return Err(Error::backend(format!(
                "vault: failed to log in at '{location}': no token in the response"
            )));
        }
        self.install(&token);
        Ok(Lease {
            ttl: Duration::from_secs(info.lease_duration),
            renewable: info.renewable,
        })
    }

    /// Renews the current token by `increment`.
    async fn renew(&self, increment: Duration) -> Result<Lease, Error> {
        let client = self.client();
        let increment = format!("{}s", increment.as_secs().max(1));
        let mut info = vaultrs::token::renew_self(&*client, Some(&increment))
            .await
            .map_err(|e| to_error(&e, "renew the token at", "auth/token/renew-self"))?;
        drop(Zeroizing::new(std::mem::take(&mut info.client_token)));
        Ok(Lease {
            ttl: Duration::from_secs(info.lease_duration),
            renewable: info.renewable,
        })
    }

    fn install(&self, token: &str) {
        let client = Arc::new(self.http.vault(token, self.namespace.as_deref()));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = client;
    }

    /// Waits up to `limit` (forever if `None`) or for a nudge; returns
    /// whether it was nudged. Nudges closer than [`NUDGE_SPACING`] to the
    /// previous one are held back until the spacing has passed.
    async fn wait(&self, limit: Option<Duration>, last_nudge: &mut Instant) -> bool {
        let nudged = match limit {
            Some(limit) => tokio::select! {
                () = tokio::time::sleep(limit) => false,
                () = self.nudge.notified() => true,
            },
            None => {
                self.nudge.notified().await;
                true
            }
        };
        if nudged {
            let since = last_nudge.elapsed();
            if since < NUDGE_SPACING {
                tokio::time::sleep(NUDGE_SPACING - since).await;
            }
            *last_nudge = Instant::now();
        }
        nudged
    }
}

fn auth_namespace(auth: &Auth) -> &AuthNamespace {
    match auth {
        Auth::AppRole { namespace, .. } | Auth::Kubernetes { namespace, .. } => namespace,
    }
}

/// The service-account token: the configured value, or the file's content
/// read now (Kubernetes rotates it).
async fn read_jwt(jwt: &Jwt) -> Result<Zeroizing<String>, Error> {
    match jwt {
        Jwt::Token(token) => Ok(Zeroizing::new(token.expose().to_owned())),
        Jwt::File(path) => {
            let text = Zeroizing::new(tokio::fs::read_to_string(path).await.map_err(|e| {
                Error::backend(format!(
                    "vault: failed to read the kubernetes JWT from '{}': {e}",
                    path.display()
                ))
            })?);
            Ok(Zeroizing::new(text.trim().to_owned()))
        }
    }
}

/// Keeps the session's token valid for as long as the task runs (see the
/// module docs). `lease` is the first login's.
pub(super) async fn renew_loop(session: Arc<Session>, mut lease: Lease) {
    let mut granted = lease.ttl;
    let mut last_nudge = Instant::now()
        .checked_sub(NUDGE_SPACING)
        .unwrap_or_else(Instant::now);
    loop {
        let half = (!lease.ttl.is_zero()).then(|| lease.ttl / 2);
        session.wait(half, &mut last_nudge).await;
        while session.sealed() {
            session.wait(Some(NUDGE_SPACING), &mut last_nudge).await;
        }
        if lease.renewable && !lease.ttl.is_zero() {
            match session.renew(granted).await {
                Ok(renewed) if renewed.renewable && renewed.ttl * 2 > granted => {
                    tracing::debug!(ttl = ?renewed.ttl, "vault token renewed");
                    lease = renewed;
                    continue;
                }
                Ok(renewed) => tracing::info!(
                    ttl = ?renewed.ttl,
                    "vault token is near its max TTL; logging in again"
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "vault token renewal failed; logging in again");
                }
            }
        }
        loop {
            match session.login().await {
                Ok(new) => {
                    tracing::debug!(ttl = ?new.ttl, "vault login renewed the token");
                    granted = new.ttl;
                    lease = new;
                    break;
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry = ?LOGIN_RETRY, "vault login failed");
                    session.wait(Some(LOGIN_RETRY), &mut last_nudge).await;
                }
            }
        }
    }
}
