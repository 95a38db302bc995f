//! [`PerIp`]: how many connections each client IP address has open, capped.
//!
//! The accept loop takes an [`IpSlot`] for every accepted connection before
//! anything else happens on it; a connection over its address's cap is
//! closed at once. The slot is given back when the connection's task ends.
//! IPv4-mapped IPv6 addresses count as their IPv4 address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Open connections per client address, at most `max` each.
#[derive(Debug)]
pub(super) struct PerIp {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's share of its address's cap; given back on drop.
#[derive(Debug)]
pub(super) struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    /// A table allowing `max` connections per address (at least 1).
    pub(super) fn new(max: usize) -> Arc<PerIp> {
        Arc::new(PerIp {
            max: max.max(1),
            open: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // The map stays consistent under a panic (single integer updates).
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for one more connection from `ip`, or `None` when `ip` has
    /// its cap open already.
    pub(super) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let ip = ip.to_canonical();
        let mut open = self.lock();
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: self.clone(),
            ip,
        })
    }

    /// Connections open from `ip`.
    #[cfg(test)]
    pub(super) fn open(&self, ip: IpAddr) -> usize {
        self.lock().get(&ip.to_canonical()).copied().unwrap_or(0)
    }

    /// Addresses with connections open.
    #[cfg(test)]
    pub(super) fn addresses(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.table.lock();
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_address_and_gives_slots_back() {
        let t = PerIp::new(2);
        let a = IpAddr::from([127, 0, 0, 2]);
        let b = IpAddr::from([127, 0, 0, 1]);
        let s1 = t.try_acquire(a);
        let s2 = t.try_acquire(a);
        assert!(s1.is_some() && s2.is_some());
        assert!(t.try_acquire(a).is_none(), "the third from one address");
        assert!(
            t.try_acquire(b).is_some(),
            "another address is not affected"
        );
        assert_eq!(t.open(a), 2);
        drop(s1);
        assert_eq!(t.open(a), 1);
        let s3 = t.try_acquire(a);
        assert!(s3.is_some(), "a freed slot is usable again");
        drop((s2, s3));
        assert_eq!(t.open(a), 0);
        assert_eq!(t.addresses(), 0, "no entry left behind");
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4() {
        let t = PerIp::new(1);
        let v4 = IpAddr::from([127, 0, 0, 2]);
        let mapped = IpAddr::from(std::net::Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped());
        let _s = t.try_acquire(v4);
        assert!(t.try_acquire(mapped).is_none());
    }
}
