//! The audit trail: every admin action is an event in the tenant's log —
//! who, what, when — one aggregate per tenant and day
//! (`{company}/events/audit/{YYYY-MM-DD}/…`), readable through the API.

use std::collections::HashMap;
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
    last: Arc<Mutex<LastVersions>>,
}

/// The last version this process wrote of each tenant's audit aggregate
/// today, so that recording an action does not list the whole day first:
/// it checks only that the next version is free. An event key carries its
/// type, so a create-once of another type at a taken version would succeed;
/// the check is what finds another node's action there, and the day is
/// then listed again.
#[derive(Debug, Default)]
struct LastVersions {
    day: String,
    by_company: HashMap<String, u64>,
}

impl Audit {
    pub fn new(log: EventLog) -> Self {
        Self { log, last: Arc::default() }
    }

    /// Records that `who` did `action` (an event type, e.g. `PluginActivated`).
    pub async fn record(&self, company: &str, who: &str, action: &str, details: Value) -> Result<(), StoreError> {
        let day = Utc::now().format("%Y-%m-%d").to_string();
        let mut last = self.last.lock().await;
        if last.day != day {
            last.day.clone_from(&day);
            last.by_company.clear();
        }
        for _ in 0..5 {
            // The version after the one this process last wrote, if nobody
            // has taken it since; otherwise the day is listed.
            let next = match last.by_company.get(company).copied() {
                Some(version) if !self.taken(company, &day, version + 1).await? => version + 1,
                _ => self.last_version(company, &day).await? + 1,
            };
            let event = NewEvent {
                event_type: action.to_string(),
                actor: Actor { kind: "admin".into(), id: who.to_string(), plugin_version: None, invocation: None },
                data: details.clone(),
            };
            match self.log.append(company, AGGREGATE, &day, next, event).await? {
                Appended::Stored { .. } => {
                    last.by_company.insert(company.to_string(), next);
                    return Ok(());
                }
                Appended::VersionTaken => {
                    last.by_company.remove(company);
                }
            }
        }
        Err(StoreError::Unavailable("the audit log is being written by another node; retry".into()))
    }

    async fn taken(&self, company: &str, day: &str, version: u64) -> Result<bool, StoreError> {
        let prefix = keys::version_prefix(company, AGGREGATE, day, version);
        Ok(!self.log.store().list(&prefix).await?.is_empty())
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::ObjectStore;
    use crate::store::fs::FsStore;

    #[tokio::test]
    async fn actions_are_recorded_in_order_and_another_writer_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let audit = Audit::new(EventLog::new(store.clone()));
        let day = Utc::now().format("%Y-%m-%d").to_string();
        audit.record("acme", "ann", "PluginActivated", json!({"n": 1})).await.expect("first");
        audit.record("acme", "ann", "PluginDisabled", json!({"n": 2})).await.expect("second");
        audit.record("globex", "bob", "SecretSet", json!({"n": 1})).await.expect("another tenant");
        // Another node (its own Audit, same store) writes acme's next version.
        let other = Audit::new(EventLog::new(store));
        other.record("acme", "cid", "PluginDeleted", json!({"n": 3})).await.expect("other node");
        audit.record("acme", "ann", "PluginEnabled", json!({"n": 4})).await.expect("after the other node");

        let acme = audit.day("acme", &day).await.expect("read");
        let seen: Vec<(u64, &str, i64)> =
            acme.iter().map(|e| (e.version, e.event_type.as_str(), e.data["n"].as_i64().expect("n"))).collect();
        assert_eq!(
            seen,
            [(1, "PluginActivated", 1), (2, "PluginDisabled", 2), (3, "PluginDeleted", 3), (4, "PluginEnabled", 4)]
        );
        assert_eq!(audit.day("globex", &day).await.expect("read").len(), 1);
    }
}
