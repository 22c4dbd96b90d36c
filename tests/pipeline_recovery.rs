//! End to end: `kill -9` with 1,000 orders in the pipeline, a restart, and
//! every order reaching a terminal state — each sent to the WMS under one
//! reference — and projections that are the same after a restart.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::ftp::FtpServer;
use support::orders::{ADMIN_TOKEN, good_order, set_up};
use support::server::Portitor;
use support::tenant::Tenant;
use support::warehouse;

const ORDERS: usize = 1_000;

async fn page(tenant: &Tenant<'_>, state: &str, offset: usize) -> Value {
    tenant.get(&format!("/acme/orders?state={state}&offset={offset}&limit=500")).await
}

/// Every list, whole.
async fn projections(tenant: &Tenant<'_>) -> Vec<Value> {
    let mut all = Vec::new();
    for state in ["all", "failed", "unhandled", "in-progress"] {
        let mut offset = 0;
        loop {
            let page = page(tenant, state, offset).await;
            let orders = page["orders"].as_array().expect("orders").clone();
            offset += orders.len();
            all.push(json!({"state": state, "total": page["total"], "orders": orders}));
            if offset >= page["total"].as_u64().unwrap_or(0) as usize {
                break;
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_with_orders_in_the_pipeline_then_every_order_finishes_once() {
    let (wms_server, wms) = warehouse::start_wms().await;
    let (webshop, _updates) = warehouse::start_webshop(ADMIN_TOKEN).await;
    let ftp = FtpServer::start();
    wms.lock().expect("lock").delay = Duration::from_millis(30);
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    set_up(&tenant, &wms_server.url(), &webshop.url(), ftp.port).await;

    // 1,000 orders, posted by 16 clients; a tenth of them fail validation.
    let token = Portitor::token("acme", &["source-adapter"]);
    let url = server.url.clone();
    let posts = (0..16).map(|client| {
        let (url, token) = (url.clone(), token.clone());
        tokio::spawn(async move {
            let http = Portitor::client();
            for n in (client..ORDERS).step_by(16) {
                let mut order = good_order(&format!("NV-{n}"));
                if n % 10 == 0 {
                    order["currency"] = json!("SKR");
                }
                let envelope = json!({"source": "woo-no", "externalId": n.to_string(), "order": order});
                let response = http
                    .post(format!("{url}/acme/order"))
                    .bearer_auth(&token)
                    .json(&envelope)
                    .send()
                    .await
                    .expect("post");
                assert_eq!(response.status(), reqwest::StatusCode::CREATED);
            }
        })
    });
    for post in futures::future::join_all(posts).await {
        post.expect("client");
    }
    let before_kill = page(&tenant, "in-progress", 0).await["total"].as_u64().unwrap_or(0);
    server.kill_9();
    assert!(before_kill >= 100, "only {before_kill} orders were in the pipeline at the kill; nothing much was tested");

    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let done = page(&tenant, "in-progress", 0).await["total"].as_u64().unwrap_or(u64::MAX);
        let all = page(&tenant, "all", 0).await["total"].as_u64().unwrap_or(0);
        if done == 0 && all == ORDERS as u64 {
            break;
        }
        assert!(Instant::now() < deadline, "{done} orders still in progress");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(page(&tenant, "unhandled", 0).await["total"], ORDERS - ORDERS / 10);
    assert_eq!(page(&tenant, "failed", 0).await["total"], ORDERS / 10);
    {
        let wms = wms.lock().expect("lock");
        assert_eq!(wms.created.len(), ORDERS - ORDERS / 10, "one reference — one WMS order — per order");
        assert!(wms.created.values().all(|&n| n == 1));
        let repeated = wms.puts.len() - wms.created.len();
        println!(
            "{before_kill} orders were in progress at the kill; {repeated} dispatches were repeated and recognised by their reference"
        );
    }

    // The projections after a restart are those before it.
    let before = projections(&tenant).await;
    let mut server = server;
    assert!(server.terminate());
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    assert_eq!(projections(&tenant).await, before);
}
