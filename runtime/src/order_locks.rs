//! One writer per order: the striped locks taken by everyone who appends to
//! an order's events in this process — the pipeline's steps, an operator's
//! force, a warehouse's shipment recorded on the order.
//!
//! An append is a create-once write of the next version, and the key holds
//! the event type after the version, so two writers appending different
//! types at one version would both succeed; the lock is what keeps them
//! apart (ARCHITECTURE "Event log").

use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 256;

#[derive(Debug)]
pub struct OrderLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for OrderLocks {
    fn default() -> Self {
        Self { stripes: (0..STRIPES).map(|_| Mutex::new(())).collect() }
    }
}

impl OrderLocks {
    /// Waits until this process may append to order `id`.
    pub async fn lock(&self, id: &str) -> MutexGuard<'_, ()> {
        let hash = id.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        self.stripes[hash % STRIPES].lock().await
    }
}
