//! Projections of the order log (ADR-013): the failed orders queue and the
//! unhandled orders (sent to the warehouse, not yet reported shipped), per
//! tenant.
//!
//! Rebuilt from the event log at start, kept current as the pipeline
//! appends. A summary is a pure function of an order's events, so a rebuild
//! after a restart gives exactly what was there before.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::events::{EventLog, StoredEvent, keys};
use crate::orders::events::Unreadable;
use crate::orders::{self, Finding, OrderState, OrderView};
use crate::store::StoreError;

/// Orders read at once while rebuilding.
const REBUILD_CONCURRENCY: usize = 32;

/// One order, as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    pub id: String,
    pub source: String,
    pub external_id: String,
    pub state: OrderState,
    pub findings: Vec<Finding>,
    pub reference: Option<String>,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it first failed (validation or dispatch), even if forced since:
    /// the hourly figures count it in that hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<DateTime<Utc>>,
    pub version: u64,
}

impl OrderSummary {
    /// The summary of an order just received (its `OrderReceived` alone):
    /// what [`Self::from_events`] gives for that one event, without
    /// building the stored order into a JSON tree.
    pub fn received(id: &str, source: &str, external_id: &str, at: DateTime<Utc>) -> Self {
        Self {
            id: id.to_string(),
            source: source.to_string(),
            external_id: external_id.to_string(),
            state: OrderState::Received,
            findings: Vec::new(),
            reference: None,
            received_at: at,
            updated_at: at,
            failed_at: None,
            version: 1,
        }
    }

    /// The summary of an order's events (version order).
    pub fn from_events(events: &[StoredEvent]) -> Result<Option<Self>, Unreadable> {
        let Some(view) = OrderView::from_events(events)? else { return Ok(None) };
        let (Some(first), Some(last)) = (events.first(), events.last()) else { return Ok(None) };
        let failed_at = events
            .iter()
            .find(|e| {
                matches!(
                    e.event_type.as_str(),
                    orders::event_types::VALIDATION_FAILED | orders::event_types::DISPATCH_FAILED
                )
            })
            .map(|e| e.occurred_at);
        Ok(Some(Self {
            id: view.id,
            source: view.source,
            external_id: view.external_id,
            state: view.state,
            findings: view.findings,
            reference: view.reference,
            received_at: first.occurred_at,
            updated_at: last.occurred_at,
            failed_at,
            version: last.version,
        }))
    }

    /// Whether the pipeline has nothing more to do with it.
    pub fn is_terminal(&self) -> bool {
        matches!(self.state, OrderState::Failed | OrderState::Sent | OrderState::DispatchFailed | OrderState::Shipped)
    }
}

/// Which orders a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// Validation failed, or dispatch failed after its last attempt.
    Failed,
    /// Sent to the warehouse and waiting for it to ship.
    Unhandled,
    /// Still moving through the pipeline.
    InProgress,
    All,
}

impl Queue {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "failed" => Some(Self::Failed),
            "unhandled" => Some(Self::Unhandled),
            "in-progress" => Some(Self::InProgress),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    fn holds(self, state: OrderState) -> bool {
        match self {
            Self::Failed => matches!(state, OrderState::Failed | OrderState::DispatchFailed),
            Self::Unhandled => state == OrderState::Sent,
            Self::InProgress => matches!(state, OrderState::Received | OrderState::Validated | OrderState::Overridden),
            Self::All => true,
        }
    }
}

/// A page of a list, newest change first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub orders: Vec<OrderSummary>,
    pub total: usize,
    pub offset: usize,
}

#[derive(Debug, Default)]
pub struct Projections {
    tenants: RwLock<HashMap<String, HashMap<String, OrderSummary>>>,
    /// With a queue shared by several nodes: where this node announces the
    /// orders it changed, so that the others' projections follow.
    changes: OnceLock<mpsc::Sender<(String, String)>>,
}

