//! Projections of the order log (ADR-013): the failed orders queue, the
//! unhandled orders (sent to the warehouse, not yet shipped), the orders in
//! progress, every order by source, and the orders received and failed per
//! hour — kept in the store itself, under `{company}/derived/`
//! (docs/decisions/0032-projections.md):
//! - a summary per order (`derived/orders/{id}`), a pure function of the
//!   order's events — from its second version on: a new order's summary is
//!   read from its one event, so ingest writes no summary object;
//! - an empty entry per order in each list it is in
//!   (`derived/lists/{list}/{rank}.{id}`), named so that a list sorts most
//!   recently changed first: a page is one listing and a read per row;
//! - an empty marker per order in the hour it was received, and in the
//!   hour it first failed (`derived/hours/{yyyymmddhh}/…/{id}`).
//!
//! A node keeps none of it in memory and rebuilds nothing at start; every
//! node reads the same lists. Writing them, and repairing them after a
//! crash, is [`derived`]'s; rebuilding them from the log, [`reindex`]'s.

mod batch;
mod counts;
mod derived;
pub mod reindex;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

pub use self::derived::{MARKER_GRACE, Marker};
use crate::events::{EventLog, StoredEvent, keys};
use crate::orders::events::Unreadable;
use crate::orders::{self, Finding, OrderState, OrderView};
use crate::store::{ObjectStore, StoreError};

/// Summaries read at once for a page or a chart.
const READ_CONCURRENCY: usize = 16;

/// One order, as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

    /// The name of its list in the store.
    fn list_name(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Unhandled => "unhandled",
            Self::InProgress => "in-progress",
            Self::All => "all",
        }
    }

    /// The queue (other than `All`) an order in `state` is in, if any.
    fn of(state: OrderState) -> Option<Self> {
        [Self::Failed, Self::Unhandled, Self::InProgress].into_iter().find(|queue| queue.holds(state))
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

/// Where a page of a list starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    /// At the first entry, or after the entry a page's `next` named: one
    /// listing call on any backend, at any depth. The total is exact when
    /// the list fits on its first page; otherwise it is this node's count
    /// of the list, at most a few seconds old ([`counts`]).
    After(Option<String>),
    /// After this many entries: the list is read up to the page and
    /// counted whole with it (on S3, every name listed, a call per
    /// thousand), so the total is exact.
    Offset(usize),
}

/// Whether `name` can be a page's `next`: a list entry's name.
pub fn is_cursor(name: &str) -> bool {
    name.split_once('.').is_some_and(|(rank, id)| {
        rank.len() == 13 && rank.bytes().all(|b| b.is_ascii_digit()) && keys::check_segment("order id", id).is_ok()
    })
}

/// A page of a list, newest change first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub orders: Vec<OrderSummary>,
    pub total: usize,
    /// How many entries come before the page, when the page knows it (not
    /// on a page that starts after a name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    /// What the next page starts after (`after=`), if more entries follow.
    pub next: Option<String>,
}

/// Orders ingested and failed in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HourCount {
    pub hour: DateTime<Utc>,
    pub ingested: usize,
    pub failed: usize,
}

/// An order the pipeline has not finished, as the in-progress list names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub company: String,
    pub id: String,
    pub updated_at: DateTime<Utc>,
}

/// The projections in the store: read by the API, written by the order
/// book (see [`derived`]).
#[derive(Debug)]
pub struct Projections {
    log: EventLog,
    /// The store's relaxed view: derived writes are made durable by a
    /// `flush` before the markers that cover them are deleted.
    derived: Arc<dyn ObjectStore>,
    /// This node's counts of long lists, and of the hourly chart's past hours.
    list_counts: Arc<counts::Counts>,
    hour_counts: Arc<counts::Counts>,
    writer: derived::Writer,
    /// Markers whose changes are written, to delete after the next flush.
    closing: Arc<Mutex<Vec<String>>>,
    /// Changes waiting for their markers, and for their derived writes.
    opening: Arc<batch::Batcher<derived::Opening>>,
    settling: Arc<batch::Batcher<derived::Settling>>,
}

