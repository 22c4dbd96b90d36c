//! One pull run (docs/DESIGN.md §6): read the cursor → `fetch` → ingest every event
//! → compare-and-swap the cursor, once per batch, while the plugin says
//! more is waiting. If anything fails the cursor stays where it was and the
//! next run fetches the same batch again; deterministic ids make that safe.
//! Mid-run checkpoints go through the same steps. Every run is kept in the
//! plugin's run history, and each `fetch` as a recording (`replay`).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::engine::{CallOptions, InvokeError, PluginEvent};
use crate::errors::with_causes;
use crate::events::keys;
use crate::host::{Checkpointer, LogSink};
use crate::ingest::{Ingest, IngestError, Origin};
use crate::ops::activity::PluginActivity;
use crate::plugins::registry::ActivePlugin;
use crate::replay::{Recorder, outcome};
use crate::store::{CasOutcome, ObjectStore, StoreError};

/// How many events of a batch are written at once.
const INGEST_CONCURRENCY: usize = 16;

/// The most batches one run takes before leaving the rest to the next run.
const MAX_BATCHES_PER_RUN: u32 = 1_000;

/// Why a run stopped before the plugin said nothing more was waiting. Its
/// text, with causes, is the run record's `error` (and, from a mid-run
/// checkpoint, what the plugin's `checkpoint` call returns).
#[derive(Debug, thiserror::Error)]
pub enum RunFailure {
    #[error("reading the cursor")]
    ReadCursor(#[source] StoreError),
    #[error(transparent)]
    Fetch(#[from] InvokeError),
    #[error("ingesting event `{external_id}`")]
    Ingest {
        external_id: String,
        #[source]
        source: IngestError,
    },
    #[error("encoding the cursor")]
    EncodeCursor(#[source] serde_json::Error),
    #[error("the cursor was changed during the run (set or reset by an operator); stopping")]
    CursorChanged,
    #[error("moving the cursor")]
    MoveCursor(#[source] StoreError),
}

/// What a run did, kept as the plugin's run history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub run_id: String,
    pub plugin: String,
    pub version: String,
    /// `schedule` or `manual`.
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub batches: u32,
    /// Events ingested, of which `created` were new.
    pub events: u64,
    pub created: u64,
    pub cursor_before: Option<String>,
    pub cursor_after: Option<String>,
    pub fuel: u64,
    pub error: Option<String>,
}

/// The stored cursor: the plugin's own string, and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCursor {
    pub cursor: String,
    pub updated_at: DateTime<Utc>,
    pub run_id: Option<String>,
    pub plugin_version: Option<String>,
}

/// Runs pull plugins.
#[derive(Clone)]
pub struct Runner {
    ingest: Ingest,
    store: Arc<dyn ObjectStore>,
    log_sink: Option<Arc<dyn LogSink>>,
    activity: Arc<PluginActivity>,
    recorder: Arc<Recorder>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("a run of this plugin is already in progress")]
    AlreadyRunning,
    #[error("`{0}` is not a pull plugin")]
    NotPull(String),
}

/// The cursor's key for a plugin.
pub fn cursor_key(plugin: &ActivePlugin) -> String {
    keys::cursor_key(&plugin.key.company, &plugin.key.plugin, plugin.cursor_name.as_deref().unwrap_or("cursor"))
}

/// Reads a cursor: its value and entity tag.
pub async fn read_cursor(store: &dyn ObjectStore, key: &str) -> Result<(Option<String>, Option<String>), StoreError> {
    match store.get(key).await? {
        None => Ok((None, None)),
        Some(object) => {
            let stored: StoredCursor = serde_json::from_slice(&object.body)
                .map_err(|e| StoreError::Corrupt { key: key.to_string(), reason: e.to_string() })?;
            Ok((Some(stored.cursor), Some(object.etag)))
        }
    }
}

/// The state a run shares with its checkpoints.
struct RunState {
    ingest: Ingest,
    store: Arc<dyn ObjectStore>,
    company: String,
    plugin: String,
    version: String,
    run_id: String,
    key: String,
    etag: Mutex<Option<String>>,
    events: AtomicU64,
    created: AtomicU64,
}

impl RunState {
    /// Ingests `events` (durable on return), then moves the cursor to `next`.
    async fn commit(&self, events: &[PluginEvent], next: &str) -> Result<(), RunFailure> {
        let origin =
            &Origin::Pull { plugin: self.plugin.clone(), version: self.version.clone(), run_id: self.run_id.clone() };
        // An aggregate repeated within the batch (a partner resending an
        // order in a later file) is stored as first sent, as if the batch
        // were ingested in order; the repeats are duplicates.
        let mut seen = HashSet::new();
        let firsts: Vec<&PluginEvent> =
            events.iter().filter(|event| seen.insert((event.kind.as_str(), event.external_id.as_str()))).collect();
        let repeats = (events.len() - firsts.len()) as u64;
        // The others are independent aggregates: they are made durable
        // several at a time, and all of them before the cursor moves.
        // (By index: a closure taking the `&PluginEvent` itself makes the
        // future fail the Send check that tokio::spawn needs.)
        let firsts = &firsts;
        let writes = (0..firsts.len()).map(|i| async move {
            let event = firsts[i];
            self.ingest
                .plugin_event(&self.company, &self.plugin, event, origin)
                .await
                .map_err(|source| RunFailure::Ingest { external_id: event.external_id.clone(), source })
        });
        let mut ingesting = stream::iter(writes).buffer_unordered(INGEST_CONCURRENCY);
        while let Some(ingested) = ingesting.next().await {
            let ingested = ingested?;
            self.events.fetch_add(1, Ordering::Relaxed);
            if ingested.created {
                self.created.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.events.fetch_add(repeats, Ordering::Relaxed);
        let stored = StoredCursor {
            cursor: next.to_string(),
            updated_at: Utc::now(),
            run_id: Some(self.run_id.clone()),
            plugin_version: Some(self.version.clone()),
        };
        let body = serde_json::to_vec(&stored).map_err(RunFailure::EncodeCursor)?;
        let mut etag = self.etag.lock().await;
        match self.store.compare_and_swap(&self.key, etag.as_deref(), Bytes::from(body)).await {
            Ok(CasOutcome::Swapped { etag: new }) => {
                *etag = Some(new);
                Ok(())
            }
            Ok(CasOutcome::Conflict) => Err(RunFailure::CursorChanged),
            Err(e) => Err(RunFailure::MoveCursor(e)),
        }
    }
}

struct RunCheckpointer(Arc<RunState>);

impl Checkpointer for RunCheckpointer {
    fn checkpoint(&self, events: Vec<PluginEvent>, next: String) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.commit(&events, &next).await.map_err(|failure| with_causes(&failure)) })
    }
}