impl Projections {
    /// Rebuilds every tenant's projections from the event log, reading
    /// many orders at once.
    pub async fn rebuild(log: &EventLog) -> Result<Self, StoreError> {
        let projections = Self::default();
        let store = log.store();
        for company in store.list_children("").await? {
            if keys::check_segment("company", &company).is_err() {
                continue;
            }
            let prefix = keys::aggregate_type_prefix(&company, orders::AGGREGATE);
            // One listing, grouped by order.
            let mut orders: Vec<(String, Vec<String>)> = Vec::new();
            for meta in store.list(&prefix).await? {
                let Some((id, _)) = meta.key[prefix.len()..].split_once('/') else { continue };
                if orders.last().is_none_or(|(current, _)| current != id) {
                    orders.push((id.to_string(), Vec::new()));
                }
                if let Some((_, keys)) = orders.last_mut() {
                    keys.push(meta.key);
                }
            }
            let company = &company;
            let reads = orders.into_iter().map(|(id, keys)| async move {
                let mut events = Vec::with_capacity(keys.len());
                for key in &keys {
                    match log.read_key(key).await {
                        Ok(event) => events.push(event),
                        // Gone since the listing (a writer on another node
                        // gave way): read the order again, as reads do.
                        Err(_) => return log.read(company, orders::AGGREGATE, &id).await,
                    }
                }
                if events.windows(2).any(|pair| pair[0].version == pair[1].version) {
                    return log.read(company, orders::AGGREGATE, &id).await;
                }
                Ok::<_, StoreError>(events)
            });
            let mut reading = futures::stream::iter(reads).buffer_unordered(REBUILD_CONCURRENCY);
            while let Some(events) = reading.next().await {
                projections.apply(company, &events?);
            }
        }
        Ok(projections)
    }

    /// Brings an order's summary up to date with its events.
    pub fn apply(&self, company: &str, events: &[StoredEvent]) {
        if let Some(summary) = readable(company, events) {
            self.put(company, summary);
        }
    }

    /// Records an order's summary as it now is.
    pub fn put(&self, company: &str, summary: OrderSummary) {
        let id = summary.id.clone();
        if self.keep(company, summary)
            && let Some(changes) = self.changes.get()
        {
            // Full: the other nodes' lists lag for this order (see shared_queue).
            let _ = changes.try_send((company.to_string(), id));
        }
    }

    /// Keeps `summary` unless a later version of the order is already
    /// here (summaries never go back); whether it moved forward.
    fn keep(&self, company: &str, summary: OrderSummary) -> bool {
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        let orders = tenants.entry(company.to_string()).or_default();
        if orders.get(&summary.id).is_some_and(|known| known.version >= summary.version) {
            return false;
        }
        orders.insert(summary.id.clone(), summary);
        true
    }

    /// From now on, announces on `changes` every order whose summary this
    /// node moves forward.
    pub fn announce_changes(&self, changes: mpsc::Sender<(String, String)>) {
        let _ = self.changes.set(changes);
    }

    /// Brings an order's summary up to date after another node changed it
    /// (not announced again).
    pub fn apply_from_peer(&self, company: &str, events: &[StoredEvent]) {
        if let Some(summary) = readable(company, events) {
            let _ = self.keep(company, summary);
        }
    }

    pub fn get(&self, company: &str, id: &str) -> Option<OrderSummary> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(company)?.get(id).cloned()
    }

    /// A page of `queue` for `company`, most recently changed first.
    pub fn list(&self, company: &str, queue: Queue, offset: usize, limit: usize) -> Page {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let mut orders: Vec<&OrderSummary> =
            tenants.get(company).map(|t| t.values().filter(|o| queue.holds(o.state)).collect()).unwrap_or_default();
        orders.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| a.id.cmp(&b.id)));
        let total = orders.len();
        Page { orders: orders.into_iter().skip(offset).take(limit).cloned().collect(), total, offset }
    }

    /// Every order of every tenant the pipeline has not finished: (company, id).
    pub fn unfinished(&self) -> Vec<(String, String)> {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let mut unfinished: Vec<(String, String)> = tenants
            .iter()
            .flat_map(|(company, orders)| {
                orders.values().filter(|o| !o.is_terminal()).map(move |o| (company.clone(), o.id.clone()))
            })
            .collect();
        unfinished.sort();
        unfinished
    }

    /// Counts per state for a tenant (for the dashboard and `/metrics`).
    pub fn counts(&self, company: &str) -> HashMap<OrderState, usize> {
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let mut counts = HashMap::new();
        for order in tenants.get(company).map(|t| t.values().collect::<Vec<_>>()).unwrap_or_default() {
            *counts.entry(order.state).or_insert(0) += 1;
        }
        counts
    }
}

