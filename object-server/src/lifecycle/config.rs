//! Lifecycle configurations: S3's validation of a `LifecycleConfiguration` document and the
//! rule model the sweep evaluates.
//!
//! [`validate`] checks a parsed document as S3 does and returns the [`Rule`]s; rules without an
//! `ID` get a generated one (as S3), so the stored document always names every rule. Errors:
//!
//! * 400 `MalformedXML`: no rules or more than 1000; `Status` other than `Enabled`/`Disabled`;
//!   neither or both of `Filter` and the legacy `Prefix`; a `Filter` with more than one of
//!   `Prefix`/`Tag`/`And`/`ObjectSize*`; `Expiration` with none or several of `Days`, `Date`,
//!   `ExpiredObjectDeleteMarker`; `NoncurrentVersionExpiration` without `NoncurrentDays`;
//!   `AbortIncompleteMultipartUpload` without `DaysAfterInitiation`.
//! * 400 `InvalidArgument`: an `ID` over 255 characters, IDs not unique, `Days` /
//!   `NoncurrentDays` / `DaysAfterInitiation` not positive, `NewerNoncurrentVersions` outside
//!   1–100, a `Date` not at midnight UTC, bad tag keys or values, object sizes negative or
//!   `ObjectSizeGreaterThan` ≥ `ObjectSizeLessThan`.
//! * 400 `InvalidRequest`: a rule without any action; `AbortIncompleteMultipartUpload` or
//!   `ExpiredObjectDeleteMarker` with a tag filter.
//! * 501 `NotImplemented`: `Transition` / `NoncurrentVersionTransition` (this server has one
//!   storage class, so a transition could never be carried out).

use s3s::dto::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter, TagSet,
};

use crate::error::{Error, Result};

/// Most rules in one configuration.
pub const MAX_RULES: usize = 1000;
/// Longest rule ID.
pub const MAX_ID_LEN: usize = 255;
/// Largest `NewerNoncurrentVersions`.
pub const MAX_NEWER_NONCURRENT: i32 = 100;

/// Which objects a rule applies to (all conditions must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Key prefix (empty: every key).
    pub prefix: String,
    /// Tags the object must carry (all of them, exact values).
    pub tags: Vec<(String, String)>,
    /// The object must be larger than this many bytes.
    pub size_greater_than: Option<u64>,
    /// The object must be smaller than this many bytes.
    pub size_less_than: Option<u64>,
}

/// What happens to current versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    /// `Days`: N days after creation, rounded up to the next midnight UTC.
    Days(u32),
    /// `Date`: from this instant (midnight UTC, Unix seconds) on.
    Date(i64),
    /// `ExpiredObjectDeleteMarker`: a current delete marker without older versions is removed.
    DeleteMarker,
}

/// `NoncurrentVersionExpiration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoncurrentExpiration {
    /// Days after the version became noncurrent (rounded up to midnight UTC).
    pub days: u32,
    /// The newest this many noncurrent versions are kept whatever their age.
    pub keep_newer: u32,
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Rule ID (given or generated).
    pub id: String,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    /// Object selection.
    pub filter: Filter,
    /// Current-version action.
    pub expiration: Option<Expiration>,
    /// Noncurrent-version action.
    pub noncurrent: Option<NoncurrentExpiration>,
    /// `AbortIncompleteMultipartUpload` `DaysAfterInitiation`.
    pub abort_after_days: Option<u32>,
}

fn invalid(msg: &str) -> Error {
    Error::InvalidArgument(msg.to_owned())
}

fn positive(v: i32, msg: &str) -> Result<u32> {
    u32::try_from(v)
        .ok()
        .filter(|d| *d > 0)
        .ok_or_else(|| invalid(msg))
}

fn size(v: Option<i64>) -> Result<Option<u64>> {
    v.map(|n| u64::try_from(n).map_err(|_| invalid("ObjectSize must be a non-negative integer")))
        .transpose()
}

