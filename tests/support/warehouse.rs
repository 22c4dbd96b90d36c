//! Partner servers for the pipeline's tests: an Ongoing-WMS-like REST API
//! (`PUT /{warehouse}/api/v1/orders`, an upsert on `orderNumber`, HTTP
//! Basic) that can be told to fail or to be slow, and a Shopify admin API
//! that records the status updates a webshop receives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json};
use axum::routing::put;
use base64::Engine as _;
use serde_json::{Value, json};

use super::partner::Partner;

pub const WMS_USER: &str = "WSI_nordvik";
pub const WMS_PASSWORD: &str = "demo-password";

/// What the WMS has seen.
#[derive(Debug, Default)]
pub struct Wms {
    /// Every PUT, in order: the order number (the reference) and the body.
    pub puts: Vec<(String, Value)>,
    /// Orders created, by order number: a PUT for a known number updates.
    pub created: BTreeMap<String, u32>,
    /// Answer 503 to this many of the next requests.
    pub fail_next: u32,
    /// Answer each request after this long.
    pub delay: Duration,
}

pub type SharedWms = Arc<Mutex<Wms>>;

async fn put_order(State(wms): State<SharedWms>, headers: HeaderMap, Json(body): Json<Value>) -> impl IntoResponse {
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{WMS_USER}:{WMS_PASSWORD}")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "bad credentials"}))).into_response();
    }
    let delay = wms.lock().expect("lock").delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut wms = wms.lock().expect("lock");
    let number = body["orderNumber"].as_str().unwrap_or_default().to_string();
    wms.puts.push((number.clone(), body.clone()));
    if wms.fail_next > 0 {
        wms.fail_next -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"message": "maintenance"}))).into_response();
    }
    let next_id = 88_000 + wms.created.len() as i64;
    let created = wms.created.entry(number.clone()).or_insert(0);
    let message = if *created == 0 { "created" } else { "updated" };
    if *created == 0 {
        *created = 1;
    }
    (StatusCode::OK, Json(json!({"orderId": next_id, "message": format!("Order number {number} {message}")})))
        .into_response()
}

/// Starts the WMS simulator.
pub async fn start_wms() -> (Partner, SharedWms) {
    let wms: SharedWms = Arc::default();
    let app = Router::new().route("/nordlager/api/v1/orders", put(put_order)).with_state(wms.clone());
    (Partner::start(app).await, wms)
}

/// Status updates a webshop received: (order id, body).
pub type Updates = Arc<Mutex<Vec<(String, Value)>>>;

/// Starts a Shopify admin API that records order updates.
pub async fn start_webshop(token: &'static str) -> (Partner, Updates) {
    let updates: Updates = Arc::default();
    let recorded = updates.clone();
    let app = Router::new().route(
        "/admin/api/2026-01/orders/{file}",
        put(move |Path(file): Path<String>, headers: HeaderMap, Json(body): Json<Value>| {
            let recorded = recorded.clone();
            async move {
                if headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()) != Some(token) {
                    return StatusCode::UNAUTHORIZED;
                }
                recorded.lock().expect("lock").push((file.trim_end_matches(".json").to_string(), body));
                StatusCode::OK
            }
        }),
    );
    (Partner::start(app).await, updates)
}
