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

use super::{ApiError, AppState, RequestId, audited, authorize};
use crate::ingest::{OrderEnvelope, Origin};
use crate::ops::metrics::Metrics;
use crate::orders::events::{OrderEvent, Unreadable, received_order};
use crate::orders::{self, OrderView};
use crate::pipeline::ForceError;
use crate::projections::{PageStart, Queue, is_cursor};
use crate::security::auth::{Principal, Role};
use crate::store::StoreError;

/// The body, or 413 when it is over the limit.
pub(crate) fn body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(state.max_body_bytes)
        } else {
            ApiError::unread_body(&rejection, ApiError::BadRequest(rejection.body_text()))
        }
    })
}

/// The body read as JSON of type `T`, or 400 saying what it must be
/// (`shape`, e.g. `{"version": "..."}`), or 413 when it is over the limit.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    payload: Result<Bytes, BytesRejection>,
    shape: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(&body(state, payload)?).map_err(|e| ApiError::BadRequest(format!("{shape}: {e}")))
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
    let envelope = OrderEnvelope::parse(&payload).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    check_source(&state, &principal, &company, &envelope.source)?;
    let origin = Origin::Api { subject: principal.subject, request_id: request_id.0 };
    let ingested = state.ingest.order(&company, &envelope, &origin).await.inspect_err(|_| {
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

/// A source that names one of the tenant's plugins belongs to that plugin:
/// no caller of the order API may pre-empt its orders (docs/DESIGN.md §8). A token
/// with a `sources` claim may use only those.
fn check_source(state: &AppState, principal: &Principal, company: &str, source: &str) -> Result<(), ApiError> {
    if state.registry.owns_source(company, source) {
        return Err(ApiError::Forbidden(format!(
            "source `{source}` belongs to the plugin `{source}`: its orders come only through that plugin"
        )));
    }
    if !principal.may_use_source(source) {
        return Err(ApiError::Forbidden(format!("this token may not send orders for source `{source}`")));
    }
    Ok(())
}

/// Whether `principal` may read an order from `source`: a tenant-admin or
/// operator reads every order; a source-adapter only its own sources' —
/// those no plugin owns, and of those only the ones its `sources` claim
/// names if it has one (a claim narrows, never widens).
fn may_read(state: &AppState, principal: &Principal, company: &str, source: &str) -> bool {
    principal.has(Role::TenantAdmin)
        || principal.has(Role::PlatformOperator)
        || (principal.may_use_source(source) && !state.registry.owns_source(company, source))
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
    let principal =
        authorize(&state, &headers, &company, &[Role::SourceAdapter, Role::TenantAdmin, Role::PlatformOperator])?;
    let full_reader = principal.has(Role::TenantAdmin) || principal.has(Role::PlatformOperator);
    if options.payload && !full_reader {
        return Err(ApiError::Forbidden("an order's payload needs the role tenant-admin or platform-operator".into()));
    }
    let not_found = || ApiError::NotFound(format!("no order `{id}` for company `{company}`"));
    let id = uuid::Uuid::parse_str(&id).map_err(|_| not_found())?.to_string();
    let events = state.ingest.log().read(&company, orders::AGGREGATE, &id).await?;
    let unreadable = |e: Unreadable| ApiError::from(StoreError::from(e));
    let view = OrderView::from_events(&events).map_err(unreadable)?.ok_or_else(not_found)?;
    let typed = events.iter().map(OrderEvent::read).collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
    // Another source's order is answered as if it did not exist: its id
    // (deterministic from source and external id) must not tell it does.
    if !may_read(&state, &principal, &company, &view.source) {
        return Err(not_found());
    }
    let mut body = serde_json::to_value(&view).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["events"] = events
        .iter()
        .zip(&typed)
        .map(|(e, typed)| {
            let data = typed.data();
            let mut summary = json!({
                "version": e.version,
                "type": e.event_type,
                "occurredAt": e.occurred_at,
                "actor": e.actor,
            });
            let fields =
                ["findings", "mode", "modeSource", "reference", "warehouse", "attempts", "previousState", "shipment"];
            for field in fields {
                if let Some(value) = data.get(field) {
                    summary[field] = value.clone();
                }
            }
            if let Some(reason) = data.get("reason") {
                summary["reason"] = reason.clone();
            }
            summary
        })
        .collect::<Vec<Value>>()
        .into();
    if options.payload {
        body["order"] = received_order(&events[0]).map_err(unreadable)?.clone();
        if let Some(OrderEvent::Received(received)) = typed.first() {
            body["envelope"] = json!({
                "validationMode": received.validation_mode,
                "warehouseId": received.warehouse_id,
                "receivedVia": received.received_via,
            });
        }
    }
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
pub(super) struct ForceBody {
    reason: String,
}

/// `POST /{company}/order/{id}/force`: `platform-operator` only, with a reason.
pub(super) async fn force(
    State(state): State<AppState>,
    Path((company, id)): Path<(String, String)>,
    headers: HeaderMap,
    payload: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let principal = authorize(&state, &headers, &company, &[Role::PlatformOperator])?;
    let request: ForceBody = json_body(&state, payload, r#"the body must be {"reason": "..."}"#)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.len() > 1000 {
        return Err(ApiError::BadRequest("a reason of 1 to 1000 characters is required".into()));
    }
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("no order `{id}`")))?.to_string();
    state.pipeline.force(&company, &id, &principal.subject, reason).await.map_err(|e| match e {
        ForceError::NotFound(m) => ApiError::NotFound(format!("no order `{m}` for company `{company}`")),
        e @ (ForceError::NotFailed(_) | ForceError::Conflict) => ApiError::Conflict(e.to_string()),
        ForceError::Store(e) => e.into(),
    })?;
    audited(&state, &company, &principal.subject, "OrderForced", json!({"order": id, "reason": reason})).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id, "state": "overridden" }))))
}

