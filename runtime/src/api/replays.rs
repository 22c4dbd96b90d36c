//! A plugin's recorded invocations, replays and shadow over HTTP
//! (docs/DESIGN.md §10): `GET …/recordings` pages through the recordings
//! (what `portitor plugin recordings export` writes to files), `POST
//! …/replay` runs a stored version over them and answers the report, `GET
//! …/replay` the newest report, `PUT`/`GET`/`DELETE …/shadow` the version
//! that runs beside the active one and its counts. Tenant admins and
//! platform operators (the token is checked before a body is read); a
//! replay and a shadow change are audited.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::orders::json_body;
use super::{ApiError, AppState, audited, authorize};
use crate::events::keys;
use crate::replay::replays::{ReplayError, ReplayRequest, Replays};
use crate::replay::shadow::ShadowError;
use crate::security::auth::Role;

const ADMIN: &[Role] = &[Role::TenantAdmin, Role::PlatformOperator];

/// The most recordings one page holds.
const PAGE_MAX: usize = 100;

impl From<ReplayError> for ApiError {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::Version(e) => e.into(),
            ReplayError::Invalid(m) => Self::BadRequest(m),
            ReplayError::Store(e) => e.into(),
        }
    }
}

impl From<ShadowError> for ApiError {
    fn from(e: ShadowError) -> Self {
        match e {
            ShadowError::Version(e) => e.into(),
            ShadowError::Store(e) => e.into(),
        }
    }
}

fn checked(plugin: &str) -> Result<(), ApiError> {
    keys::check_segment("plugin id", plugin).map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn replays(state: &AppState) -> Replays<'_> {
    Replays { store: &state.store, registry: &state.registry, log_sink: state.log_sink.clone() }
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    /// The last recording id of the previous page.
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /{company}/plugins/{plugin}/recordings?after=&limit=`: oldest
/// first, whole; `next` is the `after` of the next page.
pub(super) async fn recordings(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    checked(&plugin)?;
    let limit = query.limit.unwrap_or(PAGE_MAX).clamp(1, PAGE_MAX);
    let prefix = keys::recordings_prefix(&company, &plugin);
    let after = query.after.map(|after| format!("{after}.json"));
    let names: Vec<String> = state
        .store
        .list_children(&prefix)
        .await?
        .into_iter()
        .filter(|name| after.as_ref().is_none_or(|after| name > after))
        .take(limit)
        .collect();
    let keys: Vec<String> = names.iter().map(|name| format!("{prefix}{name}")).collect();
    let recordings: Vec<Value> = state
        .store
        .get_all(&keys)
        .await?
        .into_iter()
        .flatten()
        .filter_map(|object| serde_json::from_slice(&object.body).ok())
        .collect();
    let next = (names.len() == limit).then(|| names.last().map(|name| name.trim_end_matches(".json").to_string()));
    Ok(Json(json!({ "recordings": recordings, "next": next.flatten() })))
}

/// `POST /{company}/plugins/{plugin}/replay` `{"version", "from"?, "to"?,
/// "limit"?}`: the report (also kept as the plugin's newest).
pub(super) async fn replay(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    checked(&plugin)?;
    let shape = r#"the body must be {"version", "from"?, "to"?, "limit"?}"#;
    let request: ReplayRequest = json_body(&state, payload, shape)?;
    let report = replays(&state).replay(&company, &plugin, &request, &principal.subject).await?;
    let summary = json!({ "plugin": plugin, "version": report.version, "report": report.id, "counts": report.counts });
    audited(&state, &company, &principal.subject, "PluginReplayed", summary).await?;
    Ok(Json(report))
}

/// `GET /{company}/plugins/{plugin}/replay`: the newest report.
pub(super) async fn last_replay(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    checked(&plugin)?;
    let report = replays(&state).last(&company, &plugin).await?;
    report.map(Json).ok_or_else(|| ApiError::NotFound(format!("plugin `{plugin}` has not been replayed")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ShadowRequest {
    version: String,
}

/// `PUT /{company}/plugins/{plugin}/shadow` `{"version"}`: runs the version
/// beside the active one from now on.
pub(super) async fn set_shadow(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    checked(&plugin)?;
    let request: ShadowRequest = json_body(&state, payload, r#"the body must be {"version": "..."}"#)?;
    if state.registry.get(&company, &plugin).is_none() {
        return Err(ApiError::NotFound(format!("plugin `{plugin}` has no active version to shadow")));
    }
    let status = state.shadows.set(&company, &plugin, &request.version, &principal.subject).await?;
    audited(&state, &company, &principal.subject, "ShadowSet", json!({ "plugin": plugin, "version": status.version }))
        .await?;
    Ok(Json(status))
}

/// `GET /{company}/plugins/{plugin}/shadow`: the shadow and its counts on this node.
pub(super) async fn shadow(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    checked(&plugin)?;
    let status = state.shadows.status(&company, &plugin).await?;
    status.map(Json).ok_or_else(|| ApiError::NotFound(format!("plugin `{plugin}` has no shadow")))
}

/// `DELETE /{company}/plugins/{plugin}/shadow`: stops the shadow.
pub(super) async fn clear_shadow(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    checked(&plugin)?;
    if !state.shadows.clear(&company, &plugin).await? {
        return Err(ApiError::NotFound(format!("plugin `{plugin}` has no shadow")));
    }
    audited(&state, &company, &principal.subject, "ShadowCleared", json!({ "plugin": plugin })).await?;
    Ok(Json(json!({ "plugin": plugin, "shadow": null })))
}
