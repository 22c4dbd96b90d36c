//! The audit trail: every admin action is an event in the tenant's log —
//! who, what, when — one aggregate per tenant and day
//! (`{company}/events/audit/{YYYY-MM-DD}/…`), readable through the API.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::events::{Actor, Appended, EventLog, NewEvent, StoredEvent, keys};
use crate::store::StoreError;

pub const AGGREGATE: &str = "audit";

#[derive(Debug, Clone)]
pub struct Audit {
    log: EventLog,
    /// One writer at a time picks the next version of a day.
    writer: Arc<Mutex<()>>,
}

impl Audit {
    pub fn new(log: EventLog) -> Self {
        Self { log, writer: Arc::default() }
    }

    /// Records that `who` did `action` (an event type, e.g. `PluginActivated`).
    pub async fn record(&self, company: &str, who: &str, action: &str, details: Value) -> Result<(), StoreError> {
        let day = Utc::now().format("%Y-%m-%d").to_string();
        let _one_writer = self.writer.lock().await;
        for _ in 0..5 {
            let next = self.last_version(company, &day).await? + 1;
            let event = NewEvent {
                event_type: action.to_string(),
                actor: Actor { kind: "admin".into(), id: who.to_string(), plugin_version: None, invocation: None },
                data: details.clone(),
            };
            if let Appended::Stored { .. } = self.log.append(company, AGGREGATE, &day, next, event).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable("the audit log is being written by another node; retry".into()))
    }

    async fn last_version(&self, company: &str, day: &str) -> Result<u64, StoreError> {
        let prefix = keys::aggregate_prefix(company, AGGREGATE, day);
        let listed = self.log.store().list(&prefix).await?;
        Ok(listed.iter().filter_map(|m| keys::parse_event_key(&prefix, &m.key)).map(|(v, _)| v).max().unwrap_or(0))
    }

    /// A day's admin actions, in order.
    pub async fn day(&self, company: &str, day: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.log.read(company, AGGREGATE, day).await
    }
}
