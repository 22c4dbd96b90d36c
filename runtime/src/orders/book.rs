//! The one owner of changing an order. Every order event is written here:
//! the first (`OrderReceived`, by ingest) through [`OrderBook::receive`],
//! every later one — the pipeline's steps, an operator's force, a
//! warehouse's shipment — through a [`HeldOrder`]: the order's lock in this
//! process, its events read, the next versions appended, the projections
//! brought up to them (a marker before the first event, the derived writes
//! once the holder is done: see `projections::derived`). So the pipeline
//! taking an order through three steps writes one marker and its derived
//! state once. What follows a change (telling the source, queueing a
//! pointer) is the caller's, which knows why it changed the order.
//!
//! An append is a create-once write of the next version, and the key holds
//! the event type after the version, so two writers appending different
//! types at one version would both succeed: the lock keeps them apart in one
//! process, the event log's check after writing across nodes
//! (docs/decisions/0012-event-log.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::OwnedMutexGuard;

use crate::events::{Appended, EventLog, NewEvent, StoredEvent};
use crate::orders::locks::OrderLocks;
use crate::orders::{self, OrderView};
use crate::projections::{MARKER_GRACE, Marker, OrderSummary, Projections};
use crate::store::StoreError;

#[derive(Debug)]
pub struct OrderBook {
    log: EventLog,
    locks: OrderLocks,
    projections: Arc<Projections>,
}

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The event is stored at `key` and is now the order's last.
    Appended { key: String },
    /// Another writer (on another node) took the version first; the held
    /// events are read again, for the caller to decide again.
    Raced,
}

impl OrderBook {
    pub fn new(log: EventLog, projections: Arc<Projections>) -> Self {
        Self { log, locks: OrderLocks::default(), projections }
    }

    /// The event log (for the other aggregates, and reading).
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    pub fn projections(&self) -> &Arc<Projections> {
        &self.projections
    }

    /// Stores an order's first event: the create-once alone decides, on
    /// any number of nodes. The stored event if it is new, `None` if the
    /// order was received before. Durable on return; the lists follow
    /// within moments (the answer does not wait for them unless they fall
    /// behind: `Projections::settle_soon`).
    pub async fn receive<D: Serialize>(
        &self,
        company: &str,
        id: &str,
        event: NewEvent<D>,
        summary: impl FnOnce(&StoredEvent<D>) -> OrderSummary,
    ) -> Result<Option<String>, StoreError> {
        let marker = self.projections.open(company, id).await?;
        match self.log.append_first(company, orders::AGGREGATE, id, event).await {
            Ok(Appended::Stored { key, event }) => {
                self.projections.settle_soon(company, Some(summary(&event)), marker).await;
                Ok(Some(key))
            }
            Ok(Appended::VersionTaken) => {
                self.projections.close(marker);
                Ok(None)
            }
            Err(error) => {
                // Not known whether it was written: the marker stays for the repair.
                drop(marker);
                Err(error)
            }
        }
    }

    /// Holds order `id` for changing: waits for its writer in this process,
    /// then reads its events.
    pub async fn hold(&self, company: &str, id: &str) -> Result<HeldOrder<'_>, StoreError> {
        let writer = self.locks.lock(id).await;
        self.held(company, id, writer).await
    }

    /// [`Self::hold`], waiting at most `wait` for the order's writer;
    /// `None` if it is still busy then.
    pub async fn hold_within(
        &self,
        company: &str,
        id: &str,
        wait: Duration,
    ) -> Result<Option<HeldOrder<'_>>, StoreError> {
        match tokio::time::timeout(wait, self.locks.lock(id)).await {
            Ok(writer) => Ok(Some(self.held(company, id, writer).await?)),
            Err(_) => Ok(None),
        }
    }

    async fn held(&self, company: &str, id: &str, writer: OwnedMutexGuard<()>) -> Result<HeldOrder<'_>, StoreError> {
        let mut held = HeldOrder {
            book: self,
            company: company.to_string(),
            id: id.to_string(),
            events: Vec::new(),
            marker: None,
            marker_opened: None,
            uncertain: false,
            _writer: writer,
        };
        held.read_again().await?;
        Ok(held)
    }
}

