//! The `Condition` block: operators (`String*`, `Numeric*`, `Bool`, `IpAddress`,
//! `NotIpAddress`, `Null`, each with `…IfExists` and the `ForAnyValue:` / `ForAllValues:` set
//! qualifiers) and their evaluation against the request's condition keys.
//!
//! Semantics (IAM's): a key missing from the request makes a positive operator false and a
//! negated one (`StringNotEquals`, `StringNotLike`, `NumericNotEquals`, `NotIpAddress`, …) true;
//! `…IfExists` makes any operator true for a missing key; `ForAllValues` is true and
//! `ForAnyValue` false for a missing key; `Null` tests presence (`"true"` = absent).
//! Several values for one key are alternatives (OR); several keys and operators in one block
//! must all hold (AND). Keys are case-insensitive.

use std::collections::HashMap;
use std::net::IpAddr;

use super::PolicyError;
use super::wildcard::{Cidr, matches};

/// The condition keys this server fills in (lower case). Anything else is refused as S3
/// refuses an unknown key.
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "aws:securetransport",
    "aws:sourceip",
    "aws:referer",
    "aws:useragent",
    "aws:principaltype",
    "aws:epochtime",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:prefix",
    "s3:max-keys",
    "s3:delimiter",
    "s3:x-amz-acl",
    "s3:x-amz-content-sha256",
    "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-storage-class",
    "s3:authtype",
    "s3:signatureversion",
    "s3:versionid",
];

/// The request's condition keys (lower-case names → values).
pub(crate) type Keys = HashMap<String, Vec<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    Bool,
    IpAddress,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    ForAnyValue,
    ForAllValues,
}

/// One operator applied to one key.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    base: Base,
    negated: bool,
    if_exists: bool,
    qualifier: Option<Qualifier>,
    /// Lower-case key name.
    pub(crate) key: String,
    /// Policy values (strings; numbers and booleans as written).
    pub(crate) values: Vec<String>,
    /// Parsed ranges for `IpAddress` / `NotIpAddress`.
    cidrs: Vec<Cidr>,
}

fn parse_operator(name: &str) -> Option<(Base, bool, bool, Option<Qualifier>)> {
    let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Some(Qualifier::ForAnyValue), r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Some(Qualifier::ForAllValues), r)
    } else {
        (None, name)
    };
    let (if_exists, base) = match rest.strip_suffix("IfExists") {
        Some(b) if b != "Null" => (true, b),
        _ => (false, rest),
    };
    let (b, negated) = match base {
        "StringEquals" => (Base::StringEquals, false),
        "StringNotEquals" => (Base::StringEquals, true),
        "StringEqualsIgnoreCase" => (Base::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Base::StringEqualsIgnoreCase, true),
        "StringLike" => (Base::StringLike, false),
        "StringNotLike" => (Base::StringLike, true),
        "NumericEquals" => (Base::NumericEquals, false),
        "NumericNotEquals" => (Base::NumericEquals, true),
        "NumericLessThan" => (Base::NumericLessThan, false),
        "NumericLessThanEquals" => (Base::NumericLessThanEquals, false),
        "NumericGreaterThan" => (Base::NumericGreaterThan, false),
        "NumericGreaterThanEquals" => (Base::NumericGreaterThanEquals, false),
        "Bool" => (Base::Bool, false),
        "IpAddress" => (Base::IpAddress, false),
        "NotIpAddress" => (Base::IpAddress, true),
        "Null" => (Base::Null, false),
        _ => return None,
    };
    Some((b, negated, if_exists, qualifier))
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses a `Condition` block (`{"Operator": {"key": value | [values]}}`).
pub(crate) fn parse_block(v: &serde_json::Value) -> Result<Vec<Condition>, PolicyError> {
    let obj = v
        .as_object()
        .ok_or(PolicyError::Malformed("Invalid Condition block".into()))?;
    let mut out = Vec::new();
    for (op, keys) in obj {
        let (base, negated, if_exists, qualifier) = parse_operator(op)
            .ok_or_else(|| PolicyError::Malformed(format!("Invalid Condition type : {op}")))?;
        let keys = keys
            .as_object()
            .ok_or(PolicyError::Malformed("Invalid Condition block".into()))?;
        for (key, values) in keys {
            let lower = key.to_ascii_lowercase();
            if !KNOWN_KEYS.contains(&lower.as_str()) {
                return Err(PolicyError::Malformed(
                    "Policy has an invalid condition key".into(),
                ));
            }
            let values: Vec<String> = match values {
                serde_json::Value::Array(a) => a.iter().map(scalar).collect::<Option<_>>(),
                other => scalar(other).map(|s| vec![s]),
            }
            .filter(|v: &Vec<String>| !v.is_empty())
            .ok_or_else(|| invalid_value(op))?;
            let cidrs = if base == Base::IpAddress {
                values
                    .iter()
                    .map(|v| Cidr::parse(v))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| invalid_value(op))?
            } else {
                Vec::new()
            };
            let numeric = matches!(
                base,
                Base::NumericEquals
                    | Base::NumericLessThan
                    | Base::NumericLessThanEquals
                    | Base::NumericGreaterThan
                    | Base::NumericGreaterThanEquals
            );
            if numeric && values.iter().any(|v| v.parse::<f64>().is_err()) {
                return Err(invalid_value(op));
            }
            if matches!(base, Base::Bool | Base::Null)
                && values
                    .iter()
                    .any(|v| !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false"))
            {
                return Err(invalid_value(op));
            }
            out.push(Condition {
                base,
                negated,
                if_exists,
                qualifier,
                key: lower,
                values,
                cidrs,
            });
        }
    }
    Ok(out)
}

