//! End to end: scheduled pulls through pull plugins, with the real binary,
//! a real FTP server and a PostNord simulator; restarts, `kill -9` mid-batch
//! and an FTP server that drops the connection.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::ftp::{self, FtpServer};
use support::partner;
use support::server::{Portitor, files_under};
use support::tenant::Tenant;

fn bring_manifest(port: u16, schedule: &str) -> String {
    format!(
        r#"
kind = "pull-source"
schedule = "{schedule}"
[limits]
timeout_ms = 120000
[network]
private_hosts = ["127.0.0.1"]
[ftp.connections.drop-folder]
host = "127.0.0.1"
port = {port}
username = "{}"
password_secret = "bring-ftp-password"
[config]
max-files = "500"
"#,
        ftp::USER
    )
}

/// A file of `count` one-line orders numbered from `first`.
/// Order ids stored for `acme`, checking each was received exactly once
/// (the pipeline appends its own events after version 1).
fn stored_orders(data: &Path) -> BTreeSet<String> {
    let root = data.join("acme/events/orders");
    let mut ids = BTreeSet::new();
    for file in files_under(&root) {
        let parts: Vec<&str> = file.split('/').collect();
        assert_eq!(parts.len(), 3, "unexpected event key {file}");
        if parts[2] == "OrderReceived" {
            assert_eq!(parts[1], "0000000001", "{file}");
            assert!(ids.insert(parts[0].to_string()), "order {} received twice", parts[0]);
        } else {
            assert_ne!(parts[1], "0000000001", "{file}");
        }
    }
    ids
}

