//! The plugin registry: which version of each tenant's plugin is active,
//! loaded in the engine, and where push plugins are served.
//!
//! Installing stores the component and manifest under the version named by
//! the component's SHA-256 (immutable, create-once), then moves
//! `{company}/plugins/{id}/active.json` with a compare-and-swap, then swaps
//! the loaded plugin in memory: requests in flight keep the version they
//! started with. At start every tenant's active plugins are loaded again
//! from the store; one that fails to load stays unloaded, with its reason
//! ([`Registry::unloaded`]), never stopping the others.
//!
//! Guest code runs only inside an invocation with the plugin's limits, and
//! never under the install lock every tenant shares (docs/DESIGN.md §3): a
//! version's `path()` — or `schedule()` and `cursor-key()` — is asked once,
//! at upload, before the lock is taken, and its answers are kept beside
//! the version (`described.json`), so that loading it again (at start, on
//! another node) runs none. Compiling runs on the blocking pool, a few at a
//! time.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::engine::{CallOptions, Engine, LoadError, LoadedPlugin};
use crate::events::keys;
use crate::plugins::manifest::{Manifest, PluginKind, WebhookAuth};
use crate::security::secrets::SecretVault;
use crate::store::{CasOutcome, ObjectStore, StoreError};

/// Path prefixes that belong to the API, not to push plugins.
const RESERVED: &[&str] =
    &["order", "orders", "plugins", "secrets", "dashboard", "audit", "deadletters", "events", "stats", "config"];

/// A tenant's plugin, as the registry keys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginKey {
    pub company: String,
    pub plugin: String,
}

/// The active version of a plugin, loaded and ready.
#[derive(Debug, Clone)]
pub struct ActivePlugin {
    pub key: PluginKey,
    pub version: String,
    pub plugin: LoadedPlugin,
    pub enabled: bool,
    /// Where a push plugin is served, below `/{company}`.
    pub path: Option<String>,
    /// A pull plugin's cron schedule (the manifest's, else the plugin's).
    pub schedule: Option<String>,
    /// A pull plugin's cursor name.
    pub cursor_name: Option<String>,
    /// Held while a pull run is in progress: never two runs at once, across
    /// versions too (the lock belongs to the plugin, not the version).
    pub run_lock: Arc<tokio::sync::Mutex<()>>,
}

/// `active.json`: which version runs, and whether it is enabled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveRecord {
    pub version: String,
    pub enabled: bool,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

#[derive(Debug, Error)]
pub enum InstallError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("path {path} is already served by plugin `{by}`")]
    PathTaken { path: String, by: String },
    #[error("the plugin was changed concurrently; retry")]
    Conflict,
    #[error("{0}")]
    NotFound(String),
    /// A version stored before its answers were kept: loading it needs
    /// its guest code, which start-up defers until the server listens.
    #[error("the version's path or schedule must be asked of its code first")]
    Undescribed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a version's own code answered at upload, kept beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Described {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor_name: Option<String>,
}

/// Why an active plugin is not served here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotLoaded {
    /// Its code is being asked for its path or schedule, after start.
    Loading,
    /// It could not be loaded: the reason, for its tenant.
    Failed(String),
}

/// A version as uploaded or stored: its bytes, its manifest and, if kept,
/// what its code answered at upload.
struct Stored {
    component: Vec<u8>,
    manifest: Manifest,
    described: Option<Described>,
}

/// Whether loading may run a version's guest code to describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestCalls {
    Allowed,
    /// Start-up: versions that need it are left for [`Registry::load_deferred`].
    Deferred,
}

/// What [`Registry::refresh`] did.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub changed: usize,
    /// Plugins whose active version needs its guest code asked first.
    pub deferred: Vec<PluginKey>,
}

#[derive(Debug)]
pub struct Registry {
    engine: Engine,
    store: Arc<dyn ObjectStore>,
    vault: Arc<SecretVault>,
    active: RwLock<HashMap<PluginKey, Arc<ActivePlugin>>>,
    /// Installs one at a time, so that two cannot claim one path at once.
    /// Never held while guest code runs or a component compiles.
    install_lock: tokio::sync::Mutex<()>,
    run_locks: std::sync::Mutex<HashMap<PluginKey, Arc<tokio::sync::Mutex<()>>>>,
    /// Active versions not loaded here: still loading, or failed (why).
    unloaded: RwLock<HashMap<PluginKey, NotLoaded>>,
    /// Compilations at once (each takes a core).
    compile_slots: Arc<tokio::sync::Semaphore>,
    /// Every plugin id this node has seen stored or installed, deleted ones
    /// too: the order sources that belong to plugins (never given back).
    known: RwLock<HashSet<PluginKey>>,
}