impl Projections {
    pub fn new(log: EventLog) -> Self {
        let derived = log.store().relaxed();
        Self {
            log,
            writer: derived::Writer::new(derived.clone()),
            list_counts: counts::Counts::new(derived.clone(), counts::LISTS_REMEMBERED),
            hour_counts: counts::Counts::new(derived.clone(), counts::HOURS_REMEMBERED),
            derived,
            closing: Arc::default(),
            opening: Arc::default(),
            settling: Arc::default(),
        }
    }

    /// An order's summary; `None` if there is no such order (yet). An
    /// order at its first version has no summary object: its one event
    /// gives it.
    pub async fn get(&self, company: &str, id: &str) -> Result<Option<OrderSummary>, StoreError> {
        if let Some(stored) = self.stored(company, id).await? {
            return Ok(Some(stored.summary));
        }
        let events = self.log.read(company, orders::AGGREGATE, id).await?;
        Ok(readable(company, &events))
    }

    /// A page of `queue` — or, with `source`, of every order from that
    /// source — for `company`, most recently changed first.
    pub async fn list(
        &self,
        company: &str,
        queue: Queue,
        source: Option<&str>,
        start: PageStart,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let list = match source {
            Some(source) => derived::source_list(source),
            None => queue.list_name().to_string(),
        };
        let prefix = keys::list_prefix(company, &list);
        let (names, total, offset, more) = match start {
            PageStart::Offset(offset) => {
                let (total, names) = self.derived.list_children_page(&prefix, offset, limit).await?;
                let more = offset.saturating_add(names.len()) < total;
                (names, total, Some(offset), more)
            }
            PageStart::After(after) => {
                let (names, more) = self.derived.list_children_after(&prefix, after.as_deref(), limit).await?;
                let total = match (&after, more) {
                    (None, false) => names.len(),
                    (None, true) => self.list_counts.of(&prefix).await?.max(names.len() + 1),
                    (Some(_), _) => self.list_counts.of(&prefix).await?,
                };
                (names, total, after.is_none().then_some(0), more)
            }
        };
        let next = names.last().filter(|_| more).cloned();
        let rows: Vec<(String, String)> =
            names.into_iter().filter_map(|name| Some((derived::entry_id(&name)?.to_string(), name))).collect();
        let read = futures::stream::iter(rows)
            .map(|(id, name)| async move { Ok::<_, StoreError>((name, self.get(company, &id).await?)) })
            .buffered(READ_CONCURRENCY);
        let orders = read
            .try_filter_map(|(name, summary)| async move {
                // An entry whose summary has moved on (being moved now, or
                // left by a writer that crashed) is not shown.
                Ok(summary.filter(|s| {
                    derived::entry_name(s) == name
                        && queue.holds(s.state)
                        && source.is_none_or(|source| s.source == source)
                }))
            })
            .try_collect()
            .await?;
        Ok(Page { orders, total, offset, next })
    }

    /// Orders received, and orders that failed, per hour over the last
    /// `hours`; an order counts as failed in the hour it first failed, also
    /// once it has been forced since. This hour and the last are counted
    /// live (derived writes of the last hour's orders can land just after
    /// it); an earlier hour, which changes only when a crash's repair
    /// writes it, is this node's count of it ([`counts`]: the count its
    /// previous chart made, recounted behind the answer once a few seconds
    /// old), so a chart asked for again costs four listings, not two per
    /// hour.
    pub async fn hourly(&self, company: &str, hours: usize) -> Result<Vec<HourCount>, StoreError> {
        use chrono::{DurationRound, TimeDelta};
        let now = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap_or_else(|_| Utc::now());
        let first = now - TimeDelta::hours(hours.saturating_sub(1) as i64);
        let last_hour = now - TimeDelta::hours(1);
        let count = |hour: DateTime<Utc>, what: &'static str| async move {
            let prefix = keys::hour_prefix(company, &derived::hour_segment(hour), what);
            if hour >= last_hour {
                self.derived.count_children(&prefix).await
            } else {
                self.hour_counts.of(&prefix).await
            }
        };
        futures::stream::iter((0..hours).map(|h| first + TimeDelta::hours(h as i64)))
            .map(|hour| async move {
                let (ingested, failed) = futures::try_join!(count(hour, "received"), count(hour, "failed"))?;
                Ok::<_, StoreError>(HourCount { hour, ingested, failed })
            })
            .buffered(READ_CONCURRENCY / 2)
            .try_collect()
            .await
    }

    /// Every order of every tenant the pipeline has not finished, oldest
    /// change first.
    pub async fn unfinished(&self) -> Result<Vec<Unfinished>, StoreError> {
        let mut unfinished = Vec::new();
        for company in self.companies().await? {
            let names = self.derived.list_children(&keys::list_prefix(&company, Queue::InProgress.list_name())).await?;
            for name in names.iter().rev() {
                if let (Some(id), Some(updated_at)) = (derived::entry_id(name), derived::entry_time(name)) {
                    unfinished.push(Unfinished { company: company.clone(), id: id.to_string(), updated_at });
                }
            }
        }
        Ok(unfinished)
    }

    /// The tenants with data in the store.
    async fn companies(&self) -> Result<Vec<String>, StoreError> {
        keys::companies(self.derived.as_ref()).await
    }
}

