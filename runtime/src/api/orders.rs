//! `POST /{company}/order` (ingest through the order API) and
//! `GET /{company}/order/{id}` (state, findings and events).

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, RequestId, authorize};
use crate::auth::Role;
use crate::ingest::{OrderEnvelope, Origin};
use crate::metrics::Metrics;
use crate::orders::{self, OrderView};

/// The body, or 413 when it is over the limit.
pub(crate) fn body(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(state.max_body_bytes)
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })
}

pub(super) async fn create(
    State(state): State<AppState>,
    Path(company): Path<String>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, &[Role::SourceAdapter])?;
    let payload = body(&state, payload)?;
    let envelope =
        OrderEnvelope::parse(&payload).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let origin = Origin::Api {
        subject: principal.subject,
        request_id: request_id.0,
    };
    let ingested = state
        .ingest
        .order(&company, &envelope, &origin)
        .await
        .inspect_err(|_| {
            Metrics::inc(&state.metrics.store_unavailable);
        })?;
    let (status, counter) = if ingested.created {
        (StatusCode::CREATED, &state.metrics.orders_created)
    } else {
        (StatusCode::OK, &state.metrics.orders_duplicate)
    };
    Metrics::inc(counter);
    let location = format!("/{company}/order/{}", ingested.id);
    Ok((
        status,
        [(axum::http::header::LOCATION, location)],
        Json(json!({ "id": ingested.id, "duplicate": !ingested.created })),
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct GetOptions {
    /// Include the order as received.
    #[serde(default)]
    payload: bool,
}

pub(super) async fn get(
    State(state): State<AppState>,
    Path((company, id)): Path<(String, String)>,
    Query(options): Query<GetOptions>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(
        &state,
        &headers,
        &company,
        &[
            Role::SourceAdapter,
            Role::TenantAdmin,
            Role::PlatformOperator,
        ],
    )?;
    let not_found = || ApiError::NotFound(format!("no order `{id}` for company `{company}`"));
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| not_found())?
        .to_string();
    let events = state
        .ingest
        .log()
        .read(&company, orders::AGGREGATE, &id)
        .await?;
    let view = OrderView::from_events(&events).ok_or_else(not_found)?;
    let mut body = serde_json::to_value(&view).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["events"] = events
        .iter()
        .map(|e| {
            let mut summary = json!({
                "version": e.version,
                "type": e.event_type,
                "occurredAt": e.occurred_at,
                "actor": e.actor,
            });
            if let Some(findings) = e.data.get("findings") {
                summary["findings"] = findings.clone();
            }
            if let Some(reason) = e.data.get("reason") {
                summary["reason"] = reason.clone();
            }
            summary
        })
        .collect::<Vec<Value>>()
        .into();
    if options.payload {
        body["order"] = events[0].data["order"].clone();
        body["envelope"] = json!({
            "validationMode": events[0].data.get("validationMode"),
            "warehouseId": events[0].data.get("warehouseId"),
            "receivedVia": events[0].data.get("receivedVia"),
        });
    }
    Ok(Json(body))
}
