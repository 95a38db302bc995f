//! Policies and identities: `/v1/policy/…` and `/v1/identity/…` (all read-only; KES policies are static config).

use reqwest::Method;

use super::Client;
use super::transport::Req;
use crate::error::Result;
use crate::wire::{
    DescribeIdentityResponse, DescribePolicyResponse, ListIdentitiesResponse, ListPoliciesResponse,
    PolicyResponse, SelfDescribeResponse,
};

impl Client {
    /// `GET /v1/policy/describe/{name}`.
    pub async fn describe_policy(&self, name: &str) -> Result<DescribePolicyResponse> {
        self.call_json(Req::new(Method::GET, &["v1", "policy", "describe", name]))
            .await
    }

    /// `GET /v1/policy/read/{name}`.
    pub async fn read_policy(&self, name: &str) -> Result<PolicyResponse> {
        self.call_json(Req::new(Method::GET, &["v1", "policy", "read", name]))
            .await
    }

    /// `GET /v1/policy/list/{pattern}`.
    pub async fn list_policies(&self, pattern: &str) -> Result<ListPoliciesResponse> {
        self.call_json(Req::new(Method::GET, &["v1", "policy", "list", pattern]))
            .await
    }

    /// `GET /v1/identity/describe/{identity}`.
    pub async fn describe_identity(&self, identity: &str) -> Result<DescribeIdentityResponse> {
        self.call_json(Req::new(
            Method::GET,
            &["v1", "identity", "describe", identity],
        ))
        .await
    }

    /// `GET /v1/identity/list/{pattern}`.
    pub async fn list_identities(&self, pattern: &str) -> Result<ListIdentitiesResponse> {
        self.call_json(Req::new(Method::GET, &["v1", "identity", "list", pattern]))
            .await
    }

    /// `GET /v1/identity/self/describe`.
    pub async fn self_describe(&self) -> Result<SelfDescribeResponse> {
        self.call_json(Req::new(
            Method::GET,
            &["v1", "identity", "self", "describe"],
        ))
        .await
    }
}