fn invalid_value(op: &str) -> PolicyError {
    PolicyError::Malformed(format!("Invalid value for condition operator {op}"))
}

impl Condition {
    /// Whether this is `IpAddress` (not negated) on `aws:SourceIp` with no `/0` range: such a
    /// condition keeps an `Allow` for everyone from being "public".
    pub(crate) fn restricts_source(&self) -> bool {
        self.base == Base::IpAddress
            && !self.negated
            && self.key == "aws:sourceip"
            && !self.cidrs.iter().any(Cidr::is_everything)
    }

    /// Whether one request value matches one of the policy values (the positive operator).
    fn matches_one(&self, got: &str) -> bool {
        match self.base {
            Base::StringEquals => self.values.iter().any(|v| v == got),
            Base::StringEqualsIgnoreCase => self.values.iter().any(|v| v.eq_ignore_ascii_case(got)),
            Base::StringLike => self.values.iter().any(|v| matches(v, got)),
            Base::NumericEquals
            | Base::NumericLessThan
            | Base::NumericLessThanEquals
            | Base::NumericGreaterThan
            | Base::NumericGreaterThanEquals => {
                let Ok(g) = got.trim().parse::<f64>() else {
                    return false;
                };
                self.values
                    .iter()
                    .filter_map(|v| v.parse::<f64>().ok())
                    .any(|v| match self.base {
                        Base::NumericEquals => g == v,
                        Base::NumericLessThan => g < v,
                        Base::NumericLessThanEquals => g <= v,
                        Base::NumericGreaterThan => g > v,
                        _ => g >= v,
                    })
            }
            Base::Bool => self.values.iter().any(|v| v.eq_ignore_ascii_case(got)),
            Base::IpAddress => got
                .parse::<IpAddr>()
                .is_ok_and(|ip| self.cidrs.iter().any(|c| c.contains(ip))),
            Base::Null => false,
        }
    }

