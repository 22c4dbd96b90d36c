//! Recorded invocations, replay and shadow, end to end through the real
//! binary: live webhooks and pull runs are recorded (credentials never
//! kept), a changed version replayed over them is told apart field by
//! field, an unchanged one comes out equal, a pull plugin replays with its
//! partner stopped, a shadow version counts its differences on live traffic
//! without storing anything, and the recordings exported to files run in
//! `portitor plugin test` without a server (a tenant's CI).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::ftp::{self, FtpServer};
use support::orders::{SHOPIFY_MANIFEST, SHOPIFY_SECRET, send_shopify_order};
use support::partner;
use support::server::{Options, Portitor, binary, files_under};
use support::tenant::Tenant;

const SHOPIFY_ORDER: &str = include_str!("fixtures/shopify-orders-create.json");

/// The repository's root (tests run from `runtime/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("runtime/ has a parent").to_path_buf()
}

/// `shopify-orders` as a tenant would change it: the order number taken
/// from the order's display name (`#1001`) instead of its number (`1001`),
/// in a project `portitor plugin new` wrote, the example's source copied in.
/// Built once for the tests that use it.
fn changed_shopify_orders() -> Vec<u8> {
    static BUILT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_changed_shopify_orders).clone()
}

fn build_changed_shopify_orders() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay-projects");
    let project = dir.join("shopify-orders-changed");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&dir).expect("projects directory");
    let created = Command::new(binary())
        .current_dir(&dir)
        .args(["plugin", "new", "shopify-orders-changed", "--kind", "push-source", "--lang", "rust"])
        .output()
        .expect("plugin new runs");
    assert!(created.status.success(), "plugin new: {}", String::from_utf8_lossy(&created.stderr));
    let source = std::fs::read_to_string(root().join("plugins/shopify-orders/src/lib.rs")).expect("source");
    let line = "order_number: order.order_number.to_string(),";
    assert!(source.contains(line), "the mapping line to change is in shopify-orders");
    let changed = source.replace(line, "order_number: order.name.clone(),");
    std::fs::write(project.join("src/lib.rs"), changed).expect("write source");
    // Beside the project, so that a rerun builds incrementally.
    let target = dir.join("target");
    let output = Command::new("cargo")
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building the changed plugin: {}", String::from_utf8_lossy(&output.stderr));
    std::fs::read(target.join("wasm32-wasip2/release/shopify_orders_changed.wasm")).expect("component")
}

/// Shopify's order fixture as order `n`: its own id, name and number.
fn shopify_order(n: u64) -> String {
    let mut order: Value = serde_json::from_str(SHOPIFY_ORDER).expect("fixture");
    order["id"] = json!(7_000_000_000_000 + n);
    order["order_number"] = json!(10_000 + n);
    order["name"] = json!(format!("#{}", 10_000 + n));
    order.to_string()
}

