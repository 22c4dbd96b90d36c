//! Keeps live invocations as recordings (docs/DESIGN.md §10): for each
//! push and each pull `fetch`, the input, the host calls' answers from its
//! [`Tape`] and what the plugin gave, as a fixture under
//! `{company}/recordings/{plugin}/{id}.json`.
//!
//! A copy of each goes to the plugin's shadow, if it has one ([`Shadows`]).
//!
//! Recording never slows or fails the live call: recordings are queued
//! and written by one background task (recordings still queued when the
//! server stops are lost: they are not the event log); when the queue is full one is
//! dropped (and counted), and a write that fails is logged. Retention is
//! per plugin, the operator's number (per tenant if set) and an age
//! (`recordings.max_age_days`, 30: every plugin is swept hourly, a quiet
//! one too), and under load a
//! plugin is sampled — at most `recordings.sample_per_second` of its
//! invocations a second on a node are recorded (a tape costs only the
//! invocations it is made for); every
//! [`PRUNE_EVERY`] writes of a plugin the oldest beyond it are deleted, so
//! a plugin holds at most that many plus [`PRUNE_EVERY`].
//!
//! Nothing secret is kept: the partner's credential and signature headers
//! and query parameters are redacted as in dead letters, the host calls as
//! the tape keeps them, and exposed secrets in the configuration are
//! shown by name only.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use chrono::Utc;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::Tape;
use super::fixture::{Fixture, FixtureIdentity, FixtureRequest, RecordingInfo, body_fields, header_map};
use super::shadow::Shadows;
use crate::config::RecordingsConfig;
use crate::engine::{CallerIdentity, PartnerRequest};
use crate::events::keys;
use crate::plugins::registry::{ActivePlugin, PluginKey};
use crate::security::redact;
use crate::store::{ObjectStore, StoreError};
use crate::tasks::Tasks;

/// Writes of one plugin between two prunings.
pub const PRUNE_EVERY: usize = 64;

/// Recordings waiting to be written before new ones are dropped.
const QUEUE: usize = 1_024;

/// One recording on its way to the store.
struct Pending {
    company: String,
    plugin: String,
    fixture: Fixture,
}

/// Records live invocations. Cheap to share.
#[derive(Debug)]
pub struct Recorder {
    config: RecordingsConfig,
    queue: Option<mpsc::Sender<Pending>>,
    dropped: AtomicU64,
    /// Where a copy of each live invocation goes when its plugin has a shadow.
    shadows: Option<Arc<Shadows>>,
    /// Each plugin's recordings left this second, and when it was counted.
    buckets: Mutex<HashMap<PluginKey, (f64, Instant)>>,
}