    /// Evaluates the condition against the request's keys.
    pub(crate) fn holds(&self, keys: &Keys) -> bool {
        let got = keys.get(&self.key).filter(|v| !v.is_empty());
        if self.base == Base::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return got.is_none() == want_absent;
        }
        let Some(got) = got else {
            return self.if_exists
                || match self.qualifier {
                    Some(Qualifier::ForAllValues) => true,
                    Some(Qualifier::ForAnyValue) => false,
                    None => self.negated,
                };
        };
        let hit = |g: &String| self.matches_one(g) != self.negated;
        match self.qualifier {
            Some(Qualifier::ForAllValues) => got.iter().all(hit),
            Some(Qualifier::ForAnyValue) => got.iter().any(hit),
            None if self.negated => !got.iter().any(|g| self.matches_one(g)),
            None => got.iter().any(|g| self.matches_one(g)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(json: &str) -> Vec<Condition> {
        parse_block(&serde_json::from_str(json).unwrap()).unwrap()
    }

    fn keys(pairs: &[(&str, &[&str])]) -> Keys {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn all(c: &[Condition], k: &Keys) -> bool {
        c.iter().all(|c| c.holds(k))
    }

    #[test]
    fn strings_and_missing_keys() {
        let sse = "s3:x-amz-server-side-encryption";
        let c = cond(
            r#"{"StringNotEquals": {"s3:x-amz-server-side-encryption": ["AES256", "aws:kms"]}}"#,
        );
        assert!(!all(&c, &keys(&[(sse, &["AES256"])])));
        assert!(all(&c, &keys(&[(sse, &["aws:kms:dsse"])])));
        // a negated operator holds for a missing key
        assert!(all(&c, &keys(&[])));
        let c = cond(r#"{"StringEquals": {"S3:X-Amz-Server-Side-Encryption": "AES256"}}"#);
        assert!(all(&c, &keys(&[(sse, &["AES256"])])));
        assert!(!all(&c, &keys(&[(sse, &["aes256"])])));
        assert!(!all(&c, &keys(&[])));
        let c =
            cond(r#"{"StringEqualsIgnoreCase": {"s3:x-amz-server-side-encryption": "AES256"}}"#);
        assert!(all(&c, &keys(&[(sse, &["aes256"])])));
        let c = cond(r#"{"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}}"#);
        assert!(all(&c, &keys(&[])));
        assert!(!all(&c, &keys(&[(sse, &["aws:kms"])])));
        let c = cond(r#"{"StringLike": {"s3:prefix": ["home/*", "public/?"]}}"#);
        assert!(all(&c, &keys(&[("s3:prefix", &["home/alice/"])])));
        assert!(all(&c, &keys(&[("s3:prefix", &["public/a"])])));
        assert!(!all(&c, &keys(&[("s3:prefix", &["public/ab"])])));
        let c = cond(r#"{"StringNotLike": {"s3:prefix": "home/*"}}"#);
        assert!(!all(&c, &keys(&[("s3:prefix", &["home/x"])])));
        assert!(all(&c, &keys(&[("s3:prefix", &["other"])])));
    }

    #[test]
    fn null_bool_numeric_ip() {
        let c = cond(
            r#"{"Null": {"s3:x-amz-server-side-encryption": "true", "s3:x-amz-server-side-encryption-customer-algorithm": true}}"#,
        );
        assert!(all(&c, &keys(&[])));
        assert!(!all(
            &c,
            &keys(&[("s3:x-amz-server-side-encryption", &["AES256"])])
        ));
        assert!(!all(
            &c,
            &keys(&[(
                "s3:x-amz-server-side-encryption-customer-algorithm",
                &["AES256"]
            )])
        ));
        let c = cond(r#"{"Null": {"s3:x-amz-server-side-encryption": "false"}}"#);
        assert!(all(
            &c,
            &keys(&[("s3:x-amz-server-side-encryption", &["x"])])
        ));
        assert!(!all(&c, &keys(&[])));
        let c = cond(r#"{"Bool": {"aws:SecureTransport": "false"}}"#);
        assert!(all(&c, &keys(&[("aws:securetransport", &["false"])])));
        assert!(!all(&c, &keys(&[("aws:securetransport", &["true"])])));
        let c = cond(r#"{"NumericLessThanEquals": {"s3:max-keys": 10}}"#);
        assert!(all(&c, &keys(&[("s3:max-keys", &["10"])])));
        assert!(!all(&c, &keys(&[("s3:max-keys", &["11"])])));
        assert!(!all(&c, &keys(&[("s3:max-keys", &["ten"])])));
        let c = cond(
            r#"{"NumericGreaterThan": {"s3:max-keys": "5"}, "NumericNotEquals": {"s3:max-keys": 7}}"#,
        );
        assert!(all(&c, &keys(&[("s3:max-keys", &["6"])])));
        assert!(!all(&c, &keys(&[("s3:max-keys", &["7"])])));
        let c = cond(r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}"#);
        assert!(all(&c, &keys(&[("aws:sourceip", &["10.1.2.3"])])));
        assert!(!all(&c, &keys(&[("aws:sourceip", &["11.1.2.3"])])));
        assert!(c[0].restricts_source());
        let c = cond(r#"{"NotIpAddress": {"aws:SourceIp": "127.0.0.1/32"}}"#);
        assert!(!all(&c, &keys(&[("aws:sourceip", &["127.0.0.1"])])));
        assert!(all(&c, &keys(&[("aws:sourceip", &["127.0.0.2"])])));
        assert!(!c[0].restricts_source());
    }

    #[test]
    fn set_qualifiers() {
        let c = cond(r#"{"ForAnyValue:StringEquals": {"s3:prefix": ["a", "b"]}}"#);
        assert!(all(&c, &keys(&[("s3:prefix", &["x", "b"])])));
        assert!(!all(&c, &keys(&[("s3:prefix", &["x"])])));
        assert!(!all(&c, &keys(&[])));
        let c = cond(r#"{"ForAllValues:StringEquals": {"s3:prefix": ["a", "b"]}}"#);
        assert!(all(&c, &keys(&[("s3:prefix", &["a", "b"])])));
        assert!(!all(&c, &keys(&[("s3:prefix", &["a", "c"])])));
        assert!(all(&c, &keys(&[])));
    }

    #[test]
    fn refusals() {
        let err = |j: &str| {
            parse_block(&serde_json::from_str(j).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(r#"{"StringEqualz": {"s3:prefix": "a"}}"#),
            "Invalid Condition type : StringEqualz"
        );
        assert_eq!(
            err(r#"{"StringEquals": {"s3:nonsense": "a"}}"#),
            "Policy has an invalid condition key"
        );
        assert!(
            err(r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/40"}}"#).starts_with("Invalid value")
        );
        assert!(err(r#"{"NumericEquals": {"s3:max-keys": "x"}}"#).starts_with("Invalid value"));
        assert!(err(r#"{"Bool": {"aws:SecureTransport": "yes"}}"#).starts_with("Invalid value"));
        assert!(err(r#"{"StringEquals": {"s3:prefix": []}}"#).starts_with("Invalid value"));
        assert!(err(r#"{"StringEquals": "x"}"#).starts_with("Invalid Condition"));
    }
}