/// Sends orders `range` as signed webhooks, 8 at a time; as a partner
/// does, a delivery answered 429 is sent again a moment later. Each ends 200/201.
async fn send_orders(server: &Portitor, range: std::ops::Range<u64>) {
    let sent = futures::stream::iter(range)
        .map(|n| async move {
            let order = shopify_order(n);
            loop {
                let response = send_shopify_order(server, &order).await;
                if response.status() == StatusCode::TOO_MANY_REQUESTS {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                assert!(response.status().is_success(), "webhook {n}: {}", response.status());
                break;
            }
        })
        .buffer_unordered(8);
    sent.collect::<Vec<()>>().await;
}

/// Waits until `holds` (for up to `limit`).
async fn wait_for(what: &str, limit: Duration, mut holds: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !holds() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(tenant: &Tenant<'_>, path: &str, body: Value) -> (StatusCode, Value) {
    let response = Portitor::client()
        .post(format!("{}{path}", tenant.server.url))
        .bearer_auth(&tenant.admin)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Uploads `component` as a new version of `id` without activating it; its version.
async fn upload_inactive(tenant: &Tenant<'_>, id: &str, component: Vec<u8>, manifest: &str) -> String {
    let form = reqwest::multipart::Form::new()
        .text("manifest", manifest.to_string())
        .part("component", reqwest::multipart::Part::bytes(component).file_name("component.wasm"));
    let response = Portitor::client()
        .put(format!("{}/{}/plugins/{id}?activate=false", tenant.server.url, tenant.company))
        .bearer_auth(&tenant.admin)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert!(status.is_success(), "upload: {status} {body}");
    body["version"].as_str().expect("a version").to_string()
}

fn recordings(data: &Path, plugin: &str) -> Vec<String> {
    files_under(&data.join("acme/recordings").join(plugin))
}

/// The orders and tracking events in the log (what a plugin's events become).
fn stored_events(data: &Path) -> Vec<String> {
    files_under(&data.join("acme/events"))
        .into_iter()
        .filter(|f| f.ends_with("/OrderReceived") || f.starts_with("trackings/"))
        .collect()
}

/// A server whose pipeline is off (the log holds what plugins gave, nothing
/// after), recording every invocation (not a sample per second).
fn start(data: &Path) -> Portitor {
    Portitor::start_with(Options {
        data_dir: Some(data.to_path_buf()),
        env: vec![
            ("PORTITOR_PIPELINE__WORKERS".into(), "0".into()),
            ("PORTITOR_RECORDINGS__SAMPLE_PER_SECOND".into(), "0".into()),
        ],
        ..Options::default()
    })
}

/// Runs `portitor plugin test` on exported recordings; (passed, output).
fn plugin_test(component: &Path, manifest: &Path, recordings: &Path) -> (bool, String) {
    let output = Command::new(binary())
        .args(["plugin", "test", "--component"])
        .arg(component)
        .arg("--manifest")
        .arg(manifest)
        .arg("--recordings")
        .arg(recordings)
        .arg("--secret")
        .arg(format!("shopify-webhook-secret={SHOPIFY_SECRET}"))
        .output()
        .expect("portitor plugin test runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The whole round: 1,000 live webhooks recorded; the changed version
/// replayed over them gives 1,000 "different", each naming the field; the
/// active version gives 1,000 "equal"; nothing a replay does enters the
/// log; the recordings keep no signature; exported, they run in the local
/// harness, which tells the two versions apart in the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_mapping_replayed_over_1000_recorded_webhooks_is_found_field_by_field() {
    let changed = changed_shopify_orders();
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("shopify-webhook-secret", SHOPIFY_SECRET).await;
    let installed = tenant.install("shopify-orders", "shopify-orders", SHOPIFY_MANIFEST).await;
    let active = installed["version"].as_str().expect("version").to_string();

    send_orders(&server, 0..1_000).await;
    wait_for("1,000 recordings", Duration::from_secs(60), || recordings(data.path(), "shopify-orders").len() == 1_000)
        .await;
    let events_before = stored_events(data.path());
    assert_eq!(events_before.len(), 1_000, "one order each");

    let recorded = std::fs::read_to_string(
        data.path().join("acme/recordings/shopify-orders").join(&recordings(data.path(), "shopify-orders")[0]),
    )
    .expect("a recording");
    assert!(recorded.contains("[redacted]"), "the signature header is redacted: {recorded}");
    let recording: Value = serde_json::from_str(&recorded).expect("JSON");
    assert_eq!(recording["recording"]["version"], active.as_str());
    assert_eq!(recording["identity"]["scheme"], "hmac", "{recording}");
    assert_eq!(recording["expect"]["events"][0]["kind"], "order", "{recording}");

    let candidate = upload_inactive(&tenant, "shopify-orders", changed.clone(), SHOPIFY_MANIFEST).await;
    assert_ne!(candidate, active);
    let (status, report) = post(&tenant, "/acme/plugins/shopify-orders/replay", json!({ "version": candidate })).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["counts"], json!({ "equal": 0, "different": 1000, "failed": 0 }), "{}", report["counts"]);
    let invocations = report["invocations"].as_array().expect("invocations");
    assert_eq!(invocations.len(), 1_000);
    for invocation in invocations {
        let differences = invocation["differences"].as_array().expect("differences");
        assert_eq!(differences.len(), 1, "{invocation}");
        assert_eq!(differences[0]["path"], "/events/0/payload/orderNumber", "{invocation}");
        let (recorded, replayed) = (&differences[0]["recorded"], &differences[0]["replayed"]);
        assert_eq!(format!("#{}", recorded.as_str().expect("a number")), replayed.as_str().expect("a name"));
    }

    let (status, same) = post(&tenant, "/acme/plugins/shopify-orders/replay", json!({ "version": active })).await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(same["counts"], json!({ "equal": 1000, "different": 0, "failed": 0 }), "{}", same["counts"]);
    assert_eq!(stored_events(data.path()), events_before, "a replay stores nothing");
    let last = tenant.get("/acme/plugins/shopify-orders/replay").await;
    assert_eq!(last["id"], same["id"], "the newest report is kept");
    assert!(tenant.get("/acme/audit").await.to_string().contains("PluginReplayed"));

    // Another tenant replays nothing of this one.
    let stranger = Portitor::token("initech", &["tenant-admin"]);
    let refused = Portitor::client()
        .post(format!("{}/acme/plugins/shopify-orders/replay", server.url))
        .bearer_auth(stranger)
        .json(&json!({ "version": candidate }))
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Exported and run without a server: the active version passes, the changed one fails by the field.
    let exported = tempfile::tempdir().expect("tempdir");
    let token = Portitor::token("acme", &["tenant-admin"]);
    let export = Command::new(binary())
        .args(["plugin", "--url", &server.url, "--token", &token, "recordings", "shopify-orders", "export", "--out"])
        .arg(exported.path())
        .output()
        .expect("export runs");
    assert!(export.status.success(), "export: {}", String::from_utf8_lossy(&export.stderr));
    assert_eq!(std::fs::read_dir(exported.path()).expect("exported").count(), 1_000);
    // `portitor plugin replay --expect-equal`, a CI gate: the active version passes, the changed one fails.
    let gate = |version: &str| {
        Command::new(binary())
            .args(["plugin", "--url", &server.url, "--token", &token, "replay", "shopify-orders", "--version"])
            .args([version, "--expect-equal"])
            .output()
            .expect("replay runs")
    };
    assert!(gate(&active).status.success(), "the active version replays equal");
    let refused = gate(&candidate);
    assert!(!refused.status.success(), "the changed version does not");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("1000 invocations did not come out equal"), "{said}");
    let summary = String::from_utf8_lossy(&refused.stdout);
    assert!(summary.contains("0 equal, 1000 different, 0 failed"), "{summary}");
    assert!(summary.contains("/events/0/payload/orderNumber: recorded \"10000\", replayed \"#10000\""), "{summary}");
    let work = tempfile::tempdir().expect("tempdir");
    let manifest = work.path().join("plugin.toml");
    std::fs::write(&manifest, SHOPIFY_MANIFEST).expect("manifest");
    let (original, changed_file) = (work.path().join("original.wasm"), work.path().join("changed.wasm"));
    std::fs::write(&original, support::plugin_bytes("shopify-orders")).expect("write");
    std::fs::write(&changed_file, &changed).expect("write");
    let (passed, output) = plugin_test(&original, &manifest, exported.path());
    assert!(passed, "the recorded version passes its recordings: {output}");
    assert!(output.contains("1000 fixtures: 1000 passed, 0 failed"), "{output}");
    let (passed, output) = plugin_test(&changed_file, &manifest, exported.path());
    assert!(!passed, "the changed version fails them");
    assert!(output.contains("1000 fixtures: 0 passed, 1000 failed"), "{output}");
    assert!(output.contains("`/events/0/payload/orderNumber`: recorded \"10000\", got \"#10000\""), "{output}");
}

/// A pull run is recorded with its partner's answers, the API key (a
/// query parameter the host adds) nowhere in it; with the partner stopped,
/// the version replays over the recording and comes out equal, the
/// partner never asked again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_plugin_replays_against_recorded_answers_with_the_partner_stopped() {
    const KEY: &str = "0123456789abcdef0123456789abcdef";
    let partner = partner::postnord(KEY).await;
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("postnord-api-key", KEY).await;
    let items = "00373500489001234567, 00373500489001234568, 00373500489001234569";
    let manifest = partner::postnord_manifest(&partner.url(), "0 0 0 1 1 *", items, 2);
    let installed = tenant.install("postnord-tracking", "postnord-tracking", &manifest).await;
    let version = installed["version"].as_str().expect("version").to_string();
    let run = tenant.run("postnord-tracking").await;
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!(run["events"], 12, "{run}");
    wait_for("the run's recordings", Duration::from_secs(10), || {
        recordings(data.path(), "postnord-tracking").len() == 2
    })
    .await;
    let asked = partner.requests().len();
    assert_eq!(asked, 3, "three items polled");
    let seen = partner.seen.clone();
    drop(partner);

    let dir = data.path().join("acme/recordings/postnord-tracking");
    for name in recordings(data.path(), "postnord-tracking") {
        let text = std::fs::read_to_string(dir.join(&name)).expect("recording");
        assert!(!text.contains(KEY), "the API key is not recorded: {text}");
        let recording: Value = serde_json::from_str(&text).expect("JSON");
        assert!(!recording["http"].as_array().expect("exchanges").is_empty(), "{recording}");
        assert_eq!(recording["recording"]["trigger"], "pull");
    }

    let events_before = stored_events(data.path());
    let (status, report) = post(&tenant, "/acme/plugins/postnord-tracking/replay", json!({ "version": version })).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["counts"], json!({ "equal": 2, "different": 0, "failed": 0 }), "{report}");
    assert_eq!(seen.lock().expect("lock").len(), asked, "the partner was not asked again");
    assert_eq!(stored_events(data.path()), events_before, "a replay stores nothing");
    let operator = Portitor::token("acme", &["platform-operator"]);
    let cursor: Value = Portitor::client()
        .get(format!("{}/acme/plugins/postnord-tracking/cursor", server.url))
        .bearer_auth(operator)
        .send()
        .await
        .expect("cursor")
        .json()
        .await
        .expect("JSON");
    assert_eq!(cursor["runId"], run["runId"], "a replay leaves the cursor alone: {cursor}");
}

