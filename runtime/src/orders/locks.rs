//! One writer per order: the locks taken by everyone who appends to an
//! order's events in this process — the pipeline's steps, an operator's
//! force, a warehouse's shipment recorded on the order.
//!
//! An append is a create-once write of the next version, and the key holds
//! the event type after the version, so two writers appending different
//! types at one version would both succeed; the lock is what keeps them
//! apart in one process (docs/decisions/0012-event-log.md). One lock per order, not
//! shared stripes: a shipment never waits for another order's dispatch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

/// Entries kept before dead ones are swept (it doubles with the live ones).
const FIRST_SWEEP_AT: usize = 1024;

#[derive(Debug)]
pub(crate) struct OrderLocks {
    inner: Mutex<Locks>,
}

#[derive(Debug)]
struct Locks {
    by_order: HashMap<String, Weak<tokio::sync::Mutex<()>>>,
    sweep_at: usize,
}

impl Default for OrderLocks {
    fn default() -> Self {
        Self { inner: Mutex::new(Locks { by_order: HashMap::new(), sweep_at: FIRST_SWEEP_AT }) }
    }
}

impl OrderLocks {
    /// Waits until this process may append to order `id`.
    pub(crate) async fn lock(&self, id: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(lock) = locks.by_order.get(id).and_then(Weak::upgrade) {
                lock
            } else {
                let lock = Arc::new(tokio::sync::Mutex::new(()));
                locks.by_order.insert(id.to_string(), Arc::downgrade(&lock));
                if locks.by_order.len() >= locks.sweep_at {
                    locks.by_order.retain(|_, lock| lock.strong_count() > 0);
                    locks.sweep_at = (locks.by_order.len() * 2).max(FIRST_SWEEP_AT);
                }
                lock
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_order_waits_for_its_writer_and_no_other() {
        let locks = OrderLocks::default();
        let held = locks.lock("order-a").await;
        let other = tokio::time::timeout(Duration::from_millis(100), locks.lock("order-b")).await;
        assert!(other.is_ok(), "another order does not wait");
        let same = tokio::time::timeout(Duration::from_millis(100), locks.lock("order-a")).await;
        assert!(same.is_err(), "the same order waits for its writer");
        drop(held);
        assert!(tokio::time::timeout(Duration::from_millis(100), locks.lock("order-a")).await.is_ok());
        // Locks nobody holds are swept once there are many.
        for i in 0..FIRST_SWEEP_AT * 3 {
            drop(locks.lock(&format!("order-{i}")).await);
        }
        assert!(locks.inner.lock().expect("lock").by_order.len() <= FIRST_SWEEP_AT);
    }
}
