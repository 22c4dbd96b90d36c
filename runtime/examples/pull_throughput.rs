//! Pull throughput: events per second from a partner REST server into the
//! store, through the `postnord-tracking` plugin, the engine, ingest and
//! the `fs` store — one manual run over 200 items of 10 scans each.
//!
//! `cargo run --release -p portitor --example pull_throughput`

use std::collections::HashMap;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, Query};
use axum::response::Json;
use axum::routing::get;
use portitor::config::Config;
use serde_json::{Value, json};

const ITEMS: usize = 200;
const SCANS: usize = 10;
const KEY: &str = "0123456789abcdef0123456789abcdef";

async fn track(Path(id): Path<String>, Query(query): Query<HashMap<String, String>>) -> Json<Value> {
    assert_eq!(query.get("apikey").map(String::as_str), Some(KEY));
    let events: Vec<Value> = (0..SCANS)
        .map(|n| {
            json!({"eventTime": format!("2026-03-14T11:{n:02}:00"), "eventCode": format!("SCAN_{n}"), "status": "EN_ROUTE",
                   "eventDescription": "scan", "location": {"locationId": format!("{n}"), "locationType": "HUB", "displayName": "Hallsberg"}})
        })
        .collect();
    Json(json!({"TrackingInformationResponse": {"shipments": [{"shipmentId": format!("S{id}"), "status": "EN_ROUTE",
        "items": [{"itemId": id, "status": "EN_ROUTE", "events": events}]}]}}))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let partner = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let partner_addr = partner.local_addr()?;
    tokio::spawn(async move {
        let app = Router::new().route("/rest/shipment/v7/trackandtrace/id/{id}/public", get(track));
        let _ = axum::serve(partner, app).await;
    });
    let ids: Vec<String> = (0..ITEMS).map(|n| format!("00373500489{n:09}")).collect();
    let manifest = format!(
        r#"
kind = "pull-source"
schedule = "0 0 1 1 *"
[limits]
timeout_ms = 600000
max_events = 10000
[network]
private_hosts = ["127.0.0.1"]
[http.connections.postnord]
base_url = "http://{partner_addr}/rest/shipment"
auth = {{ type = "query", param = "apikey", secret = "postnord-api-key" }}
[config]
item-ids = "{}"
page-size = "50"
"#,
        ids.join(",")
    );
    let mut rates = Vec::new();
    for round in 0..3 {
        let dir = tempfile::tempdir()?;
        let config = Config { data_dir: dir.path().to_path_buf(), egress: loopback_granted(), ..Config::default() };
        let runtime = portitor::server::build(config).await?;
        let state = &runtime.state;
        state.vault.put("bench", "postnord-api-key", KEY).await?;
        let active = state
            .registry
            .install(
                "bench",
                "postnord-tracking",
                portitor::examples::component("postnord-tracking").expect("built"),
                &manifest,
                "bench",
            )
            .await?;
        let started = Instant::now();
        let record = state.scheduler.runner().run(&active, "manual").await?;
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(record.error, None);
        assert_eq!(record.created as usize, ITEMS * SCANS);
        let rate = record.created as f64 / seconds;
        println!(
            "round {round}: {} events in {} batches, {seconds:.2} s, {rate:.0} events/s, fuel {}",
            record.created, record.batches, record.fuel
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("median: {:.0} events/s", rates[1]);
    Ok(())
}

/// The partners here listen on loopback: granted, as an operator would.
fn loopback_granted() -> portitor::host::egress::EgressGrants {
    portitor::host::egress::EgressGrants { private_hosts: vec!["127.0.0.1".into()], ..Default::default() }
}
