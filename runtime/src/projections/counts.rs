//! How many entries a list has, for the pages that start after a name and
//! the hourly chart's past hours (docs/decisions/0040-cursor-pages.md).
//!
//! Counting a list means listing all of it — on S3 a call per thousand
//! names — so a node counts each list at most once per [`MAX_AGE`] (or ten
//! times as long as its last count took, if that is longer: recounting
//! keeps the store at most a tenth busy with a list however long it grows)
//! and answers from that count meanwhile: an older count is answered once
//! more while a recount runs in the background (one per list at a time). The lists themselves are always read live; only their totals
//! may be up to a few seconds old, and every node's recount reads the
//! same durable lists, so nodes agree once their counts are fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::store::{ObjectStore, StoreError};

/// How old a count may be before the next page recounts its list.
pub(super) const MAX_AGE: Duration = Duration::from_secs(5);
/// Long lists whose counts a node remembers at most (tenants × lists, and
/// the source lists a caller names; about 150 bytes each): past it, counts
/// older than [`MAX_AGE`] are forgotten, and a list still not remembered
/// is counted every time.
pub(super) const LISTS_REMEMBERED: usize = 4096;
/// The same for the hourly chart's past hours (two lists per hour, up to
/// 336 hours per chart), kept apart so that charts never crowd out lists.
pub(super) const HOURS_REMEMBERED: usize = 16_384;
/// Recounts running behind answers at once, per set of counts: a chart of
/// 336 old hours must not start 670 listings together.
const RECOUNTS_AT_ONCE: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Count {
    entries: usize,
    at: Instant,
    /// How long counting took.
    took: Duration,
    recounting: bool,
}

impl Count {
    fn is_old(&self) -> bool {
        self.at.elapsed() >= MAX_AGE.max(self.took * 10)
    }
}

#[derive(Debug)]
pub(super) struct Counts {
    store: Arc<dyn ObjectStore>,
    counted: Mutex<HashMap<String, Count>>,
    /// How many lists' counts are kept at most.
    remembered: usize,
    recounts: Arc<Semaphore>,
}

impl Counts {
    pub(super) fn new(store: Arc<dyn ObjectStore>, remembered: usize) -> Arc<Self> {
        let recounts = Arc::new(Semaphore::new(RECOUNTS_AT_ONCE));
        Arc::new(Self { store, counted: Mutex::default(), remembered, recounts })
    }

    /// The entries below `prefix`: counted now if this node has no count
    /// of it, else its last count (recounted in the background once older
    /// than [`MAX_AGE`]).
    pub(super) async fn of(self: &Arc<Self>, prefix: &str) -> Result<usize, StoreError> {
        let known = {
            let mut counted = self.lock();
            counted.get_mut(prefix).map(|count| {
                let stale = count.is_old() && !count.recounting;
                count.recounting |= stale;
                (count.entries, stale)
            })
        };
        match known {
            Some((entries, stale)) => {
                if stale {
                    self.recount_later(prefix.to_string());
                }
                Ok(entries)
            }
            None => self.recount(prefix).await,
        }
    }

    fn recount_later(self: &Arc<Self>, prefix: String) {
        let counts = self.clone();
        let recount = async move {
            // Never closed: a permit always comes.
            let _turn = counts.recounts.clone().acquire_owned().await;
            if let Err(error) = counts.recount(&prefix).await {
                tracing::warn!(%error, prefix, "recounting a list failed; its last count stands");
                counts.lock().entry(prefix).and_modify(|count| count.recounting = false);
            }
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(recount));
        }
    }

    async fn recount(&self, prefix: &str) -> Result<usize, StoreError> {
        let started = Instant::now();
        let entries = self.store.count_children(prefix).await?;
        let count = Count { entries, at: Instant::now(), took: started.elapsed(), recounting: false };
        let mut counted = self.lock();
        if counted.len() >= self.remembered && !counted.contains_key(prefix) {
            counted.retain(|_, count| !count.is_old());
        }
        if counted.len() < self.remembered || counted.contains_key(prefix) {
            counted.insert(prefix.to_string(), count);
        }
        Ok(entries)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Count>> {
        self.counted.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::FsStore;
    use bytes::Bytes;

    #[tokio::test]
    async fn a_count_is_answered_from_memory_until_it_is_old_then_recounted_behind_the_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let counts = Counts::new(store.clone(), LISTS_REMEMBERED);
        store.put("acme/list/a", Bytes::new()).await.expect("put");
        assert_eq!(counts.of("acme/list/").await.expect("count"), 1, "counted at first");
        store.put("acme/list/b", Bytes::new()).await.expect("put");
        assert_eq!(counts.of("acme/list/").await.expect("count"), 1, "fresh: from memory");

        let remembered = counts.lock().get("acme/list/").copied().expect("remembered");
        assert!(!remembered.is_old());
        counts.lock().get_mut("acme/list/").expect("remembered").at -= MAX_AGE.max(remembered.took * 10);
        assert_eq!(counts.of("acme/list/").await.expect("count"), 1, "old: answered, recounted behind");
        let deadline = Instant::now() + Duration::from_secs(10);
        while counts.of("acme/list/").await.expect("count") != 2 {
            assert!(Instant::now() < deadline, "the recount never landed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!counts.lock()["acme/list/"].recounting);
    }

    #[tokio::test]
    async fn a_node_remembers_a_bounded_number_of_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let counts = Counts::new(store, LISTS_REMEMBERED);
        for n in 0..LISTS_REMEMBERED + 10 {
            counts.of(&format!("acme/derived/lists/source-s{n}/")).await.expect("count");
        }
        assert_eq!(counts.lock().len(), LISTS_REMEMBERED);
        // Once they are old, a new list takes their place.
        for count in counts.lock().values_mut() {
            count.at -= MAX_AGE.max(count.took * 10);
        }
        counts.of("acme/derived/lists/failed/").await.expect("count");
        assert_eq!(counts.lock().len(), 1);
    }
}