impl Registry {
    pub fn new(engine: Engine, store: Arc<dyn ObjectStore>, vault: Arc<SecretVault>) -> Self {
        Self {
            engine,
            store,
            vault,
            active: RwLock::default(),
            install_lock: tokio::sync::Mutex::new(()),
            run_locks: std::sync::Mutex::default(),
            unloaded: RwLock::default(),
            compile_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            )),
            known: RwLock::default(),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Installs `component` with `manifest` as the active version of `company`'s `plugin`.
    pub async fn install(
        &self,
        company: &str,
        plugin: &str,
        component: &[u8],
        manifest_text: &str,
        actor: &str,
    ) -> Result<Arc<ActivePlugin>, InstallError> {
        self.upload(company, plugin, component, manifest_text, actor, true)
            .await
            .map(|(_, active)| active.unwrap_or_else(|| unreachable!("activated")))
    }

    /// Stores `component` with `manifest` as a version of `company`'s
    /// `plugin` — immutable, named by its SHA-256 — after checking it
    /// loads; with `activate`, also makes it the active version. A refused
    /// upload changes nothing. Returns the version and, if activated, the
    /// active plugin.
    pub async fn upload(
        &self,
        company: &str,
        plugin: &str,
        component: &[u8],
        manifest_text: &str,
        actor: &str,
        activate: bool,
    ) -> Result<(String, Option<Arc<ActivePlugin>>), InstallError> {
        keys::check_segment("plugin id", plugin).map_err(|e| InstallError::Invalid(e.to_string()))?;
        let manifest = Manifest::parse(manifest_text).map_err(|e| InstallError::Invalid(e.to_string()))?;
        let version = hex::encode(Sha256::digest(component));
        self.check_kind(company, plugin, manifest.kind)?;
        // Compiled and asked outside the lock: a slow or looping upload
        // holds up nobody else's.
        let stored = self.read_described(company, plugin, &version).await?;
        let described_now = stored.is_none();
        let stored = Stored { component: component.to_vec(), manifest: manifest.clone(), described: stored };
        let (prepared, _one_at_a_time) = self.prepare_then_lock(company, plugin, stored, true).await?;
        self.store
            .create_once(&keys::plugin_component_key(company, plugin, &version), Bytes::copy_from_slice(component))
            .await?;
        self.store
            .create_once(&keys::plugin_manifest_key(company, plugin, &version), Bytes::from(manifest.to_json()))
            .await?;
        if described_now {
            self.write_described(company, plugin, &prepared).await?;
        }
        if !activate {
            return Ok((version, None));
        }
        let active = self.make_active(prepared, actor).await?;
        Ok((version, Some(active)))
    }

    /// Prepares a version — compiled, its code asked — without the install
    /// lock, then takes the lock and checks that the version still fits
    /// (its kind, its auth plugin, its path): what is checked under the lock
    /// is what another upload could have changed meanwhile.
    async fn prepare_then_lock(
        &self,
        company: &str,
        plugin: &str,
        stored: Stored,
        enabled: bool,
    ) -> Result<(ActivePlugin, tokio::sync::MutexGuard<'_, ()>), InstallError> {
        let manifest = stored.manifest.clone();
        let prepared = self.prepare(company, plugin, stored, enabled, GuestCalls::Allowed).await?;
        let one_at_a_time = self.install_lock.lock().await;
        self.check_kind(company, plugin, manifest.kind)?;
        self.check_auth_plugin(company, &manifest)?;
        self.check_route(company, plugin, prepared.path.as_deref())?;
        Ok((prepared, one_at_a_time))
    }

    /// A push path belongs to one plugin of a tenant.
    fn check_route(&self, company: &str, plugin: &str, path: Option<&str>) -> Result<(), InstallError> {
        let Some(path) = path else { return Ok(()) };
        match self.route(company, path).filter(|other| other.key.plugin != plugin) {
            Some(other) => Err(InstallError::PathTaken { path: path.to_string(), by: other.key.plugin.clone() }),
            None => Ok(()),
        }
    }