/// Orders ingested and failed in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HourCount {
    pub hour: DateTime<Utc>,
    pub ingested: usize,
    pub failed: usize,
}

impl Projections {
    /// Orders received, and orders that failed, per hour over the last
    /// `hours`; an order counts as failed in the hour it first failed, also
    /// once it has been forced since.
    pub fn hourly(&self, company: &str, hours: usize) -> Vec<HourCount> {
        use chrono::{DurationRound, TimeDelta};
        let now = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap_or_else(|_| Utc::now());
        let first = now - TimeDelta::hours(hours.saturating_sub(1) as i64);
        let mut counts: Vec<HourCount> = (0..hours)
            .map(|h| HourCount { hour: first + TimeDelta::hours(h as i64), ingested: 0, failed: 0 })
            .collect();
        let slot = |at: DateTime<Utc>| -> Option<usize> {
            let index = (at - first).num_hours();
            (at >= first && (index as usize) < hours).then_some(index as usize)
        };
        let tenants = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        for order in tenants.get(company).map(|t| t.values().collect::<Vec<_>>()).unwrap_or_default() {
            if let Some(i) = slot(order.received_at) {
                counts[i].ingested += 1;
            }
            if let Some(i) = order.failed_at.and_then(slot) {
                counts[i].failed += 1;
            }
        }
        counts
    }
}

