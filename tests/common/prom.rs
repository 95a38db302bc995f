//! Strict Prometheus text format 0.0.4 parser for `/v1/metrics` (what KES's
//! Go SDK can read) and the SDK's family constraints, plus a fetch helper.
//!
//! Contract of [`parse_prometheus`]: HELP/TYPE before samples, contiguous
//! families, valid metric and label names, quoted and escaped label values,
//! no duplicate series, no family without samples, histogram invariants
//! (increasing `le`, cumulative counts, `+Inf` bucket equal to `_count`,
//! a `_sum`). Anything else is an `Err` naming the offending line.
#![allow(
    unreachable_pub,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test support shared by test binaries: `pub` is for them, a panic is the failure report"
)]

use std::collections::{BTreeMap, BTreeSet};

use client::ApiKey;

use super::TestServer;

#[derive(Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug)]
pub struct Family {
    pub kind: String,
    pub help: bool,
    pub samples: Vec<Sample>,
}

fn valid_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse::<f64>().map_err(|_| format!("bad value '{v}'")),
    }
}

/// Parses `{a="x",b="y"}` starting at `s[0] == '{'`; returns labels and the rest.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = &s[1..];
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without '='")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("bad label name '{name}'"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("bad escape '\\{other}'")),
                },
                (_, c) => value.push(c),
            }
        };
        rest = &rest[end + 1..];
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("duplicate label '{name}'"));
        }
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected ',' or '}'".into());
        }
    }
}

/// A strict parser of the Prometheus text format 0.0.4 for what KES emits:
/// HELP/TYPE before samples, contiguous families, valid names and labels,
/// no duplicate series, no family without samples, histogram invariants.
pub fn parse_prometheus(text: &str) -> Result<BTreeMap<String, Family>, String> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    if !text.ends_with('\n') {
        return Err("output must end with a newline".into());
    }
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kw, name, rest) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            if !valid_metric_name(name) {
                return Err(format!("bad metric name in '{line}'"));
            }
            if current.as_deref() != Some(name) {
                if families.contains_key(name) {
                    return Err(format!("family {name} is not contiguous"));
                }
                if let Some(prev) = &current
                    && families[prev].samples.is_empty()
                {
                    return Err(format!("family {prev} has no samples"));
                }
                families.insert(
                    name.to_owned(),
                    Family {
                        kind: "untyped".into(),
                        help: false,
                        samples: vec![],
                    },
                );
                order.push(name.to_owned());
                current = Some(name.to_owned());
            }
            let f = families.get_mut(name).unwrap();
            match kw {
                "HELP" => {
                    if f.help || rest.is_empty() {
                        return Err(format!("bad or repeated HELP for {name}"));
                    }
                    f.help = true;
                }
                "TYPE" => {
                    if !f.samples.is_empty() || f.kind != "untyped" {
                        return Err(format!("TYPE for {name} after samples or twice"));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest) {
                        return Err(format!("bad type '{rest}'"));
                    }
                    f.kind = rest.to_owned();
                }
                _ => return Err(format!("unexpected comment '{line}'")),
            }
            continue;
        }
        if line.starts_with('#') {
            return Err(format!("bad comment '{line}'"));
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| format!("bad sample '{line}'"))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(format!("bad sample name '{name}'"));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..])?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| format!("no value in '{line}'"))?
            .split(' ');
        let value = parse_value(fields.next().unwrap_or(""))?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| format!("bad timestamp in '{line}'"))?;
        }
        if fields.next().is_some() {
            return Err(format!("trailing fields in '{line}'"));
        }
        let family = current
            .clone()
            .ok_or_else(|| format!("sample before TYPE: '{line}'"))?;
        let f = families.get_mut(&family).unwrap();
        let allowed: &[&str] = if f.kind == "histogram" {
            &["_bucket", "_sum", "_count"]
        } else {
            &[""]
        };
        let suffix = name
            .strip_prefix(family.as_str())
            .ok_or_else(|| format!("sample {name} outside family {family}"))?;
        if !allowed.contains(&suffix) {
            return Err(format!("sample {name} not allowed in {} {family}", f.kind));
        }
        if f.samples
            .iter()
            .any(|s| s.name == name && s.labels == labels)
        {
            return Err(format!("duplicate series {name}{labels:?}"));
        }
        f.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    if let Some(prev) = &current
        && families[prev].samples.is_empty()
    {
        return Err(format!("family {prev} has no samples"));
    }
    for (name, f) in &families {
        if f.kind == "histogram" {
            let buckets: Vec<&Sample> = f
                .samples
                .iter()
                .filter(|s| s.name.ends_with("_bucket"))
                .collect();
            let mut last = (f64::NEG_INFINITY, 0.0);
            for b in &buckets {
                let le = parse_value(b.labels.get("le").ok_or("bucket without le")?)?;
                if le <= last.0 || b.value < last.1 {
                    return Err(format!("{name}: buckets not increasing/cumulative"));
                }
                last = (le, b.value);
            }
            let count = f
                .samples
                .iter()
                .find(|s| s.name.ends_with("_count"))
                .ok_or("no _count")?;
            if last.0 != f64::INFINITY || last.1 != count.value {
                return Err(format!("{name}: +Inf bucket must equal _count"));
            }
            if !f.samples.iter().any(|s| s.name.ends_with("_sum")) {
                return Err(format!("{name}: no _sum"));
            }
        }
    }
    Ok(families)
}

pub const REQUEST_COUNTERS: [&str; 3] = [
    "kes_http_request_success",
    "kes_http_request_error",
    "kes_http_request_failure",
];

/// The SDK's constraints: only the three request counters carry labels
/// (`code`, in their class); every other family is one series.
pub fn check_sdk_constraints(m: &BTreeMap<String, Family>) {
    for (name, f) in m {
        if let Some(i) = REQUEST_COUNTERS.iter().position(|c| c == name) {
            assert_eq!(f.kind, "counter");
            for s in &f.samples {
                let keys: Vec<&String> = s.labels.keys().collect();
                assert_eq!(keys, ["code"], "{name}");
                let code: u16 = s.labels["code"].parse().unwrap();
                assert_eq!(usize::from(code / 100), [2, 4, 5][i], "{name} {code}");
            }
        } else if f.kind == "histogram" {
            for s in &f.samples {
                let allowed: BTreeSet<&str> = if s.name.ends_with("_bucket") {
                    ["le"].into()
                } else {
                    BTreeSet::new()
                };
                assert_eq!(
                    s.labels.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                    allowed,
                    "{}",
                    s.name
                );
            }
        } else {
            assert_eq!(f.samples.len(), 1, "{name} has one series");
            assert!(f.samples[0].labels.is_empty(), "{name} has no labels");
        }
    }
}

/// `GET /v1/metrics` as `key`: asserts 200 and the 0.0.4 content type, parses
/// strictly and checks the SDK's constraints.
pub async fn metrics(s: &TestServer, key: &ApiKey) -> BTreeMap<String, Family> {
    let resp = s
        .client(key)
        .get(s.url("/v1/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    let m = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    check_sdk_constraints(&m);
    m
}

/// The value of `family{code="code"}`, 0 when absent (as the SDK reads it).
pub fn counter(m: &BTreeMap<String, Family>, family: &str, code: &str) -> f64 {
    m.get(family)
        .and_then(|f| f.samples.iter().find(|s| s.labels["code"] == code))
        .map_or(0.0, |s| s.value)
}