/// An order held for changing (its lock in this process), with its events
/// as last read or written. Its derived state follows its appends when it
/// is [settled](Self::settle), or when it is dropped (then without
/// waiting for the writes).
#[derive(Debug)]
pub struct HeldOrder<'a> {
    book: &'a OrderBook,
    company: String,
    id: String,
    events: Vec<StoredEvent>,
    /// Open since the first append of this hold: the derived state may be
    /// behind the events until it is settled.
    marker: Option<Marker>,
    /// When the newest of its marker objects was written: a hold that
    /// lasts (a plugin call between steps) writes another before an append
    /// once the repair could take the last one for abandoned.
    marker_opened: Option<Instant>,
    /// An append failed without knowing whether it was written: the
    /// marker is left for the repair.
    uncertain: bool,
    _writer: OwnedMutexGuard<()>,
}

impl HeldOrder<'_> {
    /// The order's events, in version order (empty: no such order).
    pub fn events(&self) -> &[StoredEvent] {
        &self.events
    }

    /// The order's state folded from its events; `None` if there is no
    /// order, an error if one of its events is unreadable.
    pub fn view(&self) -> Result<Option<OrderView>, StoreError> {
        Ok(OrderView::from_events(&self.events)?)
    }

    /// Reads the order's events again (another node may have changed it).
    pub async fn read_again(&mut self) -> Result<(), StoreError> {
        self.events = self.book.log.read(&self.company, orders::AGGREGATE, &self.id).await?;
        Ok(())
    }

    /// Appends `event` as the order's next version. Durable on return;
    /// the lists follow when the hold is settled or dropped.
    pub async fn append(&mut self, event: NewEvent) -> Result<Change, StoreError> {
        let version = self.events.last().map_or(0, |e| e.version) + 1;
        if self.marker_opened.is_none_or(|opened| opened.elapsed() >= MARKER_GRACE / 2) {
            let marker = self.book.projections.open(&self.company, &self.id).await?;
            match &mut self.marker {
                Some(held) => held.join(marker),
                None => self.marker = Some(marker),
            }
            self.marker_opened = Some(Instant::now());
        }
        match self.book.log.append(&self.company, orders::AGGREGATE, &self.id, version, event).await {
            Ok(Appended::Stored { key, event }) => {
                self.events.push(*event);
                Ok(Change::Appended { key })
            }
            Ok(Appended::VersionTaken) => {
                // The other writer's marker covers its event; this one
                // stays open until the hold is settled.
                self.read_again().await?;
                Ok(Change::Raced)
            }
            Err(error) => {
                self.uncertain = true;
                Err(error)
            }
        }
    }

    /// Brings the order's derived state up to its events now, and waits
    /// for it (for a caller whose answer shows the change).
    pub async fn settle(&mut self) {
        if let Some(marker) = self.take_marker() {
            self.book.projections.settle_events(&self.company, &self.events, marker).await;
        }
    }

    /// [`Self::settle`], waiting only while the derived writes of many
    /// changes are behind (the pipeline: so that it cannot queue them
    /// without bound).
    pub async fn settle_soon(&mut self) {
        if let Some(marker) = self.take_marker() {
            let summary = crate::projections::readable(&self.company, &self.events);
            self.book.projections.settle_soon(&self.company, summary, marker).await;
        }
    }

    /// The hold's marker, if there are derived writes to make; one left
    /// behind an append of unknown outcome stays open for the repair.
    fn take_marker(&mut self) -> Option<Marker> {
        let marker = self.marker.take()?;
        self.marker_opened = None;
        if self.uncertain {
            drop(marker);
            return None;
        }
        Some(marker)
    }
}