    /// A plugin id keeps its kind: a version of another kind is refused.
    fn check_kind(&self, company: &str, plugin: &str, kind: PluginKind) -> Result<(), InstallError> {
        match self.get(company, plugin) {
            Some(current) if current.plugin.kind() != kind => Err(InstallError::Invalid(format!(
                "plugin `{plugin}` is a {} plugin; a version of another kind ({kind}) needs another plugin id",
                current.plugin.kind(),
            ))),
            _ => Ok(()),
        }
    }

    /// A webhook verified by an auth plugin needs that plugin installed
    /// first, so a typo in the manifest is refused at upload rather than
    /// found by the partner's first request. (Loading at start does not
    /// check: the plugins load in any order, and requests answer 503 while
    /// an auth plugin is missing.)
    fn check_auth_plugin(&self, company: &str, manifest: &Manifest) -> Result<(), InstallError> {
        let Some(WebhookAuth::Plugin { plugin: verifier }) = &manifest.webhook else { return Ok(()) };
        match self.get(company, verifier) {
            Some(active) if active.plugin.kind() == PluginKind::Auth => Ok(()),
            Some(active) => Err(InstallError::Invalid(format!(
                "the webhook's auth plugin `{verifier}` is a {} plugin, not an auth plugin",
                active.plugin.kind()
            ))),
            None => Err(InstallError::Invalid(format!(
                "the webhook's auth plugin `{verifier}` is not installed; install it first"
            ))),
        }
    }

    /// Records `prepared` as the active version and swaps it in: calls in
    /// flight finish on the version they started with, new ones get this one.
    async fn make_active(&self, prepared: ActivePlugin, actor: &str) -> Result<Arc<ActivePlugin>, InstallError> {
        let record = ActiveRecord {
            version: prepared.version.clone(),
            enabled: prepared.enabled,
            updated_at: Utc::now(),
            updated_by: actor.to_string(),
        };
        self.write_active(&prepared.key.company, &prepared.key.plugin, &record).await?;
        let active = Arc::new(prepared);
        self.serve(active.clone());
        tracing::info!(
            company = %active.key.company, plugin = %active.key.plugin, version = %&record.version[..12],
            kind = %active.plugin.kind(), enabled = active.enabled, "plugin version active"
        );
        Ok(active)
    }

    /// Makes a stored version the active one (roll forward or back).
    pub async fn activate(
        &self,
        company: &str,
        plugin: &str,
        version: &str,
        actor: &str,
    ) -> Result<Arc<ActivePlugin>, InstallError> {
        let (component, manifest) = self.read_version(company, plugin, version).await?;
        self.check_kind(company, plugin, manifest.kind)?;
        let stored = self.read_described(company, plugin, version).await?;
        let described_now = stored.is_none();
        let enabled = self.get(company, plugin).is_none_or(|current| current.enabled);
        let stored = Stored { component, manifest: manifest.clone(), described: stored };
        let (prepared, _one_at_a_time) = self.prepare_then_lock(company, plugin, stored, enabled).await?;
        if described_now {
            self.write_described(company, plugin, &prepared).await?;
        }
        self.make_active(prepared, actor).await
    }

    /// A stored version loaded in the engine but not served: a candidate
    /// to replay recordings on or to run in shadow. It must be of the
    /// plugin's kind.
    pub async fn load_stored(&self, company: &str, plugin: &str, version: &str) -> Result<LoadedPlugin, InstallError> {
        let (component, manifest) = self.read_version(company, plugin, version).await?;
        self.check_kind(company, plugin, manifest.kind)?;
        self.load_version(company, plugin, component, manifest).await
    }

    /// The component and manifest of a stored version.
    async fn read_version(
        &self,
        company: &str,
        plugin: &str,
        version: &str,
    ) -> Result<(Vec<u8>, Manifest), InstallError> {
        keys::check_segment("plugin id", plugin).map_err(|e| InstallError::Invalid(e.to_string()))?;
        if !version.bytes().all(|b| b.is_ascii_hexdigit()) || version.len() != 64 {
            return Err(InstallError::Invalid(format!("`{version}` is not a version (a SHA-256 in hex)")));
        }
        let component = self
            .store
            .get(&keys::plugin_component_key(company, plugin, version))
            .await?
            .ok_or_else(|| InstallError::NotFound(format!("plugin `{plugin}` has no version `{version}`")))?;
        let manifest = self
            .store
            .get(&keys::plugin_manifest_key(company, plugin, version))
            .await?
            .ok_or_else(|| InstallError::NotFound(format!("version `{version}` has no manifest")))?;
        let manifest = Manifest::parse(&String::from_utf8_lossy(&manifest.body))
            .map_err(|e| InstallError::Invalid(e.to_string()))?;
        Ok((component.body.to_vec(), manifest))
    }

