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

use std::sync::Mutex;

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
    pub(super) fn next_batch(&self) -> Option<Vec<T>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.queue.is_empty() {
            state.draining -= 1;
            return None;
        }
        let n = state.queue.len().min(MAX_BATCH);
        Some(state.queue.drain(..n).collect())
    }

    /// Ends a drain that cannot go on (its task panicked). If it was the
    /// last, what is queued is dropped, so that its waiters see the
    /// failure instead of waiting forever.
    pub(super) fn abandon(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.draining -= 1;
        if state.draining == 0 {
            state.queue.clear();
        }
    }
}

/// Abandons the batcher's drain if the drain task unwinds.
pub(super) struct DrainGuard<'a, T>(pub &'a Batcher<T>);

impl<T> Drop for DrainGuard<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_start_drains_up_to_the_limit_and_a_drain_takes_everything_queued() {
        let batcher = Batcher::default();
        for n in 0..MAX_DRAINS {
            assert!(batcher.push(n), "drain {n} starts");
        }
        assert!(!batcher.push(MAX_DRAINS), "every drain is busy: it waits for one");
        assert_eq!(batcher.next_batch(), Some((0..=MAX_DRAINS).collect::<Vec<_>>()));
        for _ in 0..MAX_DRAINS {
            assert_eq!(batcher.next_batch(), None, "a drain finds the queue empty and ends");
        }
        assert!(batcher.push(9), "no drain left: the next push starts one");
    }

    #[test]
    fn batches_are_bounded() {
        let batcher = Batcher::default();
        for n in 0..MAX_BATCH + 3 {
            batcher.push(n);
        }
        assert_eq!(batcher.next_batch().map(|b| b.len()), Some(MAX_BATCH));
        assert_eq!(batcher.next_batch().map(|b| b.len()), Some(3));
    }

    #[test]
    fn the_last_drain_abandoned_drops_what_waits_and_lets_the_next_push_start_one() {
        let batcher = Batcher::default();
        assert!(batcher.push(1));
        batcher.abandon();
        assert!(batcher.push(2));
        assert_eq!(batcher.next_batch(), Some(vec![2]));
    }
}
