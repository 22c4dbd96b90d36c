//! Writing the projections, and repairing them after a crash.
//!
//! A change to an order goes: a **marker** (`derived/open/{id}.{nonce}`)
//! that this order's derived state may fall behind its log → the event →
//! the derived writes → the marker closed. A crash anywhere in between
//! leaves the marker, and [`Projections::repair`] derives the marked orders
//! again from their events: no full scan. The derived writes go through the
//! store's relaxed view; a marker is deleted only after a `flush` made the
//! writes it covers durable, so a power loss is repaired the same way.
//!
//! One order's derived writes, in this order:
//! 1. its entries in the lists it is now in, and its hour markers;
//! 2. its summary, by compare-and-swap, naming the entries it superseded —
//!    never replacing a later version (summaries never go back);
//! 3. the superseded entries deleted.
//!
//! Readers show an entry only if the summary agrees with it, so between
//! 1 and 3 an order shows once, at its old place or its new one, and an
//! entry a crash left behind is never shown; the next writer of the order,
//! or the repair, deletes it.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{OrderSummary, Projections, Queue, readable};
use crate::events::{StoredEvent, keys};
use crate::orders;
use crate::store::{CasOutcome, StoreError};
use crate::tasks::Tasks;

/// Ranks are this minus the change's milliseconds, so names sort newest first.
const RANK_BASE: i64 = 9_999_999_999_999;
/// How often closed markers are flushed and deleted.
const CLOSE_EVERY: Duration = Duration::from_secs(1);
/// How often, and after how long, markers left open (a derived write that
/// failed, another node's crash) are repaired by a running node.
const REPAIR_EVERY: Duration = Duration::from_secs(30);
pub const MARKER_GRACE: Duration = Duration::from_secs(30);
/// Compare-and-swap attempts on one summary before giving up (the marker
/// stays: the repair finishes it).
const SWAP_ATTEMPTS: usize = 16;

/// An open marker: the order's derived state may be behind its log until
/// it is [closed](Projections::settle).
#[derive(Debug)]
#[must_use = "a marker left open is repaired later; settle or close it"]
pub struct Marker {
    key: String,
}

/// A summary as stored, with the list entries it superseded (deleted by
/// its writer right after; named so that a crash in between is cleaned up).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredSummary {
    #[serde(flatten)]
    pub summary: OrderSummary,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    superseded: Vec<String>,
}

impl Projections {
    /// Before changing order `id`: marks that its derived state may fall
    /// behind. Durable, or at least in place before the event it covers
    /// (see docs/decisions/0033-derived-state-repair.md).
    pub async fn open(&self, company: &str, id: &str) -> Result<Marker, StoreError> {
        let nonce = uuid::Uuid::new_v4().simple();
        let key = format!("{}{id}.{}.{nonce}", keys::open_prefix(company), Utc::now().timestamp_millis());
        self.derived.put(&key, Bytes::new()).await?;
        Ok(Marker { key })
    }

    /// After the change: brings the order's derived state to `summary`
    /// and closes the marker. A derived write that fails leaves the marker
    /// open for the repair; the change itself stands.
    pub async fn settle(&self, company: &str, summary: Option<OrderSummary>, marker: Marker) {
        let written = match &summary {
            Some(summary) => self.write(company, summary).await,
            None => Ok(()),
        };
        match written {
            Ok(()) => self.close(marker),
            Err(error) => {
                tracing::warn!(%company, marker = %marker.key, %error, "a projection write failed; the repair will finish it");
            }
        }
    }

    /// [`Self::settle`] with the summary of `events`.
    pub async fn settle_events(&self, company: &str, events: &[StoredEvent], marker: Marker) {
        self.settle(company, readable(company, events), marker).await;
    }

    /// Closes a marker whose change wrote nothing (it lost a race, or failed).
    pub fn close(&self, marker: Marker) {
        self.closing.lock().unwrap_or_else(|p| p.into_inner()).push(marker.key);
    }

    /// Makes the derived writes so far durable and deletes the markers
    /// closed before.
    pub async fn close_markers(&self) -> Result<usize, StoreError> {
        let closing = std::mem::take(&mut *self.closing.lock().unwrap_or_else(|p| p.into_inner()));
        if closing.is_empty() {
            return Ok(0);
        }
        if let Err(error) = self.derived.flush().await {
            self.closing.lock().unwrap_or_else(|p| p.into_inner()).extend(closing);
            return Err(error);
        }
        self.derived.delete_all(&closing).await?;
        Ok(closing.len())
    }

