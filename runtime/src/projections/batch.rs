//! Group commit for derived writes: the changes that arrive while a batch
//! is being written wait together and are written as the next batch, in a
//! few store calls for all of them instead of a few for each
//! (docs/decisions/0036-derived-write-batches.md).
//!
//! A [`Batcher`] is a queue and a count of drain tasks. A caller that
//! finds fewer than [`MAX_DRAINS`] running starts one; a drain takes
//! whatever is queued, writes it, and takes again until the queue is
//! empty, then ends. So a change is written at once while the store keeps
//! up, and waits to share a batch only when every drain is busy; there is
//! no task when nothing is being written, and nothing to stop at shutdown:
//! every queued item is a request waiting for its answer.

use std::sync::{Arc, Mutex};

/// Items written at once, at most.
pub(super) const MAX_BATCH: usize = 256;
/// Batches written at once, at most: one alone would make every change
/// wait for the batch in flight before its own, which doubles a lone
/// client's latency.
const MAX_DRAINS: usize = 4;

#[derive(Debug)]
pub(super) struct Batcher<T> {
    state: Mutex<State<T>>,
}

#[derive(Debug)]
struct State<T> {
    queue: Vec<T>,
    /// Drain tasks running (they will take what is queued).
    draining: usize,
}

impl<T> Default for Batcher<T> {
    fn default() -> Self {
        Self { state: Mutex::new(State { queue: Vec::new(), draining: 0 }) }
    }
}

impl<T> Batcher<T> {
    /// Queues `item`; `true` if the caller must start a drain task (fewer
    /// than [`MAX_DRAINS`] are running).
    pub(super) fn push(&self, item: T) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.queue.push(item);
        let start = state.draining < MAX_DRAINS;
        if start {
            state.draining += 1;
        }
        start
    }

    /// How many items wait for a drain.
    pub(super) fn backlog(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).queue.len()
    }

    /// The next batch for a drain task; `None` when the queue is empty,
    /// and then the drain task must end.
    fn next_batch(&self) -> Option<Vec<T>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.queue.is_empty() {
            state.draining -= 1;
            return None;
        }
        let n = state.queue.len().min(MAX_BATCH);
        Some(state.queue.drain(..n).collect())
    }

    /// Ends a drain that cannot go on. If it was the last, what is queued
    /// is dropped, so that its waiters see the failure instead of waiting
    /// forever.
    fn abandon(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.draining -= 1;
        if state.draining == 0 {
            state.queue.clear();
        }
    }
}

/// A running drain: takes batches until the queue is empty. Dropped
/// before that — its task panicked, was cancelled, or never ran (no
/// runtime) — it gives its place up, so that the count of drains never
/// stays raised with nobody draining.
pub(super) struct Drain<T> {
    batcher: Arc<Batcher<T>>,
    ended: bool,
}

impl<T> Drain<T> {
    /// For the caller whose push said to start one.
    pub(super) fn started(batcher: Arc<Batcher<T>>) -> Self {
        Self { batcher, ended: false }
    }

    /// The next batch; `None` when the queue is empty, and the drain is over.
    pub(super) fn next_batch(&mut self) -> Option<Vec<T>> {
        let batch = self.batcher.next_batch();
        self.ended = batch.is_none();
        batch
    }
}

impl<T> Drop for Drain<T> {
    fn drop(&mut self) {
        if !self.ended {
            self.batcher.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_start_drains_up_to_the_limit_and_a_drain_takes_everything_queued() {
        let batcher = Arc::new(Batcher::default());
        let mut drains = Vec::new();
        for n in 0..MAX_DRAINS {
            assert!(batcher.push(n), "drain {n} starts");
            drains.push(Drain::started(batcher.clone()));
        }
        assert!(!batcher.push(MAX_DRAINS), "every drain is busy: it waits for one");
        assert_eq!(drains[0].next_batch(), Some((0..=MAX_DRAINS).collect::<Vec<_>>()));
        for drain in &mut drains {
            assert_eq!(drain.next_batch(), None, "a drain finds the queue empty and ends");
        }
        drop(drains);
        assert!(batcher.push(9), "no drain left: the next push starts one");
    }

    #[test]
    fn batches_are_bounded() {
        let batcher = Arc::new(Batcher::default());
        for n in 0..MAX_BATCH + 3 {
            batcher.push(n);
        }
        let mut drain = Drain::started(batcher.clone());
        assert_eq!(drain.next_batch().map(|b| b.len()), Some(MAX_BATCH));
        assert_eq!(drain.next_batch().map(|b| b.len()), Some(3));
        assert_eq!(batcher.backlog(), 0);
    }

    #[test]
    fn a_drain_dropped_before_it_ends_gives_its_place_up_and_the_last_drops_what_waits() {
        let batcher = Arc::new(Batcher::default());
        assert!(batcher.push(1));
        // Its task was cancelled (or never ran) before taking anything.
        drop(Drain::started(batcher.clone()));
        assert_eq!(batcher.backlog(), 0, "its waiters see the failure instead of waiting forever");
        assert!(batcher.push(2), "the next push starts a drain");
        let mut drain = Drain::started(batcher.clone());
        assert_eq!(drain.next_batch(), Some(vec![2]));
        assert_eq!(drain.next_batch(), None);
        drop(drain);
        assert!(batcher.push(3), "a drain that ended gave its place up once");
    }
}
