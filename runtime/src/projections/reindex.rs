//! The projections rebuilt from the event log: `portitor reindex` (offline:
//! every tenant's derived state deleted and written again), and the same
//! summaries in memory, which tests compare the stored projections with.

use futures::{Stream, StreamExt, TryStreamExt};

use super::{OrderSummary, Projections, readable};
use crate::events::{EventLog, StoredEvent, keys};
use crate::orders;
use crate::store::StoreError;

/// Orders read at once.
const CONCURRENCY: usize = 32;

/// What a reindex did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reindexed {
    pub companies: usize,
    pub orders: usize,
    /// Derived objects deleted before writing again.
    pub deleted: usize,
}

/// Deletes every tenant's derived state and derives it again from the log.
/// Run with no server on the store: a change made meanwhile could be lost
/// from the lists (until that order changes again).
pub async fn reindex(projections: &Projections) -> Result<Reindexed, StoreError> {
    let mut done = Reindexed::default();
    for company in projections.companies().await? {
        let derived = keys::derived_prefix(&company);
        for object in projections.derived.list(&derived).await? {
            projections.derived.delete(&object.key).await?;
            done.deleted += 1;
        }
        let company = &company;
        done.orders += orders_of(&projections.log, company)
            .await?
            .map(|events| async move { derive_order(projections, company, &events.await?).await })
            .buffer_unordered(CONCURRENCY)
            .try_fold(0, |count, ()| async move { Ok(count + 1) })
            .await?;
        done.companies += 1;
    }
    flush(projections).await?;
    Ok(done)
}

/// Writes one order's derived state from its `events`, as [`reindex`]
/// does for each order: for tools that write a history straight into a
/// store with no server on it (the `history` example). Durable after
/// [`flush`].
pub async fn derive_order(projections: &Projections, company: &str, events: &[StoredEvent]) -> Result<(), StoreError> {
    match readable(company, events) {
        Some(summary) => projections.write(company, &summary).await,
        None => Ok(()),
    }
}

/// Makes the derived writes made so far durable.
pub async fn flush(projections: &Projections) -> Result<(), StoreError> {
    projections.derived.flush().await
}

/// Every order summary of `company`, derived from the log (unordered).
pub async fn summaries_from_log(log: &EventLog, company: &str) -> Result<Vec<OrderSummary>, StoreError> {
    orders_of(log, company)
        .await?
        .buffer_unordered(CONCURRENCY)
        .try_filter_map(|events| async move { Ok(readable(company, &events)) })
        .try_collect()
        .await
}

/// The events of every order of `company`, one future per order, from one
/// listing of the log.
async fn orders_of<'a>(
    log: &'a EventLog,
    company: &'a str,
) -> Result<impl Stream<Item = impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + 'a> + 'a, StoreError> {
    let prefix = keys::aggregate_type_prefix(company, orders::AGGREGATE);
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for meta in log.store().list(&prefix).await? {
        let Some((id, _)) = meta.key[prefix.len()..].split_once('/') else { continue };
        match grouped.last_mut() {
            Some((current, keys)) if current == id => keys.push(meta.key),
            _ => grouped.push((id.to_string(), vec![meta.key])),
        }
    }
    Ok(futures::stream::iter(grouped).map(move |(id, keys)| async move {
        let mut events = Vec::with_capacity(keys.len());
        for key in &keys {
            match log.read_key(key).await {
                Ok(event) => events.push(event),
                // Gone since the listing (a writer on another node gave
                // way): read the order again, as reads do.
                Err(_) => return log.read(company, orders::AGGREGATE, &id).await,
            }
        }
        if events.windows(2).any(|pair| pair[0].version == pair[1].version) {
            return log.read(company, orders::AGGREGATE, &id).await;
        }
        Ok(events)
    }))
}
