//! The demo's partner simulators: a PostNord Track & Trace API (v7) whose
//! parcels move on as time passes, so that every poll has something new; an
//! Ongoing-style WMS that takes orders (`PUT /{warehouse}/api/v1/orders`,
//! an upsert on the order number) and, a little later, reports each new one
//! packed the way Prime Cargo's callbacks do; and a webshop's admin API that
//! hears what became of its orders.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};

/// The scans every parcel goes through, one every `STEP_SECS`.
const SCANS: &[(&str, &str, &str, &str)] = &[
    ("EDI_RECEIVED", "INFORMED", "0", "Electronic information received"),
    ("ITEM_ACCEPTED", "EN_ROUTE", "50630", "The item has been handed in"),
    ("SORTED_TERMINAL", "EN_ROUTE", "7081", "Sorted at terminal"),
    ("ARRIVED_SERVICE_POINT", "AVAILABLE_FOR_DELIVERY", "412345", "Arrived at the service point"),
    ("DELIVERED", "DELIVERED", "412345", "The item has been collected"),
];
const STEP_SECS: u64 = 20;

#[derive(Clone)]
struct Simulator {
    api_key: String,
    started: Instant,
}

/// Starts the PostNord simulator on a free loopback port.
pub(super) async fn start_postnord(api_key: String) -> anyhow::Result<SocketAddr> {
    let simulator = Simulator { api_key, started: Instant::now() };
    serve(Router::new().route("/rest/shipment/v7/trackandtrace/id/{id}/public", get(track)).with_state(simulator)).await
}

async fn track(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("apikey") != Some(&sim.api_key) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "invalid apikey"}))).into_response();
    }
    let elapsed = sim.started.elapsed().as_secs();
    // Parcels are staggered by the last digit of their id.
    let offset = id.bytes().last().map(|b| u64::from(b % 3)).unwrap_or(0);
    let reached = ((elapsed / STEP_SECS).saturating_sub(offset) as usize + 1).min(SCANS.len());
    let base = chrono::Utc::now() - chrono::Duration::seconds(elapsed as i64);
    let events: Vec<Value> = SCANS[..reached]
        .iter()
        .enumerate()
        .map(|(i, (code, status, location, text))| {
            let at = base + chrono::Duration::seconds(((i as u64 + offset) * STEP_SECS) as i64);
            json!({
                "eventTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "eventCode": code, "status": status, "eventDescription": text,
                "location": {"locationId": location, "locationType": "HUB", "displayName": "PostNord"}
            })
        })
        .collect();
    let status = SCANS[reached - 1].1;
    Json(json!({"TrackingInformationResponse": {"shipments": [{
        "shipmentId": format!("7070{id}"),
        "status": status,
        "service": {"code": "19", "name": "MyPack Collect"},
        "items": [{"itemId": id, "status": status, "events": events}]
    }]}}))
    .into_response()
}

/// How the demo warehouse reports an order packed: a `PickOrderPacked`
/// callback to `callback`, `after` it took the order, signed with `token`.
#[derive(Clone)]
pub(super) struct Packing {
    pub callback: String,
    pub after: Duration,
    pub token: fn(&str) -> anyhow::Result<String>,
}

impl Packing {
    /// Reports warehouse order `id` (the order number `number`) packed.
    async fn report(self, id: u64, number: String) {
        tokio::time::sleep(self.after).await;
        let now = chrono::Utc::now();
        let body = json!({
            "eventType": "PickOrderPacked", "eventId": format!("evt_demo_{id}"), "occurredAt": now,
            "ownerCode": "DEMO", "pickOrderHeaderId": id, "orderNumber": number, "statusId": 40,
            "carrier": "PostNord DK", "shipDate": now.format("%Y-%m-%d").to_string(),
            "cartons": [{"cartonNumber": 1, "cartonTrackingNumber": format!("00370726200000{id:06}"), "lines": []}],
        })
        .to_string();
        let Ok(token) = (self.token)(&body) else { return };
        let sent = reqwest::Client::new().post(&self.callback).bearer_auth(token).body(body).send().await;
        match sent {
            Ok(answer) => {
                tracing::info!(target: "demo::wms", order = %number, status = %answer.status(), "the warehouse reported the order packed")
            }
            Err(error) => {
                tracing::warn!(target: "demo::wms", order = %number, %error, "the warehouse could not report the order packed")
            }
        }
    }
}

/// Starts the WMS simulator: basic auth with `user`/`password`; each new
/// order is reported packed as `packing` says.
pub(super) async fn start_wms(user: String, password: String, packing: Packing) -> anyhow::Result<SocketAddr> {
    use base64::Engine as _;
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
    let orders = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, u64>::new()));
    let app = Router::new().route(
        "/demo-warehouse/api/v1/orders",
        put(move |headers: HeaderMap, Json(body): Json<Value>| {
            let (expected, orders, packing) = (expected.clone(), orders.clone(), packing.clone());
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
                    return (StatusCode::UNAUTHORIZED, Json(json!({"message": "bad credentials"})));
                }
                let number = body["orderNumber"].as_str().unwrap_or_default().to_string();
                let mut orders = orders.lock().unwrap_or_else(|p| p.into_inner());
                let next = 88_000 + orders.len() as u64;
                let id = *orders.entry(number.clone()).or_insert(next);
                if id == next {
                    tokio::spawn(packing.report(id, number.clone()));
                }
                tracing::info!(target: "demo::wms", order = %number, reference = %body["referenceNumber"], "the WMS took an order");
                (StatusCode::OK, Json(json!({"orderId": id, "message": format!("Order number {number} created/updated")})))
            }
        }),
    );
    serve(app).await
}

/// Starts the webshop's admin API, which logs each order update it gets.
pub(super) async fn start_webshop(token: String) -> anyhow::Result<SocketAddr> {
    let app = Router::new().route(
        "/admin/api/2026-01/orders/{file}",
        put(move |Path(file): Path<String>, headers: HeaderMap, Json(body): Json<Value>| {
            let token = token.clone();
            async move {
                if headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()) != Some(token.as_str()) {
                    return StatusCode::UNAUTHORIZED;
                }
                tracing::info!(target: "demo::webshop", order = %file.trim_end_matches(".json"), tags = %body["order"]["tags"], note = %body["order"]["note"], "the webshop heard about its order");
                StatusCode::OK
            }
        }),
    );
    serve(app).await
}

async fn serve(app: Router) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}
