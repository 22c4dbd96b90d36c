//! The event log: immutable events per aggregate, stored one object each
//! under the key schema of [`keys`].
//!
//! Appending is a create-once write of the next version: a conflict means
//! someone else appended first, so the caller reloads and decides again.
//! The key carries the event type (DESIGN §4), so two writers appending
//! *different* types at one version would not collide on the key; Portitor
//! rules that out by having a single writer per aggregate at a time — the
//! ingest writes only version 1, and the pipeline works an order's steps
//! one at a time — and [`EventLog::read`] reports a version held twice as
//! corruption rather than guessing.

pub mod keys;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{CreateOutcome, ObjectStore, StoreError};

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// `api`, `plugin`, `operator` or `system`.
    pub kind: String,
    /// The token subject, plugin id or component name.
    pub id: String,
    /// The plugin version that handled it, for plugin actors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_version: Option<String>,
    /// The request, run or invocation it happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation: Option<String>,
}

impl Actor {
    pub fn system(component: &str) -> Self {
        Self { kind: "system".into(), id: component.into(), plugin_version: None, invocation: None }
    }
}

/// An event as stored. Its data is a JSON tree when read back; a writer
/// may append any serializable data (ingest appends the order as the JSON
/// text it arrived as).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent<D = Value> {
    pub id: uuid::Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub version: u64,
    pub company: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub data: D,
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<D = Value> {
    pub event_type: String,
    pub actor: Actor,
    pub data: D,
}

/// The result of an append.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended<D = Value> {
    /// Stored at this key.
    Stored { key: String, event: Box<StoredEvent<D>> },
    /// The version was taken by someone else: reload and decide again.
    VersionTaken,
}

#[derive(Debug, Clone)]
pub struct EventLog {
    store: Arc<dyn ObjectStore>,
}

impl EventLog {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Appends `event` as `version` of the aggregate. Durable on return.
    pub async fn append<D: Serialize>(
        &self,
        company: &str,
        aggregate_type: &str,
        aggregate_id: &str,
        version: u64,
        event: NewEvent<D>,
    ) -> Result<Appended<D>, StoreError> {
        let key = keys::event_key(company, aggregate_type, aggregate_id, version, &event.event_type);
        let stored = StoredEvent {
            id: uuid::Uuid::new_v4(),
            event_type: event.event_type,
            aggregate_type: aggregate_type.to_string(),
            aggregate_id: aggregate_id.to_string(),
            version,
            company: company.to_string(),
            occurred_at: Utc::now(),
            actor: event.actor,
            data: event.data,
        };
        let body =
            serde_json::to_vec(&stored).map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        match self.store.create_once(&key, Bytes::from(body)).await? {
            CreateOutcome::Created { .. } => Ok(Appended::Stored { key, event: Box::new(stored) }),
            CreateOutcome::Exists => Ok(Appended::VersionTaken),
        }
    }

    /// Every event of an aggregate, in version order.
    pub async fn read(
        &self,
        company: &str,
        aggregate_type: &str,
        aggregate_id: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let prefix = keys::aggregate_prefix(company, aggregate_type, aggregate_id);
        let listed = self.store.list(&prefix).await?;
        let mut events = Vec::with_capacity(listed.len());
        let mut last_version = 0;
        for meta in listed {
            let Some((version, _)) = keys::parse_event_key(&prefix, &meta.key) else {
                continue;
            };
            if version == last_version {
                return Err(StoreError::Corrupt { key: meta.key, reason: format!("version {version} is held twice") });
            }
            last_version = version;
            events.push(self.read_key(&meta.key).await?);
        }
        Ok(events)
    }

    /// The event stored at `key`.
    pub async fn read_key(&self, key: &str) -> Result<StoredEvent, StoreError> {
        let object = self
            .store
            .get(key)
            .await?
            .ok_or_else(|| StoreError::Corrupt { key: key.to_string(), reason: "listed but missing".into() })?;
        serde_json::from_slice(&object.body)
            .map_err(|e| StoreError::Corrupt { key: key.to_string(), reason: e.to_string() })
    }
}