    /// Derives again every order with an open marker older than `grace`
    /// (all of them with `None`: at start, when no change of this node can
    /// be under way), then closes those markers. How many orders.
    pub async fn repair(&self, grace: Option<Duration>) -> Result<usize, StoreError> {
        let cutoff = grace.map(|grace| Utc::now().timestamp_millis() - grace.as_millis() as i64);
        let mut repaired = 0;
        for company in self.companies().await? {
            let prefix = keys::open_prefix(&company);
            let mut markers: Vec<(String, String)> = self
                .derived
                .list_children(&prefix)
                .await?
                .into_iter()
                .filter_map(|name| {
                    let mut parts = name.splitn(3, '.');
                    let (id, opened) = (parts.next()?.to_string(), parts.next()?.parse::<i64>().ok()?);
                    cutoff.is_none_or(|cutoff| opened < cutoff).then(|| (id, format!("{prefix}{name}")))
                })
                .collect();
            markers.sort();
            for (id, keys) in group_by_order(markers) {
                let events = self.log.read(&company, orders::AGGREGATE, &id).await?;
                if let Some(summary) = readable(&company, &events) {
                    self.write(&company, &summary).await?;
                }
                repaired += 1;
                self.closing.lock().unwrap_or_else(|p| p.into_inner()).extend(keys);
            }
        }
        self.close_markers().await?;
        Ok(repaired)
    }

    /// Closes markers every second and repairs those left open, until the
    /// server stops.
    pub fn spawn_upkeep(self: &std::sync::Arc<Self>, tasks: &Tasks) {
        let projections = self.clone();
        tasks.spawn("projections: upkeep", async move {
            let mut close = tokio::time::interval(CLOSE_EVERY);
            let mut repair = tokio::time::interval(REPAIR_EVERY);
            repair.tick().await;
            loop {
                tokio::select! {
                    _ = close.tick() => {
                        if let Err(error) = projections.close_markers().await {
                            tracing::warn!(%error, "closing projection markers failed; retrying");
                        }
                    }
                    _ = repair.tick() => match projections.repair(Some(MARKER_GRACE)).await {
                        Ok(0) => {}
                        Ok(orders) => tracing::info!(orders, "repaired projections a change had left behind"),
                        Err(error) => tracing::warn!(%error, "repairing projections failed; retrying"),
                    },
                }
            }
        });
    }

    /// Brings order `summary.id`'s derived state to `summary`, unless a
    /// later version is there already.
    pub(super) async fn write(&self, company: &str, summary: &OrderSummary) -> Result<(), StoreError> {
        let key = keys::summary_key(company, &summary.id);
        let wanted = entries(company, summary);
        let mut added = false;
        // An order's first version has no summary yet, unless a repair
        // wrote the same one: the compare-and-swap finds out, so the first
        // attempt need not read it.
        let mut read = summary.version > 1;
        for _ in 0..SWAP_ATTEMPTS {
            let current = if read { self.derived.get(&key).await? } else { None };
            read = true;
            let (stored, etag) = match current {
                Some(object) => (serde_json::from_slice::<StoredSummary>(&object.body).ok(), Some(object.etag)),
                None => (None, None),
            };
            // What a writer that crashed may have left.
            if let Some(stored) = &stored {
                self.derived.delete_all(&stored.superseded).await?;
            }
            let held = stored.as_ref().map(|s| entries(company, &s.summary)).unwrap_or_default();
            let missing: Vec<String> = wanted.difference(&held).cloned().collect();
            if stored.as_ref().is_some_and(|s| s.summary.version >= summary.version) {
                // A later version is there: take back what an earlier
                // attempt of this write added.
                if added {
                    self.derived.delete_all(&missing).await?;
                }
                return Ok(());
            }
            let mut new_objects = missing;
            new_objects.extend(hour_markers(company, summary, stored.as_ref().map(|s| &s.summary)));
            self.derived.put_empty(&new_objects).await?;
            added = true;
            let superseded: Vec<String> = held.difference(&wanted).cloned().collect();
            let body = serde_json::to_vec(&StoredSummary { summary: summary.clone(), superseded: superseded.clone() })
                .map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
            match self.derived.compare_and_swap(&key, etag.as_deref(), Bytes::from(body)).await? {
                CasOutcome::Swapped { .. } => {
                    self.derived.delete_all(&superseded).await?;
                    return Ok(());
                }
                CasOutcome::Conflict => continue,
            }
        }
        Err(StoreError::Unavailable(format!("the summary at `{key}` kept changing under {SWAP_ATTEMPTS} writes")))
    }

    /// The stored summary of order `id`: an unreadable one (a write a power
    /// loss cut short) is derived again from the log.
    pub(super) async fn stored(&self, company: &str, id: &str) -> Result<Option<StoredSummary>, StoreError> {
        let key = keys::summary_key(company, id);
        let Some(object) = self.derived.get(&key).await? else { return Ok(None) };
        match serde_json::from_slice::<StoredSummary>(&object.body) {
            Ok(stored) => Ok(Some(stored)),
            Err(error) => {
                tracing::warn!(%company, order = %id, %error, "an order summary was unreadable; deriving it again");
                let _ = self.derived.delete(&key).await;
                let events = self.log.read(company, orders::AGGREGATE, id).await?;
                let Some(summary) = readable(company, &events) else { return Ok(None) };
                self.write(company, &summary).await?;
                Ok(Some(StoredSummary { summary, superseded: Vec::new() }))
            }
        }
    }
}

