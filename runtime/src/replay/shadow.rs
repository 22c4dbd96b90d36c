//! Shadow (docs/DESIGN.md §10): a stored version that receives a copy of
//! each live invocation of its plugin after the live one has answered, the
//! live invocation's recorded answers served to it (the partner is never
//! called twice), its outcome compared with the live one's and counted —
//! never ingested.
//!
//! Which version shadows a plugin is `{company}/plugins/{plugin}/shadow.json`,
//! so every node runs the same shadow; a node looks again at most every
//! [`RECHECK`]. A shadow run never holds up a live one: it runs in a task
//! of its own, at most [`RUNS_AT_ONCE`] of a tenant's at a time on a node (a
//! hostile tenant's looping shadow holds up only its own copies), in a share of
//! the engine kept apart from the tenant's live share (`WhenBusy::Beside`),
//! and a copy that finds no room is skipped and counted as such. The counts are this
//! node's since the shadow was set here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::fixture::Fixture;
use super::replays::{Counts, Verdict, judge};
use super::run::invoke;
use crate::engine::{CallOptions, LoadedPlugin, WhenBusy};
use crate::events::keys;
use crate::plugins::registry::{InstallError, PluginKey, Registry};
use crate::store::{ObjectStore, StoreError};
use crate::tasks::Tasks;

/// How long a node trusts what it last read of a plugin's `shadow.json`.
pub const RECHECK: Duration = Duration::from_secs(5);

/// One tenant's shadow runs at once on a node.
pub const RUNS_AT_ONCE: usize = 2;

/// Each tenant's shadow runs in progress on this node: a tenant whose
/// shadow version loops until its time-out skips its own copies, never
/// another tenant's.
#[derive(Debug, Default)]
struct RunSlots(Mutex<HashMap<String, Arc<Semaphore>>>);

impl RunSlots {
    fn of(&self, company: &str) -> Arc<Semaphore> {
        let mut tenants = self.0.lock().unwrap_or_else(|p| p.into_inner());
        tenants.entry(company.to_string()).or_insert_with(|| Arc::new(Semaphore::new(RUNS_AT_ONCE))).clone()
    }

    /// Whether `company` has a run free now.
    fn free(&self, company: &str) -> bool {
        self.of(company).available_permits() > 0
    }

    /// One of `company`'s runs, if one is free.
    fn take(&self, company: &str) -> Option<OwnedSemaphorePermit> {
        self.of(company).try_acquire_owned().ok()
    }
}

/// `shadow.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowRecord {
    pub version: String,
    pub since: DateTime<Utc>,
    pub set_by: String,
}

/// A shadow's counts on this node.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowCounts {
    #[serde(flatten)]
    pub counts: Counts,
    /// Copies not run: no room on the node or in the tenant's share.
    pub skipped: u64,
    /// The last copy that came out different or failed: its differences or error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_mismatch: Option<serde_json::Value>,
}

/// What a plugin's shadow is, as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowStatus {
    pub version: String,
    pub since: DateTime<Utc>,
    pub set_by: String,
    pub counts: ShadowCounts,
}

/// A plugin's shadow as this node runs it.
struct Shadow {
    record: ShadowRecord,
    plugin: LoadedPlugin,
    counts: Mutex<ShadowCounts>,
}

/// What this node knows of one plugin's shadow.
struct Known {
    shadow: Option<Arc<Shadow>>,
    checked: Instant,
    checking: bool,
}

/// The shadows of every plugin on this node.
pub struct Shadows {
    store: Arc<dyn ObjectStore>,
    registry: Arc<Registry>,
    tasks: Tasks,
    known: Mutex<HashMap<PluginKey, Known>>,
    running: RunSlots,
}

