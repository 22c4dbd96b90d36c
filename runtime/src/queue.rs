//! The in-process pointer queue: ingest puts a pointer to each stored
//! `OrderReceived` on it, never the payload; the pipeline takes them.
//!
//! A pointer is a hint, not the record: the event log is. If the queue is
//! full the pointer is dropped (and counted) without losing the order —
//! the pipeline's recovery sweep at start picks up every order without a
//! terminal event. With several nodes and `queue.nats_url`, the pointers
//! go on through NATS JetStream to whichever node works them
//! ([`crate::cluster::shared_queue`], docs/DESIGN.md §11).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A pointer to a stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    pub key: String,
    pub company: String,
    pub event: String,
}

#[derive(Debug, Clone)]
pub struct PointerQueue {
    tx: mpsc::Sender<Pointer>,
    counters: Arc<QueueCounters>,
}

#[derive(Debug, Default)]
pub struct QueueCounters {
    pub enqueued: AtomicU64,
    pub dropped: AtomicU64,
}

/// A queue holding up to `capacity` pointers, and its receiving end.
pub fn channel(capacity: usize) -> (PointerQueue, mpsc::Receiver<Pointer>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (PointerQueue { tx, counters: Arc::default() }, rx)
}

impl PointerQueue {
    pub fn enqueue(&self, pointer: Pointer) {
        match self.tx.try_send(pointer) {
            Ok(()) => {
                self.counters.enqueued.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                let pointer = match e {
                    mpsc::error::TrySendError::Full(p) | mpsc::error::TrySendError::Closed(p) => p,
                };
                tracing::warn!(key = %pointer.key, "pointer queue full or closed; the recovery sweep will pick the order up");
            }
        }
    }

    pub fn counters(&self) -> &QueueCounters {
        &self.counters
    }
}
