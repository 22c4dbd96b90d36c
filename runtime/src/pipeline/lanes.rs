//! Each tenant's share of the pipeline's workers (docs/DESIGN.md §3): at most
//! `share` of one tenant's orders are worked at once; the rest wait in that
//! tenant's own lane, so another tenant's orders never queue behind them.
//! When one of a tenant's orders ends, the next one waiting in its lane
//! starts (and takes its turn for a worker like any other). A lane holds a
//! bounded number of waiting orders; past it an order is left to the
//! sweeper, which picks up every unfinished order (nothing acknowledged is
//! lost: the order is durable).
//!
//! An order is worked by one turn at a time: asked for again while it is
//! being worked (a force, a shipment, a sweep), it is not started beside
//! itself but worked once more when its turn ends, in the same place, since
//! what it was asked again for may have come after the turn last looked.

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
    waiting: VecDeque<String>,
    queued: HashSet<String>,
    /// The orders being worked, each with whether it was asked for again
    /// meanwhile; as many as the lane's places in use.
    active: HashMap<String, bool>,
}

impl Lanes {
    pub(crate) fn new(share: usize) -> Self {
        Self { share: share.max(1), lanes: Mutex::default() }
    }

    /// Whether `company`'s order `id` may start now; if not, it waits in
    /// the lane, or (being worked already) is worked again after.
    pub(crate) fn admit(&self, company: &str, id: &str) -> bool {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lane = lanes.entry(company.to_string()).or_default();
        if let Some(again) = lane.active.get_mut(id) {
            *again = true;
            return false;
        }
        if lane.active.len() < self.share {
            lane.active.insert(id.to_string(), false);
            return true;
        }
        if lane.waiting.len() < MAX_WAITING && lane.queued.insert(id.to_string()) {
            lane.waiting.push_back(id.to_string());
        }
        false
    }

    /// `company`'s order `id` ended without being worked (shutting down):
    /// its place is free; those waiting stay for later turns, and an order
    /// asked for again is left to the sweeper.
    pub(crate) fn give_back(&self, company: &str, id: &str) {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lane) = lanes.get_mut(company) {
            lane.active.remove(id);
            if lane.active.is_empty() && lane.waiting.is_empty() {
                lanes.remove(company);
            }
        }
    }

    /// `company`'s order `id` is done: the order to work next in its place
    /// (now active) — `id` itself if it was asked for again meanwhile, else
    /// the next one waiting in the lane — if any.
    pub(crate) fn finish(&self, company: &str, id: &str) -> Option<String> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        let lane = lanes.get_mut(company)?;
        if lane.active.remove(id) == Some(true) {
            lane.active.insert(id.to_string(), false);
            return Some(id.to_string());
        }
        match lane.waiting.pop_front() {
            Some(next) => {
                lane.queued.remove(&next);
                lane.active.insert(next.clone(), false);
                Some(next)
            }
            None => {
                if lane.active.is_empty() {
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
        assert_eq!(lanes.finish("a", "a1").as_deref(), Some("a3"), "a's worker goes on with a's next");
        assert_eq!(lanes.finish("a", "a2").as_deref(), Some("a4"));
        assert_eq!(lanes.finish("a", "a3"), None);
        assert_eq!(lanes.finish("a", "a4"), None);
        assert!(lanes.admit("a", "a5") && lanes.admit("a", "a6"), "a's share is free again");
        assert_eq!(lanes.finish("b", "b1"), None);
        // A turn given back unworked frees its place and keeps those waiting.
        assert!(!lanes.admit("a", "a7"));
        lanes.give_back("a", "a5");
        assert!(lanes.admit("a", "a8"), "the place is free");
        assert_eq!(lanes.finish("a", "a6").as_deref(), Some("a7"), "a7 still waits its turn");
    }

    #[test]
    fn an_order_is_never_worked_twice_at_once_but_again_after() {
        let lanes = Lanes::new(4);
        assert!(lanes.admit("a", "x"));
        assert!(!lanes.admit("a", "x"), "x is being worked: not beside itself");
        assert!(!lanes.admit("a", "x"), "asked a third time: still once more, not twice");
        assert!(lanes.admit("a", "y"), "another order has room");
        assert_eq!(lanes.finish("a", "x").as_deref(), Some("x"), "asked again meanwhile: worked once more");
        assert!(!lanes.admit("a", "x"), "still one turn at a time");
        assert_eq!(lanes.finish("a", "x").as_deref(), Some("x"));
        assert_eq!(lanes.finish("a", "x"), None, "nothing asked since: done");
        assert!(lanes.admit("a", "x"), "a new request starts it again");
        // At its share, the lane's place goes to the same order again
        // before those waiting: it was in the lane first.
        let full = Lanes::new(1);
        assert!(full.admit("b", "p"));
        assert!(!full.admit("b", "q"), "waits");
        assert!(!full.admit("b", "p"), "p again, after its turn");
        assert_eq!(full.finish("b", "p").as_deref(), Some("p"));
        assert_eq!(full.finish("b", "p").as_deref(), Some("q"));
        assert_eq!(full.finish("b", "q"), None);
    }
}
