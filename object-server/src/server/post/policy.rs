//! The POST policy document: base64 JSON with an `expiration` and `conditions`, checked as S3
//! documents it (sigv4-HTTPPOSTConstructPolicy):
//!
//! * `{"field": "value"}` and `["eq", "$field", "value"]` — exact match;
//! * `["starts-with", "$field", "prefix"]` — prefix match (`""` allows anything; for
//!   `Content-Type` every comma-separated value must match);
//! * `["content-length-range", min, max]` — the file size (checked while it streams);
//! * every form field except `x-amz-signature`, `file`, `policy` and `x-ignore-*` must be
//!   named by a condition.
//!
//! Field names compare case-insensitively; `bucket` is the bucket the request addresses.

use base64::Engine as _;
use serde_json::Value;

use super::PostError;
use super::form::Fields;

/// Longest accepted (decoded) policy document.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// One condition, as written (for the failure message) and as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Check {
    Eq { field: String, value: String },
    StartsWith { field: String, prefix: String },
    Length { min: u64, max: u64 },
}

#[derive(Debug, Clone)]
struct Condition {
    check: Check,
    /// The condition's JSON text (S3 quotes it in `Policy Condition failed: …`).
    text: String,
}

/// A parsed policy.
#[derive(Debug, Clone)]
pub(crate) struct PostPolicy {
    expiration: time::OffsetDateTime,
    conditions: Vec<Condition>,
}

fn invalid(why: &str) -> PostError {
    PostError::InvalidPolicy(why.to_owned())
}

/// `$field` → `field`, lower case.
fn field_name(v: &Value) -> Result<String, PostError> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid("Condition field name must be a string"))?;
    Ok(s.strip_prefix('$').unwrap_or(s).to_ascii_lowercase())
}

fn length_bound(v: &Value) -> Result<u64, PostError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| invalid("Invalid content-length-range bound"))
}

fn parse_condition(v: &Value) -> Result<Condition, PostError> {
    let text = v.to_string();
    let check = match v {
        Value::Object(map) => {
            let mut it = map.iter();
            let (Some((k, val)), None) = (it.next(), it.next()) else {
                return Err(invalid("Each condition object must have exactly one field"));
            };
            let value = val
                .as_str()
                .ok_or_else(|| invalid("Condition value must be a string"))?;
            Check::Eq {
                field: k.strip_prefix('$').unwrap_or(k).to_ascii_lowercase(),
                value: value.to_owned(),
            }
        }
        Value::Array(items) => {
            let [op, a, b] = items.as_slice() else {
                return Err(invalid("Each condition array must have three elements"));
            };
            let op = op.as_str().unwrap_or_default().to_ascii_lowercase();
            match op.as_str() {
                "eq" | "starts-with" => {
                    let field = field_name(a)?;
                    let value = b
                        .as_str()
                        .ok_or_else(|| invalid("Condition value must be a string"))?
                        .to_owned();
                    if op == "eq" {
                        Check::Eq { field, value }
                    } else {
                        Check::StartsWith {
                            field,
                            prefix: value,
                        }
                    }
                }
                "content-length-range" => {
                    let (min, max) = (length_bound(a)?, length_bound(b)?);
                    if min > max {
                        return Err(invalid("Invalid content-length-range: min is above max"));
                    }
                    Check::Length { min, max }
                }
                _ => return Err(invalid(&format!("Invalid condition operator: {op}"))),
            }
        }
        _ => return Err(invalid("Each condition must be an object or an array")),
    };
    Ok(Condition { check, text })
}

