//! End to end: several nodes on one store (docs/DESIGN.md §11) — two `portitor`
//! binaries on one moto bucket. Each tick of a pull schedule runs on one
//! node; what the admin API changes on one node reaches the other; with
//! NATS JetStream, an order ingested on one node is worked on another and
//! both list it as it is; a pull run longer than its period never overlaps
//! the next tick's on the other node; three nodes list the same failed
//! queue, and an order left unfinished is picked up by one of them.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use support::nats::NatsServer;
use support::orders::{SHOPIFY_SECRET, good_order, send_shopify_order};
use support::partner;
use support::s3::S3Server;
use support::server::{Options, Portitor};
use support::tenant::Tenant;

const SHOPIFY_ORDER: &str = include_str!("fixtures/shopify-orders-create.json");

/// A node of a two-node deployment on `s3`.
fn node(s3: &S3Server, dir: &Path) -> Portitor {
    node_with(s3, dir, Vec::new())
}

/// A node of a two-node deployment on `s3`, with more settings.
fn node_with(s3: &S3Server, dir: &Path, more: Vec<(&str, String)>) -> Portitor {
    let mut env = s3.portitor_env();
    env.push(("PORTITOR_NODES".into(), "2".into()));
    env.extend(more.into_iter().map(|(name, value)| (name.to_string(), value)));
    Portitor::start_with(Options { data_dir: Some(dir.to_path_buf()), env, ..Options::default() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_store_run_each_tick_once() {
    const KEY: &str = "0123456789abcdef0123456789abcdef";
    let partner = partner::postnord(KEY).await;
    let s3 = S3Server::moto().await;
    let (dir_a, dir_b) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let a = node(&s3, dir_a.path());
    let tenant = Tenant::new(&a, "acme");
    tenant.secret("postnord-api-key", KEY).await;
    let manifest = partner::postnord_manifest(&partner.url(), "*/2 * * * * *", "00373500489001234567", 10);
    tenant.install("postnord-tracking", "postnord-tracking", &manifest).await;
    // The second node loads the plugin from the store and schedules it too.
    let _b = node(&s3, dir_b.path());

    tokio::time::sleep(Duration::from_secs(11)).await;
    let runs: Value = tenant.get("/acme/plugins/postnord-tracking/runs").await;
    let mut per_tick = BTreeMap::<i64, usize>::new();
    for run in runs["runs"].as_array().expect("runs") {
        assert_eq!(run["trigger"], "schedule", "{run}");
        assert!(run["error"].is_null(), "{run}");
        let started: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(run["startedAt"].clone()).expect("startedAt");
        *per_tick.entry(started.timestamp() / 2).or_default() += 1;
    }
    assert!(per_tick.len() >= 4, "a tick every 2 s for 11 s: {per_tick:?}");
    assert!(per_tick.values().all(|&n| n == 1), "each tick ran on one node only: {per_tick:?}");
    let lease: Value =
        serde_json::from_slice(&s3.get_object("acme/plugins/postnord-tracking/schedule-lease.json").await)
            .expect("the lease is JSON");
    assert!(lease["node"].is_string() && lease["tick"].is_string(), "{lease}");
}

/// Sends the Shopify fixture to `server` until it answers something other
/// than `while_status`, for up to 15 s; that answer.
async fn shopify_until_not(server: &Portitor, while_status: StatusCode) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = send_shopify_order(server, SHOPIFY_ORDER).await;
        let status = response.status();
        if status != while_status || Instant::now() > deadline {
            return (status, response.json().await.unwrap_or(Value::Null));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_node_changes_reaches_the_other() {
    let s3 = S3Server::moto().await;
    let (dir_a, dir_b) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let a = node(&s3, dir_a.path());
    let b = node(&s3, dir_b.path());

    // Installed through A, with its secret, after B started: B serves it,
    // and verifies the partner's signature with the secret set on A.
    let tenant = Tenant::new(&a, "acme");
    tenant.secret("shopify-webhook-secret", SHOPIFY_SECRET).await;
    let manifest = "kind = \"push-source\"\n[webhook]\nscheme = \"hmac-sha256\"\nheader = \"X-Shopify-Hmac-Sha256\"\nsecret = \"shopify-webhook-secret\"\nencoding = \"base64\"\n";
    tenant.install("shopify-orders", "shopify-orders", manifest).await;
    let (status, body) = shopify_until_not(&b, StatusCode::NOT_FOUND).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Disabled through A: B stops serving it; enabled again: B serves it.
    let switch = |action: &'static str| {
        Portitor::client()
            .post(format!("{}/acme/plugins/shopify-orders/{action}", a.url))
            .bearer_auth(&tenant.admin)
            .send()
    };
    assert_eq!(switch("disable").await.expect("disable").status(), StatusCode::OK);
    let (status, body) = shopify_until_not(&b, StatusCode::OK).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "plugin_unavailable", "{body}");
    assert_eq!(switch("enable").await.expect("enable").status(), StatusCode::OK);
    let (status, body) = shopify_until_not(&b, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::OK, "served again; the same order, so a duplicate: {body}");

    // A pipeline configuration set through A is B's too.
    let configured = Portitor::client()
        .put(format!("{}/acme/config/pipeline", a.url))
        .bearer_auth(&tenant.admin)
        .json(&serde_json::json!({"steps": ["validate"], "dispatch": {"attempts": 2}}))
        .send()
        .await
        .expect("pipeline config");
    assert_eq!(configured.status(), StatusCode::OK);
    let on_b = Tenant::new(&b, "acme");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let pipeline: Value = on_b.get("/acme/config/pipeline").await;
        if pipeline["steps"] == serde_json::json!(["validate"]) {
            assert_eq!(pipeline["dispatch"]["attempts"], 2, "{pipeline}");
            break;
        }
        assert!(Instant::now() < deadline, "B never saw the configuration: {pipeline}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Deleted through A: gone from B too.
    let delete = Portitor::client()
        .delete(format!("{}/acme/plugins/shopify-orders", a.url))
        .bearer_auth(&tenant.admin)
        .send()
        .await
        .expect("delete");
    assert!(delete.status().is_success(), "{}", delete.status());
    let (status, body) = shopify_until_not(&b, StatusCode::OK).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_nats_an_order_ingested_on_one_node_is_worked_on_another() {
    let s3 = S3Server::moto().await;
    let nats = NatsServer::start();
    let (dir_a, dir_b) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    // A only ingests (no pipeline workers); B works orders.
    let a = node_with(
        &s3,
        dir_a.path(),
        vec![("PORTITOR_QUEUE__NATS_URL", nats.url()), ("PORTITOR_PIPELINE__WORKERS", "0".into())],
    );
    let b = node_with(&s3, dir_b.path(), vec![("PORTITOR_QUEUE__NATS_URL", nats.url())]);
    let tenant = Tenant::new(&a, "acme");
    let configured = Portitor::client()
        .put(format!("{}/acme/config/pipeline", a.url))
        .bearer_auth(&tenant.admin)
        .json(&serde_json::json!({"steps": ["validate"]}))
        .send()
        .await
        .expect("pipeline config");
    assert_eq!(configured.status(), StatusCode::OK);

    let mut ids = Vec::new();
    for number in 0..5 {
        let response = Portitor::client()
            .post(format!("{}/acme/order", a.url))
            .bearer_auth(Portitor::token("acme", &["source-adapter"]))
            .json(&serde_json::json!({
                "source": "woo-no", "externalId": format!("3000{number}"), "order": good_order(&format!("NV-3000{number}"))
            }))
            .send()
            .await
            .expect("order");
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.push(response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string());
    }
    // Validated by B's pipeline (A has none), and A's own lists say so.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed: Value = tenant.get("/acme/orders?state=all&limit=50").await;
        let validated = listed["orders"]
            .as_array()
            .expect("orders")
            .iter()
            .filter(|o| ids.contains(&o["id"].as_str().unwrap_or_default().to_string()) && o["state"] == "validated")
            .count();
        if validated == ids.len() {
            break;
        }
        assert!(Instant::now() < deadline, "A lists {validated} of {} orders validated: {listed}", ids.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // NATS restarts and has lost its stream: the nodes make it again, and
    // an order ingested meanwhile on A (which keeps its pointer and tries
    // again) is worked by B.
    let port = nats.port;
    drop(nats);
    let _nats = NatsServer::start_on(port);
    let response = Portitor::client()
        .post(format!("{}/acme/order", a.url))
        .bearer_auth(Portitor::token("acme", &["source-adapter"]))
        .json(&serde_json::json!({"source": "woo-no", "externalId": "30099", "order": good_order("NV-30099")}))
        .send()
        .await
        .expect("order");
    assert_eq!(response.status(), StatusCode::CREATED);
    let late = response.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let order: Value = tenant.get(&format!("/acme/order/{late}")).await;
        if order["state"] == "validated" {
            break;
        }
        assert!(Instant::now() < deadline, "the order ingested across the NATS restart was never worked: {order}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // B worked them; its own lists say so too.
    let on_b: Value = Tenant::new(&b, "acme").get("/acme/orders?state=all&limit=50").await;
    let validated_on_b =
        on_b["orders"].as_array().expect("orders").iter().filter(|o| o["state"] == "validated").count();
    assert_eq!(validated_on_b, ids.len() + 1, "{on_b}");
}

/// The runs of a plugin as (started, finished) times.
fn run_spans(runs: &Value) -> Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    let time = |value: &Value| serde_json::from_value::<chrono::DateTime<chrono::Utc>>(value.clone()).expect("a time");
    let mut spans: Vec<_> = runs["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|run| !run["endedAt"].is_null())
        .map(|run| (time(&run["startedAt"]), time(&run["endedAt"])))
        .collect();
    spans.sort();
    spans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_run_longer_than_its_period_never_overlaps_the_next_ticks_run_on_another_node() {
    const KEY: &str = "0123456789abcdef0123456789abcdef";
    // Each run waits 3 s for the partner; the schedule ticks every second.
    let partner = partner::postnord_answering_after(KEY, Duration::from_secs(3)).await;
    let s3 = S3Server::moto().await;
    let (dir_a, dir_b) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let a = node(&s3, dir_a.path());
    let tenant = Tenant::new(&a, "acme");
    tenant.secret("postnord-api-key", KEY).await;
    let manifest = partner::postnord_manifest(&partner.url(), "* * * * * *", "00373500489001234567", 10);
    tenant.install("postnord-tracking", "postnord-tracking", &manifest).await;
    let _b = node(&s3, dir_b.path());

    tokio::time::sleep(Duration::from_secs(16)).await;
    let spans = run_spans(&tenant.get("/acme/plugins/postnord-tracking/runs").await);
    assert!(spans.len() >= 3, "runs of about 3 s for 16 s: {spans:?}");
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two runs overlapped: {pair:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_list_the_same_failed_queue_and_one_of_them_picks_up_each_stuck_order() {
    const ORDERS: usize = 6;
    let s3 = S3Server::moto().await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("tempdir")).collect();
    let three = |workers: Option<&str>| {
        let mut env = vec![("PORTITOR_NODES", "3".to_string()), ("PORTITOR_PIPELINE__SWEEP_SECS", "2".to_string())];
        env.extend(workers.map(|w| ("PORTITOR_PIPELINE__WORKERS", w.to_string())));
        env
    };
    // A ingests only and has no shared queue: what it takes is left for
    // the others' sweepers, as if the node that took it had died.
    let a = node_with(&s3, dirs[0].path(), three(Some("0")));
    let tenant = Tenant::new(&a, "acme");
    tenant.install("rules-validator", "rules-validator", "kind = \"validator\"").await;
    let configured = Portitor::client()
        .put(format!("{}/acme/config/pipeline", a.url))
        .bearer_auth(&tenant.admin)
        .json(&serde_json::json!({"steps": ["validate", "semantic"], "validator": "rules-validator"}))
        .send()
        .await
        .expect("pipeline config");
    assert_eq!(configured.status(), StatusCode::OK);
    let b = node_with(&s3, dirs[1].path(), three(None));
    let c = node_with(&s3, dirs[2].path(), three(None));

    for number in 0..ORDERS {
        let mut order = good_order(&format!("NV-4000{number}"));
        order["currency"] = serde_json::json!("SKR");
        let response = Portitor::client()
            .post(format!("{}/acme/order", a.url))
            .bearer_auth(Portitor::token("acme", &["source-adapter"]))
            .json(&serde_json::json!({"source": "woo-no", "externalId": format!("4000{number}"), "order": order}))
            .send()
            .await
            .expect("order");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let failed = async |node: &Portitor| {
        let page: Value = Tenant::new(node, "acme").get("/acme/orders?state=failed&limit=50").await;
        let ids: Vec<Value> = page["orders"].as_array().expect("orders").iter().map(|o| o["id"].clone()).collect();
        (page["total"].clone(), ids)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let on_a = failed(&a).await;
        if on_a.0 == ORDERS {
            assert_eq!(failed(&b).await, on_a, "B lists the failed queue as A does");
            assert_eq!(failed(&c).await, on_a, "C lists the failed queue as A does");
            // Page by page, each after the last, C walks the same queue.
            let mut walked = Vec::new();
            let mut path = "/acme/orders?state=failed&limit=4".to_string();
            loop {
                let page: Value = Tenant::new(&c, "acme").get(&path).await;
                assert_eq!(page["total"], ORDERS, "{page}");
                walked.extend(page["orders"].as_array().expect("orders").iter().map(|o| o["id"].clone()));
                match page["next"].as_str() {
                    Some(next) => path = format!("/acme/orders?state=failed&limit=4&after={next}"),
                    None => break,
                }
            }
            assert_eq!(walked, on_a.1, "C's pages after pages list what A's one page does");
            break;
        }
        assert!(Instant::now() < deadline, "the stuck orders were not all picked up: {on_a:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Each order was validated by one node: one validator call each.
    let calls = async |node: &Portitor| {
        let plugin = Tenant::new(node, "acme").get("/acme/plugins/rules-validator").await;
        plugin["activity"]["calls"].as_u64().unwrap_or(0)
    };
    let (on_b, on_c) = (calls(&b).await, calls(&c).await);
    assert_eq!(on_b + on_c, ORDERS as u64, "B called the validator {on_b} times, C {on_c}");
}
