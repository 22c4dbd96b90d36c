//! The pipeline's figures for BENCHMARKS.md:
//! 1. orders per second through the whole default pipeline — JSON Schema,
//!    the rules-validator plugin, the ongoing-mapper plugin, the reference,
//!    and the ongoing-wms plugin dispatching to a local WMS over HTTP — on
//!    the `fs` store;
//! 2. the time `portitor reindex` takes to rebuild the projections from
//!    100,000 events on `fs`.
//!
//! `cargo run --release -p portitor --example pipeline_throughput` (`PIPELINE_ONLY=1`: without the reindex;
//! `PIPELINE_CLIENTS=N`: only the run with N clients, whose store then starts on a disk that has not
//! just deleted the previous run's files; `PIPELINE_KEEP_DATA=1`: the store is left in `TMPDIR`, for
//! the caller to delete when it is done measuring — `scripts/bench-pipeline.sh`;
//! `PIPELINE_WORKERS=N`: the pipeline's workers, default the server's; `FS_SYNC=journal|each|group`: the
//! `fs` store's `store.fs_sync`; `PIPELINE_INSTANCES=N`: `engine.max_instances_per_tenant`)

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::put;
use portitor::config::Config;
use portitor::events::{Actor, EventLog, StoredEvent, keys};
use portitor::ingest::{OrderEnvelope, Origin};
use portitor::projections::{PageStart, Projections, Queue};
use serde_json::json;

const ORDERS: usize = 2_000;
const REBUILD_ORDERS: usize = 25_000;

