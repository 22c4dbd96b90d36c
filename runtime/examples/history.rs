//! Writes a realistic order history straight into a store, for measuring
//! start-up and memory against history (BENCHMARKS "Start-up against
//! history"): orders of one tenant spread over the last DAYS days, in the
//! mix of states a shop sees — most shipped, some waiting at the warehouse,
//! some failed validation (a few of those forced through), some failed
//! dispatch, a few still in the pipeline — about four events per order
//! (250,000 orders make about a million events),
//! each written as the server writes it (`OrderEvent`).
//!
//! ```sh
//! # fs: the store's file layout under DIR, written without fsync (a generator, not the server)
//! cargo run --release -p portitor --example history -- --fs /tmp/history --orders 250000
//! # the configured store (PORTITOR_STORE__BACKEND=s3, PORTITOR_STORE__S3__…), through its API
//! cargo run --release -p portitor --example history -- --store --orders 25000
//! ```
//! Each order's derived state (its summary, list entries and hour markers)
//! is written with its events, as `portitor reindex` would write it, so a
//! server starts on the history at once; `--events-only` leaves it out
//! (then run `portitor reindex`). Prints the orders and events written and
//! the time taken.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use portitor::events::{Actor, EventLog, NewEvent, StoredEvent, keys};
use portitor::orders::events::{
    DispatchFailure, OrderEvent, Overridden, Received, Sent, ShipmentRef, Shipped, Validation,
};
use portitor::orders::validation::ModeSource;
use portitor::orders::{self, Finding, OrderState, Severity};
use portitor::plugins::manifest::ValidationMode;
use portitor::projections::{Projections, reindex};
use portitor::store::ObjectStore;
use portitor::store::fs::FsStore;
use serde_json::json;

const COMPANY: &str = "history";
const SOURCE: &str = "woo-no";

