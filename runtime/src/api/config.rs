//! Tenant configuration: the pipeline (`/{company}/config/pipeline`) and a
//! replacement order schema (`/{company}/config/order-schema`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

use super::orders::{body, json_body};
use super::{ApiError, AppState, audited, authorize};
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::schema::SchemaError;
use crate::security::auth::Role;

const ADMIN: &[Role] = &[Role::TenantAdmin, Role::PlatformOperator];

pub(super) async fn get_pipeline(
    State(state): State<AppState>,
    Path(company): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, ADMIN)?;
    Ok(Json(state.configs.pipeline(&company)))
}

pub(super) async fn put_pipeline(
    State(state): State<AppState>,
    Path(company): Path<String>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    let config = PipelineConfig::parse(&body(&state, payload)?).map_err(ApiError::BadRequest)?;
    state.configs.set_pipeline(&company, config.clone()).await?;
    let details = serde_json::to_value(&config).map_err(|e| ApiError::Internal(e.to_string()))?;
    audited(&state, &company, &principal.subject, "PipelineConfigured", details).await?;
    Ok(Json(config))
}

pub(super) async fn put_order_schema(
    State(state): State<AppState>,
    Path(company): Path<String>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, ADMIN)?;
    let schema: Value = json_body(&state, payload, "the schema is not JSON")?;
    state.schemas.set(&company, &schema).await.map_err(|e| match e {
        invalid @ SchemaError::Invalid(_) => ApiError::BadRequest(invalid.to_string()),
        SchemaError::Store(e) => e.into(),
    })?;
    audited(&state, &company, &principal.subject, "OrderSchemaReplaced", serde_json::json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}