fn order(n: usize) -> serde_json::Value {
    json!({
        "orderNumber": format!("NV-{n}"), "orderDate": "2026-03-14T10:22:31+01:00", "currency": "SEK",
        "customer": {"name": "Ingrid Lund", "email": "ingrid.lund@example.se"},
        "shippingAddress": {"name": "Ingrid Lund", "address1": "Storgatan 12", "postalCode": "41301", "city": "Göteborg", "countryCode": "SE"},
        "lineItems": [{"lineNumber": 1, "sku": "NV-HAT-MER-GRY", "quantity": 1, "unitPrice": "299.00", "weightGrams": 120}],
        "totals": {"subtotal": "299.00", "total": "299.00"}
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Orders one after another, then from 32 clients at once.
    match std::env::var("PIPELINE_CLIENTS").ok().and_then(|clients| clients.parse().ok()) {
        Some(clients) => throughput(clients).await?,
        None => {
            throughput(1).await?;
            throughput(32).await?;
        }
    }
    if std::env::var_os("PIPELINE_ONLY").is_some() {
        return Ok(());
    }
    rebuild().await
}

async fn throughput(clients: usize) -> anyhow::Result<()> {
    let wms = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let wms_addr = wms.local_addr()?;
    tokio::spawn(async move {
        let app = Router::new().route(
            "/nordlager/api/v1/orders",
            put(|| async { axum::Json(json!({"orderId": 1, "message": "created"})) }),
        );
        let _ = axum::serve(wms, app).await;
    });
    let mut dir = tempfile::tempdir()?;
    // Deleting the store's ~20,000 files would slow the next measurement's
    // file creation (ext4 without a journal skips recently freed inodes).
    dir.disable_cleanup(std::env::var_os("PIPELINE_KEEP_DATA").is_some());
    let mut pipeline = portitor::config::PipelineSettings::default();
    if let Some(workers) = std::env::var("PIPELINE_WORKERS").ok().and_then(|w| w.parse().ok()) {
        pipeline.workers = workers;
    }
    let mut config =
        Config { data_dir: dir.path().to_path_buf(), egress: loopback_granted(), pipeline, ..Config::default() };
    if let Some(instances) = std::env::var("PIPELINE_INSTANCES").ok().and_then(|n| n.parse().ok()) {
        config.engine.max_instances_per_tenant = instances;
    }
    match std::env::var("FS_SYNC").as_deref() {
        Ok("journal") => config.store.fs_sync = portitor::store::fs::FsSync::Journal,
        Ok("group") => config.store.fs_sync = portitor::store::fs::FsSync::Group,
        Ok("each") => config.store.fs_sync = portitor::store::fs::FsSync::Each,
        _ => {}
    }
    let runtime = portitor::server::build(config).await?;
    let state = &runtime.state;
    let company = "bench";
    state.vault.put(company, "ongoing-password", "demo-password").await?;
    let component = |id| portitor::examples::component(id).expect("built by build.rs");
    state
        .registry
        .install(company, "rules-validator", component("rules-validator"), "kind = \"validator\"", "bench")
        .await?;
    state
        .registry
        .install(
            company,
            "ongoing-mapper",
            component("ongoing-mapper"),
            "kind = \"mapper\"\n[config]\ngoods-owner-id = \"214\"\n",
            "bench",
        )
        .await?;
    let wms_manifest = format!(
        "kind = \"warehouse\"\n[network]\nprivate_hosts = [\"127.0.0.1\"]\n[http.connections.ongoing]\nbase_url = \"http://{wms_addr}/nordlager/api/v1\"\nauth = {{ type = \"basic\", username = \"WSI_nordvik\", password_secret = \"ongoing-password\" }}\n"
    );
    state.registry.install(company, "ongoing-wms", component("ongoing-wms"), &wms_manifest, "bench").await?;
    let pipeline = serde_json::from_value(
        json!({"validator": "rules-validator", "mapper": "ongoing-mapper", "warehouse": "ongoing-wms"}),
    )?;
    state.configs.set_pipeline(company, pipeline).await?;

    let started = Instant::now();
    let cpu_before = process_cpu();
    let origin = Origin::Api { subject: "bench".into(), request_id: "bench".into() };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let client = || async {
        loop {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n >= ORDERS {
                return Ok::<_, anyhow::Error>(());
            }
            let envelope = OrderEnvelope::parse(
                json!({"source": "bench", "externalId": n.to_string(), "order": order(n)}).to_string().as_bytes(),
            )
            .map_err(anyhow::Error::msg)?;
            state.ingest.order(company, &envelope, &origin).await?;
        }
    };
    futures::future::try_join_all((0..clients).map(|_| client())).await?;
    let ingested = started.elapsed();
    loop {
        let sent = state.projections.list(company, Queue::Unhandled, None, PageStart::Offset(0), 1).await?.total;
        let failed = state.projections.list(company, Queue::Failed, None, PageStart::Offset(0), 1).await?.total;
        if sent + failed == ORDERS {
            anyhow::ensure!(failed == 0, "{failed} orders failed");
            break;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the pipeline did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    let cpu_after = process_cpu();
    println!(
        "pipeline, {clients} client(s): {ORDERS} orders ingested in {:.2} s, all sent to the WMS after {:.2} s: {:.0} orders/s end to end (3 events and a reference each)",
        ingested.as_secs_f64(),
        total.as_secs_f64(),
        ORDERS as f64 / total.as_secs_f64()
    );
    if let (Some((user_before, system_before)), Some((user_after, system_after))) = (cpu_before, cpu_after) {
        let per_order = |seconds: f64| seconds * 1e6 / ORDERS as f64;
        let (user, system) = (per_order(user_after - user_before), per_order(system_after - system_before));
        println!(
            "CPU per order (the process, WMS included): {:.0} µs user, {:.0} µs system; {:.2} of {} cores busy",
            user,
            system,
            (user + system) * ORDERS as f64 / 1e6 / total.as_secs_f64(),
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
    Ok(())
}

/// 25,000 orders of 4 events each, written straight into an fs store's
/// layout (the reindex reads them as it would any), then reindexed.
async fn rebuild() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let types = ["OrderReceived", "OrderValidated", "OrderValidationOverridden", "OrderSentToWarehouse"];
    for n in 0..REBUILD_ORDERS {
        let id = portitor::orders::order_id("bench", "bench", &n.to_string()).to_string();
        for (i, event_type) in types.iter().enumerate() {
            let version = i as u64 + 1;
            let data = match *event_type {
                "OrderReceived" => json!({"source": "bench", "externalId": n.to_string(), "order": order(n)}),
                "OrderValidated" => json!({"mode": "strict", "modeSource": "platform", "findings": []}),
                "OrderSentToWarehouse" => json!({
                    "reference": format!("PBENCH-{n:014}"), "warehouse": "bench", "warehouseOrderId": null,
                    "message": "", "attempts": 1,
                }),
                _ => json!({
                    "by": "ops", "reason": "bench", "at": chrono::Utc::now(), "overriddenFindings": [],
                    "previousState": "failed",
                }),
            };
            let event = StoredEvent {
                id: uuid::Uuid::new_v4(),
                event_type: event_type.to_string(),
                aggregate_type: "orders".into(),
                aggregate_id: id.clone(),
                version,
                company: "bench".into(),
                occurred_at: chrono::Utc::now(),
                actor: Actor::system("bench"),
                data,
            };
            let path = root.join(keys::event_key("bench", "orders", &id, version, event_type));
            std::fs::create_dir_all(path.parent().expect("parent"))?;
            std::fs::write(path, serde_json::to_vec(&event)?)?;
        }
    }
    let store: std::sync::Arc<dyn portitor::store::ObjectStore> =
        std::sync::Arc::new(portitor::store::fs::FsStore::open(root)?);
    let projections = Projections::new(EventLog::new(store));
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        portitor::projections::reindex::reindex(&projections).await?;
        times.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(
            projections.list("bench", Queue::Unhandled, None, PageStart::Offset(0), 1).await?.total == REBUILD_ORDERS
        );
    }
    times.sort_by(f64::total_cmp);
    println!(
        "reindex: {} events ({REBUILD_ORDERS} orders) in {:.2} s median of 3 (min {:.2} s, max {:.2} s), page cache warm",
        REBUILD_ORDERS * types.len(),
        times[1],
        times[0],
        times[2]
    );
    Ok(())
}

/// This process's (user, system) CPU seconds so far, from `/proc/self/stat`
/// (Linux; clock ticks of 10 ms): where the pipeline's time goes between
/// its own work and the kernel's.
fn process_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |n: usize| fields.get(n)?.parse::<f64>().ok();
    // utime and stime: fields 14 and 15 of the line, the 12th and 13th after the name.
    Some((ticks(11)? / 100.0, ticks(12)? / 100.0))
}

/// The partners here listen on loopback: granted, as an operator would.
fn loopback_granted() -> portitor::host::egress::EgressGrants {
    portitor::host::egress::EgressGrants { private_hosts: vec!["127.0.0.1".into()], ..Default::default() }
}
