//! Schedule leases (DESIGN §10): when several nodes share the store, each
//! tick of a pull plugin's schedule is run by one of them.
//!
//! The lease is one object per plugin,
//! `{company}/plugins/{plugin}/schedule-lease.json`, naming the last tick
//! taken and by which node. A node takes tick T only if the lease names an
//! earlier tick, with a compare-and-swap on the lease's entity tag (or a
//! create-once when there is none): of the nodes that wake for T, exactly
//! one write succeeds. A tick is the schedule's occurrence, not the moment a
//! node's timer fired, so every node competes for the same T; their clocks
//! need to agree to well within the schedule's period.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::keys;
use crate::registry::PluginKey;
use crate::store::{CasOutcome, ObjectStore, StoreError};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lease {
    tick: DateTime<Utc>,
    node: String,
    taken_at: DateTime<Utc>,
}

/// Takes ticks for this node.
#[derive(Clone)]
pub struct ScheduleLeases {
    store: Arc<dyn ObjectStore>,
    node: String,
}

impl std::fmt::Debug for ScheduleLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleLeases").field("node", &self.node).finish_non_exhaustive()
    }
}

impl ScheduleLeases {
    /// Leases for node `node` (any id unique among the nodes).
    pub fn new(store: Arc<dyn ObjectStore>, node: impl Into<String>) -> Self {
        Self { store, node: node.into() }
    }

    /// Whether this node runs `tick` of `plugin`'s schedule: true for
    /// exactly one of the nodes that ask.
    pub async fn take(&self, plugin: &PluginKey, tick: DateTime<Utc>) -> Result<bool, StoreError> {
        let key = keys::schedule_lease_key(&plugin.company, &plugin.plugin);
        let current = self.store.get(&key).await?;
        if let Some(object) = &current {
            let lease: Option<Lease> = serde_json::from_slice(&object.body).ok();
            if lease.is_some_and(|lease| lease.tick >= tick) {
                return Ok(false);
            }
        }
        let lease = Lease { tick, node: self.node.clone(), taken_at: Utc::now() };
        let body =
            serde_json::to_vec(&lease).map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        let expected = current.as_ref().map(|object| object.etag.as_str());
        Ok(matches!(self.store.compare_and_swap(&key, expected, Bytes::from(body)).await?, CasOutcome::Swapped { .. }))
    }
}
