//! Writing the projections, and repairing them after a crash.
//!
//! A change to an order goes: a **marker**
//! (`derived/open/{id}.{millis}.{nonce}`) that this order's derived state
//! may fall behind its log → the event(s) → the derived writes → the marker
//! closed. A crash anywhere in between leaves the marker, and
//! [`Projections::repair`] derives the marked orders again from their
//! events: no full scan. The derived writes go through the store's relaxed
//! view; a marker is deleted only after a `flush` made the writes it covers
//! durable, so a power loss is repaired the same way. Markers and derived
//! writes are written in batches ([`super::batch`]).
//!
//! One order's derived writes, in this order:
//! 1. its entries in the lists it is now in, and its hour markers;
//! 2. from its second version on, its summary, by compare-and-swap, naming
//!    the entries it superseded — never replacing a later version
//!    (summaries never go back). A first version has no summary object
//!    (readers derive it from the one event); its writer checks, after
//!    putting its entries, that no later summary was stored meanwhile, and
//!    takes them back if one was;
//! 3. the superseded entries deleted.
//!
//! Readers show an entry only if the summary agrees with it, so between
//! 1 and 3 an order shows once, at its old place or its new one, and an
//! entry a crash left behind is never shown; the next writer of the order,
//! or the repair (which deletes every entry of every earlier version),
//! deletes it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use tokio::sync::oneshot;

use super::batch::Drain;
use super::{OrderSummary, Projections, Queue, readable};
use crate::events::{StoredEvent, keys};
use crate::orders;
use crate::store::{CasOutcome, Object, ObjectStore, StoreError, Swap};
use crate::tasks::Tasks;

/// Ranks are this minus the change's milliseconds, so names sort newest first.
const RANK_BASE: i64 = 9_999_999_999_999;
/// How often closed markers are flushed and deleted.
const CLOSE_EVERY: Duration = Duration::from_secs(1);
/// How often, and after how long, markers left open (a derived write that
/// failed, another node's crash) are repaired by a running node.
const REPAIR_EVERY: Duration = Duration::from_secs(30);
pub const MARKER_GRACE: Duration = Duration::from_secs(30);
/// Changes waiting for their derived writes past which a new order's
/// answer waits for its own ([`Projections::settle_soon`]).
const SETTLE_BACKLOG: usize = 4 * super::batch::MAX_BATCH;
/// Compare-and-swap attempts on one summary before giving up (the marker
/// stays: the repair finishes it).
const SWAP_ATTEMPTS: usize = 16;

/// An open marker: the order's derived state may be behind its log until
/// it is [closed](Projections::settle). One may stand for several marker
/// objects of one order ([`Marker::join`]).
#[derive(Debug)]
#[must_use = "a marker left open is repaired later; settle or close it"]
pub struct Marker {
    keys: Vec<String>,
}

impl Marker {
    /// Takes `other` (a later marker of the same order) into this one:
    /// both close together.
    pub fn join(&mut self, other: Marker) {
        self.keys.extend(other.keys);
    }
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
    /// (see docs/decisions/0033-derived-state-repair.md). The markers of
    /// changes that begin together are written in one store call
    /// ([`batch`](super::batch)).
    pub async fn open(&self, company: &str, id: &str) -> Result<Marker, StoreError> {
        let nonce = uuid::Uuid::new_v4().simple();
        let key = format!("{}{id}.{}.{nonce}", keys::open_prefix(company), Utc::now().timestamp_millis());
        let (reply, answer) = oneshot::channel();
        if self.opening.push(Opening { key, reply }) {
            let (store, mut drain) = (self.derived.clone(), Drain::started(self.opening.clone()));
            spawn(async move {
                while let Some(batch) = drain.next_batch() {
                    let keys: Vec<String> = batch.iter().map(|opening| opening.key.clone()).collect();
                    let written = store.put_empty(&keys).await;
                    for Opening { key, reply } in batch {
                        // A caller gone meanwhile leaves its marker open: repaired later.
                        let _ = reply.send(written.clone().map(|()| Marker { keys: vec![key] }));
                    }
                }
            });
        }
        answer.await.map_err(|_| StoreError::Unavailable("writing the change marker was cut short".to_string()))?
    }

