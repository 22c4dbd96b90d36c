//! Each tenant's share of the pipeline's workers (docs/DESIGN.md §3): at most
//! `share` of one tenant's orders are worked at once; the rest wait in that
//! tenant's own lane, so another tenant's orders never queue behind them.
//! When one of a tenant's orders ends, the next one waiting in its lane
//! starts (and takes its turn for a worker like any other). A lane holds a bounded number of waiting orders; past it an
//! order is left to the sweeper, which picks up every unfinished order
//! (nothing acknowledged is lost: the order is durable).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// Orders one tenant may have waiting for a worker before the sweeper's turn.
const MAX_WAITING: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Lanes {
    share: usize,
    lanes: Mutex<HashMap<String, Lane>>,
}

#[derive(Debug, Default)]
struct Lane {
    running: usize,
    waiting: VecDeque<String>,
    queued: HashSet<String>,
}

impl Lanes {
    pub(crate) fn new(share: usize) -> Self {
        Self { share: share.max(1), lanes: Mutex::default() }
    }

    /// Whether `company`'s order `id` may start now; if not, it waits in the lane.
    pub(crate) fn admit(&self, company: &str, id: &str) -> bool {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lane = lanes.entry(company.to_string()).or_default();
        if lane.running < self.share {
            lane.running += 1;
            return true;
        }
        if lane.waiting.len() < MAX_WAITING && lane.queued.insert(id.to_string()) {
            lane.waiting.push_back(id.to_string());
        }
        false
    }

    /// One of `company`'s orders ended without being worked (shutting
    /// down): its place is free; those waiting stay for later turns.
    pub(crate) fn give_back(&self, company: &str) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lane) = lanes.get_mut(company) {
            lane.running = lane.running.saturating_sub(1);
            if lane.running == 0 && lane.waiting.is_empty() {
                lanes.remove(company);
            }
        }
    }

    /// One of `company`'s orders is done: the next one waiting in its lane
    /// (now running), if any.
    pub(crate) fn finish(&self, company: &str) -> Option<String> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lane = lanes.get_mut(company)?;
        match lane.waiting.pop_front() {
            Some(next) => {
                lane.queued.remove(&next);
                Some(next)
            }
            None => {
                lane.running = lane.running.saturating_sub(1);
                if lane.running == 0 {
                    lanes.remove(company);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_past_its_share_waits_in_its_own_lane() {
        let lanes = Lanes::new(2);
        assert!(lanes.admit("a", "a1"));
        assert!(lanes.admit("a", "a2"));
        assert!(!lanes.admit("a", "a3"), "a is at its share");
        assert!(!lanes.admit("a", "a3"), "waiting once is enough");
        assert!(!lanes.admit("a", "a4"));
        assert!(lanes.admit("b", "b1"), "b is not behind a");
        assert_eq!(lanes.finish("a").as_deref(), Some("a3"), "a's worker goes on with a's next");
        assert_eq!(lanes.finish("a").as_deref(), Some("a4"));
        assert_eq!(lanes.finish("a"), None);
        assert_eq!(lanes.finish("a"), None);
        assert!(lanes.admit("a", "a5") && lanes.admit("a", "a6"), "a's share is free again");
        assert_eq!(lanes.finish("b"), None);
        // A turn given back unworked frees its place and keeps those waiting.
        assert!(!lanes.admit("a", "a7"));
        lanes.give_back("a");
        assert!(lanes.admit("a", "a8"), "the place is free");
        assert_eq!(lanes.finish("a").as_deref(), Some("a7"), "a7 still waits its turn");
    }
}
