//! Replay protection for partners' deliveries (docs/DESIGN.md §8). A delivery id is
//! **claimed** with a create-once write before the push plugin runs, so two
//! concurrent deliveries of one id run the plugin once; the claim becomes
//! **done** once the events are durable, and is **released** (deleted) when
//! the call fails, so that the partner's retry runs again. A claim left by a
//! process that died mid-call is taken over (compare-and-swap) once it is
//! older than the call could have lasted.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::keys;
use crate::store::{CasOutcome, CreateOutcome, ObjectStore, StoreError};

/// What a delivery's marker says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum State {
    Claimed,
    /// Handled; markers written before claims existed say nothing, and mean this.
    #[default]
    Done,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Marker {
    #[serde(default)]
    state: State,
    delivery_id: String,
    at: DateTime<Utc>,
    request_id: String,
}

/// The answer to [`Deliveries::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This request handles the delivery.
    Claimed,
    /// Already handled: answer as a duplicate.
    Done,
    /// Another request is handling it right now: the partner retries later.
    InProgress,
}

/// One delivery of one push plugin.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub company: &'a str,
    pub plugin: &'a str,
    pub id: &'a str,
    pub request_id: &'a str,
}

impl Delivery<'_> {
    fn key(&self) -> String {
        keys::delivery_key(self.company, self.plugin, self.id)
    }

    fn marker(&self, state: State) -> Result<Bytes, StoreError> {
        let marker =
            Marker { state, delivery_id: self.id.to_string(), at: Utc::now(), request_id: self.request_id.to_string() };
        serde_json::to_vec(&marker)
            .map(Bytes::from)
            .map_err(|e| StoreError::Corrupt { key: self.key(), reason: e.to_string() })
    }
}

#[derive(Debug, Clone)]
pub struct Deliveries {
    store: Arc<dyn ObjectStore>,
}

impl Deliveries {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Claims `delivery` for this request; a claim older than `stale_after`
    /// (its request cannot still be running) is taken over.
    pub async fn claim(&self, delivery: &Delivery<'_>, stale_after: Duration) -> Result<Claim, StoreError> {
        let key = delivery.key();
        if let CreateOutcome::Created { .. } = self.store.create_once(&key, delivery.marker(State::Claimed)?).await? {
            return Ok(Claim::Claimed);
        }
        let Some(stored) = self.store.get(&key).await? else {
            // Released between the two calls: the partner's retry claims it.
            return Ok(Claim::InProgress);
        };
        let marker: Marker = serde_json::from_slice(&stored.body)
            .map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        let stale = Utc::now().signed_duration_since(marker.at).to_std().is_ok_and(|age| age > stale_after);
        match marker.state {
            State::Done => Ok(Claim::Done),
            State::Claimed if !stale => Ok(Claim::InProgress),
            State::Claimed => {
                match self.store.compare_and_swap(&key, Some(&stored.etag), delivery.marker(State::Claimed)?).await? {
                    CasOutcome::Swapped { .. } => Ok(Claim::Claimed),
                    CasOutcome::Conflict => Ok(Claim::InProgress),
                }
            }
        }
    }

    /// The delivery is handled: its events are durable.
    pub async fn done(&self, delivery: &Delivery<'_>) -> Result<(), StoreError> {
        self.store.put(&delivery.key(), delivery.marker(State::Done)?).await.map(|_etag| ())
    }

    /// The call failed: the partner's retry handles the delivery afresh.
    pub async fn release(&self, delivery: &Delivery<'_>) -> Result<(), StoreError> {
        self.store.delete(&delivery.key()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::FsStore;

    fn delivery<'a>(request_id: &'a str) -> Delivery<'a> {
        Delivery { company: "acme", plugin: "shopify-orders", id: "b54557e4", request_id }
    }

    #[tokio::test]
    async fn a_delivery_is_handled_once_and_again_only_after_a_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deliveries = Deliveries::new(Arc::new(FsStore::open(dir.path()).expect("store")));
        let long = Duration::from_secs(60);
        assert_eq!(deliveries.claim(&delivery("r1"), long).await.expect("claim"), Claim::Claimed);
        assert_eq!(deliveries.claim(&delivery("r2"), long).await.expect("claim"), Claim::InProgress, "concurrent");
        deliveries.release(&delivery("r1")).await.expect("release");
        assert_eq!(deliveries.claim(&delivery("r3"), long).await.expect("claim"), Claim::Claimed, "after a failure");
        deliveries.done(&delivery("r3")).await.expect("done");
        assert_eq!(deliveries.claim(&delivery("r4"), long).await.expect("claim"), Claim::Done);
    }

    #[tokio::test]
    async fn a_claim_left_by_a_dead_process_is_taken_over_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deliveries = Deliveries::new(Arc::new(FsStore::open(dir.path()).expect("store")));
        assert_eq!(deliveries.claim(&delivery("r1"), Duration::ZERO).await.expect("claim"), Claim::Claimed);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(deliveries.claim(&delivery("r2"), Duration::ZERO).await.expect("claim"), Claim::Claimed, "stale");
        assert_eq!(
            deliveries.claim(&delivery("r3"), Duration::from_secs(60)).await.expect("claim"),
            Claim::InProgress,
            "r2's claim is fresh"
        );
    }

    #[tokio::test]
    async fn markers_from_before_claims_mean_handled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let old = serde_json::json!({"deliveryId": "b54557e4", "at": Utc::now(), "requestId": "r0"});
        store.put(&delivery("r0").key(), Bytes::from(old.to_string())).await.expect("put");
        let deliveries = Deliveries::new(store);
        assert_eq!(deliveries.claim(&delivery("r1"), Duration::ZERO).await.expect("claim"), Claim::Done);
    }
}