/// A changed version in shadow on live webhooks: each live answer is the
/// active version's, the shadow's outcome is compared and counted
/// (different, the field named), and none of its events is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_version_counts_its_differences_on_live_traffic_and_stores_nothing() {
    let changed = changed_shopify_orders();
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("shopify-webhook-secret", SHOPIFY_SECRET).await;
    tenant.install("shopify-orders", "shopify-orders", SHOPIFY_MANIFEST).await;
    let candidate = upload_inactive(&tenant, "shopify-orders", changed, SHOPIFY_MANIFEST).await;
    let shadow = |method: reqwest::Method, token: &str| {
        Portitor::client()
            .request(method, format!("{}/acme/plugins/shopify-orders/shadow", server.url))
            .bearer_auth(token.to_string())
            .json(&json!({ "version": candidate }))
            .send()
    };
    let stranger = Portitor::token("initech", &["tenant-admin"]);
    assert_eq!(shadow(reqwest::Method::PUT, &stranger).await.expect("put").status(), StatusCode::FORBIDDEN);
    let set = shadow(reqwest::Method::PUT, &tenant.admin).await.expect("put");
    assert_eq!(set.status(), StatusCode::OK, "{:?}", set.text().await);

    send_orders(&server, 0..20).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = tenant.get("/acme/plugins/shopify-orders/shadow").await;
        let counted = ["equal", "different", "failed", "skipped"]
            .iter()
            .map(|k| status["counts"][k].as_u64().unwrap_or(0))
            .sum::<u64>();
        if counted >= 20 || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let counts = &status["counts"];
    assert_eq!(counts["equal"], 0, "{status}");
    assert_eq!(counts["failed"], 0, "{status}");
    let different = counts["different"].as_u64().unwrap_or(0);
    assert!(different >= 1 && different + counts["skipped"].as_u64().unwrap_or(0) == 20, "{status}");
    assert_eq!(counts["lastMismatch"][0]["path"], "/events/0/payload/orderNumber", "{status}");

    // The live orders are the active version's: numbers, not names.
    let events = stored_events(data.path());
    assert_eq!(events.len(), 20, "only the live events are stored: {events:?}");
    let id = portitor::orders::order_id("acme", "shopify-orders", &(7_000_000_000_000u64 + 3).to_string());
    let order = tenant.get(&format!("/acme/order/{id}?payload=true")).await;
    assert_eq!(order["order"]["orderNumber"], "10003", "{order}");

    let cleared = shadow(reqwest::Method::DELETE, &tenant.admin).await.expect("delete");
    assert_eq!(cleared.status(), StatusCode::OK);
    let gone = Portitor::client()
        .get(format!("{}/acme/plugins/shopify-orders/shadow", server.url))
        .bearer_auth(&tenant.admin)
        .send()
        .await
        .expect("get");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