impl Drop for HeldOrder<'_> {
    fn drop(&mut self) {
        if let Some(marker) = self.take_marker() {
            self.book.projections.settle_events_later(&self.company, &self.events, marker);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::Actor;
    use crate::orders::{OrderState, event_types};
    use crate::store::fs::FsStore;

    fn event(event_type: &str, data: serde_json::Value) -> NewEvent {
        NewEvent { event_type: event_type.into(), actor: Actor::system("test"), data }
    }

    async fn book(dir: &std::path::Path) -> OrderBook {
        let store: Arc<dyn crate::store::ObjectStore> = Arc::new(FsStore::open(dir).expect("store"));
        let log = EventLog::new(store);
        let projections = Arc::new(Projections::new(log.clone()));
        OrderBook::new(log, projections)
    }

    fn received() -> NewEvent {
        event(
            event_types::RECEIVED,
            json!({"source": "shop", "externalId": "1", "order": {"orderNumber": "1"}, "receivedVia": "api"}),
        )
    }

    #[tokio::test]
    async fn changes_append_the_next_version_and_keep_the_projections_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        let book = book(dir.path()).await;
        let summary = |e: &StoredEvent| OrderSummary::received("o-1", "shop", "1", e.occurred_at);
        assert!(book.receive("acme", "o-1", received(), summary).await.expect("receive").is_some());
        assert!(book.receive("acme", "o-1", received(), summary).await.expect("again").is_none(), "received once");

        let mut held = book.hold("acme", "o-1").await.expect("hold");
        assert_eq!(held.view().expect("readable").expect("an order").state, OrderState::Received);
        let failed =
            event(event_types::VALIDATION_FAILED, json!({"mode": "strict", "modeSource": "platform", "findings": []}));
        let change = held.append(failed).await.expect("append");
        assert!(matches!(change, Change::Appended { ref key } if key.contains("/0000000002/")), "{change:?}");
        assert_eq!(held.events().len(), 2);
        held.settle().await;
        let summary = book.projections().get("acme", "o-1").await.expect("read").expect("summary");
        assert_eq!(summary.state, OrderState::Failed);
        drop(held);

        // An order that is not there holds nothing to change.
        let nothing = book.hold("acme", "o-2").await.expect("hold");
        assert!(nothing.view().expect("readable").is_none());
    }

    #[tokio::test]
    async fn one_writer_at_a_time_and_a_busy_order_can_be_waited_for_only_so_long() {
        let dir = tempfile::tempdir().expect("tempdir");
        let book = book(dir.path()).await;
        let summary = |e: &StoredEvent| OrderSummary::received("o-1", "shop", "1", e.occurred_at);
        book.receive("acme", "o-1", received(), summary).await.expect("receive");
        let held = book.hold("acme", "o-1").await.expect("hold");
        let busy = book.hold_within("acme", "o-1", Duration::from_millis(50)).await.expect("no store error");
        assert!(busy.is_none(), "the order is held");
        drop(held);
        let free = book.hold_within("acme", "o-1", Duration::from_millis(50)).await.expect("no store error");
        assert!(free.is_some());
    }

    #[tokio::test]
    async fn a_version_taken_meanwhile_is_read_again_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let book = book(dir.path()).await;
        let summary = |e: &StoredEvent| OrderSummary::received("o-1", "shop", "1", e.occurred_at);
        book.receive("acme", "o-1", received(), summary).await.expect("receive");
        let mut held = book.hold("acme", "o-1").await.expect("hold");
        // Another node writes version 2 behind this process's lock.
        let other =
            event(event_types::VALIDATION_FAILED, json!({"mode": "strict", "modeSource": "platform", "findings": []}));
        book.log().append("acme", orders::AGGREGATE, "o-1", 2, other.clone()).await.expect("other node");
        let change = held.append(other).await.expect("append");
        assert_eq!(change, Change::Raced);
        assert_eq!(held.events().len(), 2, "the other writer's event is read");
        assert_eq!(held.view().expect("readable").expect("order").state, OrderState::Failed);
    }
}
