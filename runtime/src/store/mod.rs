//! The object store: Portitor's only durable state (no database).
//!
//! One trait, [`ObjectStore`], with two backends: [`fs::FsStore`] (a
//! directory, the embedded default) and [`s3::S3Store`] (any S3-compatible
//! server). Both give the same operations and guarantees, proven by one
//! conformance suite (`runtime/tests/store_conformance.rs`): a write is
//! durable before it returns, `create_once` has exactly one winner, and
//! `compare_and_swap` only replaces the version the caller read.

pub mod fs;
pub mod s3;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use thiserror::Error;

/// Requests at once for the batch calls ([`ObjectStore::put_empty`],
/// [`ObjectStore::delete_all`], [`ObjectStore::get_all`],
/// [`ObjectStore::compare_and_swap_all`]) on a backend that does them one
/// by one.
const BATCH_CONCURRENCY: usize = 16;

/// An object and its entity tag (the version a compare-and-swap names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub body: Bytes,
    pub etag: String,
}

/// A key found by [`ObjectStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
}

/// The result of [`ObjectStore::create_once`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    Created {
        etag: String,
    },
    /// Another writer created the key first; nothing was written.
    Exists,
}

/// The result of [`ObjectStore::compare_and_swap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasOutcome {
    Swapped {
        etag: String,
    },
    /// The object is not at the expected version; nothing was written.
    Conflict,
}

/// A window of sorted names, from names seen in any order: how many there
/// were, and the `limit` smallest from `offset` on, holding at most
/// `offset + limit` of them ([`ObjectStore::list_children_page`]).
#[derive(Debug)]
pub(crate) struct Window {
    offset: usize,
    keep: usize,
    smallest: std::collections::BinaryHeap<String>,
    total: usize,
}

impl Window {
    pub(crate) fn new(offset: usize, limit: usize) -> Self {
        Self { offset, keep: offset.saturating_add(limit), smallest: Default::default(), total: 0 }
    }

    pub(crate) fn push(&mut self, name: String) {
        self.total += 1;
        if self.smallest.len() < self.keep {
            self.smallest.push(name);
        } else if self.smallest.peek().is_some_and(|largest| name < *largest) {
            self.smallest.pop();
            self.smallest.push(name);
        }
    }

    /// (how many names, the window's names in order).
    pub(crate) fn finish(self) -> (usize, Vec<String>) {
        let mut names = self.smallest.into_sorted_vec();
        let window = names.split_off(self.offset.min(names.len()));
        (self.total, window)
    }
}

/// Checks the name a page starts after ([`ObjectStore::list_children_after`]):
/// one segment, never empty.
pub(crate) fn check_start_after(prefix: &str, after: Option<&str>) -> Result<(), StoreError> {
    match after {
        Some(after) if after.is_empty() || after.contains('/') => {
            Err(StoreError::InvalidKey(format!("{prefix}{after}")))
        }
        _ => Ok(()),
    }
}

/// One compare-and-swap of [`ObjectStore::compare_and_swap_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    pub key: String,
    /// The entity tag the object must have; `None`: there must be none.
    pub expected: Option<String>,
    pub body: Bytes,
}

/// How a backend provides conditional writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionalWrites {
    /// The store enforces them: safe with any number of nodes.
    Native,
    /// The store ignores them; Portitor serializes writers of a key inside
    /// this process, which is correct for one node only.
    EmulatedSingleNode,
}

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// The store cannot be reached or refused to work; retry later (→ 503).
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
    /// The key is not one Portitor builds (a bug, or hostile input).
    #[error("invalid object key `{0}`")]
    InvalidKey(String),
    /// Stored data that Portitor cannot read back.
    #[error("corrupt object at `{key}`: {reason}")]
    Corrupt { key: String, reason: String },
}

