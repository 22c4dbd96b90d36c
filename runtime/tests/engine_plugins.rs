//! The example plugins, run in the engine against real peers on loopback:
//! an FTP server for `bring-ftp`, an axum PostNord simulator for
//! `postnord-tracking`, and the partners' own payloads for the push plugins.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use portitor::engine::{
    BatchOutput, CallOptions, CallerIdentity, InvokeError, LoadedPlugin, PartnerRequest, PluginEvent, PluginFailure,
    Verdict, WarehouseDocument,
};
use portitor::host::Checkpointer;
use portitor::security::secrets::StaticSecrets;
use serde_json::{Value, json};
use support::ftp::{self, FtpServer};
use support::partner::Partner;
use support::prime_cargo;
use support::sftp::{self, SftpServer};

const SHOPIFY_ORDER: &str = include_str!("../../tests/fixtures/shopify-orders-create.json");
const BRING_FILE: &str = include_str!("../../tests/fixtures/ORD_NVNO_20260314T101500Z_000042.csv");
const POSTNORD_RESPONSE: &str = include_str!("../../tests/fixtures/postnord-trackandtrace.json");

fn identity() -> CallerIdentity {
    CallerIdentity { company: "acme".into(), scheme: "hmac".into(), subject: None, delivery_id: None }
}

