//! Connection counting.
//!
//! * Global: a semaphore of `max_connections` permits; the accept loop takes a permit before
//!   accepting, so connections over the cap wait in the listen backlog.
//! * Per client: at most `max_connections_per_ip` connections per [`ClientKey`] (an IPv4
//!   address, or the /64 prefix of an IPv6 address, since one IPv6 client usually owns a whole
//!   /64); a connection over the cap is closed as soon as it is accepted.
//!
//! A [`ClientSlot`] gives its place back when dropped, with the connection.
//! [`open_files_limit`] lets start-up warn when the process cannot open that many sockets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;

/// What the per-client cap counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum ClientKey {
    /// An IPv4 address (IPv4-mapped IPv6 addresses included).
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6Prefix(u64),
}

impl ClientKey {
    /// The key of a peer address.
    pub(super) fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(a) => ClientKey::V4(a),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4),
                None => {
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&a.octets()[..8]);
                    ClientKey::V6Prefix(u64::from_be_bytes(prefix))
                }
            },
        }
    }
}

type Counts = Arc<Mutex<HashMap<ClientKey, usize>>>;

/// The global and per-client connection caps.
#[derive(Debug, Clone)]
pub(super) struct ConnLimiter {
    global: Arc<Semaphore>,
    per_client: Counts,
    per_client_max: usize,
}

impl ConnLimiter {
    /// Caps from `limits`.
    pub(super) fn new(limits: &Limits) -> Self {
        ConnLimiter {
            global: Arc::new(Semaphore::new(limits.max_connections)),
            per_client: Arc::new(Mutex::new(HashMap::new())),
            per_client_max: limits.max_connections_per_ip,
        }
    }

    /// A global permit if one is free now.
    pub(super) fn try_global(&self) -> Option<OwnedSemaphorePermit> {
        self.global.clone().try_acquire_owned().ok()
    }

    /// Waits for a global permit.
    pub(super) async fn global(&self) -> Option<OwnedSemaphorePermit> {
        self.global.clone().acquire_owned().await.ok()
    }

    /// A place for one more connection from `ip`, or `None` when it has reached the cap.
    pub(super) fn client(&self, ip: IpAddr) -> Option<ClientSlot> {
        let key = ClientKey::of(ip);
        let mut counts = self
            .per_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(key).or_insert(0);
        if *n >= self.per_client_max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            key,
            counts: self.per_client.clone(),
        })
    }
}

/// One connection's place under its client's cap.
#[derive(Debug)]
pub(super) struct ClientSlot {
    key: ClientKey,
    counts: Counts,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// The soft `RLIMIT_NOFILE` of this process, from a `/proc/<pid>/limits` text (`None` when
/// unlimited or unreadable).
pub(super) fn open_files_limit(proc_limits: &str) -> Option<u64> {
    let line = proc_limits
        .lines()
        .find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_cap_and_release() {
        let limiter = ConnLimiter::new(&Limits {
            max_connections: 10,
            max_connections_per_ip: 2,
            ..Limits::default()
        });
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let s1 = limiter.client(a).unwrap();
        let _s2 = limiter.client(a).unwrap();
        assert!(limiter.client(a).is_none(), "third from the same client");
        assert!(
            limiter.client(b).is_some(),
            "other clients are not affected"
        );
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        assert!(
            limiter.client(mapped).is_none(),
            "IPv4-mapped counts as IPv4"
        );
        drop(s1);
        assert!(
            limiter.client(a).is_some(),
            "a closed connection frees its place"
        );
    }

    #[test]
    fn ipv6_counts_by_64_prefix() {
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let two: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(one), ClientKey::of(two));
        assert_ne!(ClientKey::of(one), ClientKey::of(other));
    }

    #[test]
    fn open_files_from_proc() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             63304                63304                processes \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(open_files_limit(text), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(open_files_limit(unlimited), None);
        assert_eq!(open_files_limit(""), None);
    }

    #[tokio::test]
    async fn global_permits() {
        let limiter = ConnLimiter::new(&Limits {
            max_connections: 1,
            ..Limits::default()
        });
        let p = limiter.global().await.unwrap();
        assert!(limiter.try_global().is_none());
        drop(p);
        assert!(limiter.try_global().is_some());
    }
}
