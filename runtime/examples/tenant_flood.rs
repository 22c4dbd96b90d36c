//! One tenant's flood against another's latency, for BENCHMARKS.md
//! (docs/DESIGN.md §3: one tenant's loop or flood never starves another).
//!
//! A server on the `fs` store (on the runtime `portitor serve` uses, in
//! threads of its own) serves two tenants' push plugins (`test-relay`):
//! tenant B's relays each posted order into ingest (a durable write, 201);
//! tenant A's loops until its 2 s time-out. B's webhooks are sent by 4
//! clients, first alone, then while A's 64 clients send to the looping
//! plugin as fast as they are answered. Rounds alternate the two; the
//! figures are B's median and p99 latency in each, and the ratio of B's p99
//! under the flood to B's p99 without it.
//!
//! `cargo run --release -p portitor --example tenant_flood` (`ROUNDS=5` for
//! more rounds; `PORTITOR_*` variables configure the server, e.g. another
//! tenant share).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portitor::config::Config;
use serde_json::json;

const B_CLIENTS: usize = 4;
const B_REQUESTS_PER_CLIENT: usize = 150;
const A_CLIENTS: usize = 64;

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir()?;
    // The runtime `portitor serve` uses (one worker per core: two here).
    let server_runtime = portitor::server::tokio_runtime()?;
    let (url, state) = server_runtime.block_on(start(dir.path()))?;
    let clients = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    clients.block_on(async move {
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        // Warm both plugins (compiled, instantiated once).
        relay(&http, &url, "warm").await?;
        let mut rows = Vec::new();
        let sequence = AtomicU64::new(0);
        for round in 0..rounds {
            let alone = measure_b(&http, &url, &sequence).await?;
            let (flooded, a_answers) = with_flood(&http, &url, &sequence).await?;
            println!(
                "round {}: B alone p50 {:.1} ms p99 {:.1} ms | B under A's flood p50 {:.1} ms p99 {:.1} ms ({} B answers not 201) | A: {a_answers}",
                round + 1,
                ms(percentile(&alone.latencies, 50)),
                ms(percentile(&alone.latencies, 99)),
                ms(percentile(&flooded.latencies, 50)),
                ms(percentile(&flooded.latencies, 99)),
                flooded.not_created,
            );
            rows.push((alone, flooded));
        }
        println!();
        println!("| round | B alone p50 | B alone p99 | B under flood p50 | B under flood p99 | p99 ratio | B not 201 |");
        println!("|---|---|---|---|---|---|---|");
        let mut ratios = Vec::new();
        for (i, (alone, flooded)) in rows.iter().enumerate() {
            let ratio = percentile(&flooded.latencies, 99).as_secs_f64() / percentile(&alone.latencies, 99).as_secs_f64();
            ratios.push(ratio);
            println!(
                "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {ratio:.2}× | {} |",
                i + 1,
                ms(percentile(&alone.latencies, 50)),
                ms(percentile(&alone.latencies, 99)),
                ms(percentile(&flooded.latencies, 50)),
                ms(percentile(&flooded.latencies, 99)),
                flooded.not_created
            );
        }
        ratios.sort_by(f64::total_cmp);
        println!("\nmedian p99 ratio over {rounds} rounds: {:.2}×", ratios[ratios.len() / 2]);
        drop(state);
        anyhow::Ok(())
    })?;
    server_runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

async fn start(data: &std::path::Path) -> anyhow::Result<(String, portitor::api::AppState)> {
    // PORTITOR_* variables apply (e.g. PORTITOR_ENGINE__MAX_INSTANCES_PER_TENANT to compare shares).
    let mut config = Config::load(None, std::env::vars())?;
    config.data_dir = data.to_path_buf();
    let runtime = portitor::server::build(config).await?;
    let state = runtime.state.clone();
    let relay = std::fs::read(portitor_test_programs::path("test-relay").expect("test-relay is a test plugin"))?;
    let manifest = |path: &str, extra: &str| {
        format!("kind = \"push-source\"\n[webhook]\nscheme = \"none\"\n{extra}[config]\npath = \"{path}\"\n")
    };
    state.registry.install("tenant-b", "relay", &relay, &manifest("/relay", ""), "bench").await?;
    let looping = manifest("/loop", "[limits]\ntimeout_ms = 2000\n") + "loop = \"true\"\n";
    state.registry.install("tenant-a", "looper", &relay, &looping, "bench").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(portitor::server::run(runtime, listener, std::future::pending()));
    Ok((url, state))
}

struct Measured {
    latencies: Vec<Duration>,
    not_created: usize,
}

async fn relay(http: &reqwest::Client, url: &str, id: &str) -> anyhow::Result<reqwest::StatusCode> {
    let order = json!({"externalId": id, "order": {"orderNumber": id, "currency": "SEK"}});
    Ok(http.post(format!("{url}/tenant-b/relay")).json(&order).send().await?.status())
}

async fn measure_b(http: &reqwest::Client, url: &str, sequence: &AtomicU64) -> anyhow::Result<Measured> {
    let mut clients = Vec::new();
    for _ in 0..B_CLIENTS {
        let ids: Vec<String> =
            (0..B_REQUESTS_PER_CLIENT).map(|_| format!("B-{}", sequence.fetch_add(1, Ordering::Relaxed))).collect();
        let (http, url) = (http.clone(), url.to_string());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut not_created = 0;
            for id in ids {
                let started = Instant::now();
                let status = relay(&http, &url, &id).await?;
                latencies.push(started.elapsed());
                if status != reqwest::StatusCode::CREATED {
                    not_created += 1;
                }
            }
            anyhow::Ok((latencies, not_created))
        }));
    }
    let mut measured = Measured { latencies: Vec::new(), not_created: 0 };
    for client in clients {
        let (latencies, not_created) = client.await??;
        measured.latencies.extend(latencies);
        measured.not_created += not_created;
    }
    measured.latencies.sort();
    Ok(measured)
}

/// B's measurement while A's clients flood the looping plugin; with what A was answered.
async fn with_flood(http: &reqwest::Client, url: &str, sequence: &AtomicU64) -> anyhow::Result<(Measured, String)> {
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<std::sync::Mutex<std::collections::BTreeMap<u16, u64>>> = Arc::default();
    let mut flood = Vec::new();
    for _ in 0..A_CLIENTS {
        let (http, url, stop, answers) = (http.clone(), url.to_string(), stop.clone(), answers.clone());
        flood.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let status = match http.post(format!("{url}/tenant-a/loop")).body("{}").send().await {
                    Ok(response) => response.status().as_u16(),
                    Err(_) => 0,
                };
                *answers.lock().expect("lock").entry(status).or_default() += 1;
                if status == 429 {
                    // As a partner would: wait a little, then retry.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    // Let the flood fill A's share first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let measured = measure_b(http, url, sequence).await?;
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        let _ = task.await;
    }
    let answers = answers.lock().expect("lock");
    let summary = answers.iter().map(|(status, n)| format!("{n}×{status}")).collect::<Vec<_>>().join(", ");
    Ok((measured, summary))
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) * p) / 100]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