/// Parses an ISO 8601 UTC time (`2026-12-02T13:00:00Z`, fractional seconds allowed).
fn parse_expiration(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// Whether a field is exempt from needing a condition.
fn exempt(name: &str) -> bool {
    matches!(name, "x-amz-signature" | "file" | "policy") || name.starts_with("x-ignore-")
}

impl PostPolicy {
    /// Decodes and parses the `policy` field.
    pub(crate) fn parse(b64: &str) -> Result<Self, PostError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| invalid("Policy could not be decoded from base64"))?;
        if raw.len() > MAX_POLICY_BYTES {
            return Err(invalid("Policy document is too large"));
        }
        let doc: Value =
            serde_json::from_slice(&raw).map_err(|_| invalid("Policy is not valid JSON"))?;
        let expiration = doc
            .get("expiration")
            .ok_or_else(|| invalid("Policy missing expiration"))?
            .as_str()
            .and_then(parse_expiration)
            .ok_or_else(|| invalid("Invalid Policy: Invalid 'expiration' value"))?;
        let conditions = doc
            .get("conditions")
            .ok_or_else(|| invalid("Policy missing conditions"))?
            .as_array()
            .ok_or_else(|| invalid("Policy conditions must be an array"))?
            .iter()
            .map(parse_condition)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PostPolicy {
            expiration,
            conditions,
        })
    }

    /// The `content-length-range` bounds, if the policy has one (the last one wins).
    pub(crate) fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().rev().find_map(|c| match c.check {
            Check::Length { min, max } => Some((min, max)),
            _ => None,
        })
    }

    /// The value an `eq` condition requires for `field`, if any.
    pub(crate) fn eq_value(&self, field: &str) -> Option<&str> {
        self.conditions.iter().find_map(|c| match &c.check {
            Check::Eq { field: f, value } if f == field => Some(value.as_str()),
            _ => None,
        })
    }

    /// Checks the expiration against `now` and every condition but the length against the
    /// form (`key`: the object key after `${filename}` substitution; `bucket`: the addressed
    /// bucket), then that every field is covered.
    pub(crate) fn check(
        &self,
        now: time::OffsetDateTime,
        fields: &Fields,
        bucket: &str,
        key: &str,
    ) -> Result<(), PostError> {
        if now >= self.expiration {
            return Err(PostError::PolicyExpired);
        }
        let value = |field: &str| -> String {
            match field {
                "bucket" => bucket.to_owned(),
                "key" => key.to_owned(),
                f => fields.get(f).unwrap_or_default().to_owned(),
            }
        };
        for c in &self.conditions {
            let ok = match &c.check {
                Check::Eq { field, value: want } => value(field) == *want,
                Check::StartsWith { field, prefix } if field == "content-type" => value(field)
                    .split(',')
                    .all(|v| v.trim_start().starts_with(prefix.as_str())),
                Check::StartsWith { field, prefix } => value(field).starts_with(prefix.as_str()),
                Check::Length { .. } => true,
            };
            if !ok {
                return Err(PostError::PolicyCondition(c.text.clone()));
            }
        }
        let covered = |name: &str| {
            self.conditions.iter().any(|c| match &c.check {
                Check::Eq { field, .. } | Check::StartsWith { field, .. } => field == name,
                Check::Length { .. } => false,
            })
        };
        let mut extra: Vec<&str> = fields
            .fields
            .0
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !exempt(n) && !covered(n))
            .collect();
        extra.dedup();
        if !extra.is_empty() {
            return Err(PostError::ExtraFields(extra.join(", ")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> PostPolicy {
        PostPolicy::parse(&base64::engine::general_purpose::STANDARD.encode(json)).unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::from_pairs(pairs)
    }

    fn now() -> time::OffsetDateTime {
        time::macros::datetime!(2026-01-01 00:00 UTC)
    }

    #[test]
    fn conditions_are_checked() {
        let p = policy(
            r#"{"expiration":"2026-01-02T00:00:00.000Z","conditions":[{"bucket":"b"},
            ["starts-with","$key","up/"],["eq","$Content-Type","text/plain"],
            ["content-length-range",1,10]]}"#,
        );
        assert_eq!(p.length_range(), Some((1, 10)));
        let f = fields(&[("key", "up/x"), ("content-type", "text/plain")]);
        p.check(now(), &f, "b", "up/x").unwrap();
        assert!(matches!(
            p.check(now(), &f, "other", "up/x"),
            Err(PostError::PolicyCondition(c)) if c == r#"{"bucket":"b"}"#
        ));
        assert!(matches!(
            p.check(now(), &f, "b", "down/x"),
            Err(PostError::PolicyCondition(c)) if c == r#"["starts-with","$key","up/"]"#
        ));
        let f2 = fields(&[
            ("key", "up/x"),
            ("content-type", "text/plain"),
            ("acl", "private"),
        ]);
        assert!(matches!(
            p.check(now(), &f2, "b", "up/x"),
            Err(PostError::ExtraFields(n)) if n == "acl"
        ));
        let f3 = fields(&[
            ("key", "up/x"),
            ("content-type", "text/plain"),
            ("x-ignore-me", "1"),
            ("x-amz-signature", "00"),
            ("policy", "p"),
        ]);
        p.check(now(), &f3, "b", "up/x").unwrap();
        assert!(matches!(
            p.check(
                time::macros::datetime!(2026-01-02 00:00 UTC),
                &f,
                "b",
                "up/x"
            ),
            Err(PostError::PolicyExpired)
        ));
    }

    #[test]
    fn bad_documents_are_refused() {
        for doc in [
            "not json",
            r#"{"conditions":[]}"#,
            r#"{"expiration":"tomorrow","conditions":[]}"#,
            r#"{"expiration":"2026-01-02T00:00:00Z","conditions":[["eq","$key"]]}"#,
            r#"{"expiration":"2026-01-02T00:00:00Z","conditions":[["content-length-range",5,1]]}"#,
            r#"{"expiration":"2026-01-02T00:00:00Z","conditions":[["lt","$key","a"]]}"#,
            r#"{"expiration":"2026-01-02T00:00:00Z","conditions":[{"a":"1","b":"2"}]}"#,
        ] {
            let b64 = base64::engine::general_purpose::STANDARD.encode(doc);
            assert!(
                matches!(PostPolicy::parse(&b64), Err(PostError::InvalidPolicy(_))),
                "{doc}"
            );
        }
        assert!(PostPolicy::parse("%%%").is_err());
    }

    #[test]
    fn content_type_lists_match_each_value() {
        let p = policy(
            r#"{"expiration":"2026-01-02T00:00:00Z","conditions":[["starts-with","$content-type","image/"]]}"#,
        );
        let ok = fields(&[("content-type", "image/png, image/jpeg")]);
        p.check(now(), &ok, "b", "k").unwrap();
        let bad = fields(&[("content-type", "image/png, text/plain")]);
        assert!(p.check(now(), &bad, "b", "k").is_err());
    }
}
