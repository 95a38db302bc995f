//! Policy handlers: describe, read and list the static policies of the config.
//! `created_at` is the server start, `created_by` the admin (as KES).

use client::wire::{DescribePolicyResponse, Empty, ListPoliciesResponse, PolicyResponse, Rules};
use http::Response;

use super::{ApiError, Body, Request, json};
use crate::names::{pattern_prefix, valid_name, valid_pattern};
use crate::policy::Policy;
use crate::state::State;

fn lookup<'s>(state: &'s State, req: &Request) -> Result<&'s Policy, ApiError> {
    if !valid_name(&req.resource) {
        return Err(ApiError::InvalidPolicyName(req.resource.clone()));
    }
    state
        .policies
        .policies
        .get(&req.resource)
        .ok_or(ApiError::PolicyNotFound)
}

/// A list of patterns as the JSON map `{pattern: {}}`.
pub(super) fn rules(patterns: &[String]) -> Rules {
    patterns.iter().map(|p| (p.clone(), Empty {})).collect()
}

/// `GET /v1/policy/describe/{name}`.
pub(super) fn describe(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    lookup(state, &req)?;
    json(&DescribePolicyResponse {
        name: req.resource.clone(),
        created_at: state.started_at,
        created_by: state.admin_text(),
    })
}

/// `GET /v1/policy/read/{name}`.
pub(super) fn read(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    let policy = lookup(state, &req)?;
    json(&PolicyResponse {
        name: req.resource.clone(),
        allow: rules(&policy.allow),
        deny: rules(&policy.deny),
        created_at: state.started_at,
        created_by: state.admin_text(),
    })
}

/// `GET /v1/policy/list/{pattern}`.
pub(super) fn list(state: &State, req: Request) -> Result<Response<Body>, ApiError> {
    if !valid_pattern(&req.resource) {
        return Err(ApiError::InvalidPattern(req.resource.clone()));
    }
    let prefix = pattern_prefix(&req.resource);
    let names = state
        .policies
        .policies
        .keys()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect();
    json(&ListPoliciesResponse {
        names,
        continue_at: String::new(),
    })
}
