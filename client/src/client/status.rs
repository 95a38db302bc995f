//! Server information: `/version`, `/v1/ready`, `/v1/status`, `/v1/api` and `/v1/metrics`.

use reqwest::Method;

use super::Client;
use super::transport::Req;
use crate::error::{Error, Result};
use crate::wire::{ApiRoute, StatusResponse, VersionResponse};

impl Client {
    /// `GET /version` (no identity needed).
    pub async fn version(&self) -> Result<VersionResponse> {
        self.call_json(Req::new(Method::GET, &["version"])).await
    }

    /// `GET /v1/ready`: `Ok(())` when the server and its keystore are ready.
    pub async fn ready(&self) -> Result<()> {
        self.call_empty(Req::new(Method::GET, &["v1", "ready"]))
            .await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<StatusResponse> {
        self.call_json(Req::new(Method::GET, &["v1", "status"]))
            .await
    }

    /// `GET /v1/api`: the server's routes.
    pub async fn api(&self) -> Result<Vec<ApiRoute>> {
        self.call_json(Req::new(Method::GET, &["v1", "api"])).await
    }

    /// `GET /v1/metrics`: Prometheus text exposition, unparsed.
    pub async fn metrics(&self) -> Result<String> {
        let bytes = self
            .call_bytes(Req::new(Method::GET, &["v1", "metrics"]))
            .await?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::Decode(format!("metrics are not UTF-8: {e}")))
    }
}