#[derive(Debug, Deserialize)]
pub(super) struct ListOptions {
    #[serde(default = "all")]
    state: String,
    /// Every order from this source (with `state=all` only).
    source: Option<String>,
    /// Pages by position: exact totals, but the list is read up to the
    /// page (on S3, every name: slow on long lists).
    offset: Option<usize>,
    /// Pages by the `next` of the page before: one listing at any depth.
    after: Option<String>,
    #[serde(default = "fifty")]
    limit: usize,
}

fn all() -> String {
    "all".into()
}

fn fifty() -> usize {
    50
}

/// `GET /{company}/orders?state=failed|unhandled|in-progress|all&source=&after=|offset=&limit=`
pub(super) async fn list(
    State(state): State<AppState>,
    Path(company): Path<String>,
    Query(options): Query<ListOptions>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    authorize(&state, &headers, &company, &[Role::TenantAdmin, Role::PlatformOperator])?;
    let queue = Queue::parse(&options.state).ok_or_else(|| {
        ApiError::BadRequest(format!("state `{}` is not one of failed, unhandled, in-progress, all", options.state))
    })?;
    if let Some(source) = &options.source {
        if queue != Queue::All {
            return Err(ApiError::BadRequest("`source` lists every order of a source: use it with state=all".into()));
        }
        crate::events::keys::check_segment("source", source).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    }
    let start = match (options.offset, options.after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest("a page starts `after` a name or at an `offset`, not both".into()));
        }
        (Some(offset), None) => PageStart::Offset(offset),
        (None, after) => {
            if let Some(after) = after.as_deref().filter(|after| !is_cursor(after)) {
                let shown: String = after.chars().take(80).collect();
                return Err(ApiError::BadRequest(format!("`after={shown}` is not a page's `next`")));
            }
            PageStart::After(after)
        }
    };
    let limit = options.limit.clamp(1, 500);
    let page = state.projections.list(&company, queue, options.source.as_deref(), start, limit).await?;
    Ok(Json(page))
}

/// `GET /refs/{reference}`: which company and order a warehouse reference is.
pub(super) async fn resolve_reference(
    State(state): State<AppState>,
    Path(reference): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = state.auth.verify_header(header)?;
    let not_found = || ApiError::NotFound(format!("no order has reference `{reference}`"));
    let (company, id) = state.pipeline.resolve_reference(&reference).await?.ok_or_else(not_found)?;
    // Only someone allowed to see the order learns that it exists.
    principal
        .authorize(&company, &[Role::TenantAdmin, Role::PlatformOperator, Role::WarehouseAdapter])
        .map_err(|_| not_found())?;
    Ok(Json(json!({ "reference": reference, "company": company, "orderId": id })))
}