impl std::fmt::Debug for Shadows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shadows").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    #[error(transparent)]
    Version(#[from] InstallError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Shadows {
    pub fn new(store: Arc<dyn ObjectStore>, registry: Arc<Registry>, tasks: Tasks) -> Arc<Self> {
        Arc::new(Self { store, registry, tasks, known: Mutex::default(), running: RunSlots::default() })
    }

    /// Makes `version` the shadow of `plugin` (loaded first: a version
    /// that does not load is refused), its counts from zero.
    pub async fn set(
        &self,
        company: &str,
        plugin: &str,
        version: &str,
        actor: &str,
    ) -> Result<ShadowStatus, ShadowError> {
        let loaded = self.registry.load_stored(company, plugin, version).await?;
        let record = ShadowRecord { version: version.to_string(), since: Utc::now(), set_by: actor.to_string() };
        let key = keys::shadow_key(company, plugin);
        let body =
            serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        self.store.put(&key, Bytes::from(body)).await?;
        let shadow = Arc::new(Shadow { record, plugin: loaded, counts: Mutex::default() });
        self.remember(company, plugin, Some(shadow.clone()));
        Ok(status(&shadow))
    }

    /// Stops `plugin`'s shadow; whether there was one.
    pub async fn clear(&self, company: &str, plugin: &str) -> Result<bool, StoreError> {
        let key = keys::shadow_key(company, plugin);
        let existed = self.store.get(&key).await?.is_some();
        self.store.delete(&key).await?;
        self.remember(company, plugin, None);
        Ok(existed)
    }

    /// `plugin`'s shadow and its counts on this node, read again from the
    /// store when not known here.
    pub async fn status(&self, company: &str, plugin: &str) -> Result<Option<ShadowStatus>, StoreError> {
        let key = PluginKey { company: company.to_string(), plugin: plugin.to_string() };
        let known = self.lock().get(&key).map(|known| known.shadow.clone());
        let shadow = match known {
            Some(shadow) => shadow,
            None => self.read(company, plugin).await?,
        };
        Ok(shadow.as_deref().map(status))
    }

    /// Whether a live call of `plugin` is to be copied to its shadow (as
    /// last read here): it has one and a shadow run is free now; a copy
    /// there is no room for is counted as skipped. Never waits: a stale
    /// entry is read again in the background.
    pub fn wants_copy(self: &Arc<Self>, company: &str, plugin: &str) -> bool {
        let Some(shadow) = self.current(company, plugin) else { return false };
        if !self.running.free(company) {
            shadow.counts.lock().unwrap_or_else(|p| p.into_inner()).skipped += 1;
            return false;
        }
        true
    }

    /// Runs the shadow of `plugin`, if it has one, on a copy of a live
    /// invocation (`live`: its input, answers and outcome), in the background.
    pub fn offer(self: &Arc<Self>, company: &str, plugin: &str, live: Fixture) {
        let Some(shadow) = self.current(company, plugin) else { return };
        let Some(permit) = self.running.take(company) else {
            shadow.counts.lock().unwrap_or_else(|p| p.into_inner()).skipped += 1;
            return;
        };
        let company = company.to_string();
        self.tasks.spawn("shadow run", async move {
            let _permit = permit;
            let options = CallOptions { when_busy: WhenBusy::Beside, ..CallOptions::default() };
            let replayed = match invoke(&shadow.plugin, &live, &company, options).await {
                Ok(replayed) => replayed,
                Err(missing) => serde_json::json!({ "error": { "kind": "runtime", "message": missing.to_string() } }),
            };
            let mut counts = shadow.counts.lock().unwrap_or_else(|p| p.into_inner());
            if replayed["error"]["kind"] == "busy" {
                counts.skipped += 1;
                return;
            }
            let (verdict, differences) = judge(&live.expect, &replayed);
            counts.counts.add(verdict);
            match verdict {
                Verdict::Equal => {}
                Verdict::Different => counts.last_mismatch = serde_json::to_value(differences).ok(),
                Verdict::Failed => counts.last_mismatch = Some(replayed["error"].clone()),
            }
        });
    }

    fn current(self: &Arc<Self>, company: &str, plugin: &str) -> Option<Arc<Shadow>> {
        let key = PluginKey { company: company.to_string(), plugin: plugin.to_string() };
        let mut known = self.lock();
        let entry = known.entry(key).or_insert_with(|| Known {
            shadow: None,
            checked: Instant::now().checked_sub(RECHECK * 2).unwrap_or_else(Instant::now),
            checking: false,
        });
        if entry.checked.elapsed() >= RECHECK && !entry.checking {
            entry.checking = true;
            let (this, company, plugin) = (self.clone(), company.to_string(), plugin.to_string());
            self.tasks.spawn("shadow check", async move {
                match this.read(&company, &plugin).await {
                    Ok(shadow) => this.remember(&company, &plugin, shadow),
                    Err(error) => {
                        tracing::warn!(%company, %plugin, %error, "could not read the plugin's shadow");
                        let key = PluginKey { company, plugin };
                        if let Some(entry) = this.lock().get_mut(&key) {
                            entry.checking = false;
                            entry.checked = Instant::now();
                        }
                    }
                }
            });
        }
        entry.shadow.clone()
    }

    /// Reads `shadow.json` and loads its version, keeping the shadow
    /// already running here when it is the same version (and its counts).
    async fn read(&self, company: &str, plugin: &str) -> Result<Option<Arc<Shadow>>, StoreError> {
        let key = keys::shadow_key(company, plugin);
        let Some(object) = self.store.get(&key).await? else { return Ok(None) };
        let record: ShadowRecord =
            serde_json::from_slice(&object.body).map_err(|e| StoreError::Corrupt { key, reason: e.to_string() })?;
        let id = PluginKey { company: company.to_string(), plugin: plugin.to_string() };
        let running = self.lock().get(&id).and_then(|known| known.shadow.clone());
        if let Some(running) = running.filter(|s| s.record.version == record.version && s.record.since == record.since)
        {
            return Ok(Some(running));
        }
        match self.registry.load_stored(company, plugin, &record.version).await {
            Ok(plugin) => Ok(Some(Arc::new(Shadow { record, plugin, counts: Mutex::default() }))),
            Err(error) => {
                tracing::warn!(%company, %plugin, version = %record.version, %error, "the shadow version does not load; no shadow runs");
                Ok(None)
            }
        }
    }

    fn remember(&self, company: &str, plugin: &str, shadow: Option<Arc<Shadow>>) {
        let key = PluginKey { company: company.to_string(), plugin: plugin.to_string() };
        self.lock().insert(key, Known { shadow, checked: Instant::now(), checking: false });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PluginKey, Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn status(shadow: &Shadow) -> ShadowStatus {
    ShadowStatus {
        version: shadow.record.version.clone(),
        since: shadow.record.since,
        set_by: shadow.record.set_by.clone(),
        counts: shadow.counts.lock().unwrap_or_else(|p| p.into_inner()).clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_whose_shadow_runs_are_all_taken_holds_up_no_other_tenant() {
        let slots = RunSlots::default();
        let held: Vec<_> = (0..RUNS_AT_ONCE).map(|_| slots.take("acme").expect("a free run")).collect();
        assert!(!slots.free("acme") && slots.take("acme").is_none(), "acme's runs are all taken");
        assert!(slots.free("globex") && slots.take("globex").is_some(), "globex has its own");
        drop(held);
        assert!(slots.free("acme"), "acme's runs are freed with their permits");
    }
}