impl Recorder {
    /// A recorder writing to `store` (its relaxed view: recordings are not
    /// the event log) from a background task; none when retention is 0
    /// everywhere.
    pub fn start(
        store: Arc<dyn ObjectStore>,
        config: RecordingsConfig,
        shadows: Option<Arc<Shadows>>,
        tasks: &Tasks,
    ) -> Arc<Self> {
        let records_anything = config.keep_per_plugin > 0 || config.tenants.values().any(|keep| *keep > 0);
        let queue = records_anything.then(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tasks.spawn("recordings", write_recordings(store.relaxed(), config.clone(), receiver));
            sender
        });
        // Swept even when nothing is recorded now: what was recorded before still ages.
        tasks.spawn("recordings sweep", sweep_recordings(store.clone(), config.clone()));
        Arc::new(Self { config, queue, dropped: AtomicU64::new(0), shadows, buckets: Mutex::default() })
    }

    /// A tape for an invocation of `plugin`, when its invocations are
    /// recorded or copied to a shadow.
    pub fn tape(&self, plugin: &ActivePlugin) -> Option<Arc<Tape>> {
        let (company, id) = (plugin.key.company.as_str(), plugin.key.plugin.as_str());
        let copy = self.shadows.as_ref().is_some_and(|shadows| shadows.wants_copy(company, id));
        let record = self.records(company) && self.sampled(&plugin.key);
        (record || copy).then(|| Arc::new(Tape::live(record, copy)))
    }

    fn records(&self, company: &str) -> bool {
        self.queue.is_some() && self.config.keep_for(company) > 0
    }

    /// Whether this invocation of `plugin` is within its recordings per second.
    fn sampled(&self, plugin: &PluginKey) -> bool {
        let rate = self.config.sample_per_second;
        if rate == 0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let bucket = buckets.entry(plugin.clone()).or_insert((f64::from(rate), now));
        let refill = now.duration_since(bucket.1).as_secs_f64() * f64::from(rate);
        *bucket = ((bucket.0 + refill).min(f64::from(rate)), now);
        if bucket.0 < 1.0 {
            return false;
        }
        bucket.0 -= 1.0;
        true
    }

    /// Recordings dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records a push: the partner's request as the plugin got it, who it
    /// was authenticated as, the host calls on `tape`, and `outcome`.
    pub fn push(
        &self,
        plugin: &ActivePlugin,
        request_id: &str,
        request: &PartnerRequest,
        identity: &CallerIdentity,
        tape: &Tape,
        outcome: Value,
    ) {
        let (body, body_base64) = body_fields(&request.body);
        let fixture = Fixture {
            request: Some(FixtureRequest {
                method: request.method.clone(),
                path: request.path.clone(),
                query: request.query.as_deref().map(redact::query),
                headers: header_map(&redact::headers(&request.headers)),
                body,
                body_base64,
            }),
            identity: Some(FixtureIdentity {
                scheme: identity.scheme.clone(),
                subject: identity.subject.clone(),
                delivery_id: identity.delivery_id.clone(),
            }),
            ..Fixture::default()
        };
        self.keep(plugin, "push", request_id, fixture, tape, outcome);
    }

    /// Records one `fetch` of a pull run from `cursor`.
    pub fn pull(&self, plugin: &ActivePlugin, run_id: &str, cursor: Option<String>, tape: &Tape, outcome: Value) {
        self.keep(plugin, "pull", run_id, Fixture { cursor, ..Fixture::default() }, tape, outcome);
    }

    fn keep(
        &self,
        plugin: &ActivePlugin,
        trigger: &str,
        invocation: &str,
        input: Fixture,
        tape: &Tape,
        outcome: Value,
    ) {
        if tape.overflowed() {
            tracing::debug!(company = %plugin.key.company, plugin = %plugin.key.plugin, %invocation, "an invocation moved too much to be recorded");
            return;
        }
        let calls = tape.calls();
        let recording = RecordingInfo {
            id: uuid::Uuid::now_v7().to_string(),
            plugin: plugin.key.plugin.clone(),
            version: plugin.version.clone(),
            trigger: trigger.to_string(),
            recorded_at: Utc::now(),
            invocation: invocation.to_string(),
        };
        let fixture = Fixture {
            recording: Some(recording),
            http: calls.http,
            ftp: calls.ftp,
            config: Some(config_seen(plugin)),
            expect: outcome,
            ..input
        };
        let (company, id) = (plugin.key.company.clone(), plugin.key.plugin.clone());
        if tape.copy_to_shadow
            && let Some(shadows) = &self.shadows
        {
            shadows.offer(&company, &id, fixture.clone());
        }
        let Some(queue) = self.queue.as_ref().filter(|_| tape.record) else { return };
        if queue.try_send(Pending { company, plugin: id, fixture }).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The configuration the version sees, exposed secrets by name only.
fn config_seen(plugin: &ActivePlugin) -> Map<String, Value> {
    let manifest = plugin.plugin.manifest();
    let mut config: Map<String, Value> =
        manifest.config.iter().map(|(key, value)| (key.clone(), Value::String(value.clone()))).collect();
    for name in &manifest.secrets.expose {
        config.insert(name.clone(), Value::String("[secret]".into()));
    }
    config
}

/// The background writer: each recording, then the plugin's pruning when due.
async fn write_recordings(store: Arc<dyn ObjectStore>, config: RecordingsConfig, mut queue: mpsc::Receiver<Pending>) {
    let written: Mutex<HashMap<(String, String), usize>> = Mutex::default();
    while let Some(Pending { company, plugin, fixture }) = queue.recv().await {
        let Some(id) = fixture.recording.as_ref().map(|r| r.id.clone()) else { continue };
        let key = keys::recording_key(&company, &plugin, &id);
        let body = match serde_json::to_vec(&fixture) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!(%key, error = %e, "could not encode a recording");
                continue;
            }
        };
        if let Err(e) = store.put(&key, Bytes::from(body)).await {
            tracing::warn!(%key, error = %e, "could not keep a recording");
            continue;
        }
        let due = {
            let mut written = written.lock().unwrap_or_else(|p| p.into_inner());
            let count = written.entry((company.clone(), plugin.clone())).or_default();
            *count += 1;
            count.is_multiple_of(PRUNE_EVERY)
        };
        if due
            && let Err(e) = prune(store.as_ref(), &company, &plugin, config.keep_for(&company), config.max_age()).await
        {
            tracing::warn!(%company, %plugin, error = %e, "could not prune recordings");
        }
    }
}

/// Deletes the oldest recordings of a plugin beyond `keep`, and those
/// older than `max_age` (by the time in their UUIDv7 ids); how many.
pub async fn prune(
    store: &dyn ObjectStore,
    company: &str,
    plugin: &str,
    keep: usize,
    max_age: Option<Duration>,
) -> Result<usize, StoreError> {
    let prefix = keys::recordings_prefix(company, plugin);
    let names = store.list_children(&prefix).await?;
    let excess = names.len().saturating_sub(keep);
    let oldest_kept = max_age.and_then(|age| SystemTime::now().checked_sub(age));
    let expired = |name: &str| {
        let recorded = uuid::Uuid::parse_str(name.trim_end_matches(".json")).ok().and_then(|id| id.get_timestamp());
        match (recorded, oldest_kept) {
            (Some(at), Some(limit)) => {
                let (secs, nanos) = at.to_unix();
                SystemTime::UNIX_EPOCH + Duration::new(secs, nanos) < limit
            }
            _ => false,
        }
    };
    let old: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(index, name)| *index < excess || expired(name))
        .map(|(_, name)| format!("{prefix}{name}"))
        .collect();
    store.delete_all(&old).await?;
    Ok(old.len())
}

