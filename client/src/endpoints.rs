//! Endpoint list, ordering and quarantine for multi-endpoint failover (`object-sse.md` §1.3).
//!
//! * Endpoints are normalised once: `https://` is added when no scheme is given, `http://` is refused (KES requires
//!   TLS), a trailing `/` is dropped.
//! * Local endpoints (host `localhost` or a loopback IP) are sorted first, keeping the given order otherwise.
//!   (Go's SDK also treats the machine's own interface addresses as local; we only know loopback without extra
//!   dependencies.)
//! * Per request: with one endpoint, that one; if the first sorted endpoint is local, start there; otherwise start at
//!   a random endpoint and rotate through all of them.
//! * An endpoint that failed with a transport error or a 5xx other than 501 is quarantined for a while (30 s by
//!   default). After that it gets requests again (as a probe); a success clears the mark.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng as _;
use reqwest::Url;

use crate::error::{Error, Result};

/// Default quarantine after a failure.
pub const DEFAULT_QUARANTINE: Duration = Duration::from_secs(30);

/// Normalises one endpoint string into a base URL.
///
/// # Errors
/// [`Error::Config`] for an empty string, `http://`, another scheme, or an unparsable URL.
pub fn normalize(endpoint: &str) -> Result<Url> {
    let e = endpoint.trim();
    if e.is_empty() {
        return Err(Error::Config("empty server endpoint".into()));
    }
    let lower = e.to_ascii_lowercase();
    let text = if lower.starts_with("https://") {
        e.to_string()
    } else if lower.starts_with("http://") {
        return Err(Error::Config(format!(
            "server endpoint '{e}': plain http:// is not supported, KES requires TLS (use https://)"
        )));
    } else if e.contains("://") {
        return Err(Error::Config(format!(
            "server endpoint '{e}': unsupported scheme, use https://"
        )));
    } else {
        format!("https://{e}")
    };
    let mut url =
        Url::parse(&text).map_err(|err| Error::Config(format!("server endpoint '{e}': {err}")))?;
    if url.host().is_none() {
        return Err(Error::Config(format!(
            "server endpoint '{e}': missing host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "server endpoint '{e}': query and fragment are not allowed"
        )));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&path);
    Ok(url)
}