fn post(headers: &[(&str, &str)], body: &str) -> PartnerRequest {
    PartnerRequest {
        method: "POST".into(),
        path: "/webhooks".into(),
        query: None,
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn shopify_orders_maps_an_order_to_the_order_model() {
    let engine = support::engine();
    let plugin = support::load(&engine, "shopify-orders", "kind = \"push-source\"", StaticSecrets::new());
    assert_eq!(plugin.path(CallOptions::default()).await.expect("path").output, "/webhooks/shopify/orders");

    let done = plugin
        .handle(&post(&[("X-Shopify-Topic", "orders/create")], SHOPIFY_ORDER), &identity(), CallOptions::default())
        .await
        .expect("handled");
    let [event] = done.output.events.as_slice() else { panic!("one event expected") };
    assert_eq!(event.kind, "order");
    assert_eq!(event.external_id, "5813370225002");
    let order = &event.payload_json();
    assert_eq!(order["orderNumber"], "1042");
    assert_eq!(order["currency"], "SEK");
    assert_eq!(order["customer"]["email"], "ingrid.lund@example.se");
    assert_eq!(order["shippingAddress"]["postalCode"], "41301");
    assert_eq!(order["shippingAddress"]["countryCode"], "SE");
    assert_eq!(order["lineItems"].as_array().expect("lines").len(), 2);
    assert_eq!(order["lineItems"][1]["sku"], "NV-SOCK-HIK-4245");
    assert_eq!(order["lineItems"][1]["quantity"], 2);
    assert_eq!(order["lineItems"][1]["unitPrice"], "195.00");
    assert_eq!(order["lineItems"][0]["weightGrams"], 120);
    assert_eq!(order["totals"]["total"], "748.00");
    assert_eq!(order["totals"]["shipping"], "59.00");
    assert_eq!(order["shippingMethod"]["name"], "PostNord MyPack Collect");

    let error = plugin
        .handle(&post(&[("x-shopify-topic", "orders/create")], "{not json"), &identity(), CallOptions::default())
        .await
        .expect_err("malformed");
    assert!(matches!(error, InvokeError::Plugin { failure: PluginFailure::InvalidInput(_), .. }), "{error}");
    let error = plugin
        .handle(&post(&[("x-shopify-topic", "products/update")], SHOPIFY_ORDER), &identity(), CallOptions::default())
        .await
        .expect_err("wrong topic");
    assert!(error.to_string().contains("products/update"), "{error}");
}

fn prime_cargo_auth(engine: &portitor::engine::Engine, secrets: StaticSecrets) -> LoadedPlugin {
    support::load(engine, "prime-cargo-auth", prime_cargo::AUTH_MANIFEST, secrets)
}

#[tokio::test]
async fn prime_cargo_auth_verifies_the_callback_token_and_names_the_event() {
    let engine = support::engine();
    let plugin = prime_cargo_auth(&engine, StaticSecrets::new().with("callback-secret", prime_cargo::SECRET));
    let verdict = |plugin: LoadedPlugin, token: Option<String>, body: &'static str| async move {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        plugin.verify(&post(&headers, body), CallOptions::default()).await.expect("a verdict").output
    };
    let refused = |reason: &str| Verdict::Refused { reason: reason.into() };

    let token = prime_cargo::token(prime_cargo::PACKED, "evt_pc_000187", 300, prime_cargo::SECRET);
    assert_eq!(
        verdict(plugin.clone(), Some(token.clone()), prime_cargo::PACKED).await,
        Verdict::Verified { subject: Some("primecargo-demo".into()), delivery_id: Some("evt_pc_000187".into()) },
        "the issuer is the subject and the token's jti the delivery id"
    );
    let forged = prime_cargo::token(prime_cargo::PACKED, "evt_pc_000187", 300, "not-the-secret");
    assert_eq!(verdict(plugin.clone(), Some(forged), prime_cargo::PACKED).await, refused("bad token signature"));
    let expired = prime_cargo::token(prime_cargo::PACKED, "evt_pc_000187", -3600, prime_cargo::SECRET);
    assert_eq!(verdict(plugin.clone(), Some(expired), prime_cargo::PACKED).await, refused("token expired"));
    let other_body =
        r#"{"eventType":"PickOrderPacked","eventId":"evt_pc_000187","orderNumber":"DK-1","pickOrderHeaderId":1}"#;
    assert_eq!(
        verdict(plugin.clone(), Some(token.clone()), other_body).await,
        refused("the token does not belong to this body")
    );
    assert_eq!(verdict(plugin.clone(), None, prime_cargo::PACKED).await, refused("no Authorization header"));

    // The partner document's test vector: its signature verifies, and it expired in March 2026.
    let vector_body = r#"{"eventType":"PickOrderPacked","eventId":"evt_pc_000187","orderNumber":"DK-20931","pickOrderHeaderId":552310}"#;
    let vector = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJwcmltZWNhcmdvLWRlbW8iLCJhdWQiOiJub3JkaWMtcnVudGltZSIsImlhdCI6MTc3MzQ4MjQwMCwiZXhwIjoxNzczNDgyNzAwLCJqdGkiOiJldnRfcGNfMDAwMTg3IiwiYm9keV9zaGEyNTYiOiJhYmY1OGM3NWQwMDZiMTI2YzJlN2Q4MmRkMmQ2YjA0MDE3ZjBhOGNjYjFjYTIwNzI0NjdiZjRmOWU4MmY4YWIxIn0.iMH_hKCBkNaMrDHmECAcu3VrepilKR13LFdBngC-J6U";
    assert_eq!(verdict(plugin, Some(vector.into()), vector_body).await, refused("token expired"));

    // Without its secret the plugin can verify nothing: that is the
    // tenant's set-up (unavailable, so the partner retries), not a refusal.
    let unset = prime_cargo_auth(&engine, StaticSecrets::new());
    match verdict(unset, Some(token), prime_cargo::PACKED).await {
        Verdict::Unavailable { reason } => assert!(reason.contains("callback-secret"), "{reason}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn prime_cargo_turns_a_verified_callback_into_a_shipment() {
    let engine = support::engine();
    let manifest = r#"
        kind = "push-source"
        webhook = { scheme = "plugin", plugin = "prime-cargo-auth" }
    "#;
    let plugin = support::load(&engine, "prime-cargo", manifest, StaticSecrets::new());
    let verified = |delivery_id: &str| CallerIdentity {
        company: "acme".into(),
        scheme: "plugin".into(),
        subject: Some("primecargo-demo".into()),
        delivery_id: Some(delivery_id.into()),
    };
    let request = post(&[], prime_cargo::PACKED);
    let done = plugin.handle(&request, &verified("evt_pc_000187"), CallOptions::default()).await.expect("handled");
    let [event] = done.output.events.as_slice() else { panic!("one event expected") };
    assert_eq!(event.kind, "shipment");
    assert_eq!(event.external_id, "552310");
    assert_eq!(event.payload_json()["orderNumber"], "DK-20931");
    assert_eq!(event.payload_json()["orderReference"], "DK-20931", "the order number names the order it ships");
    assert_eq!(event.payload_json()["parcels"][0]["trackingNumber"], "00370726209876543210");
    assert_eq!(event.payload_json()["parcels"][0]["weightGrams"], 1240);
    assert_eq!(event.payload_json()["parcels"][0]["lines"][1]["quantity"], 2);

    let unauthorized = |identity: CallerIdentity| {
        let (plugin, request) = (plugin.clone(), request.clone());
        async move {
            match plugin.handle(&request, &identity, CallOptions::default()).await {
                Err(InvokeError::Plugin { failure: PluginFailure::Unauthorized(m), .. }) => m,
                other => panic!("expected unauthorized, got {other:?}"),
            }
        }
    };
    let another_event = unauthorized(verified("evt_pc_000999")).await;
    assert!(another_event.contains("does not match the event id"), "{another_event}");
    let unverified = unauthorized(CallerIdentity { scheme: "none".into(), ..verified("evt_pc_000187") }).await;
    assert!(unverified.contains("prime-cargo-auth"), "the plugin says how to set it up: {unverified}");
}

// ---------------------------------------------------------------- bring-ftp

/// `bring-ftp` on `connection` (its `[network]` and `[ftp.connections.drop-folder]`).
fn bring_manifest_on(connection: &str, config: &str) -> String {
    format!("kind = \"pull-source\"\n{connection}\n[config]\n{config}\n")
}

fn bring_manifest(port: u16, config: &str) -> String {
    let connection = format!(
        "[network]\nprivate_hosts = [\"127.0.0.1\"]\n[ftp.connections.drop-folder]\nhost = \"127.0.0.1\"\n\
         port = {port}\nusername = \"{}\"\npassword_secret = \"bring-ftp-password\"",
        ftp::USER
    );
    bring_manifest_on(&connection, config)
}

fn bring(engine: &portitor::engine::Engine, server: &FtpServer, config: &str) -> LoadedPlugin {
    support::load(
        engine,
        "bring-ftp",
        &bring_manifest(server.port, config),
        StaticSecrets::new().with("bring-ftp-password", ftp::PASSWORD),
    )
}

/// One order file with one line per order number.
fn orders_file(numbers: &[&str], price: &str) -> String {
    let mut csv = BRING_FILE.lines().next().expect("header").to_string();
    csv.push('\n');
    for number in numbers {
        csv.push_str(&format!(
            "{number};2026-03-14T11:02:45+01:00;NVNO;NOK;1;NV-JKT-SHL-M;1;{price};0.25;Kari Nordmann;;Karl Johans gate 22;;0159;Oslo;NO;+4791234567;kari@example.no;BRING_5800;151243;\n"
        ));
    }
    csv
}

async fn fetch(plugin: &LoadedPlugin, cursor: &Option<String>) -> BatchOutput {
    plugin.fetch(cursor.clone(), None, CallOptions::default()).await.expect("fetch").output
}

fn ids(events: &[PluginEvent]) -> Vec<String> {
    let mut ids: Vec<String> = events.iter().map(|e| e.external_id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn bring_ftp_maps_the_partners_file() {
    let engine = support::engine();
    let server = FtpServer::start();
    server.put("in/ORD_NVNO_20260314T101500Z_000042.csv", BRING_FILE, ftp::now_secs() - 60);
    let plugin = bring(&engine, &server, "");
    let batch = fetch(&plugin, &None).await;
    assert_eq!(ids(&batch.events), ["NO-30117", "NO-30118"]);
    let first = &batch.events.iter().find(|e| e.external_id == "NO-30117").expect("NO-30117").payload_json();
    assert_eq!(first["currency"], "NOK");
    assert_eq!(first["lineItems"].as_array().expect("lines").len(), 2);
    assert_eq!(first["lineItems"][1]["quantity"], 2);
    assert_eq!(first["totals"]["total"], "2357.00");
    assert_eq!(first["shippingMethod"]["carrier"], "BRING");
    assert_eq!(first["shippingMethod"]["pickupPointId"], "151243");
    let second = &batch.events.iter().find(|e| e.external_id == "NO-30118").expect("NO-30118").payload_json();
    assert_eq!(second["shippingAddress"]["address2"], "Bygg B; 2. etg", "quoted separators survive");
    assert_eq!(second["shippingAddress"]["company"], "Hansen Fjellsport AS");
    assert_eq!(second["deliveryInstruction"], "Legg i postkassen");
}

#[tokio::test]
async fn bring_ftp_reads_files_with_equal_times_once_and_changed_files_again() {
    let engine = support::engine();
    let server = FtpServer::start();
    let plugin = bring(&engine, &server, "");
    let t0 = ftp::now_secs() - 3_600;

    // Two files written in the same second, and an upload still in progress.
    server.put("in/A.csv", &orders_file(&["NO-1"], "1899.00"), t0);
    server.put("in/B.csv", &orders_file(&["NO-2", "NO-3"], "229.00"), t0);
    server.put("in/C.csv.tmp", &orders_file(&["NO-X"], "1.00"), t0);
    let batch = fetch(&plugin, &None).await;
    assert_eq!(ids(&batch.events), ["NO-1", "NO-2", "NO-3"]);
    assert!(!batch.has_more);
    let mut cursor = Some(batch.next_cursor);

    // Nothing new: nothing again (the unsettled files are hashed, not re-emitted).
    let batch = fetch(&plugin, &cursor).await;
    assert!(batch.events.is_empty(), "read twice: {:?}", ids(&batch.events));
    cursor = Some(batch.next_cursor);

    // A file landing in the same second as the last ones is not skipped.
    server.put("in/D.csv", &orders_file(&["NO-4"], "10.00"), t0);
    let batch = fetch(&plugin, &cursor).await;
    assert_eq!(ids(&batch.events), ["NO-4"]);
    cursor = Some(batch.next_cursor);

    // A rewritten within the same second: same size, same time, new content.
    server.put("in/A.csv", &orders_file(&["NO-1"], "1999.00"), t0);
    let batch = fetch(&plugin, &cursor).await;
    assert_eq!(ids(&batch.events), ["NO-1"]);
    assert_eq!(batch.events[0].payload_json()["lineItems"][0]["unitPrice"], "1999.00");
    cursor = Some(batch.next_cursor);

    // A newer file settles the older ones.
    server.put("in/E.csv", &orders_file(&["NO-5"], "10.00"), t0 + 10);
    let batch = fetch(&plugin, &cursor).await;
    assert_eq!(ids(&batch.events), ["NO-5"]);
    cursor = Some(batch.next_cursor);

    // A changed file (new size and time) is read again, whole.
    server.put("in/B.csv", &orders_file(&["NO-2", "NO-3", "NO-6"], "229.00"), t0 + 20);
    let batch = fetch(&plugin, &cursor).await;
    assert_eq!(ids(&batch.events), ["NO-2", "NO-3", "NO-6"]);
    cursor = Some(batch.next_cursor);

    // A file that left the folder leaves the cursor.
    std::fs::remove_file(server.path("in/D.csv")).expect("remove");
    let batch = fetch(&plugin, &cursor).await;
    assert!(batch.events.is_empty());
    let state: Value = serde_json::from_str(&batch.next_cursor).expect("cursor json");
    let files: Vec<&String> = state["files"].as_object().expect("files").keys().collect();
    assert_eq!(files, ["A.csv", "B.csv", "E.csv"]);
}

#[tokio::test]
async fn bring_ftp_pages_through_a_full_folder() {
    let engine = support::engine();
    let server = FtpServer::start();
    let plugin = bring(&engine, &server, "max-files = \"2\"");
    let t0 = ftp::now_secs() - 600;
    for (i, name) in ["F1", "F2", "F3"].iter().enumerate() {
        server.put(&format!("in/{name}.csv"), &orders_file(&[&format!("NO-{name}")], "1.00"), t0 + i as u64);
    }
    let first = fetch(&plugin, &None).await;
    assert_eq!(ids(&first.events), ["NO-F1", "NO-F2"]);
    assert!(first.has_more);
    let second = fetch(&plugin, &Some(first.next_cursor)).await;
    assert_eq!(ids(&second.events), ["NO-F3"]);
    assert!(!second.has_more);
}

/// Records checkpoints, and whether the file was still in the drop folder at the time.
struct RecordingCheckpointer {
    checkpoints: Mutex<Vec<(Vec<String>, bool)>>,
    still_there: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Checkpointer for RecordingCheckpointer {
    fn checkpoint(
        &self,
        events: Vec<PluginEvent>,
        _next: String,
    ) -> futures::future::BoxFuture<'_, Result<(), String>> {
        let present = (self.still_there)();
        self.checkpoints.lock().expect("lock").push((ids(&events), present));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn bring_ftp_archives_a_file_only_after_its_orders_are_durable() {
    let engine = support::engine();
    let server = Arc::new(FtpServer::start());
    let plugin = bring(&engine, &server, "archive-folder = \"/in/archive\"");
    server.put("in/G.csv", &orders_file(&["NO-G1", "NO-G2"], "5.00"), ftp::now_secs() - 60);
    let watched = server.clone();
    let checkpointer = Arc::new(RecordingCheckpointer {
        checkpoints: Mutex::default(),
        still_there: Box::new(move || watched.exists("in/G.csv")),
    });
    let batch = plugin
        .fetch(None, Some(checkpointer.clone() as Arc<dyn Checkpointer>), CallOptions::default())
        .await
        .expect("fetch")
        .output;
    assert!(batch.events.is_empty(), "the events went out through the checkpoint");
    let checkpoints = checkpointer.checkpoints.lock().expect("lock").clone();
    assert_eq!(checkpoints, vec![(vec!["NO-G1".to_string(), "NO-G2".to_string()], true)]);
    assert!(!server.exists("in/G.csv"));
    assert!(server.exists("in/archive/G.csv"));
}

/// The same plugin on an SFTP drop folder: only the connection differs.
fn bring_sftp_manifest(server: &SftpServer, host_key: &str, login: &str, config: &str) -> String {
    bring_manifest_on(&server.connection("drop-folder", host_key, login), config)
}

#[tokio::test]
async fn bring_ftp_reads_and_archives_over_sftp_with_a_pinned_host_key() {
    let engine = support::engine();
    let server = Arc::new(SftpServer::start());
    let by_password = "password_secret = \"bring-sftp-password\"";
    let password = || StaticSecrets::new().with("bring-sftp-password", sftp::PASSWORD);

    // By password: the partner's file is read, and archived once its orders are durable.
    server.put("in/ORD_NVNO_20260314T101500Z_000042.csv", BRING_FILE, ftp::now_secs() - 60);
    let manifest = bring_sftp_manifest(&server, &server.host_key, by_password, "archive-folder = \"/in/archive\"");
    let plugin = support::load(&engine, "bring-ftp", &manifest, password());
    let watched = server.clone();
    let checkpointer = Arc::new(RecordingCheckpointer {
        checkpoints: Mutex::default(),
        still_there: Box::new(move || watched.exists("in/ORD_NVNO_20260314T101500Z_000042.csv")),
    });
    plugin
        .fetch(None, Some(checkpointer.clone() as Arc<dyn Checkpointer>), CallOptions::default())
        .await
        .expect("fetch over SFTP");
    let checkpoints = checkpointer.checkpoints.lock().expect("lock").clone();
    assert_eq!(checkpoints, vec![(vec!["NO-30117".to_string(), "NO-30118".to_string()], true)]);
    assert!(server.exists("in/archive/ORD_NVNO_20260314T101500Z_000042.csv"), "archived over SFTP");
    assert!(!server.exists("in/ORD_NVNO_20260314T101500Z_000042.csv"));

    // By key: the next file, with its modification time as the listing gave it.
    server.put("in/B.csv", &orders_file(&["NO-B1"], "7.00"), ftp::now_secs() - 30);
    let by_key = "private_key_secret = \"bring-sftp-key\"";
    let manifest = bring_sftp_manifest(&server, &server.host_key, by_key, "");
    let key = StaticSecrets::new().with("bring-sftp-key", &server.client_key);
    let batch = fetch(&support::load(&engine, "bring-ftp", &manifest, key), &None).await;
    assert_eq!(ids(&batch.events), ["NO-B1"]);

    // A server with several host keys presents the one the manifest pins
    // (here its ECDSA key rather than the ed25519 one it prefers).
    server.put("in/C.csv", &orders_file(&["NO-C1"], "8.00"), ftp::now_secs() - 20);
    let manifest = bring_sftp_manifest(&server, &server.host_key_ecdsa, by_password, "");
    let batch = fetch(&support::load(&engine, "bring-ftp", &manifest, password()), &None).await;
    assert_eq!(ids(&batch.events), ["NO-B1", "NO-C1"]);

    // A server that presents another host key is refused; so is a wrong password.
    let other_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    let manifest = bring_sftp_manifest(&server, other_key, by_password, "");
    let plugin = support::load(&engine, "bring-ftp", &manifest, password());
    let error = plugin.fetch(None, None, CallOptions::default()).await.expect_err("another host key");
    assert!(error.to_string().contains("host key is not the one the manifest pins"), "{error}");
    let manifest = bring_sftp_manifest(&server, &server.host_key, by_password, "");
    let wrong = StaticSecrets::new().with("bring-sftp-password", "not-the-password");
    let error = support::load(&engine, "bring-ftp", &manifest, wrong)
        .fetch(None, None, CallOptions::default())
        .await
        .expect_err("wrong password");
    assert!(error.to_string().contains("refused the login"), "{error}");
    // And the address is checked against the egress policy like any other:
    // a name that resolves to loopback, not listed as a granted private host.
    let manifest =
        manifest.replace("private_hosts = [\"127.0.0.1\"]", "").replace("host = \"127.0.0.1\"", "host = \"localhost\"");
    let error = support::load(&engine, "bring-ftp", &manifest, password())
        .fetch(None, None, CallOptions::default())
        .await
        .expect_err("loopback not allowed");
    assert!(error.to_string().contains("network.private_hosts"), "{error}");
}

/// `warehouse-ftp` over SFTP: `store` under a temporary name, then `rename`.
#[tokio::test]
async fn warehouse_ftp_uploads_an_order_over_sftp_once() {
    let engine = support::engine();
    let server = SftpServer::start();
    std::fs::create_dir_all(server.path("in")).expect("the warehouse's folder");
    let login = "password_secret = \"warehouse-sftp-password\"";
    let manifest = format!("kind = \"warehouse\"\n{}", server.connection("warehouse", &server.host_key, login));
    let secrets = StaticSecrets::new().with("warehouse-sftp-password", sftp::PASSWORD);
    let plugin = support::load(&engine, "warehouse-ftp", &manifest, secrets);
    let document =
        WarehouseDocument { content_type: "application/json".into(), body: br#"{"referenceNumber":"NV-1"}"#.to_vec() };
    let receipt = plugin.dispatch(&document, "PXK4Q2", CallOptions::default()).await.expect("dispatch").output;
    assert_eq!(receipt.message, "uploaded to /in");
    assert_eq!(std::fs::read(server.path("in/PXK4Q2.json")).expect("uploaded"), document.body);
    assert!(!server.exists("in/PXK4Q2.tmp"), "the temporary name is gone");
    let again = plugin.dispatch(&document, "PXK4Q2", CallOptions::default()).await.expect("dispatch").output;
    assert_eq!(again.message, "already delivered");
}

#[tokio::test]
async fn bring_ftp_refuses_to_run_without_its_password() {
    let engine = support::engine();
    let server = FtpServer::start();
    let plugin = support::load(&engine, "bring-ftp", &bring_manifest(server.port, ""), StaticSecrets::new());
    let error = plugin.fetch(None, None, CallOptions::default()).await.expect_err("no password");
    assert!(error.to_string().contains("`bring-ftp-password` is not set"), "{error}");
}

// ------------------------------------------------------- postnord-tracking

const POSTNORD_KEY: &str = "0123456789abcdef0123456789abcdef";

/// The simulator's state: scan events per item id, and ids that answer 503.
#[derive(Default)]
struct Tracking {
    events: HashMap<String, (String, Vec<Value>)>,
    failing: Vec<String>,
}

type Shared = Arc<Mutex<Tracking>>;

async fn track(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    if query.get("apikey").map(String::as_str) != Some(POSTNORD_KEY) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "bad apikey"}))).into_response();
    }
    let state = state.lock().expect("lock");
    if state.failing.contains(&id) {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    let Some((status, events)) = state.events.get(&id) else {
        return Json(json!({"TrackingInformationResponse": {"shipments": []}})).into_response();
    };
    let mut response: Value = serde_json::from_str(POSTNORD_RESPONSE).expect("fixture");
    let item = &mut response["TrackingInformationResponse"]["shipments"][0]["items"][0];
    item["itemId"] = json!(id);
    item["status"] = json!(status);
    item["events"] = json!(events);
    Json(response).into_response()
}

fn scan(time: &str, code: &str, location: &str) -> Value {
    json!({"eventTime": time, "eventCode": code, "status": "EN_ROUTE", "eventDescription": code,
           "location": {"locationId": location, "locationType": "HUB", "displayName": location}})
}

#[tokio::test]
async fn postnord_tracking_pages_through_items_and_resumes_where_the_last_page_ended() {
    let state: Shared = Arc::default();
    {
        let mut s = state.lock().expect("lock");
        for id in ["I1", "I2", "I3", "I4", "I5"] {
            let scans = vec![
                scan("2026-03-14T11:05:12", "EDI_RECEIVED", "0"),
                scan("2026-03-15T19:42:03", "ITEM_ACCEPTED", "50630"),
            ];
            s.events.insert(id.to_string(), ("EN_ROUTE".into(), scans));
        }
    }
    let server = Partner::start(
        Router::new().route("/rest/shipment/v7/trackandtrace/id/{id}/public", get(track)).with_state(state.clone()),
    )
    .await;
    let manifest = format!(
        r#"
        kind = "pull-source"
        [network]
        private_hosts = ["127.0.0.1"]
        [http.connections.postnord]
        base_url = "{}/rest/shipment"
        auth = {{ type = "query", param = "apikey", secret = "postnord-api-key" }}
        [config]
        item-ids = "I1, I2, I3, I4, I5"
        page-size = "2"
        "#,
        server.url()
    );
    let engine = support::engine();
    let plugin = support::load(
        &engine,
        "postnord-tracking",
        &manifest,
        StaticSecrets::new().with("postnord-api-key", POSTNORD_KEY),
    );
    let polled = |from: usize| -> Vec<String> {
        server.requests()[from..].iter().map(|r| r.path.split('/').nth(6).unwrap_or_default().to_string()).collect()
    };

    let page1 = fetch(&plugin, &None).await;
    assert_eq!(page1.events.len(), 4);
    assert!(page1.events.iter().all(|e| e.kind == "tracking"));
    assert!(page1.has_more);
    assert_eq!(polled(0), ["I1", "I2"]);
    assert!(server.requests().iter().all(|r| r.query.contains(&format!("apikey={POSTNORD_KEY}"))));

    // Page 2 fails at the partner: the cursor does not move.
    state.lock().expect("lock").failing.push("I3".into());
    let cursor1 = Some(page1.next_cursor);
    let error = plugin.fetch(cursor1.clone(), None, CallOptions::default()).await.expect_err("503");
    assert!(error.is_transient(), "{error}");
    state.lock().expect("lock").failing.clear();

    // The next run resumes at page 2, not at the start.
    let seen = server.requests().len();
    let page2 = fetch(&plugin, &cursor1).await;
    assert_eq!(polled(seen), ["I3", "I4"]);
    assert_eq!(page2.events.len(), 4);
    assert!(page2.has_more);
    let page3 = fetch(&plugin, &Some(page2.next_cursor)).await;
    assert_eq!(page3.events.len(), 2);
    assert!(!page3.has_more, "the last page ends the batch");

    // The next run starts over; only scans not seen yet are events — also
    // one in the same second as the last one seen.
    {
        let mut s = state.lock().expect("lock");
        let (_, scans) = s.events.get_mut("I1").expect("I1");
        scans.push(scan("2026-03-15T19:42:03", "SORTED_TERMINAL", "7081"));
        let (status, _) = s.events.get_mut("I2").expect("I2");
        *status = "DELIVERED".into();
    }
    let again = fetch(&plugin, &Some(page3.next_cursor)).await;
    assert_eq!(ids(&again.events), ["I1|2026-03-15T19:42:03|SORTED_TERMINAL|7081"]);
    // A delivered item is no longer polled: the next round asks for I1 alone of the first page.
    let mut cursor = Some(again.next_cursor);
    for _ in 0..2 {
        cursor = Some(fetch(&plugin, &cursor).await.next_cursor);
    }
    let seen = server.requests().len();
    let round = fetch(&plugin, &cursor).await;
    assert!(round.events.is_empty());
    assert_eq!(polled(seen), ["I1"]);
}

/// `rules-validator`, the component itself, on a realistic order: Shopify's
/// `orders/create` fixture as `shopify-orders` maps it, then changed the way
/// real orders go wrong.
#[tokio::test]
async fn rules_validator_finds_a_wrong_hs_code_a_bad_vat_number_and_skips_customs_at_home() {
    use portitor::engine::OrderInput;
    use portitor::orders::{Finding, Severity};

    let engine = support::engine();
    let shopify = support::load(&engine, "shopify-orders", "kind = \"push-source\"", StaticSecrets::new());
    let mapped = shopify
        .handle(&post(&[("X-Shopify-Topic", "orders/create")], SHOPIFY_ORDER), &identity(), CallOptions::default())
        .await
        .expect("handled");
    let order = mapped.output.events[0].payload_json();
    assert_eq!(order["shippingAddress"]["countryCode"], "SE", "the fixture ships within Sweden");
    let validator = support::load(&engine, "rules-validator", "kind = \"validator\"", StaticSecrets::new());
    let validate = |payload: Value| {
        let validator = &validator;
        async move {
            let input = OrderInput {
                id: "order-1".into(),
                company: "acme".into(),
                source: "shopify-orders".into(),
                external_id: "5813370225002".into(),
                payload,
            };
            validator.validate(&input, CallOptions::default()).await.expect("validated").output
        }
    };
    let errors = |findings: &[Finding]| -> Vec<String> {
        findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.field.clone()).collect()
    };

    // Made in Sweden, shipped in Sweden: no customs checks, and one info finding that says so.
    let mut domestic = order.clone();
    for line in domestic["lineItems"].as_array_mut().expect("lines") {
        line["countryOfOrigin"] = json!("SE");
    }
    let findings = validate(domestic.clone()).await;
    assert!(errors(&findings).is_empty(), "{findings:?}");
    let customs: Vec<&Finding> = findings.iter().filter(|f| f.field == "customs").collect();
    assert_eq!(customs.len(), 1, "{findings:?}");
    assert_eq!(customs[0].severity, Severity::Info);
    assert!(customs[0].message.contains("origin and destination are the same (SE)"), "{}", customs[0].message);

    // A business customer whose VAT number has a wrong check digit
    // (SE556036079301 is valid; one digit off is not).
    let mut bad_vat = domestic.clone();
    bad_vat["customer"]["vatNumber"] = json!("SE556036079401");
    let findings = validate(bad_vat).await;
    let vat = findings.iter().find(|f| f.field == "customer.vatNumber").expect("a VAT finding");
    assert_eq!((vat.severity, vat.value.as_str()), (Severity::Error, "SE556036079401"));
    assert!(vat.message.contains("check digit"), "{}", vat.message);
    let mut good_vat = domestic.clone();
    good_vat["customer"]["vatNumber"] = json!("SE556036079301");
    assert!(errors(&validate(good_vat).await).is_empty());

    // Imported goods with customs data, one line's HS code in a chapter that does not exist (77).
    let mut imported = domestic.clone();
    for (i, line) in imported["lineItems"].as_array_mut().expect("lines").iter_mut().enumerate() {
        line["countryOfOrigin"] = json!("CN");
        line["hsCode"] = json!(if i == 0 { "7701.00" } else { "6115.96" });
        line["customsValue"] = json!("100.00");
    }
    let findings = validate(imported).await;
    assert_eq!(errors(&findings), ["lineItems[0].hsCode"], "{findings:?}");
    let hs = findings.iter().find(|f| f.field == "lineItems[0].hsCode").expect("the HS finding");
    assert_eq!(hs.value, "7701.00");
}
