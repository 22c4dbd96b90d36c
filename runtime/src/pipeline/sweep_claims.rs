//! With several nodes on one store, an order found unfinished — at a
//! node's start, or by a sweeper after it sat still — is worked by exactly
//! one node: each sweeping node first claims it with a compare-and-swap on
//! `{company}/derived/claims/{order-id}` (the claim names the node and lasts
//! a minute). Of the nodes that find the order at once, one claim succeeds;
//! the others leave it. A claim that ran out — its node died, or the order is
//! still stuck after a minute — may be taken by any node.
//!
//! On one node there is nothing to claim: no [`SweepClaims`] is made.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::events::keys;
use crate::store::{CasOutcome, ObjectStore, StoreError};

/// How long a claim keeps other nodes off an order.
const CLAIM_FOR: TimeDelta = TimeDelta::seconds(60);

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Claim {
    node: String,
    until: DateTime<Utc>,
}

#[derive(Clone)]
pub struct SweepClaims {
    store: Arc<dyn ObjectStore>,
    node: String,
}

impl std::fmt::Debug for SweepClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SweepClaims").field("node", &self.node).finish_non_exhaustive()
    }
}

impl SweepClaims {
    pub fn new(store: Arc<dyn ObjectStore>, node: impl Into<String>) -> Self {
        Self { store, node: node.into() }
    }

    /// Whether this node may work the unfinished order `id` now: true for
    /// one of the nodes that ask, while its claim lasts.
    pub async fn claim(&self, company: &str, id: &str) -> Result<bool, StoreError> {
        let key = keys::sweep_claim_key(company, id);
        let current = self.store.get(&key).await?;
        let now = Utc::now();
        if let Some(object) = &current
            && let Ok(claim) = serde_json::from_slice::<Claim>(&object.body)
            && claim.until > now
            && claim.node != self.node
        {
            return Ok(false);
        }
        let claim = Claim { node: self.node.clone(), until: now + CLAIM_FOR };
        let body =
            serde_json::to_vec(&claim).map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        let expected = current.as_ref().map(|object| object.etag.as_str());
        Ok(matches!(self.store.compare_and_swap(&key, expected, Bytes::from(body)).await?, CasOutcome::Swapped { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::FsStore;

    #[tokio::test]
    async fn of_three_nodes_one_claims_an_order_and_keeps_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let nodes: Vec<SweepClaims> = (0..3).map(|n| SweepClaims::new(store.clone(), format!("node-{n}"))).collect();
        let claims = futures::future::join_all(nodes.iter().map(|node| node.claim("acme", "order-1"))).await;
        let won: Vec<bool> = claims.into_iter().map(|c| c.expect("claim")).collect();
        assert_eq!(won.iter().filter(|&&w| w).count(), 1, "{won:?}");
        let winner = won.iter().position(|&w| w).expect("a winner");
        assert!(nodes[winner].claim("acme", "order-1").await.expect("claim"), "the claimer may sweep it again");
        assert!(!nodes[(winner + 1) % 3].claim("acme", "order-1").await.expect("claim"), "the others not");
        assert!(nodes[(winner + 1) % 3].claim("acme", "order-2").await.expect("claim"), "another order is free");
    }
}
