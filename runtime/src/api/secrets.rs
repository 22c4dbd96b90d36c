//! `PUT /{company}/secrets/{name}`: write-only. No API returns a value.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::orders::body;
use super::{ApiError, AppState, audited, authorize};
use crate::security::auth::Role;
use crate::security::secrets::VaultError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    value: String,
}

pub(super) async fn put(
    State(state): State<AppState>,
    Path((company, name)): Path<(String, String)>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, &[Role::TenantAdmin, Role::PlatformOperator])?;
    let payload = body(&state, payload)?;
    let secret: SecretBody = serde_json::from_slice(&payload)
        .map_err(|e| ApiError::BadRequest(format!("the body must be {{\"value\": \"...\"}}: {e}")))?;
    state.vault.put(&company, &name, &secret.value).await.map_err(|e| match e {
        VaultError::Store(e) => e.into(),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    audited(&state, &company, &principal.subject, "SecretSet", serde_json::json!({"name": name})).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list(
    State(state): State<AppState>,
    Path(company): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, &[Role::TenantAdmin, Role::PlatformOperator])?;
    Ok(Json(json!({ "names": state.vault.names(&company) })))
}