    /// After the change: brings the order's derived state to `summary`
    /// and closes the marker. A derived write that fails leaves the marker
    /// open for the repair; the change itself stands. Changes settled
    /// together are written together, an order changed twice among them
    /// once, at its later version ([`batch`](super::batch)).
    pub async fn settle(&self, company: &str, summary: Option<OrderSummary>, marker: Marker) {
        if let Some(done) = self.queue_settle(company, summary, marker) {
            // Cut short only if the drain task panicked: the marker stays open.
            let _ = done.await;
        }
    }

    /// [`Self::settle`] without waiting for the writes.
    pub fn settle_later(&self, company: &str, summary: Option<OrderSummary>, marker: Marker) {
        drop(self.queue_settle(company, summary, marker));
    }

    /// [`Self::settle`], waiting for the writes only while more changes
    /// than a few batches' worth wait for theirs (so that a burst of new
    /// orders cannot queue without bound).
    pub async fn settle_soon(&self, company: &str, summary: Option<OrderSummary>, marker: Marker) {
        let behind = self.settling.backlog() >= SETTLE_BACKLOG;
        if let Some(done) = self.queue_settle(company, summary, marker)
            && behind
        {
            let _ = done.await;
        }
    }

    /// Queues the change's derived writes; the receiver answers once they
    /// are made (`None`: nothing to write, the marker is closed).
    fn queue_settle(
        &self,
        company: &str,
        summary: Option<OrderSummary>,
        marker: Marker,
    ) -> Option<oneshot::Receiver<()>> {
        let Some(summary) = summary else {
            self.close(marker);
            return None;
        };
        let (reply, done) = oneshot::channel();
        if self.settling.push(Settling { company: company.to_string(), summary, marker, reply }) {
            let (writer, closing) = (self.writer.clone(), self.closing.clone());
            let mut drain = Drain::started(self.settling.clone());
            spawn(async move {
                while let Some(batch) = drain.next_batch() {
                    writer.settle_all(batch, &closing).await;
                }
            });
        }
        Some(done)
    }

    /// [`Self::settle`] with the summary of `events`.
    pub async fn settle_events(&self, company: &str, events: &[StoredEvent], marker: Marker) {
        self.settle(company, readable(company, events), marker).await;
    }

    /// [`Self::settle_later`] with the summary of `events`.
    pub fn settle_events_later(&self, company: &str, events: &[StoredEvent], marker: Marker) {
        self.settle_later(company, readable(company, events), marker);
    }

    /// Closes a marker whose change wrote nothing (it lost a race, or failed).
    pub fn close(&self, marker: Marker) {
        close(&self.closing, marker);
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
        self.repair_among(&self.companies().await?, grace).await
    }