/// Durable objects by key. Keys are `/`-separated paths of segments made
/// of letters, digits, `-`, `_` and `.` (never `.` or `..` alone).
#[async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Writes `body` at `key`, replacing what is there. Durable on return.
    async fn put(&self, key: &str, body: Bytes) -> Result<String, StoreError>;

    /// The object at `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError>;

    /// Every key starting with `prefix`, in lexicographic order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// The distinct next segments below `prefix` (which ends in `/`, or is
    /// empty for the top level): `list_children("acme/plugins/")` gives the
    /// plugin ids. Sorted.
    async fn list_children(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// The `limit` names from `offset` on of [`Self::list_children`], and
    /// how many there are in all, holding at most `offset + limit` names
    /// at a time: a list of every order a tenant ever had is paged without
    /// its names in memory.
    async fn list_children_page(
        &self,
        prefix: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<String>), StoreError> {
        let names = self.list_children(prefix).await?;
        Ok((names.len(), names.into_iter().skip(offset).take(limit).collect()))
    }

    /// Up to `limit` of [`Self::list_children`]'s names that sort after
    /// `after` (from the first, with `None`), and whether more follow. A
    /// backend that can start a listing at a name (S3's `start-after`)
    /// reads no further than the page, so a page deep in a long list costs
    /// what the first one does. The list is not counted.
    async fn list_children_after(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, bool), StoreError> {
        let mut names =
            self.list_children(prefix).await?.into_iter().filter(|name| after.is_none_or(|a| name.as_str() > a));
        let page: Vec<String> = names.by_ref().take(limit).collect();
        Ok((page, names.next().is_some()))
    }

    /// How many names [`Self::list_children`] gives, without holding them.
    async fn count_children(&self, prefix: &str) -> Result<usize, StoreError> {
        Ok(self.list_children_page(prefix, 0, 0).await?.0)
    }

    /// Removes `key`; a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Writes `body` at `key` only if no object is there (`If-None-Match: *`).
    async fn create_once(&self, key: &str, body: Bytes) -> Result<CreateOutcome, StoreError>;

    /// Writes `body` at `key` only if the object there has entity tag
    /// `expected` — or, with `None`, only if there is none (`If-Match`).
    async fn compare_and_swap(&self, key: &str, expected: Option<&str>, body: Bytes) -> Result<CasOutcome, StoreError>;

    /// Writes an empty object at each of `keys` (list entries, markers),
    /// as [`Self::put`] of each would; a backend may do them in one go.
    async fn put_empty(&self, keys: &[String]) -> Result<(), StoreError> {
        for chunk in keys.chunks(BATCH_CONCURRENCY) {
            futures::future::try_join_all(chunk.iter().map(|key| self.put(key, Bytes::new()))).await?;
        }
        Ok(())
    }

    /// Removes each of `keys`, as [`Self::delete`] of each would; a
    /// backend may do them in one go.
    async fn delete_all(&self, keys: &[String]) -> Result<(), StoreError> {
        for chunk in keys.chunks(BATCH_CONCURRENCY) {
            futures::future::try_join_all(chunk.iter().map(|key| self.delete(key))).await?;
        }
        Ok(())
    }

    /// The objects at `keys`, in their order, as [`Self::get`] of each
    /// would; a backend may read them in one go.
    async fn get_all(&self, keys: &[String]) -> Result<Vec<Option<Object>>, StoreError> {
        let mut objects = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_CONCURRENCY) {
            objects.extend(futures::future::try_join_all(chunk.iter().map(|key| self.get(key))).await?);
        }
        Ok(objects)
    }

    /// Each of `swaps`, as [`Self::compare_and_swap`] of each would (each
    /// on its own: one's conflict does not stop another); the outcomes in
    /// their order. On an error any of them may have been done.
    async fn compare_and_swap_all(&self, swaps: &[Swap]) -> Result<Vec<CasOutcome>, StoreError> {
        let mut outcomes = Vec::with_capacity(swaps.len());
        for chunk in swaps.chunks(BATCH_CONCURRENCY) {
            let swapping =
                chunk.iter().map(|swap| self.compare_and_swap(&swap.key, swap.expected.as_deref(), swap.body.clone()));
            outcomes.extend(futures::future::try_join_all(swapping).await?);
        }
        Ok(outcomes)
    }

    /// How this store provides conditional writes.
    fn conditional_writes(&self) -> ConditionalWrites;

    /// A short description for logs and `/readyz` (backend and location).
    fn describe(&self) -> String;

    /// This store for derived state, which can be rebuilt from the event
    /// log: its writes are readable when they return but may be durable
    /// only after the next [`Self::flush`]. A store whose every write is
    /// durable anyway gives itself.
    fn relaxed(&self) -> Arc<dyn ObjectStore>;

    /// Makes every write made so far, through any view of this store,
    /// durable.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Checks that `key` is a key Portitor could have built.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let valid = !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if valid { Ok(()) } else { Err(StoreError::InvalidKey(key.chars().take(200).collect())) }
}

/// Checks a list prefix: a key, optionally ending in `/`.
pub fn validate_prefix(prefix: &str) -> Result<(), StoreError> {
    match prefix.strip_suffix('/') {
        Some("") => Err(StoreError::InvalidKey(prefix.to_string())),
        Some(key) => validate_key(key),
        None => validate_key(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_keeps_the_page_of_names_seen_in_any_order() {
        let names: Vec<String> = [7, 3, 9, 1, 5, 8, 2, 6, 4, 0].iter().map(|n| format!("n{n}")).collect();
        for (offset, limit) in [(0, 3), (2, 4), (8, 5), (10, 2), (0, 0), (0, 100)] {
            let mut window = Window::new(offset, limit);
            names.iter().cloned().for_each(|name| window.push(name));
            let expected: Vec<String> = (offset..(offset + limit).min(10)).map(|n| format!("n{n}")).collect();
            assert_eq!(window.finish(), (10, expected), "offset {offset}, limit {limit}");
        }
    }

    #[test]
    fn keys_are_checked() {
        assert!(validate_key("acme/events/orders/0b9f/0000000001/OrderReceived").is_ok());
        assert!(validate_key("acme/cursors/bring-ftp/cursor.json").is_ok());
        for bad in ["", "/acme", "acme/", "acme//x", "acme/../x", "acme/./x", "acme/x y", "acme/ø"] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_prefix("acme/events/").is_ok());
        assert!(validate_prefix("/").is_err());
    }
}
