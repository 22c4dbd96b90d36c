//! The demo's partner simulators: a PostNord Track & Trace API (v7) whose
//! parcels move on as time passes, so that every poll has something new.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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
    let app = Router::new().route("/rest/shipment/v7/trackandtrace/id/{id}/public", get(track)).with_state(simulator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
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