    /// [`Projections::repair`] for the store's tenants `companies`, listed
    /// by the caller (at start, once for everything a node loads).
    pub async fn repair_among(&self, companies: &[String], grace: Option<Duration>) -> Result<usize, StoreError> {
        let cutoff = grace.map(|grace| Utc::now().timestamp_millis() - grace.as_millis() as i64);
        let mut repaired = 0;
        for company in companies {
            let company = company.clone();
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
                self.rederive(&company, &events).await?;
                repaired += 1;
                self.closing.lock().unwrap_or_else(|p| p.into_inner()).extend(keys);
            }
        }
        self.close_markers().await?;
        Ok(repaired)
    }

    /// Derives an order again from its events, and deletes any list entry
    /// one of its earlier versions may have left: writes of one order can
    /// overlap (a first version's entries put after a later version moved
    /// it on, taken back just after), and a crash between can leave
    /// entries that no summary names.
    async fn rederive(&self, company: &str, events: &[StoredEvent]) -> Result<(), StoreError> {
        let Some(current) = readable(company, events) else { return Ok(()) };
        let mut earlier = BTreeSet::new();
        for version in 1..events.len() {
            if let Ok(Some(summary)) = OrderSummary::from_events(&events[..version]) {
                earlier.extend(entries(company, &summary));
            }
        }
        self.write(company, &current).await?;
        let stale: Vec<String> = earlier.difference(&entries(company, &current)).cloned().collect();
        self.derived.delete_all(&stale).await
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
        self.writer.write(company, summary, false).await
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

/// A change's marker, waiting to be written.
#[derive(Debug)]
pub(super) struct Opening {
    key: String,
    reply: oneshot::Sender<Result<Marker, StoreError>>,
}

/// A change whose derived writes wait to be made.
#[derive(Debug)]
pub(super) struct Settling {
    company: String,
    summary: OrderSummary,
    marker: Marker,
    reply: oneshot::Sender<()>,
}

/// Starts a drain task on the current runtime. With none (a change
/// dropped outside one) the task is dropped unrun, and its [`Drain`] gives
/// its place up: what it would have written stays marked for the repair.
fn spawn(drain: impl Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        drop(runtime.spawn(drain));
    }
}

/// Queues `marker` for deletion after the next flush.
fn close(closing: &Mutex<Vec<String>>, marker: Marker) {
    closing.lock().unwrap_or_else(|p| p.into_inner()).extend(marker.keys);
}

/// Writes derived state, one order at a time or a batch of them.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    /// The store's relaxed view.
    store: Arc<dyn ObjectStore>,
}

