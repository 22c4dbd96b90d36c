//! `/healthz` (the process is up), `/readyz` (ready or not, and why, naming
//! nothing internal) and `/metrics` (Prometheus; optionally behind an
//! operator token or on an address of its own).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState};
use crate::security::auth::Role;
use crate::store::ConditionalWrites;

pub(super) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready or not, and why, in words that name no path, endpoint or bucket:
/// anyone can ask. The store's own error goes to the server log.
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let conditional_writes = match state.store.conditional_writes() {
        ConditionalWrites::Native => "native",
        ConditionalWrites::EmulatedSingleNode => "emulated (single node only)",
    };
    let probe = tokio::time::timeout(Duration::from_secs(2), state.store.get(".portitor/ready")).await;
    let (status, store) = match probe {
        Ok(Ok(_)) => (StatusCode::OK, "reachable"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readyz: the store cannot be reached");
            (StatusCode::SERVICE_UNAVAILABLE, "unreachable")
        }
        Err(_) => {
            tracing::warn!("readyz: the store did not answer within 2 s");
            (StatusCode::SERVICE_UNAVAILABLE, "not answering")
        }
    };
    let mut reasons = Vec::new();
    if status != StatusCode::OK {
        reasons.push("the store cannot be reached: nothing can be stored".to_string());
    }
    // Which plugins, of which tenants, is for their tenants to see (in
    // the plugin's status), not for anyone who can reach /readyz.
    let (loading, unloaded) = state.registry.unloaded_count();
    if unloaded > 0 {
        reasons.push(format!(
            "{unloaded} active plugin(s) could not be loaded and are not served; their tenants see why in the \
             plugin's status; every other plugin is served"
        ));
    }
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not ready" },
        "reasons": reasons,
        "store": { "state": store, "conditionalWrites": conditional_writes },
        "plugins": { "loading": loading, "unloaded": unloaded },
    });
    (status, Json(body))
}

/// `/metrics` on the public listener: not there when `metrics.listen`
/// serves them elsewhere; behind a platform-wide operator token when
/// `metrics.require_token` says so.
pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if state.metrics_access.listen.is_some() {
        return Err(ApiError::NotFound("nothing is served at /metrics".into()));
    }
    metrics_on_own_address(State(state), headers).await
}

/// `/metrics` where they are served (see [`metrics`]).
pub(super) async fn metrics_on_own_address(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if state.metrics_access.require_token {
        let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let principal = state.auth.verify_header(header)?;
        if principal.company.is_some() || !principal.has(Role::PlatformOperator) {
            return Err(ApiError::Forbidden("metrics need a platform-wide platform-operator token".into()));
        }
    }
    Ok(render(&state).into_response())
}

fn render(state: &AppState) -> impl IntoResponse {
    let counters = state.queue.counters();
    let text = state.metrics.render(&[
        ("portitor_queue_enqueued", "Pointers put on the queue.", counters.enqueued.load(Ordering::Relaxed)),
        (
            "portitor_queue_dropped",
            "Pointers dropped because the queue was full.",
            counters.dropped.load(Ordering::Relaxed),
        ),
        (
            "portitor_recordings_dropped",
            "Recorded invocations not kept because the recordings' queue was full.",
            state.recorder.dropped(),
        ),
    ]);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