fn tags(set: &TagSet) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(set.len());
    for t in set {
        let k = t.key.clone().unwrap_or_default();
        let v = t.value.clone().unwrap_or_default();
        let klen = k.chars().count();
        if klen == 0 || klen > 128 {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(invalid("The TagValue you have provided is invalid"));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(invalid("Duplicate Tag Keys are not allowed."));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn filter(f: &LifecycleRuleFilter) -> Result<Filter> {
    let given = [
        f.prefix.is_some(),
        f.tag.is_some(),
        f.and.is_some(),
        f.object_size_greater_than.is_some(),
        f.object_size_less_than.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(Error::MalformedXml);
    }
    let mut out = Filter {
        prefix: f.prefix.clone().unwrap_or_default(),
        size_greater_than: size(f.object_size_greater_than)?,
        size_less_than: size(f.object_size_less_than)?,
        tags: Vec::new(),
    };
    if let Some(t) = &f.tag {
        out.tags = tags(&vec![t.clone()])?;
    }
    if let Some(and) = &f.and {
        out.prefix = and.prefix.clone().unwrap_or_default();
        out.tags = and.tags.as_ref().map(tags).transpose()?.unwrap_or_default();
        out.size_greater_than = size(and.object_size_greater_than)?;
        out.size_less_than = size(and.object_size_less_than)?;
    }
    if let (Some(gt), Some(lt)) = (out.size_greater_than, out.size_less_than)
        && gt >= lt
    {
        return Err(invalid(
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
        ));
    }
    Ok(out)
}

fn midnight(ts: &s3s::dto::Timestamp) -> Result<i64> {
    let secs = time::OffsetDateTime::from(ts.clone()).unix_timestamp();
    if secs.rem_euclid(86_400) != 0 {
        return Err(invalid("'Date' must be at midnight GMT"));
    }
    Ok(secs)
}

fn generated_id() -> String {
    use base64::Engine as _;
    let mut b = [0u8; 36];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn rule(r: &mut LifecycleRule) -> Result<Rule> {
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => return Err(Error::MalformedXml),
    };
    let id = match &r.id {
        Some(id) if id.chars().count() > MAX_ID_LEN => {
            return Err(invalid("ID length should not exceed allowed limit of 255"));
        }
        Some(id) if !id.is_empty() => id.clone(),
        _ => {
            let id = generated_id();
            r.id = Some(id.clone());
            id
        }
    };
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || r.noncurrent_version_transitions
            .as_ref()
            .is_some_and(|t| !t.is_empty())
    {
        return Err(Error::NotImplemented(
            "Lifecycle transitions are not supported: this server has a single storage class",
        ));
    }
    let filter = match (&r.filter, &r.prefix) {
        (Some(f), None) => filter(f)?,
        (None, Some(p)) => Filter {
            prefix: p.clone(),
            ..Filter::default()
        },
        _ => return Err(Error::MalformedXml),
    };
    let expiration = match &r.expiration {
        None => None,
        Some(e) => match (&e.days, &e.date, e.expired_object_delete_marker) {
            (Some(d), None, None) => Some(Expiration::Days(positive(
                *d,
                "'Days' for Expiration action must be a positive integer",
            )?)),
            (None, Some(date), None) => Some(Expiration::Date(midnight(date)?)),
            (None, None, Some(true)) => Some(Expiration::DeleteMarker),
            (None, None, Some(false)) => None,
            (_, _, Some(_)) => {
                return Err(invalid(
                    "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy",
                ));
            }
            _ => return Err(Error::MalformedXml),
        },
    };
    let noncurrent = match &r.noncurrent_version_expiration {
        None => None,
        Some(n) => {
            let Some(days) = n.noncurrent_days else {
                return Err(Error::MalformedXml);
            };
            let days = positive(
                days,
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            )?;
            let keep_newer = match n.newer_noncurrent_versions {
                None => 0,
                Some(v) if (1..=MAX_NEWER_NONCURRENT).contains(&v) => v.unsigned_abs(),
                Some(_) => {
                    return Err(invalid(
                        "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer no greater than 100",
                    ));
                }
            };
            Some(NoncurrentExpiration { days, keep_newer })
        }
    };
    let abort_after_days = match &r.abort_incomplete_multipart_upload {
        None => None,
        Some(a) => match a.days_after_initiation {
            Some(d) => Some(positive(
                d,
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
            )?),
            None => return Err(Error::MalformedXml),
        },
    };
    let no_action = r.expiration.is_none() && noncurrent.is_none() && abort_after_days.is_none();
    if no_action {
        return Err(Error::InvalidRequest(
            "At least one action needs to be specified in a rule".to_owned(),
        ));
    }
    if !filter.tags.is_empty() {
        if abort_after_days.is_some() {
            return Err(Error::InvalidRequest(
                "AbortIncompleteMultipartUpload cannot be specified with Tags.".to_owned(),
            ));
        }
        if expiration == Some(Expiration::DeleteMarker) {
            return Err(Error::InvalidRequest(
                "ExpiredObjectDeleteMarker cannot be specified with Tags.".to_owned(),
            ));
        }
    }
    Ok(Rule {
        id,
        enabled,
        filter,
        expiration,
        noncurrent,
        abort_after_days,
    })
}

/// Validates `config` as S3 does (see the module docs), filling in missing rule IDs, and
/// returns its rules in document order.
pub fn validate(config: &mut BucketLifecycleConfiguration) -> Result<Vec<Rule>> {
    if config.rules.is_empty() || config.rules.len() > MAX_RULES {
        return Err(Error::MalformedXml);
    }
    let mut out: Vec<Rule> = Vec::with_capacity(config.rules.len());
    for r in &mut config.rules {
        let parsed = rule(r)?;
        if out.iter().any(|o| o.id == parsed.id) {
            return Err(invalid(
                "Rule ID must be unique. Found same ID for more than one rule",
            ));
        }
        out.push(parsed);
    }
    Ok(out)
}

/// The stored form: the document as S3 XML (s3s's serializer).
pub fn to_xml(config: &BucketLifecycleConfiguration) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut ser = s3s::xml::Serializer::new(&mut buf);
    s3s::xml::Serialize::serialize(config, &mut ser).map_err(Error::internal)?;
    Ok(buf)
}

/// Parses a stored document.
pub fn from_xml(bytes: &[u8]) -> Result<BucketLifecycleConfiguration> {
    let mut de = s3s::xml::Deserializer::new(bytes);
    <BucketLifecycleConfiguration as s3s::xml::Deserialize>::deserialize(&mut de)
        .map_err(|e| Error::internal(format!("stored lifecycle configuration: {e:?}")))
}

#[cfg(test)]
mod tests;
