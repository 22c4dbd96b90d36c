//! Schedule leases (docs/DESIGN.md §11): when several nodes share the store, each
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
//!
//! A run longer than the period holds its tick's lease while it runs: the
//! lease says `running` and its node renews `aliveAt` every 10 s. A node
//! waking for a later tick while the lease says a run is alive skips that
//! tick, so runs of one plugin never overlap across nodes; a lease not
//! renewed for 45 s (its node died mid-run) no longer holds anyone back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::keys;
use crate::plugins::registry::PluginKey;
use crate::store::{CasOutcome, ObjectStore, StoreError};

/// How often a running tick's lease is renewed, and after how long
/// without renewal its run counts as dead.
const RENEW_EVERY: Duration = Duration::from_secs(10);
const ALIVE_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(45);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lease {
    tick: DateTime<Utc>,
    node: String,
    taken_at: DateTime<Utc>,
    /// The tick's run has not ended (leases written before runs were
    /// tracked read as ended).
    #[serde(default)]
    running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alive_at: Option<DateTime<Utc>>,
}

impl Lease {
    fn holds_back(&self, now: DateTime<Utc>) -> bool {
        self.running && self.alive_at.is_some_and(|alive| now - alive < ALIVE_FOR)
    }
}

/// A tick this node took: held, and renewed, while its run runs.
#[derive(Debug)]
pub struct HeldTick {
    store: Arc<dyn ObjectStore>,
    key: String,
    lease: Lease,
    etag: String,
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

    /// Takes `tick` of `plugin`'s schedule for this node: `Some` for
    /// exactly one of the nodes that ask, and for none while an earlier
    /// tick's run is alive on another node.
    pub async fn take(&self, plugin: &PluginKey, tick: DateTime<Utc>) -> Result<Option<HeldTick>, StoreError> {
        let key = keys::schedule_lease_key(&plugin.company, &plugin.plugin);
        let current = self.store.get(&key).await?;
        let now = Utc::now();
        if let Some(object) = &current
            && let Ok(lease) = serde_json::from_slice::<Lease>(&object.body)
        {
            if lease.tick >= tick {
                return Ok(None);
            }
            if lease.holds_back(now) {
                tracing::info!(
                    company = %plugin.company, plugin = %plugin.plugin, %tick, running = %lease.tick, node = %lease.node,
                    "tick skipped: the run of an earlier tick is still running on another node"
                );
                return Ok(None);
            }
        }
        let lease = Lease { tick, node: self.node.clone(), taken_at: now, running: true, alive_at: Some(now) };
        let expected = current.as_ref().map(|object| object.etag.as_str());
        match swap(&*self.store, &key, expected, &lease).await? {
            Some(etag) => Ok(Some(HeldTick { store: self.store.clone(), key, lease, etag })),
            None => Ok(None),
        }
    }
}

impl HeldTick {
    /// Runs `run`, renewing the lease while it runs, then says it ended.
    pub async fn hold_while<T>(mut self, run: impl Future<Output = T>) -> T {
        let mut run = std::pin::pin!(run);
        let mut renew = tokio::time::interval(RENEW_EVERY);
        renew.tick().await;
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                _ = renew.tick() => self.write(true).await,
            }
        };
        self.write(false).await;
        result
    }

    /// Writes the lease again, still this node's: alive now, or ended.
    async fn write(&mut self, running: bool) {
        self.lease.running = running;
        self.lease.alive_at = Some(Utc::now());
        match swap(&*self.store, &self.key, Some(&self.etag), &self.lease).await {
            Ok(Some(etag)) => self.etag = etag,
            // Taken over after this node looked dead: the other node's now.
            Ok(None) => tracing::warn!(key = %self.key, "the schedule lease was taken over while its run ran"),
            Err(error) => tracing::warn!(key = %self.key, %error, "the schedule lease could not be renewed"),
        }
    }
}

/// Compare-and-swaps `lease` at `key`; its new entity tag, or `None` if
/// another writer got there first.
async fn swap(
    store: &dyn ObjectStore,
    key: &str,
    expected: Option<&str>,
    lease: &Lease,
) -> Result<Option<String>, StoreError> {
    let body = serde_json::to_vec(lease).map_err(|e| StoreError::Corrupt { key: key.into(), reason: e.to_string() })?;
    Ok(match store.compare_and_swap(key, expected, Bytes::from(body)).await? {
        CasOutcome::Swapped { etag } => Some(etag),
        CasOutcome::Conflict => None,
    })
}