    /// Enables or disables the active version.
    pub async fn set_enabled(
        &self,
        company: &str,
        plugin: &str,
        enabled: bool,
        actor: &str,
    ) -> Result<Arc<ActivePlugin>, InstallError> {
        let _one_at_a_time = self.install_lock.lock().await;
        let current =
            self.get(company, plugin).ok_or_else(|| InstallError::NotFound(format!("no plugin `{plugin}`")))?;
        self.make_active(ActivePlugin { enabled, ..(*current).clone() }, actor).await
    }

    /// Deletes a plugin: no version is active any more, its versions and
    /// shadow are removed. Its cursor, run history, dead letters and
    /// recordings stay as history.
    pub async fn delete(&self, company: &str, plugin: &str) -> Result<(), InstallError> {
        let _one_at_a_time = self.install_lock.lock().await;
        let key = PluginKey { company: company.to_string(), plugin: plugin.to_string() };
        let unloaded = self.unloaded.write().unwrap_or_else(|p| p.into_inner()).remove(&key).is_some();
        if self.get(company, plugin).is_none() && !unloaded {
            return Err(InstallError::NotFound(format!("no plugin `{plugin}`")));
        }
        self.store.delete(&keys::plugin_active_key(company, plugin)).await?;
        self.store.delete(&keys::schedule_lease_key(company, plugin)).await?;
        // A plugin created again under this id starts without the old one's shadow.
        self.store.delete(&keys::shadow_key(company, plugin)).await?;
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&PluginKey { company: company.to_string(), plugin: plugin.to_string() });
        for object in self.store.list(&keys::plugin_versions_prefix(company, plugin)).await? {
            self.store.delete(&object.key).await?;
        }
        Ok(())
    }

    /// The stored versions of a plugin, with their kind.
    pub async fn versions(&self, company: &str, plugin: &str) -> Result<Vec<(String, Option<PluginKind>)>, StoreError> {
        let mut versions = Vec::new();
        for version in self.store.list_children(&keys::plugin_versions_prefix(company, plugin)).await? {
            let kind = self
                .store
                .get(&keys::plugin_manifest_key(company, plugin, &version))
                .await?
                .and_then(|m| Manifest::parse(&String::from_utf8_lossy(&m.body)).ok())
                .map(|m| m.kind);
            versions.push((version, kind));
        }
        Ok(versions)
    }

    /// Loads a version — compiled off the async workers — and finds what
    /// the registry needs to know (its path, or its schedule and cursor
    /// name): from `described`, what its code answered before, else by
    /// asking its code now, within its limits, if `guest` allows.
    async fn prepare(
        &self,
        company: &str,
        plugin: &str,
        version: Stored,
        enabled: bool,
        guest: GuestCalls,
    ) -> Result<ActivePlugin, InstallError> {
        let Stored { component, manifest, described } = version;
        let described = described.filter(|d| d.answers(&manifest));
        if described.is_none() && guest == GuestCalls::Deferred && needs_description(manifest.kind) {
            return Err(InstallError::Undescribed);
        }
        let loaded = self.load_version(company, plugin, component, manifest.clone()).await?;
        let described = match described {
            Some(described) => described,
            None => describe(&loaded, &manifest).await?,
        };
        // The manifest's schedule overrides the one the code asks for.
        let schedule = manifest.schedule.clone().or(described.schedule);
        let described = Described { schedule, ..described };
        check_described(&manifest, &described)?;
        Ok(ActivePlugin {
            key: PluginKey { company: company.to_string(), plugin: plugin.to_string() },
            version: loaded.label().version.clone(),
            plugin: loaded,
            enabled,
            path: described.path,
            schedule: described.schedule,
            cursor_name: described.cursor_name,
            run_lock: self.run_lock(company, plugin),
        })
    }

    /// Compiles (or takes from the cache) and checks a version on the
    /// blocking pool, a bounded number at a time.
    async fn load_version(
        &self,
        company: &str,
        plugin: &str,
        component: Vec<u8>,
        manifest: Manifest,
    ) -> Result<LoadedPlugin, InstallError> {
        let slot = self
            .compile_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| InstallError::Invalid("shutting down".into()))?;
        let engine = self.engine.clone();
        let secrets = self.vault.tenant(company);
        let (company, plugin) = (company.to_string(), plugin.to_string());
        // The slot goes with the compilation: an upload whose client hangs up
        // does not free it while its compilation still runs.
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            engine.load(&company, &plugin, &component, manifest, secrets)
        })
        .await
        .map_err(|e| InstallError::Invalid(format!("loading the component failed: {e}")))?
        .map_err(|e| match e {
            LoadError::TooLarge { .. } => InstallError::TooLarge(e.to_string()),
            other => InstallError::Invalid(other.to_string()),
        })
    }

    async fn read_described(
        &self,
        company: &str,
        plugin: &str,
        version: &str,
    ) -> Result<Option<Described>, InstallError> {
        let key = keys::plugin_described_key(company, plugin, version);
        let Some(object) = self.store.get(&key).await? else { return Ok(None) };
        serde_json::from_slice(&object.body)
            .map(Some)
            .map_err(|e| InstallError::Store(StoreError::Corrupt { key, reason: e.to_string() }))
    }

    async fn write_described(&self, company: &str, plugin: &str, prepared: &ActivePlugin) -> Result<(), InstallError> {
        // The code's own answers: a schedule the manifest set is not one.
        let schedule = prepared.schedule.clone().filter(|_| prepared.plugin.manifest().schedule.is_none());
        let described = Described { path: prepared.path.clone(), schedule, cursor_name: prepared.cursor_name.clone() };
        let key = keys::plugin_described_key(company, plugin, &prepared.version);
        let body = serde_json::to_vec(&described)
            .map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        self.store.create_once(&key, Bytes::from(body)).await?;
        Ok(())
    }

    fn run_lock(&self, company: &str, plugin: &str) -> Arc<tokio::sync::Mutex<()>> {
        let key = PluginKey { company: company.to_string(), plugin: plugin.to_string() };
        self.run_locks.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone()
    }

    async fn write_active(&self, company: &str, plugin: &str, record: &ActiveRecord) -> Result<(), InstallError> {
        let key = keys::plugin_active_key(company, plugin);
        let current = self.store.get(&key).await?;
        let body =
            serde_json::to_vec(record).map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        match self.store.compare_and_swap(&key, current.as_ref().map(|o| o.etag.as_str()), Bytes::from(body)).await? {
            CasOutcome::Swapped { .. } => Ok(()),
            CasOutcome::Conflict => Err(InstallError::Conflict),
        }
    }

    /// Brings this node's active plugins in line with the store: at start,
    /// every tenant's active plugins; then, with several nodes (docs/DESIGN.md §11),
    /// the changes made through another node. A new or
    /// changed `active.json` loads its version (the compile cache makes that
    /// cheap for a version compiled before), a changed `enabled` applies, a
    /// deleted one unloads. Returns how many plugins changed, and (with
    /// [`GuestCalls::Deferred`]) those left for [`Registry::load_deferred`].
    ///
    /// The store is read and versions are loaded without holding the
    /// install lock; the result is applied under it, and only to plugins
    /// this node did not change itself meanwhile (their entry is still the
    /// one seen at the start), so a local install is never undone.
    pub async fn refresh(&self, guest: GuestCalls) -> Result<Refreshed, StoreError> {
        self.refresh_among(&keys::companies(self.store.as_ref()).await?, guest).await
    }

    /// [`Registry::refresh`] with the store's tenants `companies` listed
    /// by the caller. The tenants of plugins this node has loaded are read
    /// too: one whose first plugin was installed here after the caller
    /// listed is not taken for deleted.
    pub async fn refresh_among(&self, companies: &[String], guest: GuestCalls) -> Result<Refreshed, StoreError> {
        let seen: HashMap<PluginKey, Arc<ActivePlugin>> = self.active.read().unwrap_or_else(|p| p.into_inner()).clone();
        let companies: BTreeSet<&str> =
            companies.iter().map(String::as_str).chain(seen.keys().map(|key| key.company.as_str())).collect();
        let mut stored = HashSet::new();
        let mut updates = Vec::new();
        let mut deferred = Vec::new();
        for company in companies {
            for plugin in self.store.list_children(&keys::plugins_prefix(company)).await? {
                let key = PluginKey { company: company.to_string(), plugin: plugin.clone() };
                // Every id ever stored owns its source, deleted or not.
                self.known.write().unwrap_or_else(|p| p.into_inner()).insert(key.clone());
                let Some(object) = self.store.get(&keys::plugin_active_key(company, &plugin)).await? else {
                    continue;
                };
                stored.insert(key.clone());
                let Ok(record) = serde_json::from_slice::<ActiveRecord>(&object.body) else { continue };
                let updated = match seen.get(&key) {
                    Some(current) if current.version == record.version && current.enabled == record.enabled => continue,
                    Some(current) if current.version == record.version => {
                        ActivePlugin { enabled: record.enabled, ..(**current).clone() }
                    }
                    // Already being loaded after start (by `load_deferred`).
                    _ if self.unloaded.read().unwrap_or_else(|p| p.into_inner()).get(&key)
                        == Some(&NotLoaded::Loading) =>
                    {
                        continue;
                    }
                    _ => match self.load_one(company, &plugin, guest).await {
                        Ok(Some(loaded)) => loaded,
                        Ok(None) => continue,
                        Err(InstallError::Undescribed) => {
                            self.unloaded
                                .write()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(key.clone(), NotLoaded::Loading);
                            deferred.push(key);
                            continue;
                        }
                        Err(e) => {
                            self.mark_unloaded(&key, &e);
                            continue;
                        }
                    },
                };
                updates.push((key, updated));
            }
        }

        let _one_at_a_time = self.install_lock.lock().await;
        let mut active = self.active.write().unwrap_or_else(|p| p.into_inner());
        let untouched =
            |active: &HashMap<PluginKey, Arc<ActivePlugin>>, key: &PluginKey| match (active.get(key), seen.get(key)) {
                (Some(now), Some(then)) => Arc::ptr_eq(now, then),
                (None, None) => true,
                _ => false,
            };
        let mut changed = 0;
        for (key, updated) in updates {
            if untouched(&active, &key) {
                tracing::info!(company = %key.company, plugin = %key.plugin, version = %&updated.version[..12.min(updated.version.len())], enabled = updated.enabled, "plugin version loaded from the store");
                self.unloaded.write().unwrap_or_else(|p| p.into_inner()).remove(&key);
                self.known.write().unwrap_or_else(|p| p.into_inner()).insert(key.clone());
                active.insert(key, Arc::new(updated));
                changed += 1;
            }
        }
        let deleted: Vec<PluginKey> =
            seen.keys().filter(|key| !stored.contains(*key) && untouched(&active, key)).cloned().collect();
        for key in deleted {
            tracing::info!(company = %key.company, plugin = %key.plugin, "plugin unloaded: deleted through another node");
            active.remove(&key);
            changed += 1;
        }
        let mut unloaded = self.unloaded.write().unwrap_or_else(|p| p.into_inner());
        unloaded.retain(|key, _| stored.contains(key));
        Ok(Refreshed { changed, deferred })
    }

    /// Loads, after start, the plugins [`Registry::refresh`] deferred
    /// because their guest code must be asked for their path or schedule:
    /// each within its own limits, all at once, so that one that loops
    /// delays none of the others. One that fails stays unloaded with its
    /// reason. Returns how many loaded.
    pub async fn load_deferred(&self, deferred: Vec<PluginKey>) -> usize {
        let loads = deferred.into_iter().map(|key| async move {
            let result = self.load_one(&key.company, &key.plugin, GuestCalls::Allowed).await;
            (key, result)
        });
        let mut loaded = 0;
        for (key, result) in futures::future::join_all(loads).await {
            match result {
                Ok(Some(prepared)) => {
                    let _one_at_a_time = self.install_lock.lock().await;
                    let still_loading =
                        self.unloaded.read().unwrap_or_else(|p| p.into_inner()).get(&key) == Some(&NotLoaded::Loading);
                    // Installed, activated or deleted meanwhile: that change stands.
                    if !still_loading || self.get(&key.company, &key.plugin).is_some() {
                        continue;
                    }
                    if let Err(e) = self.check_route(&key.company, &key.plugin, prepared.path.as_deref()) {
                        self.mark_unloaded(&key, &e);
                        continue;
                    }
                    if let Err(e) = self.write_described(&key.company, &key.plugin, &prepared).await {
                        tracing::warn!(company = %key.company, plugin = %key.plugin, error = %e, "could not keep the version's answers");
                    }
                    self.serve(Arc::new(prepared));
                    loaded += 1;
                }
                Ok(None) => {}
                Err(e) => self.mark_unloaded(&key, &e),
            }
        }
        loaded
    }

    fn mark_unloaded(&self, key: &PluginKey, error: &InstallError) {
        tracing::error!(company = %key.company, plugin = %key.plugin, %error, "an active plugin could not be loaded; it is not running here");
        let failed = NotLoaded::Failed(error.to_string());
        self.unloaded.write().unwrap_or_else(|p| p.into_inner()).insert(key.clone(), failed);
    }

    /// `company`'s active plugins that are not served here, and why.
    pub fn unloaded(&self, company: &str) -> Vec<(String, NotLoaded)> {
        let unloaded = self.unloaded.read().unwrap_or_else(|p| p.into_inner());
        let mut found: Vec<(String, NotLoaded)> = unloaded
            .iter()
            .filter(|(key, _)| key.company == company)
            .map(|(key, why)| (key.plugin.clone(), why.clone()))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    /// How many active plugins, of every tenant, are (still loading, failed).
    pub fn unloaded_count(&self) -> (usize, usize) {
        let unloaded = self.unloaded.read().unwrap_or_else(|p| p.into_inner());
        let loading = unloaded.values().filter(|why| **why == NotLoaded::Loading).count();
        (loading, unloaded.len() - loading)
    }

    async fn load_one(
        &self,
        company: &str,
        plugin: &str,
        guest: GuestCalls,
    ) -> Result<Option<ActivePlugin>, InstallError> {
        let Some(active) = self.store.get(&keys::plugin_active_key(company, plugin)).await? else {
            return Ok(None);
        };
        let record: ActiveRecord = serde_json::from_slice(&active.body)
            .map_err(|e| InstallError::Invalid(format!("active.json is unreadable: {e}")))?;
        let missing =
            |what: &str| InstallError::Invalid(format!("the {what} of version {} is missing", record.version));
        let component = self
            .store
            .get(&keys::plugin_component_key(company, plugin, &record.version))
            .await?
            .ok_or_else(|| missing("component"))?;
        let manifest = self
            .store
            .get(&keys::plugin_manifest_key(company, plugin, &record.version))
            .await?
            .ok_or_else(|| missing("manifest"))?;
        let manifest = Manifest::parse(&String::from_utf8_lossy(&manifest.body))
            .map_err(|e| InstallError::Invalid(e.to_string()))?;
        let described = self.read_described(company, plugin, &record.version).await?;
        let stored = Stored { component: component.body.to_vec(), manifest, described };
        self.prepare(company, plugin, stored, record.enabled, guest).await.map(Some)
    }

    /// The active version of `company`'s `plugin`, from memory or, when
    /// this node does not have it, from the store: with several nodes, a
    /// plugin installed through another node moments ago (before this
    /// node's next refresh) is found rather than reported missing.
    pub async fn get_or_load(&self, company: &str, plugin: &str) -> Option<Arc<ActivePlugin>> {
        if let Some(active) = self.get(company, plugin) {
            return Some(active);
        }
        match self.load_one(company, plugin, GuestCalls::Allowed).await {
            Ok(Some(loaded)) => {
                let _one_at_a_time = self.install_lock.lock().await;
                if let Some(active) = self.get(company, plugin) {
                    return Some(active);
                }
                let active = Arc::new(loaded);
                self.serve(active.clone());
                tracing::info!(%company, %plugin, "plugin loaded from the store on first use here");
                Some(active)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(%company, %plugin, error = %e, "plugin could not be loaded from the store");
                None
            }
        }
    }

    /// The active version of `company`'s `plugin`.
    pub fn get(&self, company: &str, plugin: &str) -> Option<Arc<ActivePlugin>> {
        let key = PluginKey { company: company.to_string(), plugin: plugin.to_string() };
        self.active.read().unwrap_or_else(|p| p.into_inner()).get(&key).cloned()
    }

    /// Whether `id` is one of `company`'s plugins — loaded, loading, failed
    /// to load or deleted: an order source of that name belongs to the
    /// plugin (docs/DESIGN.md §8), for good.
    pub fn owns_source(&self, company: &str, id: &str) -> bool {
        let key = PluginKey { company: company.to_string(), plugin: id.to_string() };
        // One lock at a time (`refresh` takes `known` under `active`).
        let known = self.known.read().unwrap_or_else(|p| p.into_inner()).contains(&key);
        known || self.active.read().unwrap_or_else(|p| p.into_inner()).contains_key(&key)
    }

    /// Makes `active` the version served here.
    fn serve(&self, active: Arc<ActivePlugin>) {
        self.known.write().unwrap_or_else(|p| p.into_inner()).insert(active.key.clone());
        self.unloaded.write().unwrap_or_else(|p| p.into_inner()).remove(&active.key);
        self.active.write().unwrap_or_else(|p| p.into_inner()).insert(active.key.clone(), active);
    }

    /// The push plugin `company` serves at `path`.
    pub fn route(&self, company: &str, path: &str) -> Option<Arc<ActivePlugin>> {
        let active = self.active.read().unwrap_or_else(|p| p.into_inner());
        active.values().find(|p| p.key.company == company && p.path.as_deref() == Some(path)).cloned()
    }

    /// Every active plugin.
    pub fn all(&self) -> Vec<Arc<ActivePlugin>> {
        let mut all: Vec<_> = self.active.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| (&a.key.company, &a.key.plugin).cmp(&(&b.key.company, &b.key.plugin)));
        all
    }
}