/// An order's summary, or `None` — logged, never guessed — when one of
/// its events is unreadable: the order stays out of the lists until fixed.
fn readable(company: &str, events: &[StoredEvent]) -> Option<OrderSummary> {
    match OrderSummary::from_events(events) {
        Ok(summary) => summary,
        Err(error) => {
            let order = events.first().map(|e| e.aggregate_id.as_str()).unwrap_or_default();
            tracing::error!(%company, %order, %error, "an order event is unreadable; the order is left out of the lists");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::json;

    use super::*;
    use crate::events::Actor;
    use crate::orders::event_types;

    fn event(version: u64, event_type: &str, at: DateTime<Utc>) -> StoredEvent {
        StoredEvent {
            id: uuid::Uuid::new_v4(),
            event_type: event_type.into(),
            aggregate_type: orders::AGGREGATE.into(),
            aggregate_id: "order-1".into(),
            version,
            company: "acme".into(),
            occurred_at: at,
            actor: Actor::system("test"),
            data: data_of(event_type, "PABCDE-0123456789ABCD"),
        }
    }

    /// Stored data each order event type reads as.
    fn data_of(event_type: &str, reference: &str) -> serde_json::Value {
        match event_type {
            event_types::RECEIVED => json!({ "source": "woo-no", "externalId": "NV-1", "order": {} }),
            event_types::VALIDATED | event_types::VALIDATION_FAILED => {
                json!({ "mode": "strict", "modeSource": "platform", "findings": [] })
            }
            event_types::VALIDATION_OVERRIDDEN => json!({
                "by": "op", "reason": "r", "at": Utc::now(), "overriddenFindings": [], "previousState": "failed"
            }),
            event_types::SENT_TO_WAREHOUSE => json!({
                "reference": reference, "warehouse": "wms", "warehouseOrderId": null, "message": "", "attempts": 1
            }),
            event_types::SHIPPED => json!({
                "reference": reference,
                "shipment": { "type": "shipments", "id": "s-1", "externalId": "1", "source": "wms" }
            }),
            other => panic!("no test data for {other}"),
        }
    }

    #[test]
    fn a_forced_order_still_counts_as_failed_in_the_hour_it_failed() {
        let projections = Projections::default();
        let now = Utc::now();
        let failed_hour = now - TimeDelta::hours(3);
        let mut events =
            vec![event(1, event_types::RECEIVED, failed_hour), event(2, event_types::VALIDATION_FAILED, failed_hour)];
        projections.apply("acme", &events);
        let failed = |projections: &Projections| -> Vec<usize> {
            projections.hourly("acme", 24).iter().map(|h| h.failed).collect()
        };
        let before = failed(&projections);
        assert_eq!(before.iter().sum::<usize>(), 1);
        events.push(event(3, event_types::VALIDATION_OVERRIDDEN, now));
        events.push(event(4, event_types::SENT_TO_WAREHOUSE, now));
        projections.apply("acme", &events);
        assert_eq!(failed(&projections), before, "forcing it later does not move or remove its failure");
        let summary = projections.get("acme", "order-1").expect("summary");
        assert_eq!(summary.state, OrderState::Sent);
        assert_eq!(summary.failed_at, Some(failed_hour));
    }

    #[test]
    fn a_shipped_order_leaves_the_unhandled_orders_and_stays_shipped() {
        let projections = Projections::default();
        let now = Utc::now();
        let mut sent = event(3, event_types::SENT_TO_WAREHOUSE, now);
        sent.data = data_of(event_types::SENT_TO_WAREHOUSE, "PABCDE-0123456789ABCD");
        let mut events = vec![event(1, event_types::RECEIVED, now), event(2, event_types::VALIDATED, now), sent];
        projections.apply("acme", &events);
        assert_eq!(projections.list("acme", Queue::Unhandled, 0, 10).total, 1);

        let mut shipped = event(4, event_types::SHIPPED, now);
        shipped.data = data_of(event_types::SHIPPED, "PABCDE-0123456789ABCD");
        events.push(shipped);
        projections.apply("acme", &events);
        assert_eq!(projections.list("acme", Queue::Unhandled, 0, 10).total, 0);
        assert_eq!(projections.list("acme", Queue::InProgress, 0, 10).total, 0);
        let summary = projections.get("acme", "order-1").expect("summary");
        assert_eq!(summary.state, OrderState::Shipped);
        assert!(summary.is_terminal());
        assert_eq!(summary.reference.as_deref(), Some("PABCDE-0123456789ABCD"));

        // A dispatch answer recorded after the warehouse shipped it (the
        // callback outran the pipeline) does not make it less than shipped.
        let early = vec![
            event(1, event_types::RECEIVED, now),
            event(2, event_types::VALIDATED, now),
            event(3, event_types::SHIPPED, now),
            event(4, event_types::SENT_TO_WAREHOUSE, now),
        ];
        assert_eq!(OrderView::from_events(&early).expect("readable").expect("view").state, OrderState::Shipped);
    }

    #[test]
    fn a_summary_never_goes_back_and_only_moves_forward_are_announced() {
        let projections = Projections::default();
        let (changes, mut announced) = mpsc::channel(8);
        projections.announce_changes(changes);
        let now = Utc::now();
        let received = vec![event(1, event_types::RECEIVED, now)];
        let mut validated = received.clone();
        validated.push(event(2, event_types::VALIDATED, now));

        projections.apply("acme", &validated);
        assert_eq!(announced.try_recv().ok(), Some(("acme".to_string(), "order-1".to_string())));
        // Another node's older read arrives late: the summary stays.
        projections.apply_from_peer("acme", &received);
        projections.apply("acme", &received);
        assert_eq!(projections.get("acme", "order-1").expect("summary").state, OrderState::Validated);
        // The same version again is no news.
        projections.apply("acme", &validated);
        assert!(announced.try_recv().is_err(), "nothing moved forward, nothing announced");
    }
}
