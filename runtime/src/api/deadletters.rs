//! Dead letters: partners' requests a push plugin failed on, kept for
//! inspection and replay (`{company}/deadletter/{plugin}/{id}`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, authorize};
use crate::events::keys;
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
