//! Identities and policies: who the caller is and what it may call.
//!
//! Evaluation follows current KES (`kms-go` `kes/policy.go`): on the decoded
//! request path, any matching `deny` pattern refuses; otherwise any matching
//! `allow` pattern permits; otherwise the request is refused. A pattern ending
//! in `*` matches every path with that prefix (the `*` may cover `/`); any
//! other pattern must equal the path; an empty pattern never matches.

use std::collections::BTreeMap;
use std::fmt;

/// A caller identity: lowercase hex SHA-256 of a certificate's SPKI (64 chars).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity(String);

impl Identity {
    /// Parses a 64-character hex identity (either case; stored lowercase).
    /// Returns `None` for anything else (KES uses such values to disable admin).
    pub fn parse(s: &str) -> Option<Identity> {
        let s = s.trim();
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Identity(s.to_ascii_lowercase()))
    }

    /// The identity as lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.0)
    }
}

/// One named policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Path patterns that permit.
    pub allow: Vec<String>,
    /// Path patterns that refuse; checked first.
    pub deny: Vec<String>,
}

impl Policy {
    /// Whether `path` (decoded, without query) is allowed.
    pub fn permits(&self, path: &str) -> bool {
        if self.deny.iter().any(|p| matches(p, path)) {
            return false;
        }
        self.allow.iter().any(|p| matches(p, path))
    }
}

/// Current KES pattern rule (see the module docs).
pub fn matches(pattern: &str, path: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// All policies and the identity → policy assignment.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Policies by name.
    pub policies: BTreeMap<String, Policy>,
    /// Identity → policy name. An identity belongs to at most one policy.
    pub identities: BTreeMap<Identity, String>,
}

impl PolicySet {
    /// The policy name and policy assigned to `identity`, if any.
    pub fn policy_of(&self, identity: &Identity) -> Option<(&str, &Policy)> {
        let name = self.identities.get(identity)?;
        self.policies.get(name).map(|p| (name.as_str(), p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_rules() {
        let cases = [
            ("/v1/key/generate/minio-*", "/v1/key/generate/minio-a", true),
            ("/v1/key/generate/minio-*", "/v1/key/generate/other", false),
            ("/v1/key/*", "/v1/key/delete/x", true),
            ("/v1/status", "/v1/status", true),
            ("/v1/status", "/v1/status/", false),
            ("/v1/status", "/v1/statuss", false),
            ("/v1/*/x", "/v1/key/x", false),
            ("/v1/*/x", "/v1/*/x", true),
            ("", "", false),
            ("*", "/anything", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(matches(pattern, path), want, "{pattern} vs {path}");
        }
    }

    #[test]
    fn deny_wins_and_nothing_is_implicit() {
        let p = Policy {
            allow: vec!["/v1/key/*".into()],
            deny: vec!["/v1/key/delete/*".into()],
        };
        assert!(p.permits("/v1/key/create/a"));
        assert!(!p.permits("/v1/key/delete/a"));
        assert!(!p.permits("/v1/status"));
        assert!(!Policy::default().permits("/v1/status"));
    }

    #[test]
    fn identity_parse() {
        let hex = "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22";
        assert_eq!(Identity::parse(hex).map(|i| i.0), Some(hex.to_owned()));
        assert_eq!(
            Identity::parse(&hex.to_uppercase()).map(|i| i.0),
            Some(hex.to_owned())
        );
        assert!(Identity::parse("disabled").is_none());
        assert!(Identity::parse(&hex[1..]).is_none());
    }
}
