//! Plugin install and operations: `PUT /{company}/plugins/{id}` (multipart
//! `manifest` + `component`), listing, `POST …/run` and `GET …/runs`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use serde::Deserialize;

use super::orders::json_body;
use super::{ApiError, AppState, audited, authorize};
use crate::events::keys;
use crate::plugins::registry::{ActivePlugin, InstallError, NotLoaded};
use crate::scheduler::{RunError, run};
use crate::security::auth::Role;

const ADMIN: &[Role] = &[Role::TenantAdmin, Role::PlatformOperator];

pub(super) fn describe(state: &AppState, plugin: &ActivePlugin) -> Value {
    let manifest = plugin.plugin.manifest();
    json!({
        "activity": state.activity.get(&plugin.key.company, &plugin.key.plugin),
        "id": plugin.key.plugin,
        "kind": plugin.plugin.kind().as_str(),
        "version": plugin.version,
        "enabled": plugin.enabled,
        "status": "loaded",
        "path": plugin.path,
        "schedule": plugin.schedule,
        "cursorKey": plugin.cursor_name,
        "validationMode": manifest.validation_mode,
    })
}

impl From<InstallError> for ApiError {
    fn from(e: InstallError) -> Self {
        match e {
            InstallError::Invalid(m) => Self::BadRequest(m),
            InstallError::TooLarge(m) => Self::TooLarge(m),
            InstallError::PathTaken { .. } | InstallError::Conflict => Self::Conflict(e.to_string()),
            InstallError::NotFound(m) => Self::NotFound(m),
            InstallError::Undescribed => Self::Internal(e.to_string()),
            InstallError::Store(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct UploadOptions {
    /// `false` stores the version without activating it.
    #[serde(default = "yes")]
    activate: bool,
}

fn yes() -> bool {
    true
}

/// `PUT /{company}/plugins/{id}` (multipart `manifest` + `component`):
/// stores a version and, unless `?activate=false`, activates it.
pub(super) async fn install(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    Query(options): Query<UploadOptions>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<impl IntoResponse, ApiError> {
    let read = match authorize(&state, &headers, &company, ADMIN) {
        Ok(principal) => read_upload(&state, &mut form).await.map(|upload| (principal, upload)),
        Err(refused) => Err(refused),
    };
    let (principal, (manifest, component)) = read.inspect_err(|_| discard_rest(&state, form))?;
    let (version, active) =
        state.registry.upload(&company, &plugin, &component, &manifest, &principal.subject, options.activate).await?;
    if active.is_some() {
        // Scheduled before anything else can fail: the version is active.
        state.scheduler.sync();
    }
    audited(&state, &company, &principal.subject, "PluginUploaded", json!({"plugin": plugin, "version": version}))
        .await?;
    let body = match active {
        Some(active) => {
            audited(
                &state,
                &company,
                &principal.subject,
                "PluginActivated",
                json!({"plugin": plugin, "version": version}),
            )
            .await?;
            describe(&state, &active)
        }
        None => json!({ "id": plugin, "version": version, "active": false }),
    };
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Debug, Deserialize)]
pub(super) struct ActivateBody {
    version: String,
}

/// `POST …/activate` `{"version": "<sha256>"}`: roll forward or back.
pub(super) async fn activate(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    let request: ActivateBody = json_body(&state, payload, r#"the body must be {"version": "..."}"#)?;
    let active = state.registry.activate(&company, &plugin, &request.version, &principal.subject).await?;
    state.scheduler.sync();
    audited(
        &state,
        &company,
        &principal.subject,
        "PluginActivated",
        json!({"plugin": plugin, "version": request.version}),
    )
    .await?;
    Ok(Json(describe(&state, &active)))
}

async fn switch(
    state: AppState,
    company: String,
    plugin: String,
    headers: HeaderMap,
    enabled: bool,
) -> Result<Json<Value>, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    let active = state.registry.set_enabled(&company, &plugin, enabled, &principal.subject).await?;
    state.scheduler.sync();
    let action = if enabled { "PluginEnabled" } else { "PluginDisabled" };
    audited(&state, &company, &principal.subject, action, json!({"plugin": plugin})).await?;
    Ok(Json(describe(&state, &active)))
}

pub(super) async fn enable(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    switch(state, company, plugin, headers, true).await
}

pub(super) async fn disable(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    switch(state, company, plugin, headers, false).await
}

/// `DELETE /{company}/plugins/{id}`.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    state.registry.delete(&company, &plugin).await?;
    state.activity.forget(&company, &plugin);
    state.plugin_logs.forget(&company, &plugin);
    audited(&state, &company, &principal.subject, "PluginDeleted", json!({"plugin": plugin})).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET …/versions`: every stored version, and which is active.
pub(super) async fn versions(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    keys::check_segment("plugin id", &plugin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let active = state.registry.get(&company, &plugin).map(|p| p.version.clone());
    let versions: Vec<Value> = state
        .registry
        .versions(&company, &plugin)
        .await?
        .into_iter()
        .map(|(version, kind)| json!({"version": version, "kind": kind, "active": Some(&version) == active.as_ref()}))
        .collect();
    Ok(Json(json!({ "versions": versions })))
}

#[derive(Debug, Deserialize)]
pub(super) struct LogsQuery {
    #[serde(default = "hundred")]
    limit: usize,
}

fn hundred() -> usize {
    100
}

/// `GET …/logs?limit=`: the plugin's recent log lines (secrets scrubbed).
pub(super) async fn logs(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    Query(query): Query<LogsQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    Ok(Json(json!({ "lines": state.plugin_logs.recent(&company, &plugin, query.limit.clamp(1, 1000)) })))
}

fn pull_plugin(state: &AppState, company: &str, plugin: &str) -> Result<std::sync::Arc<ActivePlugin>, ApiError> {
    let active =
        state.registry.get(company, plugin).ok_or_else(|| ApiError::NotFound(format!("no plugin `{plugin}`")))?;
    if active.cursor_name.is_none() {
        return Err(ApiError::BadRequest(format!("`{plugin}` is not a pull plugin; it has no cursor")));
    }
    Ok(active)
}

/// `GET …/cursor` (platform-operator): the stored cursor.
pub(super) async fn get_cursor(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, &[Role::PlatformOperator])?;
    let active = pull_plugin(&state, &company, &plugin)?;
    let key = run::cursor_key(&active);
    let stored =
        state.store.get(&key).await?.ok_or_else(|| ApiError::NotFound(format!("`{plugin}` has no cursor yet")))?;
    let cursor: Value = serde_json::from_slice(&stored.body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(cursor))
}

#[derive(Debug, Deserialize)]
pub(super) struct CursorBody {
    cursor: String,
}

/// `PUT …/cursor` `{"cursor": "..."}` (platform-operator): where the next run starts.
pub(super) async fn set_cursor(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, &[Role::PlatformOperator])?;
    let request: CursorBody = json_body(&state, payload, r#"the body must be {"cursor": "..."}"#)?;
    let active = pull_plugin(&state, &company, &plugin)?;
    let _not_during_a_run = active
        .run_lock
        .try_lock()
        .map_err(|_| ApiError::Conflict("a run of this plugin is in progress; retry".into()))?;
    let stored = run::StoredCursor {
        cursor: request.cursor.clone(),
        updated_at: chrono::Utc::now(),
        run_id: None,
        plugin_version: None,
    };
    let body = serde_json::to_vec(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    state.store.put(&run::cursor_key(&active), Bytes::from(body)).await?;
    audited(&state, &company, &principal.subject, "CursorSet", json!({"plugin": plugin, "cursor": request.cursor}))
        .await?;
    Ok(Json(serde_json::to_value(stored).map_err(|e| ApiError::Internal(e.to_string()))?))
}

/// `DELETE …/cursor` (platform-operator): the next run reads from the
/// beginning; deterministic order ids keep that free of duplicates.
pub(super) async fn reset_cursor(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, &[Role::PlatformOperator])?;
    let active = pull_plugin(&state, &company, &plugin)?;
    let _not_during_a_run = active
        .run_lock
        .try_lock()
        .map_err(|_| ApiError::Conflict("a run of this plugin is in progress; retry".into()))?;
    state.store.delete(&run::cursor_key(&active)).await?;
    audited(&state, &company, &principal.subject, "CursorReset", json!({"plugin": plugin})).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The manifest and component of an upload, each refused the moment it
/// passes its limit.
async fn read_upload(state: &AppState, form: &mut Multipart) -> Result<(String, Vec<u8>), ApiError> {
    let mut manifest = None;
    let mut component = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("manifest") => {
                let text = read_field(field, "manifest", MAX_MANIFEST_BYTES).await?;
                manifest = Some(
                    String::from_utf8(text)
                        .map_err(|_| ApiError::BadRequest("the manifest is not UTF-8 text".into()))?,
                );
            }
            Some("component") => {
                let limit = state.registry.engine().max_component_bytes();
                component = Some(read_field(field, "component", limit).await?);
            }
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "unexpected form field `{other}`; send `manifest` and `component`"
                )));
            }
            None => return Err(ApiError::BadRequest("a form field has no name".into())),
        }
    }
    let manifest = manifest.ok_or_else(|| ApiError::BadRequest("missing form field `manifest`".into()))?;
    let component = component.ok_or_else(|| ApiError::BadRequest("missing form field `component`".into()))?;
    Ok((manifest, component))
}

/// Reads what is left of a refused upload in the background without
/// keeping it (at most the upload limit, 5 s), so that the client gets its
/// answer on a clean connection: closing one with unread request bytes
/// makes the kernel reset it, and the answer is lost.
fn discard_rest(state: &AppState, mut form: Multipart) {
    state.tasks.spawn("api: drain a refused upload", async move {
        let drain = async {
            while let Ok(Some(mut field)) = form.next_field().await {
                while let Ok(Some(_discarded)) = field.chunk().await {}
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
    });
}

/// The largest manifest accepted (manifests are a few hundred bytes).
const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// A form field's bytes, refused (413) the moment they pass `limit` —
/// never read to the end first.
async fn read_field(
    mut field: axum::extract::multipart::Field<'_>,
    name: &str,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge(format!(
                "the upload is too large: the form field `{name}` is over its limit of {limit} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!("the upload is too large: {}", e.body_text()))
    } else {
        ApiError::unread_body(
            &e,
            ApiError::BadRequest(format!("the upload is not a valid multipart form: {}", e.body_text())),
        )
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    Path(company): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    let mut plugins: Vec<Value> =
        state.registry.all().iter().filter(|p| p.key.company == company).map(|p| describe(&state, p)).collect();
    plugins.extend(state.registry.unloaded(&company).into_iter().map(|(id, why)| unloaded(&id, &why)));
    Ok(Json(json!({ "plugins": plugins })))
}

/// An active plugin this node does not serve (yet), and why (its tenant's to fix).
fn unloaded(id: &str, why: &NotLoaded) -> Value {
    match why {
        NotLoaded::Loading => json!({
            "id": id, "status": "loading", "enabled": false,
            "reason": "loading after start: its code is being asked for its path or schedule",
        }),
        NotLoaded::Failed(reason) => json!({ "id": id, "status": "unloaded", "enabled": false, "reason": reason }),
    }
}

pub(super) async fn get(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    if let Some(active) = state.registry.get(&company, &plugin) {
        return Ok(Json(describe(&state, &active)));
    }
    match state.registry.unloaded(&company).into_iter().find(|(id, _)| *id == plugin) {
        Some((id, why)) => Ok(Json(unloaded(&id, &why))),
        None => Err(ApiError::NotFound(format!("no plugin `{plugin}`"))),
    }
}

pub(super) async fn run_now(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    let active =
        state.registry.get(&company, &plugin).ok_or_else(|| ApiError::NotFound(format!("no plugin `{plugin}`")))?;
    match state.scheduler.runner().run(&active, "manual").await {
        Ok(record) => {
            audited(
                &state,
                &company,
                &principal.subject,
                "PluginRunRequested",
                json!({"plugin": plugin, "run": record.run_id}),
            )
            .await?;
            Ok(Json(serde_json::to_value(record).map_err(|e| ApiError::Internal(e.to_string()))?))
        }
        Err(RunError::AlreadyRunning) => Err(ApiError::Conflict("a run of this plugin is already in progress".into())),
        Err(e @ RunError::NotPull(_)) => Err(ApiError::BadRequest(e.to_string())),
    }
}

pub(super) async fn runs(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    crate::events::keys::check_segment("plugin id", &plugin).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let listed = state.store.list(&keys::runs_prefix(&company, &plugin)).await?;
    let mut runs = Vec::new();
    // Newest first, the last 100.
    for meta in listed.iter().rev().take(100) {
        if let Some(object) = state.store.get(&meta.key).await? {
            runs.push(serde_json::from_slice::<Value>(&object.body).unwrap_or(Value::Null));
        }
    }
    Ok(Json(json!({ "runs": runs })))
}
