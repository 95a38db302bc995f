//! A bucket policy document: parsing and validation with S3's `MalformedPolicy` messages, and
//! evaluation of one request against it.

use serde_json::Value;

use super::actions::{self, Level};
use super::condition::{self, Condition, Keys};
use super::wildcard::{matches, matches_ignore_case};
use super::{PolicyError, Principal};

/// Largest accepted policy document (S3's 20 KB).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

const ARN_PREFIX: &str = "arn:aws:s3:::";

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// `Principal`: everyone, or a list of AWS principals.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Everyone,
    Aws(Vec<String>),
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: patterns and whether the list is negated.
#[derive(Debug, Clone)]
struct Patterns {
    not: bool,
    list: Vec<String>,
}

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    who: Who,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

/// A validated bucket policy.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// The result of evaluating a request against a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` did.
    Allow,
    /// A `Deny` statement matched (it wins over everything).
    Deny,
    /// No statement matched.
    NotApplicable,
}

/// What a policy is asked about.
#[derive(Debug)]
pub struct Request<'a> {
    /// Who is asking.
    pub principal: &'a Principal,
    /// The S3 action (`s3:GetObject`).
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    /// Condition keys (lower-case names).
    pub keys: &'a Keys,
}

fn malformed(msg: &str) -> PolicyError {
    PolicyError::Malformed(msg.to_owned())
}

/// A string or a non-empty list of strings.
fn strings(v: &Value, msg: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| malformed(msg)))
            .collect(),
        _ => Err(malformed(msg)),
    }
}

fn parse_principal(v: &Value) -> Result<Who, PolicyError> {
    const BAD: &str = "Invalid principal in policy";
    match v {
        Value::String(s) if s == "*" => Ok(Who::Everyone),
        Value::Object(m) => {
            let mut aws = Vec::new();
            for (k, v) in m {
                if k != "AWS" {
                    return Err(malformed(BAD));
                }
                aws.extend(strings(v, BAD)?);
            }
            if aws.is_empty() {
                return Err(malformed(BAD));
            }
            if aws.iter().any(|a| a == "*") {
                Ok(Who::Everyone)
            } else if aws.iter().any(|a| a.trim().is_empty()) {
                Err(malformed(BAD))
            } else {
                Ok(Who::Aws(aws))
            }
        }
        _ => Err(malformed(BAD)),
    }
}

/// Exactly one of `a` / `not_a`.
fn one_of<'v>(
    st: &'v serde_json::Map<String, Value>,
    a: &str,
    not_a: &str,
    missing: &str,
) -> Result<(bool, &'v Value), PolicyError> {
    match (st.get(a), st.get(not_a)) {
        (Some(v), None) => Ok((false, v)),
        (None, Some(v)) => Ok((true, v)),
        (None, None) => Err(malformed(missing)),
        (Some(_), Some(_)) => Err(malformed(&format!("Statement has both {a} and {not_a}"))),
    }
}

fn parse_statement(v: &Value, bucket: &str) -> Result<Statement, PolicyError> {
    let st = v
        .as_object()
        .ok_or_else(|| malformed("Statement is not an object"))?;
    for k in st.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(malformed(&format!("Unknown field {k}")));
        }
    }
    let effect = match st.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => return Err(malformed(&format!("Invalid effect: {e}"))),
        Some(_) => return Err(malformed("Invalid effect")),
        None => return Err(malformed("Missing required field Effect")),
    };
    let who = match st.get("Principal") {
        Some(p) => parse_principal(p)?,
        None => return Err(malformed("Missing required field Principal")),
    };
    let (not_action, av) = one_of(st, "Action", "NotAction", "Missing required field Action")?;
    let action_list = strings(av, "Policy has invalid action")?;
    for a in &action_list {
        let known = if a.contains(['*', '?']) {
            a == "*" || a.to_ascii_lowercase().starts_with("s3:")
        } else {
            actions::level(a).is_some()
        };
        if !known {
            return Err(malformed("Policy has invalid action"));
        }
    }
    let (not_resource, rv) = one_of(
        st,
        "Resource",
        "NotResource",
        "Missing required field Resource",
    )?;
    let resource_list = strings(rv, "Policy has invalid resource")?;
    for r in &resource_list {
        let ok = r == "*"
            || r.strip_prefix(ARN_PREFIX).is_some_and(|rest| {
                let b = rest.split('/').next().unwrap_or_default();
                !b.is_empty() && matches(b, bucket)
            });
        if !ok {
            return Err(malformed("Policy has invalid resource"));
        }
    }
    if !not_action && !not_resource {
        check_applicable(&action_list, &resource_list)?;
    }
    let conditions = match st.get("Condition") {
        Some(c) => condition::parse_block(c)?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        who,
        actions: Patterns {
            not: not_action,
            list: action_list,
        },
        resources: Patterns {
            not: not_resource,
            list: resource_list,
        },
        conditions,
    })
}

