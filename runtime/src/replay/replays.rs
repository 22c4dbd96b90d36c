//! Replay (docs/DESIGN.md §10): a stored version of a plugin — typically
//! uploaded and not yet active — run over a range of the plugin's
//! recorded invocations, each with its recorded answers in place of the
//! network, and a report of how each came out against what was recorded:
//! `equal`, `different` (each difference by JSON Pointer) or `failed`
//! (the error). Nothing a replay produces is ingested; the report is kept
//! beside the plugin (the newest [`REPORTS_KEPT`]).

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::diff::{Difference, diff};
use super::fixture::Fixture;
use super::run::invoke;
use crate::engine::CallOptions;
use crate::events::keys;
use crate::host::LogSink;
use crate::plugins::registry::{InstallError, Registry};
use crate::store::{ObjectStore, StoreError};

/// The most recordings one replay runs.
pub const MAX_PER_REPLAY: usize = 10_000;

/// Reports kept per plugin.
pub const REPORTS_KEPT: usize = 20;

/// The most differences a report lists per invocation.
const DIFFERENCES_LISTED: usize = 20;

/// What to replay: a version over the recordings from `from` to `to`
/// (recording ids, both included; the oldest and newest when unset), at
/// most `limit` of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayRequest {
    pub version: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// How an invocation came out in a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Equal,
    Different,
    Failed,
}

/// Counts of each verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub equal: u64,
    pub different: u64,
    pub failed: u64,
}

impl Counts {
    pub fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Equal => self.equal += 1,
            Verdict::Different => self.different += 1,
            Verdict::Failed => self.failed += 1,
        }
    }
}

/// One recording in a report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedInvocation {
    pub recording: String,
    /// The version that ran live.
    pub recorded_version: String,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Value>,
    /// What the replay failed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// A replay's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: String,
    pub plugin: String,
    pub version: String,
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub counts: Counts,
    pub invocations: Vec<ReplayedInvocation>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Version(#[from] InstallError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Compares what a recording gave with what a replay gave.
pub fn judge(recorded: &Value, replayed: &Value) -> (Verdict, Vec<Difference>) {
    if recorded == replayed {
        return (Verdict::Equal, Vec::new());
    }
    if replayed.get("error").is_some() && recorded.get("error").is_none() {
        return (Verdict::Failed, Vec::new());
    }
    (Verdict::Different, diff(recorded, replayed, DIFFERENCES_LISTED))
}

/// What a replay needs of the runtime.
#[derive(Debug)]
pub struct Replays<'a> {
    pub store: &'a Arc<dyn ObjectStore>,
    pub registry: &'a Registry,
    pub log_sink: Option<Arc<dyn LogSink>>,
}

impl Replays<'_> {
    /// Replays `request.version` of `plugin` over its recordings and keeps
    /// the report.
    pub async fn replay(
        &self,
        company: &str,
        plugin: &str,
        request: &ReplayRequest,
        actor: &str,
    ) -> Result<Report, ReplayError> {
        let limit = request.limit.unwrap_or(MAX_PER_REPLAY).min(MAX_PER_REPLAY);
        for id in [&request.from, &request.to].into_iter().flatten() {
            keys::check_segment("recording id", id).map_err(|e| ReplayError::Invalid(e.to_string()))?;
        }
        let candidate = self.registry.load_stored(company, plugin, &request.version).await?;
        let started_at = Utc::now();
        let prefix = keys::recordings_prefix(company, plugin);
        let names: Vec<String> = self
            .store
            .list_children(&prefix)
            .await?
            .into_iter()
            .filter(|name| {
                let id = name.trim_end_matches(".json");
                request.from.as_deref().is_none_or(|from| id >= from) && request.to.as_deref().is_none_or(|to| id <= to)
            })
            .take(limit)
            .collect();
        let mut counts = Counts::default();
        let mut invocations = Vec::with_capacity(names.len());
        for chunk in names.chunks(64) {
            let keys: Vec<String> = chunk.iter().map(|name| format!("{prefix}{name}")).collect();
            for object in self.store.get_all(&keys).await?.into_iter().flatten() {
                // A recording that cannot be read is one less to replay, not a failed replay.
                let Ok(fixture) = serde_json::from_slice::<Fixture>(&object.body) else { continue };
                let Some(recording) = fixture.recording.clone() else { continue };
                let options = CallOptions { log_sink: self.log_sink.clone(), ..CallOptions::default() };
                let replayed = match invoke(&candidate, &fixture, company, options).await {
                    Ok(replayed) => replayed,
                    Err(missing) => {
                        serde_json::json!({ "error": { "kind": "runtime", "message": missing.to_string() } })
                    }
                };
                let (verdict, differences) = judge(&fixture.expect, &replayed);
                counts.add(verdict);
                invocations.push(ReplayedInvocation {
                    recording: recording.id,
                    recorded_version: recording.version,
                    verdict,
                    differences: differences.iter().filter_map(|d| serde_json::to_value(d).ok()).collect(),
                    error: (verdict == Verdict::Failed).then(|| replayed["error"].clone()),
                });
            }
        }
        let report = Report {
            id: uuid::Uuid::now_v7().to_string(),
            plugin: plugin.to_string(),
            version: request.version.clone(),
            requested_by: actor.to_string(),
            started_at,
            ended_at: Utc::now(),
            counts,
            invocations,
        };
        self.keep(company, plugin, &report).await?;
        Ok(report)
    }

    /// The newest report of `plugin`, if any.
    pub async fn last(&self, company: &str, plugin: &str) -> Result<Option<Report>, StoreError> {
        let prefix = keys::replays_prefix(company, plugin);
        let Some(newest) = self.store.list_children(&prefix).await?.pop() else { return Ok(None) };
        let key = format!("{prefix}{newest}");
        let Some(object) = self.store.get(&key).await? else { return Ok(None) };
        serde_json::from_slice(&object.body).map(Some).map_err(|e| StoreError::Corrupt { key, reason: e.to_string() })
    }

    async fn keep(&self, company: &str, plugin: &str, report: &Report) -> Result<(), StoreError> {
        let key = keys::replay_key(company, plugin, &report.id);
        let body =
            serde_json::to_vec(report).map_err(|e| StoreError::Corrupt { key: key.clone(), reason: e.to_string() })?;
        self.store.put(&key, Bytes::from(body)).await?;
        let prefix = keys::replays_prefix(company, plugin);
        let names = self.store.list_children(&prefix).await?;
        let old: Vec<String> =
            names.iter().take(names.len().saturating_sub(REPORTS_KEPT)).map(|name| format!("{prefix}{name}")).collect();
        self.store.delete_all(&old).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_replay_that_fails_where_the_recording_did_not_is_failed() {
        let recorded = json!({ "events": [{ "payload": { "n": 1 } }] });
        assert_eq!(judge(&recorded, &recorded).0, Verdict::Equal);
        let (verdict, differences) = judge(&recorded, &json!({ "events": [{ "payload": { "n": 2 } }] }));
        assert_eq!(verdict, Verdict::Different);
        assert_eq!(differences[0].path, "/events/0/payload/n");
        assert_eq!(judge(&recorded, &json!({ "error": { "kind": "fatal", "message": "x" } })).0, Verdict::Failed);
        let failed = json!({ "error": { "kind": "fatal", "message": "x" } });
        assert_eq!(judge(&failed, &failed).0, Verdict::Equal, "failing the same way is equal");
    }
}
