//! Dead letters: partners' requests a push plugin failed on, kept for
//! inspection and replay (`{company}/deadletter/{plugin}/{id}`). A replay
//! runs a letter through the plugin's active version (`ingest/push.rs`);
//! it is audited, and a letter replayed again stores nothing twice.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::push::pushes;
use super::{ApiError, AppState, RequestId, audited, authorize};
use crate::events::keys;
use crate::ingest::push::{PushError, Pushed, Unhandled};
use crate::security::auth::Role;

const ADMIN: &[Role] = &[Role::TenantAdmin, Role::PlatformOperator];

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    offset: usize,
    #[serde(default = "fifty")]
    limit: usize,
}

fn fifty() -> usize {
    50
}

/// `GET /{company}/deadletters?offset=&limit=`: newest first, without bodies.
pub(super) async fn list(
    State(state): State<AppState>,
    Path(company): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    // Newest first by the time in each letter's id (a UUIDv7), from one
    // listing; only the page's letters are read. A letter whose id carries
    // no time (kept before ids did) is read for its `receivedAt`.
    let mut dated: Vec<(Option<DateTime<Utc>>, String)> = Vec::new();
    for object in state.store.list(&keys::deadletters_prefix(&company)).await? {
        let id = object.key.rsplit('/').next().and_then(|id| uuid::Uuid::parse_str(id).ok());
        let received_at = match id.and_then(|id| id.get_timestamp()) {
            Some(timestamp) => {
                let (secs, nanos) = timestamp.to_unix();
                DateTime::from_timestamp(secs as i64, nanos)
            }
            None => read(&state, &object.key)
                .await?
                .and_then(|letter| letter["receivedAt"].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok())),
        };
        dated.push((received_at, object.key));
    }
    dated.sort_by(|a, b| b.cmp(a));
    let total = dated.len();
    let mut page = Vec::new();
    for (_, key) in dated.into_iter().skip(query.offset).take(query.limit.clamp(1, 500)) {
        if let Some(letter) = read(&state, &key).await? {
            page.push(json!({
                "id": letter["id"], "plugin": letter["plugin"], "version": letter["version"],
                "receivedAt": letter["receivedAt"], "method": letter["method"], "path": letter["path"],
                "status": letter["status"], "error": letter["error"], "requestId": letter["requestId"],
                "replayedAt": letter["replayedAt"],
            }));
        }
    }
    Ok(Json(json!({ "deadLetters": page, "total": total, "offset": query.offset })))
}

async fn read(state: &AppState, key: &str) -> Result<Option<Value>, ApiError> {
    let stored = state.store.get(key).await?;
    Ok(stored.map(|s| serde_json::from_slice(&s.body).unwrap_or(Value::Null)))
}

/// `GET /{company}/deadletters/{plugin}/{id}`: one letter, with headers and body.
pub(super) async fn get(
    State(state): State<AppState>,
    Path((company, plugin, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    keys::check_segment("plugin id", &plugin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("no dead letter `{id}`")))?;
    let stored = state
        .store
        .get(&keys::deadletter_key(&company, &plugin, &id.to_string()))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no dead letter `{id}`")))?;
    let letter: Value = serde_json::from_slice(&stored.body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(letter))
}

/// The active push plugin `plugin` of `company`, to replay through.
async fn push_plugin(
    state: &AppState,
    company: &str,
    plugin: &str,
) -> Result<std::sync::Arc<crate::plugins::registry::ActivePlugin>, ApiError> {
    keys::check_segment("plugin id", plugin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let active = state
        .registry
        .get_or_load(company, plugin)
        .await
        .ok_or_else(|| ApiError::NotFound(format!("plugin `{plugin}` has no active version to replay through")))?;
    if active.plugin.kind() != crate::plugins::manifest::PluginKind::PushSource {
        return Err(ApiError::BadRequest(format!("plugin `{plugin}` is not a push plugin")));
    }
    Ok(active)
}

/// What one replay gave, as the answer says it.
fn outcome(letter: &str, version: &str, replayed: &Result<Pushed, Unhandled>) -> Value {
    match replayed {
        Ok(Pushed::Handled { created, events, .. }) => {
            json!({ "id": letter, "version": version, "handled": true, "created": created, "events": events })
        }
        Ok(Pushed::Duplicate { delivery_id }) => {
            json!({ "id": letter, "version": version, "handled": true, "duplicate": delivery_id })
        }
        Err(unhandled) => json!({ "id": letter, "version": version, "handled": false, "error": unhandled.error }),
    }
}

/// `POST /{company}/deadletters/{plugin}/{id}/replay`: one letter through
/// the plugin's active version. 200 with the events, or the plugin's
/// failure (its status; the letter stays, with the error of this replay).
pub(super) async fn replay_one(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    Path((company, plugin, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("no dead letter `{id}`")))?.to_string();
    let active = push_plugin(&state, &company, &plugin).await?;
    let replayed = pushes(&state).replay(&active, &id, &request_id.0).await?;
    let answer = outcome(&id, &active.version, &replayed);
    audited(&state, &company, &principal.subject, "DeadLetterReplayed", json!({ "plugin": plugin, "replay": answer }))
        .await?;
    if let Err(unhandled) = replayed {
        return Err(PushError::PluginFailed {
            status: unhandled.status,
            message: format!("dead letter {id} failed again with version {}: {}", active.version, unhandled.error),
        }
        .into());
    }
    Ok(Json(answer))
}

/// `POST /{company}/deadletters/{plugin}/replay`: every letter of the
/// plugin not yet replayed with success, oldest first, through its active
/// version; what became of each.
pub(super) async fn replay_all(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    let active = push_plugin(&state, &company, &plugin).await?;
    let prefix = format!("{}{plugin}/", keys::deadletters_prefix(&company));
    let mut letters: Vec<String> = state
        .store
        .list(&prefix)
        .await?
        .into_iter()
        .filter_map(|object| object.key.strip_prefix(&prefix).map(str::to_string))
        .collect();
    // UUIDv7 ids: in time order as text.
    letters.sort();
    let pushes = pushes(&state);
    let mut results = Vec::new();
    for letter in letters {
        let kept = read(&state, &keys::deadletter_key(&company, &plugin, &letter)).await?;
        if kept.is_none_or(|kept| !kept["replayedAt"].is_null()) {
            continue;
        }
        let replay_id = format!("{}-{}", request_id.0, results.len());
        let replayed = pushes.replay(&active, &letter, &replay_id).await?;
        results.push(outcome(&letter, &active.version, &replayed));
    }
    let handled = results.iter().filter(|result| result["handled"] == true).count();
    let answer =
        json!({ "version": active.version, "replayed": results.len(), "handled": handled, "results": results });
    let summary = json!({ "plugin": plugin, "version": active.version, "replayed": results.len(), "handled": handled });
    audited(&state, &company, &principal.subject, "DeadLettersReplayed", summary).await?;
    Ok(Json(answer))
}