enum Target {
    Files(PathBuf),
    Store(Arc<dyn ObjectStore>),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut target, mut orders, mut days, mut derived) = (None, 250_000usize, 30i64, true);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fs" => target = Some(Target::Files(PathBuf::from(args.next().context("--fs DIR")?))),
            "--store" => {
                let config = portitor::config::Config::load(None, std::env::vars())?;
                target = Some(Target::Store(portitor::server::open_store(&config).await?));
            }
            "--orders" => orders = args.next().context("--orders N")?.parse()?,
            "--days" => days = args.next().context("--days N")?.parse()?,
            "--events-only" => derived = false,
            other => bail!("unknown argument {other}; see the example's header"),
        }
    }
    let target = Arc::new(target.context("--fs DIR or --store")?);
    let projections = match (derived, target.as_ref()) {
        (false, _) => None,
        // The derived state goes through the store, laid out as the server lays it out.
        (true, Target::Files(root)) => Some(Projections::new(EventLog::new(Arc::new(FsStore::open(root)?)))),
        (true, Target::Store(store)) => Some(Projections::new(EventLog::new(store.clone()))),
    };
    let projections = Arc::new(projections);
    let started = Instant::now();
    let now = Utc::now();
    let writes = (0..orders).map(|n| {
        let (target, projections) = (target.clone(), projections.clone());
        async move {
            let events = history_of(n, now, days);
            for event in &events {
                write(&target, event).await?;
            }
            if let Some(projections) = projections.as_ref() {
                reindex::derive_order(projections, COMPANY, &events).await?;
            }
            anyhow::Ok(events.len())
        }
    });
    let mut written = 0usize;
    let mut stream = futures::stream::iter(writes).buffer_unordered(64);
    while let Some(count) = stream.next().await {
        written += count?;
    }
    if let Some(projections) = projections.as_ref() {
        reindex::flush(projections).await?;
    }
    let elapsed = started.elapsed();
    println!(
        "{orders} orders, {written} events{} for tenant `{COMPANY}` over {days} days in {:.1} s ({:.0} events/s)",
        if derived { " and their derived state" } else { "" },
        elapsed.as_secs_f64(),
        written as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

async fn write(target: &Target, event: &StoredEvent) -> anyhow::Result<()> {
    let key = keys::event_key(COMPANY, orders::AGGREGATE, &event.aggregate_id, event.version, &event.event_type);
    let body = serde_json::to_vec(event)?;
    match target {
        Target::Files(root) => {
            let path = root.join(&key);
            tokio::fs::create_dir_all(path.parent().context("a parent")?).await?;
            tokio::fs::write(path, body).await?;
        }
        Target::Store(store) => {
            store.put(&key, Bytes::from(body)).await?;
        }
    }
    Ok(())
}

/// Order `n`'s events: its fate picked from the shop's mix, its times
/// spread over the last `days` days, minutes apart.
fn history_of(n: usize, now: DateTime<Utc>, days: i64) -> Vec<StoredEvent> {
    let external_id = format!("{}", 100_000 + n);
    let id = orders::order_id(COMPANY, SOURCE, &external_id).to_string();
    // A fixed scramble of n: the same history every run, the fates interleaved.
    let spread = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let received_at = now - Duration::seconds((spread % (days as u64 * 86_400)) as i64);
    let reference = format!("PHISTO-{:014}", n);
    let finding = |message: &str| Finding {
        field: "currency".into(),
        value: "SKR".into(),
        severity: Severity::Error,
        message: message.into(),
    };
    let validated = || {
        OrderEvent::Validated(Validation {
            mode: ValidationMode::Strict,
            mode_source: ModeSource::Platform,
            findings: vec![],
        })
    };
    let sent = |attempts| {
        OrderEvent::SentToWarehouse(Sent {
            reference: reference.clone(),
            warehouse: "ongoing-wms".into(),
            warehouse_order_id: Some(format!("W{n}")),
            message: "created".into(),
            attempts,
        })
    };
    let shipped = |part: u32| {
        OrderEvent::Shipped(Shipped {
            reference: reference.clone(),
            shipment: ShipmentRef {
                aggregate_type: "shipment".into(),
                id: format!("s-{n}-{part}"),
                external_id: format!("S{n}-{part}"),
                source: "prime-cargo".into(),
            },
        })
    };
    let failed = || {
        OrderEvent::ValidationFailed(Validation {
            mode: ValidationMode::Strict,
            mode_source: ModeSource::Platform,
            findings: vec![finding("`SKR` is not an ISO 4217 currency code")],
        })
    };
    let mut fate = vec![received(&external_id)];
    match spread % 100 {
        // Six in ten shipped orders leave in two parcels.
        0..=69 if spread / 100 % 10 < 6 => fate.extend([validated(), sent(1), shipped(1), shipped(2)]),
        0..=69 => fate.extend([validated(), sent(1), shipped(1)]),
        70..=81 => fate.extend([validated(), sent(1)]),
        82..=89 => fate.push(failed()),
        90..=92 => fate.extend([
            failed(),
            OrderEvent::ValidationOverridden(Overridden {
                by: "operator".into(),
                reason: "SKR is this shop's SEK".into(),
                at: received_at + Duration::hours(2),
                overridden_findings: vec![finding("`SKR` is not an ISO 4217 currency code")],
                previous_state: OrderState::Failed,
            }),
            sent(1),
        ]),
        93..=97 => fate.extend([
            validated(),
            OrderEvent::DispatchFailed(DispatchFailure {
                findings: vec![finding("dispatch failed after 5 attempt(s): 503")],
                reference: Some(reference.clone()),
            }),
        ]),
        _ => {}
    }
    fate.into_iter()
        .enumerate()
        .map(|(i, event)| {
            let NewEvent { event_type, actor, mut data } = event.by(Actor::system("history"));
            if i == 0 {
                data["order"] = order(n);
            }
            StoredEvent {
                id: uuid::Uuid::new_v4(),
                event_type,
                aggregate_type: orders::AGGREGATE.into(),
                aggregate_id: id.clone(),
                version: i as u64 + 1,
                company: COMPANY.into(),
                occurred_at: received_at + Duration::minutes(i as i64 * 7),
                actor,
                data,
            }
        })
        .collect()
}

/// `OrderReceived`: the envelope's fields as read back; the order itself is
/// added to the stored data by [`history_of`], as ingest stores it.
fn received(external_id: &str) -> OrderEvent {
    OrderEvent::Received(Received {
        source: SOURCE.into(),
        external_id: external_id.into(),
        validation_mode: None,
        warehouse_id: None,
        received_via: Some("api".into()),
        pipeline: None,
    })
}

/// An order of a realistic size (about 1 KB).
fn order(n: usize) -> serde_json::Value {
    json!({
        "orderNumber": format!("NV-{n}"), "orderDate": "2026-03-14T10:22:31+01:00", "currency": "SEK",
        "customer": {"name": "Ingrid Lund", "email": "ingrid.lund@example.se", "phone": "+46701234567"},
        "shippingAddress": {"name": "Ingrid Lund", "address1": "Storgatan 12", "postalCode": "41301", "city": "Göteborg", "countryCode": "SE"},
        "lineItems": [
            {"lineNumber": 1, "sku": "NV-HAT-MER-GRY", "name": "Merino hat, grey", "quantity": 1, "unitPrice": "299.00", "weightGrams": 120},
            {"lineNumber": 2, "sku": "NV-SCF-WOL-BLU", "name": "Wool scarf, blue", "quantity": 2, "unitPrice": "449.00", "weightGrams": 210}
        ],
        "totals": {"subtotal": "1197.00", "shipping": "49.00", "total": "1246.00"}
    })
}