impl Runner {
    pub fn new(
        ingest: Ingest,
        store: Arc<dyn ObjectStore>,
        log_sink: Option<Arc<dyn LogSink>>,
        activity: Arc<PluginActivity>,
        recorder: Arc<Recorder>,
    ) -> Self {
        Self { ingest, store, log_sink, activity, recorder }
    }

    /// Runs `plugin` once, unless a run is already in progress.
    pub async fn run(&self, plugin: &ActivePlugin, trigger: &str) -> Result<RunRecord, RunError> {
        if plugin.cursor_name.is_none() {
            return Err(RunError::NotPull(plugin.key.plugin.clone()));
        }
        let _running = plugin.run_lock.try_lock().map_err(|_| RunError::AlreadyRunning)?;
        let started_at = Utc::now();
        let clock = Instant::now();
        let run_id = uuid::Uuid::new_v4().to_string();
        let key = cursor_key(plugin);
        let mut record = RunRecord {
            run_id: run_id.clone(),
            plugin: plugin.key.plugin.clone(),
            version: plugin.version.clone(),
            trigger: trigger.to_string(),
            started_at,
            ended_at: started_at,
            duration_ms: 0,
            batches: 0,
            events: 0,
            created: 0,
            cursor_before: None,
            cursor_after: None,
            fuel: 0,
            error: None,
        };
        let outcome = self.batches(plugin, &key, &run_id, &mut record).await;
        if let Err(error) = outcome {
            let error = with_causes(&error);
            tracing::warn!(company = %plugin.key.company, plugin = %plugin.key.plugin, run = %run_id, %error, "pull run failed; the cursor stays where it was");
            record.error = Some(error);
        }
        record.ended_at = Utc::now();
        record.duration_ms = clock.elapsed().as_millis() as u64;
        self.activity.record(&plugin.key.company, &plugin.key.plugin, record.error.as_deref());
        self.save(plugin, &record).await;
        Ok(record)
    }