impl Described {
    /// Whether these answers are all that loading a version with `manifest` needs.
    fn answers(&self, manifest: &Manifest) -> bool {
        match manifest.kind {
            PluginKind::PushSource => self.path.is_some(),
            PluginKind::PullSource => {
                self.cursor_name.is_some() && (manifest.schedule.is_some() || self.schedule.is_some())
            }
            PluginKind::Validator | PluginKind::Mapper | PluginKind::Warehouse | PluginKind::Auth => true,
        }
    }
}

/// Whether loading a version of `kind` needs answers from its code.
fn needs_description(kind: PluginKind) -> bool {
    matches!(kind, PluginKind::PushSource | PluginKind::PullSource)
}

/// Asks a version's code, within its limits, for its path — or its
/// schedule (unless the manifest sets one) and cursor name.
async fn describe(loaded: &LoadedPlugin, manifest: &Manifest) -> Result<Described, InstallError> {
    let asked = |e: crate::engine::InvokeError| InstallError::Invalid(e.to_string());
    Ok(match manifest.kind {
        PluginKind::PushSource => Described {
            path: Some(loaded.path(CallOptions::default()).await.map_err(asked)?.output),
            ..Described::default()
        },
        PluginKind::PullSource => Described {
            schedule: match &manifest.schedule {
                Some(_) => None,
                None => Some(loaded.schedule(CallOptions::default()).await.map_err(asked)?.output),
            },
            cursor_name: Some(loaded.cursor_key(CallOptions::default()).await.map_err(asked)?.output),
            path: None,
        },
        PluginKind::Validator | PluginKind::Mapper | PluginKind::Warehouse | PluginKind::Auth => Described::default(),
    })
}