/// S3 refuses a statement whose exact actions cannot apply to any of its exact resources
/// (`s3:GetObject` on `arn:aws:s3:::bucket` alone). Wildcards are given the benefit of the doubt.
fn check_applicable(actions: &[String], resources: &[String]) -> Result<(), PolicyError> {
    let wild = |r: &String| r == "*" || r.ends_with('*');
    let has_object = resources.iter().any(|r| r.contains('/') || wild(r));
    let has_bucket = resources
        .iter()
        .any(|r| !r.contains('/') || wild(r) || r.contains(['*', '?']));
    for a in actions {
        let ok = match actions::level(a) {
            Some(Level::Object) => has_object,
            Some(Level::Bucket) => has_bucket,
            None => true,
        };
        if !ok {
            return Err(malformed(
                "Action does not apply to any resource(s) in statement",
            ));
        }
    }
    Ok(())
}

impl Policy {
    /// Parses and validates a policy for `bucket` (every resource must name it).
    pub fn parse(text: &str, bucket: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge);
        }
        const NOT_JSON: &str = "Policies must be valid JSON and the first byte must be '{'";
        if !text.trim_start().starts_with('{') {
            return Err(malformed(NOT_JSON));
        }
        let doc: Value = serde_json::from_str(text).map_err(|_| malformed(NOT_JSON))?;
        let obj = doc.as_object().ok_or_else(|| malformed(NOT_JSON))?;
        for k in obj.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return Err(malformed(&format!("Unknown field {k}")));
            }
        }
        match obj.get("Version") {
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
            None => {}
            Some(_) => return Err(malformed("The policy must contain a valid version string")),
        }
        let statements = match obj.get("Statement") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|s| parse_statement(s, bucket))
                .collect::<Result<Vec<_>, _>>()?,
            Some(s @ Value::Object(_)) => vec![parse_statement(s, bucket)?],
            Some(_) => return Err(malformed("Missing required field Statement")),
            None => return Err(malformed("Missing required field Statement")),
        };
        Ok(Policy { statements })
    }

    /// Whether the policy grants anything to everyone: an `Allow` with principal `*` that is
    /// not limited by an `IpAddress` condition on `aws:SourceIp` (S3's "public" test, minus the
    /// VPC/account keys this server has no use for).
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.effect == Effect::Allow
                && s.who == Who::Everyone
                && !s.conditions.iter().any(Condition::restricts_source)
        })
    }

    /// Evaluates `req`: any matching `Deny` wins, else any matching `Allow`.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if !s.matches(req) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::Deny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }
}

impl Statement {
    fn matches(&self, req: &Request<'_>) -> bool {
        let who = match (&self.who, req.principal) {
            (Who::Everyone, _) => true,
            (Who::Aws(_), Principal::Anonymous) => false,
            (Who::Aws(list), Principal::Root { access_key }) => list.iter().any(|p| {
                p == access_key
                    || p.ends_with(":root")
                    || p.ends_with(&format!(":user/{access_key}"))
            }),
        };
        who && (self
            .actions
            .list
            .iter()
            .any(|a| matches_ignore_case(a, req.action))
            != self.actions.not)
            && (self.resources.list.iter().any(|r| matches(r, req.resource)) != self.resources.not)
            && self.conditions.iter().all(|c| c.holds(req.keys))
    }
}

#[cfg(test)]
mod tests;
