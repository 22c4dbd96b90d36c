//! End to end: the order pipeline with the real binary, a WMS partner
//! server, a warehouse FTP folder and a webshop that hears about failures.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::ftp::FtpServer;
use support::orders::{
    ADMIN_TOKEN, good_order, order, post_order, send_shopify_order, set_up, wait_for_list, wait_for_state,
};
use support::prime_cargo;
use support::server::Portitor;
use support::tenant::Tenant;
use support::warehouse;

const SHOPIFY_ORDER: &str = include_str!("fixtures/shopify-orders-create.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_go_through_validation_mapping_and_dispatch_and_failures_have_a_way_out() {
    let (wms_server, wms) = warehouse::start_wms().await;
    let (webshop, updates) = warehouse::start_webshop(ADMIN_TOKEN).await;
    let ftp = FtpServer::start();
    std::fs::create_dir_all(ftp.path("in")).expect("mkdir");
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    set_up(&tenant, &wms_server.url(), &webshop.url(), ftp.port).await;

    // A good order reaches the warehouse, with a reference that resolves back.
    let id =
        post_order(&server, json!({"source": "woo-no", "externalId": "10042", "order": good_order("NV-10042")})).await;
    let sent = wait_for_state(&tenant, &id, "sent").await;
    let reference = sent["reference"].as_str().expect("reference").to_string();
    assert!(reference.len() <= 35, "{reference}");
    let types: Vec<&str> =
        sent["events"].as_array().expect("events").iter().map(|e| e["type"].as_str().unwrap_or_default()).collect();
    assert_eq!(types, ["OrderReceived", "OrderValidated", "OrderSentToWarehouse"]);
    {
        let wms = wms.lock().expect("lock");
        let (number, body) = wms.puts.last().expect("the WMS got the order");
        assert_eq!(number, &reference);
        assert_eq!(body["referenceNumber"], "NV-10042");
        assert_eq!(body["goodsOwnerId"], 214);
        assert_eq!(body["orderLines"][0]["articleNumber"], "NV-HAT-MER-GRY");
        assert_eq!(body["consignee"]["postCode"], "41301");
    }
    let resolved: Value = tenant.get(&format!("/refs/{reference}")).await;
    assert_eq!(resolved["orderId"], id.as_str());
    assert_eq!(resolved["company"], "acme");
    let other = Portitor::token("globex", &["tenant-admin"]);
    let hidden = Portitor::client()
        .get(format!("{}/refs/{reference}", server.url))
        .bearer_auth(other)
        .send()
        .await
        .expect("refs");
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND, "another tenant does not learn the order exists");

    // A strict order that fails: the failed queue, and the webshop is told.
    let bad = SHOPIFY_ORDER.replace("\"currency\":\"SEK\"", "\"currency\":\"SKR\"");
    let response = send_shopify_order(&server, &bad).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let failed_id = response.json::<Value>().await.expect("json")["events"][0]["id"].as_str().expect("id").to_string();
    let failed = wait_for_state(&tenant, &failed_id, "failed").await;
    let currency = failed["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["field"] == "currency")
        .expect("currency finding");
    assert_eq!((currency["value"].as_str(), currency["severity"].as_str()), (Some("SKR"), Some("error")));
    // The lists follow the log within moments (they are derived from it).
    let deadline = Instant::now() + Duration::from_secs(5);
    let queue = loop {
        let queue: Value = tenant.get("/acme/orders?state=failed").await;
        if queue["orders"][0]["id"] == failed_id.as_str() || Instant::now() > deadline {
            break queue;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(queue["total"], 1);
    assert_eq!(queue["orders"][0]["id"], failed_id.as_str());
    // A source that is no key segment is refused, not looked up.
    let odd = Portitor::client()
        .get(format!("{}/acme/orders?state=all&source=a%2F..%2F..%2Fglobex", server.url))
        .bearer_auth(&tenant.admin)
        .send()
        .await
        .expect("list");
    assert_eq!(odd.status(), StatusCode::BAD_REQUEST);
    // A page starts after a page's `next`, or at an offset; anything else is refused.
    for query in ["after=..%2F..%2Fglobex", "after=9.x", "after=&offset=0", "offset=0&after=1234567890123.a"] {
        let refused = Portitor::client()
            .get(format!("{}/acme/orders?state=failed&{query}", server.url))
            .bearer_auth(&tenant.admin)
            .send()
            .await
            .expect("list");
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    assert!(!queue["orders"][0]["findings"].as_array().expect("findings").is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !updates
        .lock()
        .expect("lock")
        .iter()
        .any(|(id, body)| id == "5813370225002" && body["order"]["tags"] == "portitor-failed")
    {
        assert!(Instant::now() < deadline, "the webshop never heard: {:?}", updates.lock().expect("lock"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Forcing: only a platform operator, with a reason; then it is dispatched.
    let force = |token: String, body: Value| {
        let url = format!("{}/acme/order/{failed_id}/force", server.url);
        async move { Portitor::client().post(url).bearer_auth(token).json(&body).send().await.expect("force").status() }
    };
    assert_eq!(force(tenant.admin.clone(), json!({"reason": "known quirk"})).await, StatusCode::FORBIDDEN);
    let operator = Portitor::token("acme", &["platform-operator"]);
    assert_eq!(force(operator.clone(), json!({"reason": ""})).await, StatusCode::BAD_REQUEST);
    assert_eq!(
        force(operator.clone(), json!({"reason": "SKR is what this shop calls SEK"})).await,
        StatusCode::ACCEPTED
    );
    let forced = wait_for_state(&tenant, &failed_id, "sent").await;
    let overridden = forced["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "OrderValidationOverridden")
        .expect("override event");
    assert_eq!(overridden["reason"], "SKR is what this shop calls SEK");
    assert_eq!(overridden["actor"]["kind"], "operator");
    assert_eq!(
        force(operator.clone(), json!({"reason": "again"})).await,
        StatusCode::CONFLICT,
        "only a failed order can be forced"
    );
    assert_eq!(force(operator, json!({"reason": "x"})).await, StatusCode::CONFLICT);

    // The WMS answers 503 twice, then 200: dispatched once.
    wms.lock().expect("lock").fail_next = 2;
    let flaky =
        post_order(&server, json!({"source": "woo-no", "externalId": "10043", "order": good_order("NV-10043")})).await;
    let sent = wait_for_state(&tenant, &flaky, "sent").await;
    let reference = sent["reference"].as_str().expect("reference").to_string();
    let puts = wms.lock().expect("lock").puts.iter().filter(|(n, _)| n == &reference).count();
    assert_eq!(puts, 3, "two 503s and one success");
    assert_eq!(wms.lock().expect("lock").created[&reference], 1);
    let dispatched =
        sent["events"].as_array().expect("events").iter().filter(|e| e["type"] == "OrderSentToWarehouse").count();
    assert_eq!(dispatched, 1);

    // An order for another warehouse goes to its FTP folder as a file.
    let to_ftp = post_order(
        &server,
        json!({"source": "woo-no", "externalId": "10044", "warehouseId": "ftp-dk", "order": good_order("NV-10044")}),
    )
    .await;
    let sent = wait_for_state(&tenant, &to_ftp, "sent").await;
    let file = ftp.path(&format!("in/{}.json", sent["reference"].as_str().expect("reference")));
    let body: Value = serde_json::from_slice(&std::fs::read(&file).expect("the file is in the folder")).expect("json");
    assert_eq!(body["referenceNumber"], "NV-10044");

    // The unhandled list: orders at the warehouse, waiting.
    let unhandled = wait_for_list(&tenant, "/acme/orders?state=unhandled", |l| l["total"] == 4).await;
    assert_eq!(unhandled["total"], 4);

    // The WMS is down past the last of the 4 attempts: the order is failed
    // with a finding, in the failed queue; once the WMS is back, an operator
    // forces it and it is sent, once, under the same reference.
    wms.lock().expect("lock").fail_next = 4;
    let down =
        post_order(&server, json!({"source": "woo-no", "externalId": "10045", "order": good_order("NV-10045")})).await;
    let failed = wait_for_state(&tenant, &down, "dispatch-failed").await;
    assert!(failed["findings"].to_string().contains("dispatch failed after 4 attempt(s)"), "{failed}");
    let queue = wait_for_list(&tenant, "/acme/orders?state=failed", |l| l.to_string().contains(&down)).await;
    assert!(queue.to_string().contains(&down), "a dispatch-failed order is in the failed queue: {queue}");
    let operator = Portitor::token("acme", &["platform-operator"]);
    let retried = Portitor::client()
        .post(format!("{}/acme/order/{down}/force", server.url))
        .bearer_auth(&operator)
        .json(&json!({"reason": "the WMS was down 10:00-10:20"}))
        .send()
        .await
        .expect("force");
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    let sent = wait_for_state(&tenant, &down, "sent").await;
    let reference = sent["reference"].as_str().expect("reference").to_string();
    {
        let wms = wms.lock().expect("lock");
        assert_eq!(wms.puts.iter().filter(|(n, _)| n == &reference).count(), 5, "four 503s, then the retry");
        assert_eq!(wms.created[&reference], 1);
    }
    let overridden = sent["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "OrderValidationOverridden")
        .expect("override event")
        .clone();
    assert_eq!(overridden["previousState"], "dispatch-failed", "{overridden}");
    assert!(
        !sent["findings"].to_string().contains("dispatch failed"),
        "once sent, the failed dispatch is history (in its event), not a finding: {}",
        sent["findings"]
    );
    let failed_event = sent["events"].as_array().expect("events").iter().find(|e| e["type"] == "OrderDispatchFailed");
    assert!(failed_event.is_some_and(|e| e["findings"].to_string().contains("dispatch failed after 4 attempt(s)")));
    // The operator's retry is in the tenant's audit trail, with its reason.
    let audit: Value = tenant.get("/acme/audit").await;
    let forced = audit["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["action"] == "OrderForced" && a.to_string().contains(&down))
        .unwrap_or_else(|| panic!("no OrderForced for {down}: {audit}"))
        .clone();
    assert!(forced.to_string().contains("the WMS was down 10:00-10:20"), "{forced}");

    // A missing required property is named itself, nested or not, never
    // the object that lacks it.
    let mut incomplete = good_order("NV-10046");
    incomplete.as_object_mut().expect("order").remove("orderNumber");
    incomplete["lineItems"][0].as_object_mut().expect("line").remove("sku");
    let id = post_order(&server, json!({"source": "woo-no", "externalId": "10046", "order": incomplete})).await;
    let failed = wait_for_state(&tenant, &id, "failed").await;
    let findings = failed["findings"].as_array().expect("findings");
    let fields: Vec<&str> = findings.iter().map(|f| f["field"].as_str().unwrap_or_default()).collect();
    assert!(fields.contains(&"orderNumber") && fields.contains(&"lineItems[0].sku"), "{fields:?}");
    assert!(!fields.contains(&"order") && !fields.contains(&"lineItems[0]"), "{fields:?}");
}

/// The Prime Cargo push plugins, installed for `tenant` with the callback secret.
async fn install_prime_cargo(tenant: &Tenant<'_>) {
    tenant.secret("callback-secret", prime_cargo::SECRET).await;
    tenant.install("prime-cargo-auth", "prime-cargo-auth", prime_cargo::AUTH_MANIFEST).await;
    let manifest = "kind = \"push-source\"\nwebhook = { scheme = \"plugin\", plugin = \"prime-cargo-auth\" }\n";
    tenant.install("prime-cargo", "prime-cargo", manifest).await;
}

/// Prime Cargo's `PickOrderPacked` for pick order `pick_order` of order
/// number `order_number`, sent to `company` as event `event_id`: the status
/// and the JSON answer.
async fn packed(
    server: &Portitor,
    company: &str,
    pick_order: u64,
    order_number: &str,
    event_id: &str,
) -> (StatusCode, Value) {
    let body = prime_cargo::PACKED
        .replace("\"DK-20931\"", &format!("\"{order_number}\""))
        .replace("552310", &pick_order.to_string())
        .replace("evt_pc_000187", event_id);
    let response = Portitor::client()
        .post(format!("{}/{company}/webhooks/prime-cargo", server.url))
        .bearer_auth(prime_cargo::token(&body, event_id, 300, prime_cargo::SECRET))
        .body(body)
        .send()
        .await
        .expect("callback");
    (response.status(), response.json().await.expect("json"))
}

fn shipped_events(order: &Value) -> Vec<Value> {
    order["events"].as_array().expect("events").iter().filter(|e| e["type"] == "OrderShipped").cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warehouse_shipment_closes_the_order_it_names_and_only_in_its_tenant() {
    let (wms_server, _wms) = warehouse::start_wms().await;
    let (webshop, updates) = warehouse::start_webshop(ADMIN_TOKEN).await;
    let ftp = FtpServer::start();
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    set_up(&tenant, &wms_server.url(), &webshop.url(), ftp.port).await;
    install_prime_cargo(&tenant).await;

    // A Shopify order at the warehouse, waiting: in the unhandled orders.
    let response = send_shopify_order(&server, SHOPIFY_ORDER).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.expect("json")["events"][0]["id"].as_str().expect("id").to_string();
    let sent = wait_for_state(&tenant, &id, "sent").await;
    let reference = sent["reference"].as_str().expect("reference").to_string();
    let unhandled = wait_for_list(&tenant, "/acme/orders?state=unhandled", |l| l.to_string().contains(&id)).await;
    assert!(unhandled.to_string().contains(&id), "{unhandled}");

    // The warehouse packs it and says so under the order number it was
    // given, the reference: the shipment is stored and the order shipped.
    let (status, answer) = packed(&server, "acme", 552310, &reference, "evt_pc_000187").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["events"][0]["kind"], "shipment", "{answer}");
    assert_eq!(answer["events"][0]["order"], id.as_str(), "{answer}");
    let shipment_id = answer["events"][0]["id"].as_str().expect("shipment id").to_string();
    let shipped = order(&tenant, &id).await;
    assert_eq!(shipped["state"], "shipped", "{shipped}");
    assert_eq!(shipped["reference"], reference.as_str());
    let links = shipped_events(&shipped);
    assert_eq!(links.len(), 1, "{shipped}");
    assert_eq!(links[0]["shipment"]["id"], shipment_id.as_str());
    assert_eq!(links[0]["reference"], reference.as_str());
    assert_eq!(links[0]["actor"]["id"], "prime-cargo");
    let unhandled: Value = tenant.get("/acme/orders?state=unhandled").await;
    assert!(!unhandled.to_string().contains(&id), "a shipped order is not unhandled: {unhandled}");
    // The webshop hears of it through the source plugin, as of the pipeline's changes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !updates
        .lock()
        .expect("lock")
        .iter()
        .any(|(id, body)| id == "5813370225002" && body["order"]["tags"] == "portitor-shipped")
    {
        assert!(Instant::now() < deadline, "the webshop never heard: {:?}", updates.lock().expect("lock"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The same pick order reported again (another event id): nothing new on
    // the order. A shipped order cannot be forced.
    let (status, answer) = packed(&server, "acme", 552310, &reference, "evt_pc_000188").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["duplicate"], true, "{answer}");
    assert_eq!(answer["events"][0]["order"], id.as_str(), "{answer}");
    assert_eq!(shipped_events(&order(&tenant, &id).await).len(), 1);
    let operator = Portitor::token("acme", &["platform-operator"]);
    let force = Portitor::client()
        .post(format!("{}/acme/order/{id}/force", server.url))
        .bearer_auth(operator)
        .json(&json!({"reason": "again"}))
        .send()
        .await
        .expect("force");
    assert_eq!(force.status(), StatusCode::CONFLICT);

    // A pick order Portitor did not send (the partner's own order number):
    // stored, linked to nothing.
    let (status, answer) = packed(&server, "acme", 552311, "DK-20931", "evt_pc_000189").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert!(answer["events"][0].get("order").is_none(), "{answer}");

    // Another tenant's callback naming acme's next order's reference:
    // stored in that tenant, acme's order untouched.
    let next =
        post_order(&server, json!({"source": "woo-no", "externalId": "20002", "order": good_order("NV-20002")})).await;
    let next_reference = wait_for_state(&tenant, &next, "sent").await["reference"].as_str().expect("ref").to_string();
    let globex = Tenant::new(&server, "globex");
    install_prime_cargo(&globex).await;
    let (status, answer) = packed(&server, "globex", 552312, &next_reference, "evt_pc_000190").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert!(answer["events"][0].get("order").is_none(), "{answer}");
    let untouched = order(&tenant, &next).await;
    assert_eq!(untouched["state"], "sent", "{untouched}");
    assert!(shipped_events(&untouched).is_empty());

    // The first pick order sent again, now naming the next order: a
    // duplicate, still recorded on the order its first copy named.
    let (status, answer) = packed(&server, "acme", 552310, &next_reference, "evt_pc_000191").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["events"][0]["order"], id.as_str(), "{answer}");
    assert_eq!(order(&tenant, &next).await["state"], "sent");

    // After a restart the projections, rebuilt from the log, agree.
    drop(server);
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    assert_eq!(order(&tenant, &id).await["state"], "shipped");
    let unhandled: Value = tenant.get("/acme/orders?state=unhandled").await;
    assert!(!unhandled.to_string().contains(&id) && unhandled.to_string().contains(&next), "{unhandled}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lenient_order_goes_on_with_warnings_and_a_bad_pipeline_is_refused() {
    let (wms_server, _wms) = warehouse::start_wms().await;
    let (webshop, _updates) = warehouse::start_webshop(ADMIN_TOKEN).await;
    let ftp = FtpServer::start();
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    set_up(&tenant, &wms_server.url(), &webshop.url(), ftp.port).await;

    let mut order = good_order("NV-1");
    order["currency"] = json!("SKR");
    let id = post_order(
        &server,
        json!({"source": "woo-no", "externalId": "1", "validationMode": "lenient", "order": order}),
    )
    .await;
    let sent = wait_for_state(&tenant, &id, "sent").await;
    let validated =
        sent["events"].as_array().expect("events").iter().find(|e| e["type"] == "OrderValidated").expect("validated");
    let warnings: Vec<&Value> =
        validated["findings"].as_array().expect("findings").iter().filter(|f| f["severity"] == "warning").collect();
    assert!(warnings.iter().any(|f| f["field"] == "currency"), "lenient findings are warnings, visible: {validated}");

    for bad in [json!({"steps": ["map", "validate"]}), json!({"steps": ["validate", "dispatch"]}), json!({"stepz": []})]
    {
        let response = Portitor::client()
            .put(format!("{}/acme/config/pipeline", server.url))
            .bearer_auth(&tenant.admin)
            .json(&bad)
            .send()
            .await
            .expect("put");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// Every combination of order flag × source plugin default × outcome, and
/// the event the pipeline writes for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validation_mode_table() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.install("rules-validator", "rules-validator", "kind = \"validator\"").await;
    let response = Portitor::client()
        .put(format!("{}/acme/config/pipeline", server.url))
        .bearer_auth(&tenant.admin)
        .json(&json!({"steps": ["validate", "semantic"], "validator": "rules-validator"}))
        .send()
        .await
        .expect("pipeline");
    assert_eq!(response.status(), StatusCode::OK);
    // Three sources with each default: push plugins that relay what is
    // posted to them (a source that names a plugin belongs to it, so these
    // orders come through the plugins, never through the order API).
    for (id, mode) in [("src-strict", Some("strict")), ("src-lenient", Some("lenient")), ("src-none", None)] {
        let mode = mode.map(|m| format!("validation_mode = \"{m}\"\n")).unwrap_or_default();
        let manifest =
            format!("kind = \"push-source\"\n{mode}[webhook]\nscheme = \"none\"\n[config]\npath = \"/relay/{id}\"\n");
        tenant.install(id, "test-relay", &manifest).await;
    }

    let flags = [Some("strict"), Some("lenient"), None];
    let sources = [("src-strict", Some("strict")), ("src-lenient", Some("lenient")), ("src-none", None)];
    let mut cases = Vec::new();
    for flag in flags {
        for (source, default) in sources {
            for clean in [true, false] {
                let number =
                    format!("{}-{}-{}", flag.unwrap_or("none"), source, if clean { "clean" } else { "findings" });
                let mut order = good_order(&number);
                if !clean {
                    order["currency"] = json!("SKR");
                }
                let mut relayed = json!({"externalId": number, "order": order});
                if let Some(flag) = flag {
                    relayed["validationMode"] = json!(flag);
                }
                let response = Portitor::client()
                    .post(format!("{}/acme/relay/{source}", server.url))
                    .json(&relayed)
                    .send()
                    .await
                    .expect("relay");
                assert_eq!(response.status(), StatusCode::CREATED);
                let body: Value = response.json().await.expect("json");
                let id = body["events"][0]["id"].as_str().expect("order id").to_string();
                cases.push((flag, default, clean, id));
            }
        }
    }
    assert_eq!(cases.len(), 18);
    for (flag, default, clean, id) in cases {
        let mode = flag.or(default).unwrap_or("strict");
        let mode_source = match (flag, default) {
            (Some(_), _) => "order",
            (None, Some(_)) => "source-plugin",
            (None, None) => "platform",
        };
        let expected_type = if !clean && mode == "strict" { "OrderValidationFailed" } else { "OrderValidated" };
        let view =
            wait_for_state(&tenant, &id, if expected_type == "OrderValidated" { "validated" } else { "failed" }).await;
        let events = view["events"].as_array().expect("events");
        assert_eq!(events.len(), 2, "{view}");
        let event = &events[1];
        let case = format!("flag {flag:?} × default {default:?} × clean {clean}: {event}");
        assert_eq!(event["type"], expected_type, "{case}");
        assert_eq!(event["mode"], mode, "{case}");
        assert_eq!(event["modeSource"], mode_source, "{case}");
        let findings = event["findings"].as_array().expect("findings");
        let currency: Vec<&Value> = findings.iter().filter(|f| f["field"] == "currency").collect();
        if clean {
            assert!(currency.is_empty() && findings.iter().all(|f| f["severity"] == "info"), "{case}");
        } else {
            let severity = if mode == "strict" { "error" } else { "warning" };
            assert_eq!(currency.len(), 1, "{case}");
            assert_eq!(currency[0]["severity"], severity, "{case}");
        }
    }
}