/// An FTP pull is recorded operation by operation (the login's password
/// nowhere in it) and replays equal with the FTP server stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ftp_pull_replays_with_the_ftp_server_stopped() {
    let server_ftp = FtpServer::start();
    let t0 = ftp::now_secs() - 120;
    server_ftp.put("in/ORD_1.csv", &ftp::orders_file("R", 0, 3), t0);
    server_ftp.put("in/ORD_2.csv", &ftp::orders_file("R", 3, 2), t0 + 1);
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("bring-ftp-password", ftp::PASSWORD).await;
    let manifest = format!(
        "kind = \"pull-source\"\nschedule = \"0 0 0 1 1 *\"\n[network]\nprivate_hosts = [\"127.0.0.1\"]\n\
         [ftp.connections.drop-folder]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{}\"\npassword_secret = \"bring-ftp-password\"\n",
        server_ftp.port,
        ftp::USER
    );
    let installed = tenant.install("bring-ftp", "bring-ftp", &manifest).await;
    let version = installed["version"].as_str().expect("version").to_string();
    let run = tenant.run("bring-ftp").await;
    assert_eq!(run["error"], Value::Null, "{run}");
    assert_eq!(run["created"], 5, "{run}");
    wait_for("the run's recording", Duration::from_secs(10), || !recordings(data.path(), "bring-ftp").is_empty()).await;
    drop(server_ftp);

    let dir = data.path().join("acme/recordings/bring-ftp");
    let names = recordings(data.path(), "bring-ftp");
    let texts: Vec<String> = names.iter().map(|name| std::fs::read_to_string(dir.join(name)).expect("read")).collect();
    assert!(texts.iter().all(|text| !text.contains(ftp::PASSWORD)), "the FTP password is not recorded");
    let ops: Vec<String> = texts
        .iter()
        .flat_map(|text| {
            let recording: Value = serde_json::from_str(text).expect("JSON");
            recording["ftp"].as_array().cloned().unwrap_or_default()
        })
        .map(|op| format!("{} {}", op["op"].as_str().unwrap_or_default(), op["path"].as_str().unwrap_or_default()))
        .collect();
    assert!(ops.iter().any(|op| op.starts_with("list ")), "{ops:?}");
    assert!(
        ops.contains(&"retrieve in/ORD_1.csv".to_string()) || ops.contains(&"retrieve /in/ORD_1.csv".to_string()),
        "{ops:?}"
    );

    let (status, report) = post(&tenant, "/acme/plugins/bring-ftp/replay", json!({ "version": version })).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let equal = report["counts"]["equal"].as_u64().unwrap_or(0);
    assert_eq!(equal, names.len() as u64, "{report}");
    assert_eq!(report["counts"]["different"], 0, "{report}");
    assert_eq!(report["counts"]["failed"], 0, "{report}");
}