    async fn batches(
        &self,
        plugin: &ActivePlugin,
        key: &str,
        run_id: &str,
        record: &mut RunRecord,
    ) -> Result<(), RunFailure> {
        let (mut cursor, etag) = read_cursor(self.store.as_ref(), key).await.map_err(RunFailure::ReadCursor)?;
        record.cursor_before = cursor.clone();
        record.cursor_after = cursor.clone();
        let state = Arc::new(RunState {
            ingest: self.ingest.clone(),
            store: self.store.clone(),
            company: plugin.key.company.clone(),
            plugin: plugin.key.plugin.clone(),
            version: plugin.version.clone(),
            run_id: run_id.to_string(),
            key: key.to_string(),
            etag: Mutex::new(etag),
            events: AtomicU64::new(0),
            created: AtomicU64::new(0),
        });
        let result = async {
            loop {
                let tape = self.recorder.tape(plugin);
                let options = CallOptions {
                    log_sink: self.log_sink.clone(),
                    invocation_id: Some(run_id.to_string()),
                    tape: tape.clone(),
                    ..CallOptions::default()
                };
                let checkpointer: Arc<dyn Checkpointer> = Arc::new(RunCheckpointer(state.clone()));
                let fetched = plugin.plugin.fetch(cursor.clone(), Some(checkpointer), options).await;
                if let Some(tape) = tape
                    && !matches!(fetched, Err(InvokeError::TenantBusy { .. }))
                {
                    let outcome = match &fetched {
                        Ok(done) => outcome::batch_json(&done.output, tape.calls().checkpoints),
                        Err(error) => outcome::error_json(error),
                    };
                    self.recorder.pull(plugin, run_id, cursor.clone(), &tape, outcome);
                }
                record.batches += 1;
                let invocation = fetched?;
                record.fuel += invocation.stats.fuel_consumed;
                let batch = invocation.output;
                state.commit(&batch.events, &batch.next_cursor).await?;
                cursor = Some(batch.next_cursor);
                if !batch.has_more || record.batches >= MAX_BATCHES_PER_RUN {
                    return Ok(());
                }
            }
        }
        .await;
        // Checkpoints may have moved the cursor even if the run failed later.
        record.cursor_after = read_cursor(self.store.as_ref(), key).await.ok().and_then(|(c, _)| c);
        record.events = state.events.load(Ordering::Relaxed);
        record.created = state.created.load(Ordering::Relaxed);
        result
    }

    async fn save(&self, plugin: &ActivePlugin, record: &RunRecord) {
        let started = record.started_at.format("%Y%m%dT%H%M%S%3fZ").to_string();
        let key = keys::run_key(&plugin.key.company, &plugin.key.plugin, &started, &record.run_id);
        let saved = match serde_json::to_vec(record) {
            Ok(body) => self.store.put(&key, Bytes::from(body)).await.map(|_| ()),
            Err(e) => Err(StoreError::Corrupt { key: key.clone(), reason: e.to_string() }),
        };
        if let Err(e) = saved {
            tracing::error!(%key, error = %e, "could not record the run");
        }
    }
}