impl Writer {
    pub(super) fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Writes a batch of changes and closes the markers of those written;
    /// each waiter is answered after its change's writes.
    async fn settle_all(&self, batch: Vec<Settling>, closing: &Mutex<Vec<String>>) {
        let mut changes: Vec<(String, OrderSummary)> = Vec::with_capacity(batch.len());
        let mut change_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(batch.len());
        for settling in &batch {
            let order = (settling.company.as_str(), settling.summary.id.as_str());
            match change_of.get(&order) {
                Some(&i) if changes[i].1.version < settling.summary.version => changes[i].1 = settling.summary.clone(),
                Some(_) => {}
                None => {
                    change_of.insert(order, changes.len());
                    changes.push((settling.company.clone(), settling.summary.clone()));
                }
            }
        }
        let written = self.write_all(&changes).await;
        let outcomes: Vec<Result<(), StoreError>> = batch
            .iter()
            .map(|settling| written[change_of[&(settling.company.as_str(), settling.summary.id.as_str())]].clone())
            .collect();
        for (Settling { company, marker, reply, .. }, outcome) in batch.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => close(closing, marker),
                Err(error) => tracing::warn!(
                    %company, markers = ?marker.keys, %error,
                    "a projection write failed; the repair will finish it"
                ),
            }
            let _ = reply.send(());
        }
    }

    /// Brings each order of `changes` (one change per order) to its
    /// summary: the summaries read in one store call, the new entries
    /// written in one, the summaries swapped in one, the superseded
    /// entries deleted in one. An order another writer got to first is
    /// written again on its own.
    async fn write_all(&self, changes: &[(String, OrderSummary)]) -> Vec<Result<(), StoreError>> {
        match self.try_write_all(changes).await {
            Ok(written) => written,
            Err(error) => {
                tracing::warn!(%error, orders = changes.len(), "a batch of projection writes failed; writing them one by one");
                let mut written = Vec::with_capacity(changes.len());
                for (company, summary) in changes {
                    written.push(self.write(company, summary, true).await);
                }
                written
            }
        }
    }

    async fn try_write_all(
        &self,
        changes: &[(String, OrderSummary)],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let summary_keys: Vec<String> = changes.iter().map(|(company, s)| keys::summary_key(company, &s.id)).collect();
        // An order's first version has no summary object: read past it.
        let past_first: Vec<usize> = (0..changes.len()).filter(|&i| changes[i].1.version > 1).collect();
        let read = self.get_all(past_first.iter().map(|&i| summary_keys[i].clone()).collect()).await?;
        let mut current: Vec<Option<Object>> = vec![None; changes.len()];
        for (i, object) in past_first.into_iter().zip(read) {
            current[i] = object;
        }
        let stored: Vec<Option<StoredSummary>> =
            current.iter().map(|object| object.as_ref().and_then(|o| serde_json::from_slice(&o.body).ok())).collect();
        // What writers that crashed left.
        let left: Vec<String> = stored.iter().flatten().flat_map(|s| s.superseded.iter().cloned()).collect();
        if !left.is_empty() {
            self.store.delete_all(&left).await?;
        }

        let mut written: Vec<Result<(), StoreError>> = vec![Ok(()); changes.len()];
        let (mut new_objects, mut first_versions, mut swaps, mut swapping) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (company, summary)) in changes.iter().enumerate() {
            let before = stored[i].as_ref().map(|s| &s.summary);
            if before.is_some_and(|before| before.version >= summary.version) {
                continue; // a later version is there: summaries never go back
            }
            if current[i].is_some() && before.is_none() {
                // Unreadable (a power loss cut its write short): which entries
                // it held is unknown; the marker stays for the repair, which
                // reads them from the log.
                written[i] = Err(StoreError::Corrupt {
                    key: summary_keys[i].clone(),
                    reason: "the stored summary is unreadable".to_string(),
                });
                continue;
            }
            let wanted = entries(company, summary);
            let held = held_entries(company, summary, current[i].as_ref(), before);
            new_objects.extend(wanted.difference(&held).cloned());
            new_objects.extend(hour_markers(company, summary, before));
            if summary.version == 1 {
                first_versions.push(i);
                continue;
            }
            let superseded: Vec<String> = held.difference(&wanted).cloned().collect();
            let body =
                match serde_json::to_vec(&StoredSummary { summary: summary.clone(), superseded: superseded.clone() }) {
                    Ok(body) => body,
                    Err(e) => {
                        written[i] = Err(StoreError::Corrupt { key: summary_keys[i].clone(), reason: e.to_string() });
                        continue;
                    }
                };
            swaps.push(Swap {
                key: summary_keys[i].clone(),
                expected: current[i].as_ref().map(|o| o.etag.clone()),
                body: Bytes::from(body),
            });
            swapping.push((i, superseded));
        }
        if !new_objects.is_empty() {
            self.store.put_empty(&new_objects).await?;
        }
        // A first version's entries are its whole derived state; a later
        // version another writer stored meanwhile takes them back.
        let meanwhile = self.get_all(first_versions.iter().map(|&i| summary_keys[i].clone()).collect()).await?;
        let mut taken_back = Vec::new();
        for (i, object) in first_versions.into_iter().zip(meanwhile) {
            let (company, summary) = &changes[i];
            if let Some(later) = object.and_then(|o| serde_json::from_slice::<StoredSummary>(&o.body).ok()) {
                taken_back.extend(entries(company, summary).difference(&entries(company, &later.summary)).cloned());
            }
        }
        let outcomes = if swaps.is_empty() { Vec::new() } else { self.store.compare_and_swap_all(&swaps).await? };
        let mut deleted = taken_back;
        for ((i, superseded), outcome) in swapping.into_iter().zip(outcomes) {
            match outcome {
                CasOutcome::Swapped { .. } => deleted.extend(superseded),
                CasOutcome::Conflict => written[i] = self.write(&changes[i].0, &changes[i].1, true).await,
            }
        }
        if !deleted.is_empty() {
            self.store.delete_all(&deleted).await?;
        }
        Ok(written)
    }

    /// [`ObjectStore::get_all`], without a call for no keys.
    async fn get_all(&self, keys: Vec<String>) -> Result<Vec<Option<Object>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.store.get_all(&keys).await
    }

    /// Brings order `summary.id`'s derived state to `summary`, unless a
    /// later version is there already. `added`: this change's entries may
    /// be in place already (a batch put them), to be taken back if a
    /// later version turns out to be there.
    async fn write(&self, company: &str, summary: &OrderSummary, mut added: bool) -> Result<(), StoreError> {
        let key = keys::summary_key(company, &summary.id);
        let wanted = entries(company, summary);
        if summary.version == 1 {
            return self.write_first(company, summary, &key, wanted).await;
        }
        for _ in 0..SWAP_ATTEMPTS {
            let current = self.store.get(&key).await?;
            let stored = current.as_ref().and_then(|o| serde_json::from_slice::<StoredSummary>(&o.body).ok());
            // What a writer that crashed may have left.
            if let Some(stored) = &stored {
                self.store.delete_all(&stored.superseded).await?;
            }
            let before = stored.as_ref().map(|s| &s.summary);
            let held = held_entries(company, summary, current.as_ref(), before);
            let missing: Vec<String> = wanted.difference(&held).cloned().collect();
            if before.is_some_and(|before| before.version >= summary.version) {
                // A later version is there: take back what an earlier
                // attempt of this write added.
                if added {
                    self.store.delete_all(&missing).await?;
                }
                return Ok(());
            }
            let mut new_objects = missing;
            new_objects.extend(hour_markers(company, summary, before));
            self.store.put_empty(&new_objects).await?;
            added = true;
            let superseded: Vec<String> = held.difference(&wanted).cloned().collect();
            let body = serde_json::to_vec(&StoredSummary { summary: summary.clone(), superseded: superseded.clone() })
                .map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
            let etag = current.map(|o| o.etag);
            match self.store.compare_and_swap(&key, etag.as_deref(), Bytes::from(body)).await? {
                CasOutcome::Swapped { .. } => {
                    self.store.delete_all(&superseded).await?;
                    return Ok(());
                }
                CasOutcome::Conflict => continue,
            }
        }
        Err(StoreError::Unavailable(format!("the summary at `{key}` kept changing under {SWAP_ATTEMPTS} writes")))
    }

    /// An order's first version: its entries and hour marker, and no
    /// summary object (readers derive it from the one event). A later
    /// version stored meanwhile by another writer takes them back.
    async fn write_first(
        &self,
        company: &str,
        summary: &OrderSummary,
        key: &str,
        wanted: BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let mut new_objects: Vec<String> = wanted.iter().cloned().collect();
        new_objects.extend(hour_markers(company, summary, None));
        self.store.put_empty(&new_objects).await?;
        let meanwhile = self.store.get(key).await?;
        if let Some(later) = meanwhile.and_then(|o| serde_json::from_slice::<StoredSummary>(&o.body).ok()) {
            let taken_back: Vec<String> = wanted.difference(&entries(company, &later.summary)).cloned().collect();
            self.store.delete_all(&taken_back).await?;
        }
        Ok(())
    }
}

/// The entries an order's derived state holds before `summary` is
/// written: those of the stored summary; with no summary object, those of
/// its first version (which has none); with an unreadable one, none known.
fn held_entries(
    company: &str,
    summary: &OrderSummary,
    current: Option<&Object>,
    before: Option<&OrderSummary>,
) -> BTreeSet<String> {
    match (current, before) {
        (_, Some(before)) => entries(company, before),
        (None, None) if summary.version > 1 => entries(company, &first_version(summary)),
        _ => BTreeSet::new(),
    }
}

/// The summary of an order's first version (its `OrderReceived` alone),
/// from the summary of any later one.
pub(super) fn first_version(summary: &OrderSummary) -> OrderSummary {
    OrderSummary::received(&summary.id, &summary.source, &summary.external_id, summary.received_at)
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
        assert!(crate::projections::is_cursor(&new), "an entry's name is a page's cursor");
        assert!(!crate::projections::is_cursor("9.x") && !crate::projections::is_cursor(&format!("{new}/x")));
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
