//! [`NameLocks`]: one async mutex per key name, held by this process's
//! writers of that name (Vault: create on K/V v1, update and delete on both;
//! AWS: update).
//!
//! Vault offers no lock and K/V v1 no compare-and-swap, and Secrets Manager
//! no compare-and-swap either, so a write that reads first and then writes
//! is atomic among the writers of one process only through these locks.
//! Entries exist only while a writer holds or waits for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

/// Per-name async mutexes.
#[derive(Default)]
pub(crate) struct NameLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds the lock of one name; releasing it forgets the name if nobody
/// else waits for it.
pub(crate) struct NameGuard<'a> {
    locks: &'a NameLocks,
    name: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl NameLocks {
    /// Waits for and takes the lock of `name`.
    pub(crate) async fn lock(&self, name: &str) -> NameGuard<'_> {
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(name.to_owned()).or_default())
        };
        let guard = mutex.lock_owned().await;
        NameGuard {
            locks: self,
            name: name.to_owned(),
            guard: Some(guard),
        }
    }

    /// Names with a holder or waiter (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for NameGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self
            .locks
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map's own reference left: nobody holds or waits.
        if map
            .get(&self.name)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_holder_per_name_and_nothing_left_behind() {
        let locks = Arc::new(NameLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (locks, inside) = (Arc::clone(&locks), Arc::clone(&inside));
            tasks.spawn(async move {
                let _g = locks.lock("k").await;
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            });
        }
        while let Some(res) = tasks.join_next().await {
            res.unwrap_or_else(|e| panic!("a holder panicked: {e}"));
        }
        assert_eq!(locks.len(), 0, "released names are forgotten");
        let a = locks.lock("a").await;
        let b = locks.lock("b").await;
        assert_eq!(locks.len(), 2, "different names do not block each other");
        drop((a, b));
        assert_eq!(locks.len(), 0);
    }
}