fn expected_ids(prefix: &str, count: usize) -> BTreeSet<String> {
    (0..count).map(|n| portitor::orders::order_id("acme", "bring-ftp", &format!("{prefix}-{n}")).to_string()).collect()
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cursor(data: &Path, plugin: &str) -> Option<Value> {
    let text = std::fs::read(data.join(format!("acme/cursors/{plugin}/cursor.json"))).ok()?;
    serde_json::from_slice(&text).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bring_ftp_pulls_on_its_schedule_and_its_cursor_survives_a_restart() {
    let ftp = FtpServer::start();
    let t0 = ftp::now_secs() - 120;
    ftp.put("in/ORD_1.csv", &ftp::orders_file("NO", 0, 3), t0);
    ftp.put("in/ORD_2.csv", &ftp::orders_file("NO", 3, 2), t0);
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("bring-ftp-password", ftp::PASSWORD).await;
    let installed = tenant.install("bring-ftp", "bring-ftp", &bring_manifest(ftp.port, "*/1 * * * * *")).await;
    assert_eq!(installed["schedule"], "*/1 * * * * *");

    wait_for("the scheduled pull", Duration::from_secs(20), || stored_orders(data.path()) == expected_ids("NO", 5))
        .await;
    wait_for("the cursor", Duration::from_secs(10), || cursor(data.path(), "bring-ftp").is_some()).await;
    assert!(server.terminate());

    // After a restart the stored cursor is where the next run starts: nothing again...
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let run = tenant.run("bring-ftp").await;
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!(run["created"], 0, "{run}");
    assert!(run["cursorBefore"].is_string(), "the cursor survived the restart: {run}");
    // ...and a new file is picked up on the schedule.
    ftp.put("in/ORD_3.csv", &ftp::orders_file("NO", 5, 2), t0 + 30);
    wait_for("the new file", Duration::from_secs(20), || stored_orders(data.path()) == expected_ids("NO", 7)).await;

    let runs: Value = tenant.get("/acme/plugins/bring-ftp/runs").await;
    let runs = runs["runs"].as_array().expect("runs");
    assert!(runs.iter().any(|r| r["trigger"] == "schedule" && r["created"].as_u64().unwrap_or(0) > 0), "{runs:?}");
    assert!(runs.iter().all(|r| r["fuel"].as_u64().unwrap_or(0) > 0), "fuel is recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_batch_then_a_restart_stores_every_order_exactly_once() {
    let ftp = FtpServer::start();
    let t0 = ftp::now_secs() - 600;
    let files = 40;
    let per_file = 25;
    for f in 0..files {
        ftp.put(&format!("in/ORD_{f:03}.csv"), &ftp::orders_file("K", f * per_file, per_file), t0 + f as u64);
    }
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("bring-ftp-password", ftp::PASSWORD).await;
    // A schedule that will not fire during the test: the run is started by hand.
    tenant.install("bring-ftp", "bring-ftp", &bring_manifest(ftp.port, "0 0 1 1 *")).await;
    let url = format!("{}/acme/plugins/bring-ftp/run", server.url);
    let admin = tenant.admin.clone();
    let running = tokio::spawn(async move { Portitor::client().post(url).bearer_auth(admin).send().await });

    wait_for("the batch to be half ingested", Duration::from_secs(60), || stored_orders(data.path()).len() >= 100)
        .await;
    assert!(cursor(data.path(), "bring-ftp").is_none(), "the batch finished before the kill; nothing was tested");
    server.kill_9();
    let _ = running.await;
    let partial = stored_orders(data.path()).len();
    assert!(partial < files * per_file, "the kill came too late: {partial}");

    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let run = tenant.run("bring-ftp").await;
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!(stored_orders(data.path()), expected_ids("K", files * per_file), "every order exactly once");
    let cursor = cursor(data.path(), "bring-ftp").expect("the cursor moved");
    let state: Value = serde_json::from_str(cursor["cursor"].as_str().expect("cursor")).expect("json");
    assert_eq!(state["files"].as_object().expect("files").len(), files, "the cursor is past every file");
}

/// A partner that sends an order again in a later file of the same batch:
/// the first is stored, as if the batch were ingested in order, and the
/// later one is a duplicate (its events are written concurrently, so
/// without that rule either could win).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_repeated_within_one_batch_is_stored_as_first_sent() {
    let ftp = FtpServer::start();
    let t0 = ftp::now_secs() - 600;
    ftp.put("in/ORD_1.csv", &ftp::orders_file("R", 0, 2), t0);
    ftp.put("in/ORD_2.csv", &ftp::orders_file("R", 0, 1).replace("NV-JKT-SHL-M", "NV-CAP-WOL-S"), t0 + 10);
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("bring-ftp-password", ftp::PASSWORD).await;
    tenant.install("bring-ftp", "bring-ftp", &bring_manifest(ftp.port, "0 0 1 1 *")).await;

    let run = tenant.run("bring-ftp").await;
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!((run["events"].as_u64(), run["created"].as_u64()), (Some(3), Some(2)), "{run}");
    assert_eq!(stored_orders(data.path()), expected_ids("R", 2));
    let id = portitor::orders::order_id("acme", "bring-ftp", "R-0");
    let received = std::fs::read(data.path().join(format!("acme/events/orders/{id}/0000000001/OrderReceived")))
        .expect("R-0 received");
    let received: Value = serde_json::from_slice(&received).expect("json");
    assert_eq!(received["data"]["order"]["lineItems"][0]["sku"], "NV-JKT-SHL-M", "the first file's R-0 is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ftp_server_that_drops_the_connection_leaves_the_cursor_where_it_was() {
    let port = support::free_port();
    let ftp = FtpServer::start_with(tempfile::tempdir().expect("tempdir"), port, Some(2));
    let t0 = ftp::now_secs() - 600;
    ftp.put("in/ORD_A.csv", &ftp::orders_file("D", 0, 2), t0);
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("bring-ftp-password", ftp::PASSWORD).await;
    tenant.install("bring-ftp", "bring-ftp", &bring_manifest(port, "0 0 1 1 *")).await;

    // A first run reads A (the first RETR) and moves the cursor past it.
    let first = tenant.run("bring-ftp").await;
    assert_eq!(first["error"], Value::Null, "{first}");
    let before = cursor(data.path(), "bring-ftp").expect("cursor")["cursor"].clone();

    // The next RETR makes the server drop the connection mid-run.
    ftp.put("in/ORD_B.csv", &ftp::orders_file("D", 2, 2), t0 + 10);
    let failed = tenant.run("bring-ftp").await;
    assert!(failed["error"].as_str().unwrap_or_default().contains("FTP"), "{failed}");
    assert_eq!(cursor(data.path(), "bring-ftp").expect("cursor")["cursor"], before, "the cursor moved on a failed run");

    // Back to normal: the next run picks up where the cursor was.
    let root = ftp.stop();
    let _ftp = FtpServer::start_with(root, port, None);
    let recovered = tenant.run("bring-ftp").await;
    assert_eq!(recovered["error"], Value::Null, "{recovered}");
    assert_eq!(stored_orders(data.path()), expected_ids("D", 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postnord_tracking_pulls_from_a_partner_rest_server() {
    const KEY: &str = "0123456789abcdef0123456789abcdef";
    let partner = partner::postnord(KEY).await;
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("postnord-api-key", KEY).await;
    let manifest = partner::postnord_manifest(
        &partner.url(),
        "*/1 * * * * *",
        "00373500489001234567, 00373500489001234568, 00373500489001234569",
        2,
    );
    tenant.install("postnord-tracking", "postnord-tracking", &manifest).await;
    // Three items with four scans each, over two pages.
    wait_for("the tracking events", Duration::from_secs(20), || {
        files_under(&data.path().join("acme/events/trackings")).len() == 12
    })
    .await;
    let polled: BTreeSet<String> = partner.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(polled.len(), 3, "{polled:?}");
    assert!(partner.requests().iter().all(|r| r.query.contains(KEY)), "the host attached the key");
    // Further runs find nothing new.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(files_under(&data.path().join("acme/events/trackings")).len(), 12);
}
