//! Plugin install and operations: `PUT /{company}/plugins/{id}` (multipart
//! `manifest` + `component`), listing, `POST …/run` and `GET …/runs`.

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{ApiError, AppState, authorize};
use crate::auth::Role;
use crate::registry::{ActivePlugin, InstallError};
use crate::scheduler::{RunError, run};

const ADMIN: &[Role] = &[Role::TenantAdmin, Role::PlatformOperator];

pub(super) fn describe(plugin: &ActivePlugin) -> Value {
    let manifest = plugin.plugin.manifest();
    json!({
        "id": plugin.key.plugin,
        "kind": plugin.plugin.kind().as_str(),
        "version": plugin.version,
        "enabled": plugin.enabled,
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
            InstallError::Store(e) => e.into(),
        }
    }
}

pub(super) async fn install(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    let mut manifest = None;
    let mut component = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("manifest") => manifest = Some(field.text().await.map_err(multipart_error)?),
            Some("component") => component = Some(field.bytes().await.map_err(multipart_error)?),
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
    let active = state.registry.install(&company, &plugin, &component, &manifest, &principal.subject).await?;
    state.scheduler.sync();
    Ok((StatusCode::CREATED, Json(describe(&active))))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!("the upload is too large: {}", e.body_text()))
    } else {
        ApiError::BadRequest(format!("the upload is not a valid multipart form: {}", e.body_text()))
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    Path(company): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    let plugins: Vec<Value> =
        state.registry.all().iter().filter(|p| p.key.company == company).map(|p| describe(p)).collect();
    Ok(Json(json!({ "plugins": plugins })))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    let active =
        state.registry.get(&company, &plugin).ok_or_else(|| ApiError::NotFound(format!("no plugin `{plugin}`")))?;
    Ok(Json(describe(&active)))
}

pub(super) async fn run_now(
    State(state): State<AppState>,
    Path((company, plugin)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    let active =
        state.registry.get(&company, &plugin).ok_or_else(|| ApiError::NotFound(format!("no plugin `{plugin}`")))?;
    match state.scheduler.runner().run(&active, "manual").await {
        Ok(record) => Ok(Json(serde_json::to_value(record).map_err(|e| ApiError::Internal(e.to_string()))?)),
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
    let listed = state.store.list(&run::runs_prefix(&company, &plugin)).await?;
    let mut runs = Vec::new();
    // Newest first, the last 100.
    for meta in listed.iter().rev().take(100) {
        if let Some(object) = state.store.get(&meta.key).await? {
            runs.push(serde_json::from_slice::<Value>(&object.body).unwrap_or(Value::Null));
        }
    }
    Ok(Json(json!({ "runs": runs })))
}