/// An order's summary, or `None` — logged, never guessed — when one of
/// its events is unreadable: the order stays out of the lists until fixed.
pub(crate) fn readable(company: &str, events: &[StoredEvent]) -> Option<OrderSummary> {
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
    use crate::store::fs::FsStore;

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

    fn projections(dir: &std::path::Path) -> Projections {
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir).expect("store"));
        Projections::new(EventLog::new(store))
    }

    async fn apply(projections: &Projections, events: &[StoredEvent]) {
        let marker = projections.open("acme", "order-1").await.expect("marker");
        projections.settle_events("acme", events, marker).await;
    }

    /// Writes `event` into the log as an append would.
    async fn store_event(projections: &Projections, event: &StoredEvent) {
        let key = keys::event_key("acme", orders::AGGREGATE, &event.aggregate_id, event.version, &event.event_type);
        let body = serde_json::to_vec(event).expect("json");
        projections.log.store().put(&key, body.into()).await.expect("event");
    }

    async fn total(projections: &Projections, queue: Queue) -> usize {
        let page = projections.list("acme", queue, None, PageStart::Offset(0), 10).await.expect("list");
        assert_eq!(page.total, page.orders.len(), "no entry is stale here");
        page.total
    }

    #[tokio::test]
    async fn a_forced_order_still_counts_as_failed_in_the_hour_it_failed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        let failed_hour = now - TimeDelta::hours(3);
        let mut events =
            vec![event(1, event_types::RECEIVED, failed_hour), event(2, event_types::VALIDATION_FAILED, failed_hour)];
        apply(&projections, &events).await;
        let failed = async |projections: &Projections| -> Vec<usize> {
            projections.hourly("acme", 24).await.expect("hourly").iter().map(|h| h.failed).collect()
        };
        let before = failed(&projections).await;
        assert_eq!(before.iter().sum::<usize>(), 1);
        assert_eq!(before[20], 1, "three hours ago");
        events.push(event(3, event_types::VALIDATION_OVERRIDDEN, now));
        events.push(event(4, event_types::SENT_TO_WAREHOUSE, now));
        apply(&projections, &events).await;
        // A node of its own: this one answers past hours from its counts.
        let fresh = Projections::new(projections.log.clone());
        assert_eq!(failed(&fresh).await, before, "forcing it later does not move or remove its failure");
        let summary = projections.get("acme", "order-1").await.expect("read").expect("summary");
        assert_eq!(summary.state, OrderState::Sent);
        assert_eq!(summary.failed_at, Some(failed_hour));
        assert_eq!(total(&projections, Queue::Failed).await, 0);
        assert_eq!(total(&projections, Queue::Unhandled).await, 1);
    }

    #[tokio::test]
    async fn a_past_hour_is_answered_from_its_count_and_the_current_hour_live() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        let earlier = now - TimeDelta::hours(2);
        let receive = async |projections: &Projections, id: &str, at: DateTime<Utc>| {
            let received = StoredEvent { aggregate_id: id.into(), ..event(1, event_types::RECEIVED, at) };
            let marker = projections.open("acme", id).await.expect("marker");
            projections.settle_events("acme", &[received], marker).await;
        };
        // By hour, not by position: the chart moves on if an hour ends meanwhile.
        let hour_of = |at: DateTime<Utc>| chrono::DurationRound::duration_trunc(at, TimeDelta::hours(1)).expect("hour");
        let ingested = async |projections: &Projections| -> (usize, usize) {
            let hours = projections.hourly("acme", 24).await.expect("hourly");
            let at = |hour| hours.iter().find(|h| h.hour == hour).map_or(0, |h| h.ingested);
            (at(hour_of(earlier)), at(hour_of(now)))
        };
        receive(&projections, "order-1", earlier).await;
        assert_eq!(ingested(&projections).await, (1, 0), "two hours ago; none this hour");
        // One more two hours ago (a derived write landing late) and one now.
        receive(&projections, "order-2", earlier).await;
        receive(&projections, "order-3", now).await;
        assert_eq!(ingested(&projections).await, (1, 1), "an earlier hour is this node's count of it, this hour live");
        let fresh = Projections::new(projections.log.clone());
        assert_eq!(ingested(&fresh).await, (2, 1), "what the store holds, on a node without counts");
    }

    #[tokio::test]
    async fn a_shipped_order_leaves_the_unhandled_orders_and_stays_shipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        let mut events = vec![
            event(1, event_types::RECEIVED, now),
            event(2, event_types::VALIDATED, now),
            event(3, event_types::SENT_TO_WAREHOUSE, now),
        ];
        apply(&projections, &events).await;
        assert_eq!(total(&projections, Queue::Unhandled).await, 1);

        events.push(event(4, event_types::SHIPPED, now + TimeDelta::seconds(1)));
        apply(&projections, &events).await;
        assert_eq!(total(&projections, Queue::Unhandled).await, 0);
        assert_eq!(total(&projections, Queue::InProgress).await, 0);
        assert_eq!(total(&projections, Queue::All).await, 1);
        let by_source =
            projections.list("acme", Queue::All, Some("woo-no"), PageStart::Offset(0), 10).await.expect("list");
        assert_eq!(by_source.orders.len(), 1);
        let summary = projections.get("acme", "order-1").await.expect("read").expect("summary");
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

    #[tokio::test]
    async fn a_summary_never_goes_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        let received = vec![event(1, event_types::RECEIVED, now)];
        let mut validated = received.clone();
        validated.push(event(2, event_types::VALIDATED, now + TimeDelta::seconds(1)));

        apply(&projections, &validated).await;
        // Another writer's older read arrives late: the summary stays.
        apply(&projections, &received).await;
        assert_eq!(
            projections.get("acme", "order-1").await.expect("read").expect("summary").state,
            OrderState::Validated
        );
        assert_eq!(total(&projections, Queue::All).await, 1, "one entry, not one per write");
        assert_eq!(total(&projections, Queue::InProgress).await, 1);
    }

    #[tokio::test]
    async fn a_change_cut_short_is_repaired_from_its_marker_and_a_stale_entry_is_never_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        let received = vec![event(1, event_types::RECEIVED, now)];
        store_event(&projections, &received[0]).await;
        apply(&projections, &received).await;
        // A crash after the event, before its derived writes: the marker
        // stays, and the event is in the log.
        let marker = projections.open("acme", "order-1").await.expect("marker");
        let failed = event(2, event_types::VALIDATION_FAILED, now + TimeDelta::seconds(1));
        store_event(&projections, &failed).await;
        drop(marker);
        // … and an entry a crashed writer left in a list.
        let mut ghost =
            OrderSummary::from_events(&[received[0].clone(), failed.clone()]).expect("readable").expect("summary");
        ghost.updated_at += TimeDelta::seconds(5);
        let ghost_key = format!("{}{}", keys::list_prefix("acme", "failed"), derived::entry_name(&ghost));
        projections.derived.put(&ghost_key, bytes::Bytes::new()).await.expect("ghost");

        let failed_page = projections.list("acme", Queue::Failed, None, PageStart::Offset(0), 10).await.expect("list");
        assert!(
            failed_page.orders.is_empty(),
            "neither the stale entry nor a summary the log has passed: {failed_page:?}"
        );

        assert_eq!(projections.repair(None).await.expect("repair"), 1);
        assert_eq!(projections.get("acme", "order-1").await.expect("read").expect("summary").state, OrderState::Failed);
        let failed_page = projections.list("acme", Queue::Failed, None, PageStart::Offset(0), 10).await.expect("list");
        assert_eq!(failed_page.orders.len(), 1, "shown once, at its place");
        assert_eq!(total(&projections, Queue::InProgress).await, 0);
        assert!(projections.derived.list_children(&keys::open_prefix("acme")).await.expect("markers").is_empty());
        assert_eq!(projections.repair(None).await.expect("repair"), 0, "nothing left open");

        // A full rebuild gives the same summary, and cleans the ghost.
        let rebuilt = reindex::summaries_from_log(&projections.log, "acme").await.expect("rebuild");
        assert_eq!(rebuilt, vec![projections.get("acme", "order-1").await.expect("read").expect("summary")]);
        reindex::reindex(&projections).await.expect("reindex");
        assert_eq!(
            projections.list("acme", Queue::Failed, None, PageStart::Offset(0), 10).await.expect("list").total,
            1
        );
    }

    #[tokio::test]
    async fn changes_settled_at_once_leave_each_order_at_its_latest_version_and_close_every_marker() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        let received = vec![event(1, event_types::RECEIVED, now)];
        let mut validated = received.clone();
        validated.push(event(2, event_types::VALIDATED, now + TimeDelta::seconds(1)));
        let mut others = Vec::new();
        for n in 0..40 {
            let mut other = event(1, event_types::RECEIVED, now - TimeDelta::seconds(n));
            other.aggregate_id = format!("other-{n}");
            store_event(&projections, &other).await;
            others.push(other);
        }
        // On this test's one thread every change is queued before the
        // first batch is taken: one batch, the later version first.
        let settles = [validated.clone(), received].into_iter().chain(others.into_iter().map(|other| vec![other])).map(
            |events| {
                let projections = &projections;
                async move {
                    let id = events[0].aggregate_id.clone();
                    let marker = projections.open("acme", &id).await.expect("marker");
                    projections.settle_events("acme", &events, marker).await;
                }
            },
        );
        futures::future::join_all(settles).await;

        let summary = projections.get("acme", "order-1").await.expect("read").expect("summary");
        assert_eq!(summary.state, OrderState::Validated, "the later version, whatever the order in the batch");
        let all = projections.list("acme", Queue::All, None, PageStart::Offset(0), 100).await.expect("list");
        assert_eq!((all.total, all.orders.len()), (41, 41), "one entry per order");
        assert_eq!(projections.close_markers().await.expect("close"), 42, "every change's marker closes");
        assert!(projections.derived.list_children(&keys::open_prefix("acme")).await.expect("markers").is_empty());
    }

    #[tokio::test]
    async fn a_new_order_has_entries_but_no_summary_object_and_its_next_version_moves_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        let received = vec![event(1, event_types::RECEIVED, now)];
        store_event(&projections, &received[0]).await;
        apply(&projections, &received).await;
        let summary_key = keys::summary_key("acme", "order-1");
        assert_eq!(projections.derived.get(&summary_key).await.expect("read"), None, "no summary object");
        let read = projections.get("acme", "order-1").await.expect("read").expect("from its event");
        assert_eq!((read.state, read.version), (OrderState::Received, 1));
        assert_eq!(total(&projections, Queue::InProgress).await, 1);

        let mut failed = received.clone();
        failed.push(event(2, event_types::VALIDATION_FAILED, now + TimeDelta::seconds(1)));
        store_event(&projections, &failed[1]).await;
        apply(&projections, &failed).await;
        assert!(projections.derived.get(&summary_key).await.expect("read").is_some(), "a summary from version 2 on");
        assert_eq!(total(&projections, Queue::InProgress).await, 0, "the first version's entry is gone");
        assert_eq!(total(&projections, Queue::Failed).await, 1);
        assert_eq!(total(&projections, Queue::All).await, 1);

        // The first version's write arriving late (a repair that read the
        // log before the change) puts nothing back for good.
        apply(&projections, &received).await;
        assert_eq!(total(&projections, Queue::InProgress).await, 0);
        assert_eq!(total(&projections, Queue::All).await, 1);
        let hours = projections.hourly("acme", 2).await.expect("hourly");
        let counted = hours.iter().fold((0, 0), |(i, f), h| (i + h.ingested, f + h.failed));
        assert_eq!(counted, (1, 1));
    }

    #[tokio::test]
    async fn the_repair_deletes_entries_an_earlier_version_left_behind_and_joined_markers_close_together() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        let mut events = vec![event(1, event_types::RECEIVED, now), event(2, event_types::VALIDATED, now)];
        events[1].occurred_at += TimeDelta::seconds(1);
        for each in &events {
            store_event(&projections, each).await;
        }
        // The first version's write landed after the second's and a crash
        // came before it took its entries back: they are in the lists, no
        // summary names them, and the receive's marker is open.
        let mut marker = projections.open("acme", "order-1").await.expect("marker");
        projections.settle_events("acme", &events, projections.open("acme", "order-1").await.expect("marker")).await;
        let first = OrderSummary::from_events(&events[..1]).expect("readable").expect("summary");
        for list in ["all", "in-progress", "source-woo-no"] {
            let ghost = format!("{}{}", keys::list_prefix("acme", list), derived::entry_name(&first));
            projections.derived.put(&ghost, bytes::Bytes::new()).await.expect("ghost");
        }
        assert_eq!(
            projections.list("acme", Queue::All, None, PageStart::Offset(0), 10).await.expect("list").total,
            2,
            "counted twice"
        );

        assert_eq!(projections.repair(None).await.expect("repair"), 1);
        assert_eq!(total(&projections, Queue::All).await, 1);
        assert_eq!(total(&projections, Queue::InProgress).await, 1);

        // Two marker objects joined into one close together.
        marker.join(projections.open("acme", "order-1").await.expect("marker"));
        projections.settle_events("acme", &events, marker).await;
        assert_eq!(projections.close_markers().await.expect("close"), 2);
        assert!(projections.derived.list_children(&keys::open_prefix("acme")).await.expect("markers").is_empty());
    }

    #[tokio::test]
    async fn pages_go_newest_first_and_count_the_whole_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let projections = projections(dir.path());
        let now = Utc::now();
        for n in 0..7 {
            let id = format!("order-{n}");
            let mut received = event(1, event_types::RECEIVED, now - TimeDelta::seconds(n));
            received.aggregate_id = id.clone();
            // A new order's summary is read from its event.
            store_event(&projections, &received).await;
            let marker = projections.open("acme", &id).await.expect("marker");
            projections.settle_events("acme", &[received], marker).await;
        }
        let ids = |page: &Page| page.orders.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
        let page = projections.list("acme", Queue::InProgress, None, PageStart::Offset(2), 3).await.expect("list");
        assert_eq!((page.total, page.offset), (7, Some(2)));
        assert_eq!(ids(&page), ["order-2", "order-3", "order-4"]);

        // The same list a page after another: each starts where the last ended.
        let mut after = None;
        let mut walked = Vec::new();
        loop {
            let page =
                projections.list("acme", Queue::InProgress, None, PageStart::After(after), 3).await.expect("list");
            assert_eq!(page.total, 7);
            walked.extend(ids(&page));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(walked, (0..7).map(|n| format!("order-{n}")).collect::<Vec<_>>());
        let whole = projections.list("acme", Queue::InProgress, None, PageStart::After(None), 10).await.expect("list");
        assert_eq!((whole.total, whole.offset, whole.next), (7, Some(0), None), "a list on one page counts itself");
        let unfinished = projections.unfinished().await.expect("unfinished");
        assert_eq!(unfinished.first().map(|o| o.id.as_str()), Some("order-6"), "oldest change first");
        assert_eq!(projections.hourly("acme", 2).await.expect("hourly").iter().map(|h| h.ingested).sum::<usize>(), 7);
    }
}