/// How often every tenant's recordings are pruned, beside the pruning at
/// a plugin's writes: a plugin that went quiet writes none.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3_600);

/// Prunes every plugin's recordings of every tenant; how many were deleted.
pub async fn prune_all(store: &dyn ObjectStore, config: &RecordingsConfig) -> Result<usize, StoreError> {
    let mut deleted = 0;
    for company in keys::companies(store).await? {
        let plugins = store.list_children(&format!("{company}/recordings/")).await?;
        for plugin in plugins {
            deleted += prune(store, &company, &plugin, config.keep_for(&company), config.max_age()).await?;
        }
    }
    Ok(deleted)
}

/// Prunes every tenant's recordings every [`SWEEP_EVERY`], the first time a
/// minute after the start.
async fn sweep_recordings(store: Arc<dyn ObjectStore>, config: RecordingsConfig) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::time::sleep(wait).await;
        wait = SWEEP_EVERY;
        match prune_all(store.as_ref(), &config).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "old recordings deleted"),
            Err(error) => tracing::warn!(%error, "could not prune the recordings"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fs::FsStore;

    #[tokio::test]
    async fn pruning_keeps_the_newest_recordings_of_the_plugin_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let mut ids = Vec::new();
        for _ in 0..10 {
            let id = uuid::Uuid::now_v7().to_string();
            store.put(&keys::recording_key("acme", "shop", &id), Bytes::from_static(b"{}")).await.expect("put");
            ids.push(id);
        }
        let other = keys::recording_key("acme", "other", "kept");
        store.put(&other, Bytes::from_static(b"{}")).await.expect("put");
        assert_eq!(prune(store.as_ref(), "acme", "shop", 3, None).await.expect("prune"), 7);
        let left = store.list_children(&keys::recordings_prefix("acme", "shop")).await.expect("list");
        let newest: Vec<String> = ids[7..].iter().map(|id| format!("{id}.json")).collect();
        assert_eq!(left, newest);
        assert!(store.get(&other).await.expect("get").is_some(), "another plugin's recordings stay");
        assert_eq!(prune(store.as_ref(), "acme", "shop", 3, None).await.expect("prune"), 0);
    }

    #[tokio::test]
    async fn recordings_past_their_age_go_whoever_recorded_them_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_secs();
        let recorded_days_ago = |days: u64| {
            let at = uuid::Timestamp::from_unix(uuid::NoContext, now - days * 86_400, 0);
            uuid::Uuid::new_v7(at).to_string()
        };
        let (old, recent) = (recorded_days_ago(40), recorded_days_ago(2));
        std::fs::create_dir_all(dir.path().join(".keys")).expect("the platform keys' folder");
        for (company, plugin) in [("acme", "shop"), ("globex", "quiet")] {
            for id in [&old, &recent] {
                store.put(&keys::recording_key(company, plugin, id), Bytes::from_static(b"{}")).await.expect("put");
            }
        }
        let config = RecordingsConfig { max_age_days: 30, ..RecordingsConfig::default() };
        assert_eq!(prune_all(store.as_ref(), &config).await.expect("sweep"), 2, "one old recording of each plugin");
        for (company, plugin) in [("acme", "shop"), ("globex", "quiet")] {
            let left = store.list_children(&keys::recordings_prefix(company, plugin)).await.expect("list");
            assert_eq!(left, vec![format!("{recent}.json")], "{company}/{plugin}");
        }
        let forever = RecordingsConfig { max_age_days: 0, ..RecordingsConfig::default() };
        store.put(&keys::recording_key("acme", "shop", &old), Bytes::from_static(b"{}")).await.expect("put");
        assert_eq!(prune_all(store.as_ref(), &forever).await.expect("sweep"), 0, "0 keeps them");
    }

    #[tokio::test]
    async fn under_load_each_plugin_is_sampled_at_its_rate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open(dir.path()).expect("store"));
        let config = RecordingsConfig { sample_per_second: 5, ..RecordingsConfig::default() };
        let recorder = Recorder::start(store.clone(), config, None, &Tasks::new());
        let key = |plugin: &str| PluginKey { company: "acme".into(), plugin: plugin.into() };
        let taken = (0..50).filter(|_| recorder.sampled(&key("shop"))).count();
        assert!((5..=6).contains(&taken), "a burst takes the second's five: {taken}");
        assert!(recorder.sampled(&key("other")), "another plugin has its own rate");
        tokio::time::sleep(std::time::Duration::from_millis(450)).await;
        let later = (0..50).filter(|_| recorder.sampled(&key("shop"))).count();
        assert!((1..=3).contains(&later), "refilled at five a second: {later}");

        let every = Recorder::start(
            store,
            RecordingsConfig { sample_per_second: 0, ..RecordingsConfig::default() },
            None,
            &Tasks::new(),
        );
        assert_eq!((0..1_000).filter(|_| every.sampled(&key("shop"))).count(), 1_000, "0 records every invocation");
    }
}
