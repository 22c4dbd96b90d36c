//! Dead letters: partners' requests a push plugin failed on, kept for
//! inspection and replay (`{company}/deadletter/{plugin}/{id}`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, authorize};
use crate::auth::Role;
use crate::events::keys;

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
    let mut letters = Vec::new();
    for object in state.store.list(&keys::deadletters_prefix(&company)).await? {
        if let Some(stored) = state.store.get(&object.key).await? {
            let letter: Value = serde_json::from_slice(&stored.body).unwrap_or(Value::Null);
            letters.push(json!({
                "id": letter["id"], "plugin": letter["plugin"], "version": letter["version"],
                "receivedAt": letter["receivedAt"], "method": letter["method"], "path": letter["path"],
                "status": letter["status"], "error": letter["error"], "requestId": letter["requestId"],
            }));
        }
    }
    letters.sort_by(|a, b| b["receivedAt"].as_str().cmp(&a["receivedAt"].as_str()));
    let total = letters.len();
    let page: Vec<Value> = letters.into_iter().skip(query.offset).take(query.limit.clamp(1, 500)).collect();
    Ok(Json(json!({ "deadLetters": page, "total": total, "offset": query.offset })))
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
