//! `/healthz` (the process is up), `/readyz` (the store answers; how it
//! provides conditional writes) and `/metrics` (Prometheus).

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::AppState;
use crate::store::ConditionalWrites;

pub(super) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let conditional_writes = match state.store.conditional_writes() {
        ConditionalWrites::Native => "native",
        ConditionalWrites::EmulatedSingleNode => {
            "emulated: the store ignores conditional writes, so this node serializes writers itself (single node only)"
        }
    };
    let probe = tokio::time::timeout(Duration::from_secs(2), state.store.get(".portitor/ready")).await;
    let (status, store) = match probe {
        Ok(Ok(_)) => (StatusCode::OK, "reachable".to_string()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the store did not answer within 2 s".to_string()),
    };
    // Which plugins, of which tenants, is for their tenants to see (in
    // the plugin's status), not for anyone who can reach /readyz.
    let (loading, unloaded) = state.registry.unloaded_count();
    let mut plugins = json!({ "loading": loading, "unloaded": unloaded });
    if unloaded > 0 {
        plugins["note"] = json!(format!(
            "{unloaded} active plugin(s) could not be loaded and are not served; their tenants see why in the \
             plugin's status; every other plugin is served"
        ));
    }
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not ready" },
        "store": { "backend": state.store.describe(), "state": store, "conditionalWrites": conditional_writes },
        "plugins": plugins,
    });
    (status, Json(body))
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let counters = state.queue.counters();
    let text = state.metrics.render(&[
        ("portitor_queue_enqueued", "Pointers put on the queue.", counters.enqueued.load(Ordering::Relaxed)),
        (
            "portitor_queue_dropped",
            "Pointers dropped because the queue was full.",
            counters.dropped.load(Ordering::Relaxed),
        ),
    ]);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