/// Checks what a version's code answered (now, or when it was uploaded).
fn check_described(manifest: &Manifest, described: &Described) -> Result<(), InstallError> {
    let missing = |what: &str| InstallError::Invalid(format!("the plugin gave no {what}"));
    match manifest.kind {
        PluginKind::PushSource => {
            check_path(described.path.as_deref().ok_or_else(|| missing("path"))?).map_err(InstallError::Invalid)
        }
        PluginKind::PullSource => {
            let schedule = described.schedule.as_deref().ok_or_else(|| missing("schedule"))?;
            croner::parser::CronParser::new()
                .parse(schedule)
                .map_err(|e| InstallError::Invalid(format!("schedule `{schedule}` is not a cron expression: {e}")))?;
            let cursor = described.cursor_name.as_deref().ok_or_else(|| missing("cursor key"))?;
            keys::check_segment("cursor key", cursor).map_err(|e| InstallError::Invalid(e.to_string()))
        }
        PluginKind::Validator | PluginKind::Mapper | PluginKind::Warehouse | PluginKind::Auth => Ok(()),
    }
}

/// A push path: `/` then segments of letters, digits, `-`, `_` and `.`,
/// not starting with a segment the API uses.
fn check_path(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("the plugin's path `{path}` must start with `/`"));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let valid = path.len() <= 200
        && segments.iter().all(|s| {
            !s.is_empty()
                && *s != "."
                && *s != ".."
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !valid {
        return Err(format!(
            "the plugin's path `{path}` must be `/`-separated segments of letters, digits, `-`, `_` and `.`"
        ));
    }
    if RESERVED.contains(&segments[0]) {
        return Err(format!("the plugin's path `{path}` starts with `/{}`, which the API uses", segments[0]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_paths_are_checked() {
        assert!(check_path("/webhooks/shopify/orders").is_ok());
        for bad in ["webhooks", "/", "/a//b", "/a/../b", "/order", "/plugins/x", "/a b"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