/// Markers grouped by order: (order id, its marker keys), from markers
/// sorted by order id.
fn group_by_order(markers: Vec<(String, String)>) -> Vec<(String, Vec<String>)> {
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (id, key) in markers {
        match grouped.last_mut() {
            Some((current, keys)) if *current == id => keys.push(key),
            _ => grouped.push((id, vec![key])),
        }
    }
    grouped
}

/// The list of every order from `source`.
pub(super) fn source_list(source: &str) -> String {
    format!("source-{source}")
}

/// Every list entry an order with `summary` has.
fn entries(company: &str, summary: &OrderSummary) -> BTreeSet<String> {
    let name = entry_name(summary);
    let mut lists = vec![Queue::All.list_name().to_string()];
    if let Some(queue) = Queue::of(summary.state) {
        lists.push(queue.list_name().to_string());
    }
    // Sources are plugin ids or names a token carries; one that cannot be a
    // key segment has no list of its own.
    if keys::check_segment("source", &summary.source).is_ok() {
        lists.push(source_list(&summary.source));
    }
    lists.into_iter().map(|list| format!("{}{name}", keys::list_prefix(company, &list))).collect()
}

/// The hour markers `summary` adds to those of `before`.
fn hour_markers(company: &str, summary: &OrderSummary, before: Option<&OrderSummary>) -> Vec<String> {
    let mut markers = Vec::new();
    if before.is_none() {
        let hour = hour_segment(summary.received_at);
        markers.push(format!("{}{}", keys::hour_prefix(company, &hour, "received"), summary.id));
    }
    if let Some(failed_at) = summary.failed_at
        && before.is_none_or(|before| before.failed_at.is_none())
    {
        let hour = hour_segment(failed_at);
        markers.push(format!("{}{}", keys::hour_prefix(company, &hour, "failed"), summary.id));
    }
    markers
}

/// `yyyymmddhh` of `at`, in UTC.
pub(super) fn hour_segment(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H").to_string()
}

/// `{rank}.{id}`: sorts most recently changed first, then by id.
pub(super) fn entry_name(summary: &OrderSummary) -> String {
    format!("{:013}.{}", RANK_BASE - summary.updated_at.timestamp_millis().clamp(0, RANK_BASE), summary.id)
}

/// The order id an entry names.
pub(super) fn entry_id(name: &str) -> Option<&str> {
    name.split_once('.').map(|(_, id)| id).filter(|id| !id.is_empty())
}

/// When the order an entry names last changed (to the millisecond).
pub(super) fn entry_time(name: &str) -> Option<DateTime<Utc>> {
    let rank: i64 = name.split_once('.')?.0.parse().ok()?;
    Utc.timestamp_millis_opt(RANK_BASE - rank).single()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::OrderState;

    fn summary(state: OrderState, updated_at: DateTime<Utc>) -> OrderSummary {
        OrderSummary {
            id: "0b9f2c6e-3a55-5d0a-9e8e-7c1f3f5a0c11".into(),
            source: "woo-no".into(),
            external_id: "NV-1".into(),
            state,
            findings: Vec::new(),
            reference: None,
            received_at: updated_at,
            updated_at,
            failed_at: None,
            version: 1,
        }
    }

    #[test]
    fn entries_sort_newest_first_and_name_their_order_and_time() {
        let older = Utc.timestamp_millis_opt(1_780_000_000_000).single().expect("time");
        let newer = older + chrono::TimeDelta::milliseconds(1);
        let (old, new) =
            (entry_name(&summary(OrderState::Received, older)), entry_name(&summary(OrderState::Received, newer)));
        assert!(new < old, "{new} sorts before {old}");
        assert_eq!(entry_id(&new), Some("0b9f2c6e-3a55-5d0a-9e8e-7c1f3f5a0c11"));
        assert_eq!(entry_time(&new), Some(newer));
        assert!(crate::store::validate_key(&format!("acme/derived/lists/all/{new}")).is_ok());
    }

    #[test]
    fn an_order_is_in_all_its_source_and_at_most_one_queue() {
        let at = Utc::now();
        let in_lists = |state| {
            entries("acme", &summary(state, at))
                .into_iter()
                .map(|key| key.split('/').nth(3).expect("list").to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(in_lists(OrderState::Failed), ["all", "failed", "source-woo-no"]);
        assert_eq!(in_lists(OrderState::Sent), ["all", "source-woo-no", "unhandled"]);
        assert_eq!(in_lists(OrderState::Overridden), ["all", "in-progress", "source-woo-no"]);
        assert_eq!(in_lists(OrderState::Shipped), ["all", "source-woo-no"]);
    }

    #[test]
    fn hour_markers_are_added_once() {
        let at = Utc::now();
        let received = summary(OrderState::Received, at);
        let mut failed = received.clone();
        failed.state = OrderState::Failed;
        failed.failed_at = Some(at);
        assert_eq!(hour_markers("acme", &received, None).len(), 1);
        assert_eq!(hour_markers("acme", &failed, Some(&received)).len(), 1, "the failure's hour");
        assert!(hour_markers("acme", &failed, Some(&failed)).is_empty());
    }
}
