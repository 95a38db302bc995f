//! Host-based routing (MinIO's `MINIO_DOMAIN`): with one or more configured domains, a request
//! whose `Host` is `<bucket>.<domain>` (any port) addresses `<bucket>` virtual-host style.
//!
//! Every other `Host` — a domain itself, an IP address (s3s never asks about those), the
//! server's own name, anything unknown — is answered path style, so the bucket in the path is
//! never dropped. Without a configured domain no host parser is installed (path style only;
//! s3s then answers a failing request whose Host looks virtual-hosted with a hint).

use std::borrow::Cow;

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// The configured domains (lower case, no port, no surrounding dots).
#[derive(Debug, Clone)]
pub(super) struct Domains {
    domains: Vec<String>,
}

/// Why a domain list is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A name is not a DNS name.
    #[error("invalid domain {0:?}: expected a DNS name such as s3.example.com")]
    Invalid(String),
}

/// Splits a comma-separated domain list (blanks ignored) and validates each name.
pub fn parse_domains(list: &str) -> Result<Vec<String>, DomainError> {
    let mut out = Vec::new();
    for d in list.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        let valid = !d.is_empty()
            && d.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !valid {
            return Err(DomainError::Invalid(d));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

impl Domains {
    /// A host parser for `domains` (already validated by [`parse_domains`]); `None` when empty.
    pub(super) fn new(domains: &[String]) -> Option<Self> {
        (!domains.is_empty()).then(|| {
            let mut domains = domains.to_vec();
            // The longest domain wins when one is a subdomain of another.
            domains.sort_by_key(|d| std::cmp::Reverse(d.len()));
            Domains { domains }
        })
    }

    /// The bucket a `Host` names, if it is `<bucket>.<domain>`.
    pub(super) fn bucket_of<'a>(&self, host: &'a str) -> Option<&'a str> {
        let name = strip_port(host);
        self.domains.iter().find_map(|d| {
            let cut = name.len().checked_sub(d.len() + 1)?;
            // `get`, not `split_at`: a non-ASCII Host must not panic on a char boundary.
            let (bucket, rest) = (name.get(..cut)?, name.get(cut..)?);
            let rest = rest.strip_prefix('.')?;
            (rest.eq_ignore_ascii_case(d) && !bucket.is_empty()).then_some(bucket)
        })
    }
}

/// `host` without a trailing `:port` (an IPv6 literal keeps its brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.split_once(':') {
        Some((name, _port)) => name,
        None => host,
    }
}

impl S3Host for Domains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => VirtualHost::new(Cow::Borrowed(host)).with_bucket(bucket),
            None => VirtualHost::new(Cow::Borrowed(host)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_lists_are_validated() {
        assert_eq!(
            parse_domains(" s3.example.com, Minio.Local. ,,").unwrap(),
            vec!["s3.example.com".to_owned(), "minio.local".to_owned()]
        );
        assert_eq!(parse_domains("").unwrap(), Vec::<String>::new());
        for bad in [
            "s3..example.com",
            "s3.example.com:9000",
            "-a.b",
            "a_b.c",
            "http://x",
        ] {
            assert!(parse_domains(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subdomains_are_buckets_everything_else_path_style() {
        let d = Domains::new(&parse_domains("s3.example.com,example.com").unwrap()).unwrap();
        assert_eq!(d.bucket_of("photos.s3.example.com"), Some("photos"));
        assert_eq!(d.bucket_of("photos.s3.example.com:9000"), Some("photos"));
        assert_eq!(d.bucket_of("Photos.S3.Example.COM"), Some("Photos"));
        assert_eq!(
            d.bucket_of("my.dotted.bucket.example.com"),
            Some("my.dotted.bucket")
        );
        assert_eq!(
            d.bucket_of("s3.example.com"),
            Some("s3"),
            "a bucket of the shorter domain"
        );
        assert_eq!(d.bucket_of("example.com"), None);
        assert_eq!(d.bucket_of("example.com:9000"), None);
        assert_eq!(d.bucket_of(".example.com"), None);
        assert_eq!(d.bucket_of("localhost:9000"), None);
        assert_eq!(d.bucket_of("bucket.other.org"), None);
        assert_eq!(d.bucket_of("notexample.com"), None);
        assert_eq!(d.bucket_of("[::1]:9000"), None);
        // Non-ASCII bytes around the cut must not panic (`split_at` would).
        assert_eq!(d.bucket_of("é.example.com"), Some("é"));
        assert_eq!(d.bucket_of("aé.example.com"), Some("aé"));
        assert_eq!(d.bucket_of("xxxxxxxxxxxxéexample.com"), None);
        let vh = d.parse_host_header("bucket.other.org").unwrap();
        assert_eq!(vh.bucket(), None, "unknown hosts are path style");
        let vh = d.parse_host_header("b1.s3.example.com:443").unwrap();
        assert_eq!(vh.bucket(), Some("b1"));
        assert!(Domains::new(&[]).is_none());
    }
}
