//! Identity handlers: describe, list and self-describe.

use client::wire::{DescribeIdentityResponse, ListIdentitiesResponse, Rules, SelfDescribeResponse};
use http::Response;

use super::policy::rules;
use super::{ApiError, Body, Request, json};
use crate::names::{pattern_prefix, valid_name, valid_pattern};
use crate::policy::Identity;
use crate::state::State;

/// `GET /v1/identity/describe/{identity}`.
pub(super) fn describe(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    if !valid_name(&req.resource) {
        return Err(ApiError::InvalidIdentity(req.resource.clone()));
    }
    let identity = Identity::parse(&req.resource).ok_or(ApiError::IdentityNotFound)?;
    if state.is_admin(&identity) {
        return json(&DescribeIdentityResponse {
            admin: true,
            policy: None,
            created_at: state.started_at,
            created_by: None,
        });
    }
    let policy = state
        .policies
        .identities
        .get(&identity)
        .ok_or(ApiError::IdentityNotFound)?;
    json(&DescribeIdentityResponse {
        admin: false,
        policy: Some(policy.clone()),
        created_at: state.started_at,
        created_by: Some(state.admin_text()),
    })
}

/// `GET /v1/identity/list/{pattern}`: the admin and every assigned identity.
pub(super) fn list(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    if !valid_pattern(&req.resource) {
        return Err(ApiError::InvalidPattern(req.resource.clone()));
    }
    let prefix = pattern_prefix(&req.resource);
    let mut identities: Vec<String> = state
        .admin
        .iter()
        .chain(state.policies.identities.keys())
        .map(|i| i.as_str().to_owned())
        .filter(|i| i.starts_with(prefix))
        .collect();
    identities.sort();
    identities.dedup();
    json(&ListIdentitiesResponse {
        identities,
        continue_at: String::new(),
    })
}

/// `GET /v1/identity/self/describe`: works for any certificate, no policy
/// check. Project shape (kes-api.md §1.4): policy name plus allow/deny maps.
pub(super) fn self_describe(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let identity = req.identity.ok_or(ApiError::NoCertificate)?;
    if state.is_admin(&identity) {
        return json(&SelfDescribeResponse {
            identity: identity.as_str().to_owned(),
            admin: true,
            policy: None,
            allow: Rules::new(),
            deny: Rules::new(),
            created_at: state.started_at,
            created_by: None,
        });
    }
    let (name, policy) = state
        .policies
        .policy_of(&identity)
        .ok_or(ApiError::IdentityNotFound)?;
    json(&SelfDescribeResponse {
        identity: identity.as_str().to_owned(),
        admin: false,
        policy: Some(name.to_owned()),
        allow: rules(&policy.allow),
        deny: rules(&policy.deny),
        created_at: state.started_at,
        created_by: Some(state.admin_text()),
    })
}