/// True if the URL's host is `localhost` or a loopback address.
pub fn is_local(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The endpoint set of one client, shared by all its requests.
#[derive(Debug)]
pub(crate) struct Endpoints {
    urls: Vec<Url>,
    local_first: bool,
    quarantined_until: Mutex<Vec<Option<Instant>>>,
    quarantine: Duration,
}

impl Endpoints {
    /// Normalises and orders the endpoints (local ones first, otherwise in the given order).
    pub(crate) fn new(list: &[String], quarantine: Duration) -> Result<Self> {
        if list.is_empty() {
            return Err(Error::Config("no server endpoint given".into()));
        }
        let mut urls = list
            .iter()
            .map(|e| normalize(e))
            .collect::<Result<Vec<_>>>()?;
        urls.sort_by_key(|u| !is_local(u)); // stable: keeps the order within each group
        let local_first = urls.first().is_some_and(is_local);
        let n = urls.len();
        Ok(Endpoints {
            urls,
            local_first,
            quarantined_until: Mutex::new(vec![None; n]),
            quarantine,
        })
    }

    /// The ordered base URLs.
    pub(crate) fn urls(&self) -> &[Url] {
        &self.urls
    }

    /// Indices to try for one request, in order.
    pub(crate) fn rotation(&self) -> Vec<usize> {
        let n = self.urls.len();
        let start = if n <= 1 || self.local_first {
            0
        } else {
            rand::rng().random_range(0..n)
        };
        (0..n).map(|i| (start + i) % n).collect()
    }

    /// True if endpoint `i` is in quarantine at `now`.
    pub(crate) fn is_quarantined(&self, i: usize, now: Instant) -> bool {
        let q = self
            .quarantined_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        q.get(i).copied().flatten().is_some_and(|until| now < until)
    }

    /// Puts endpoint `i` into quarantine from `now`.
    pub(crate) fn mark_failed(&self, i: usize, now: Instant) {
        let mut q = self
            .quarantined_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = q.get_mut(i) {
            *slot = Some(now + self.quarantine);
        }
    }

    /// Clears the quarantine of endpoint `i` after a successful exchange.
    pub(crate) fn mark_ok(&self, i: usize) {
        let mut q = self
            .quarantined_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = q.get_mut(i) {
            *slot = None;
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests may panic"
)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(
            normalize("127.0.0.1:7373").unwrap().as_str(),
            "https://127.0.0.1:7373/"
        );
        assert_eq!(
            normalize(" https://kes.example.com:7373/ ")
                .unwrap()
                .as_str(),
            "https://kes.example.com:7373/"
        );
        assert_eq!(normalize("HTTPS://h").unwrap().as_str(), "https://h/");
        assert_eq!(
            normalize("[::1]:7373").unwrap().as_str(),
            "https://[::1]:7373/"
        );
        for bad in [
            "",
            "http://127.0.0.1:7373",
            "ftp://h",
            "https://",
            "https://h/?x=1",
        ] {
            assert!(matches!(normalize(bad), Err(Error::Config(_))), "{bad}");
        }
        let Err(Error::Config(msg)) = normalize("http://h:1") else {
            panic!("http accepted")
        };
        assert!(msg.contains("requires TLS"), "{msg}");
    }

    #[test]
    fn locality() {
        for (e, local) in [
            ("localhost:1", true),
            ("127.0.0.1:1", true),
            ("127.9.9.9:1", true),
            ("[::1]:1", true),
            ("10.0.0.1:1", false),
            ("kes.example.com", false),
        ] {
            assert_eq!(is_local(&normalize(e).unwrap()), local, "{e}");
        }
    }

    #[test]
    fn local_first_ordering_and_rotation() {
        let eps = Endpoints::new(
            &[
                "10.0.0.1:7373".into(),
                "127.0.0.1:7373".into(),
                "10.0.0.2:7373".into(),
            ],
            DEFAULT_QUARANTINE,
        )
        .unwrap();
        let hosts: Vec<_> = eps
            .urls()
            .iter()
            .map(|u| u.host_str().unwrap().to_string())
            .collect();
        assert_eq!(hosts, ["127.0.0.1", "10.0.0.1", "10.0.0.2"]);
        for _ in 0..20 {
            assert_eq!(eps.rotation(), [0, 1, 2]);
        }
    }

    #[test]
    fn remote_endpoints_start_at_random_and_cover_all() {
        let eps = Endpoints::new(
            &["10.0.0.1".into(), "10.0.0.2".into(), "10.0.0.3".into()],
            DEFAULT_QUARANTINE,
        )
        .unwrap();
        let mut starts = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let r = eps.rotation();
            let mut sorted = r.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2]);
            assert_eq!(r[1], (r[0] + 1) % 3);
            starts.insert(r[0]);
        }
        // 200 uniform draws over 3 starts miss one with probability < 3·(2/3)^200.
        assert_eq!(starts.len(), 3);
    }

    #[test]
    fn quarantine_expires_and_clears() {
        let eps = Endpoints::new(&["a".into(), "b".into()], Duration::from_secs(30)).unwrap();
        let t0 = Instant::now();
        assert!(!eps.is_quarantined(0, t0));
        eps.mark_failed(0, t0);
        assert!(eps.is_quarantined(0, t0 + Duration::from_secs(29)));
        assert!(!eps.is_quarantined(0, t0 + Duration::from_secs(30)));
        assert!(!eps.is_quarantined(1, t0));
        eps.mark_ok(0);
        assert!(!eps.is_quarantined(0, t0));
        assert!(matches!(
            Endpoints::new(&[], DEFAULT_QUARANTINE),
            Err(Error::Config(_))
        ));
    }
}
