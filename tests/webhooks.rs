//! End to end: partners' webhooks through push plugins, with the real binary.

#[path = "support/mod.rs"]
mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Sha256;
use support::orders::{SHOPIFY_MANIFEST, wait_for_state};
use support::prime_cargo;
use support::server::{Portitor, files_under};
use support::tenant::Tenant;

const SHOPIFY_SECRET: &str = "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";
const SHOPIFY_ORDER: &str = include_str!("fixtures/shopify-orders-create.json");

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

async fn shopify(server: &Portitor, body: &str, signature: &str, webhook_id: &str) -> reqwest::Response {
    Portitor::client()
        .post(format!("{}/acme/webhooks/shopify/orders", server.url))
        .header("content-type", "application/json")
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Hmac-Sha256", signature)
        .header("X-Shopify-Webhook-Id", webhook_id)
        .body(body.to_string())
        .send()
        .await
        .expect("webhook")
}

/// The events webhooks stored: every aggregate but the admin audit trail.
fn events(data: &std::path::Path) -> Vec<String> {
    files_under(&data.join("acme/events")).into_iter().filter(|f| !f.starts_with("audit/")).collect()
}

#[tokio::test]
async fn shopify_webhooks_are_verified_deduplicated_and_stored() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("shopify-webhook-secret", SHOPIFY_SECRET).await;
    let installed = tenant.install("shopify-orders", "shopify-orders", SHOPIFY_MANIFEST).await;
    assert_eq!(installed["path"], "/webhooks/shopify/orders");

    // A bad signature: 401, nothing stored.
    let forged = STANDARD.encode(hmac(b"not-the-secret", &[SHOPIFY_ORDER.as_bytes()]));
    let response = shopify(&server, SHOPIFY_ORDER, &forged, "delivery-0").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("bad signature"), "{body}");
    assert!(events(data.path()).is_empty(), "a refused webhook stored something");

    // A valid one: 201 and the order stored, with the plugin as its source.
    let signature = STANDARD.encode(hmac(SHOPIFY_SECRET.as_bytes(), &[SHOPIFY_ORDER.as_bytes()]));
    let response = shopify(&server, SHOPIFY_ORDER, &signature, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    let id = body["events"][0]["id"].as_str().expect("order id").to_string();
    assert_eq!(id, portitor::orders::order_id("acme", "shopify-orders", "5813370225002").to_string());
    let view: Value = tenant.get(&format!("/acme/order/{id}?payload=true")).await;
    assert_eq!(view["source"], "shopify-orders");
    assert_eq!(view["order"]["orderNumber"], "1042");
    assert_eq!(view["events"][0]["actor"]["kind"], "plugin");
    assert_eq!(view["events"][0]["actor"]["pluginVersion"], installed["version"]);
    // Once the pipeline is done with the order (this tenant has no
    // warehouse, so it ends failed to dispatch), nothing more is written...
    wait_for_state(&tenant, &id, "dispatch-failed").await;
    let stored = events(data.path());
    assert_eq!(stored.iter().filter(|key| key.ends_with("/OrderReceived")).count(), 1);

    // The same delivery again: nothing new.
    let replay = shopify(&server, SHOPIFY_ORDER, &signature, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043").await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.json::<Value>().await.expect("json")["duplicate"], true);
    assert_eq!(events(data.path()), stored, "a replayed delivery wrote something");

    // A new delivery of the same order: the same order id, still nothing new.
    let again = shopify(&server, SHOPIFY_ORDER, &signature, "another-delivery").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(events(data.path()), stored);
}

#[tokio::test]
async fn timestamped_signatures_outside_the_tolerance_are_refused() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let key = b"standard-webhooks-demo-key-32by!";
    tenant.secret("partner-webhook-secret", &format!("whsec_{}", STANDARD.encode(key))).await;
    tenant
        .install(
            "counter",
            "test-counter",
            "kind = \"push-source\"\n[webhook]\nscheme = \"standard-webhooks\"\nsecret = \"partner-webhook-secret\"\ntolerance_secs = 300\n",
        )
        .await;
    let send = |timestamp: i64, id: &str| {
        let body = format!("order-{id}");
        let signature =
            STANDARD.encode(hmac(key, &[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body.as_bytes()]));
        let url = format!("{}/acme/test/counter", server.url);
        let id = id.to_string();
        async move {
            Portitor::client()
                .post(url)
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", format!("v1,{signature}"))
                .body(body)
                .send()
                .await
                .expect("send")
        }
    };
    let now = chrono::Utc::now().timestamp();
    let stale = send(now - 600, "msg_1").await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let body: Value = stale.json().await.expect("json");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("tolerance"), "{body}");
    assert!(events(data.path()).is_empty());
    assert_eq!(send(now, "msg_2").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_plugin_that_traps_answers_5xx_and_keeps_the_request() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.install("panics", "test-panic", "kind = \"push-source\"\nwebhook = { scheme = \"none\" }\n").await;
    let response = Portitor::client()
        .post(format!("{}/acme/test/panic", server.url))
        .header("x-partner", "acme-partner")
        .body("{\"order\": 1}")
        .send()
        .await
        .expect("send");
    assert!(response.status().is_server_error(), "{}", response.status());
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "plugin_failed");
    assert!(
        !body["error"]["message"].as_str().unwrap_or_default().contains("panicked"),
        "5xx leaks no internals: {body}"
    );

    let letters = files_under(&data.path().join("acme/deadletter/panics"));
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter: Value = serde_json::from_slice(
        &std::fs::read(data.path().join("acme/deadletter/panics").join(&letters[0])).expect("read"),
    )
    .expect("json");
    assert_eq!(STANDARD.decode(letter["bodyBase64"].as_str().expect("body")).expect("base64"), b"{\"order\": 1}");
    assert!(letter["error"].as_str().unwrap_or_default().contains("deliberate panic"), "{letter}");
    assert!(letter["headers"].as_array().expect("headers").iter().any(|h| h[0] == "x-partner"));
    assert!(events(data.path()).is_empty());

    // The server goes on: another tenant's plugin still answers.
    let other = Tenant::new(&server, "globex");
    other.install("counter", "test-counter", "kind = \"push-source\"\nwebhook = { scheme = \"none\" }\n").await;
    let ok =
        Portitor::client().post(format!("{}/globex/test/counter", server.url)).body("1").send().await.expect("send");
    assert_eq!(ok.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn two_plugins_cannot_claim_one_path() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.install("counter-a", "test-counter", "kind = \"push-source\"").await;
    let (status, body) = tenant.try_install("counter-b", "test-counter", "kind = \"push-source\"").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("/test/counter") && message.contains("counter-a"), "{message}");
    // Another tenant may use the same path.
    let other = Tenant::new(&server, "globex");
    other.install("counter-b", "test-counter", "kind = \"push-source\"").await;
    // A platform JWT is the default: without one the webhook is refused.
    let response =
        Portitor::client().post(format!("{}/acme/test/counter", server.url)).body("1").send().await.expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let source = Portitor::token("acme", &["source-adapter"]);
    let response = Portitor::client()
        .post(format!("{}/acme/test/counter", server.url))
        .bearer_auth(source)
        .body("1")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Prime Cargo's callback JWT is no built-in scheme: `prime-cargo-auth`
/// verifies it for the `prime-cargo` push plugin, and the runtime
/// replay-protects the token's event id.
#[tokio::test]
async fn an_auth_plugin_verifies_a_scheme_the_runtime_does_not_know() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let push_manifest = "kind = \"push-source\"\nwebhook = { scheme = \"plugin\", plugin = \"prime-cargo-auth\" }\n";
    let send = |company: &'static str, token: String| {
        Portitor::client()
            .post(format!("{}/{company}/webhooks/prime-cargo", server.url))
            .bearer_auth(token)
            .body(prime_cargo::PACKED)
            .send()
    };
    let message = |body: &Value| body["error"]["message"].as_str().unwrap_or_default().to_string();

    // Naming an auth plugin that is not there is refused at install.
    let acme = Tenant::new(&server, "acme");
    let (status, body) = acme.try_install("prime-cargo", "prime-cargo", push_manifest).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("`prime-cargo-auth` is not installed"), "{body}");
    acme.secret("callback-secret", prime_cargo::SECRET).await;
    acme.install("prime-cargo-auth", "prime-cargo-auth", prime_cargo::AUTH_MANIFEST).await;
    acme.install("prime-cargo", "prime-cargo", push_manifest).await;

    // A forged token: 401 with the auth plugin's reason, nothing stored.
    let forged = prime_cargo::token(prime_cargo::PACKED, "evt_pc_000187", 300, "not-the-secret");
    let response = send("acme", forged).await.expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert!(message(&body).contains("refused by the auth plugin `prime-cargo-auth`: bad token signature"), "{body}");
    assert!(events(data.path()).is_empty(), "a refused callback stored something");

    // A valid one: 201 and the shipment stored.
    let token = prime_cargo::token(prime_cargo::PACKED, "evt_pc_000187", 300, prime_cargo::SECRET);
    let response = send("acme", token).await.expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["events"][0]["kind"], "shipment", "{body}");
    let stored = events(data.path());
    assert_eq!(stored.len(), 1, "{stored:?}");

    // The same event again, under a fresh token: the delivery id is the
    // token's jti, so nothing new is stored.
    let again = prime_cargo::token(prime_cargo::PACKED, "evt_pc_000187", 600, prime_cargo::SECRET);
    let response = send("acme", again).await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["duplicate"], true, "{body}");
    assert_eq!(events(data.path()), stored);

    // An auth plugin that cannot verify (its manifest grants no secret):
    // 503, so the partner retries, and the reason is in the tenant's log.
    let globex = Tenant::new(&server, "globex");
    globex
        .install(
            "prime-cargo-auth",
            "prime-cargo-auth",
            "kind = \"auth\"\n[config]\nissuer = \"primecargo-demo\"\naudience = \"nordic-runtime\"\n",
        )
        .await;
    globex.install("prime-cargo", "prime-cargo", push_manifest).await;
    let token = prime_cargo::token(prime_cargo::PACKED, "evt_pc_000187", 300, prime_cargo::SECRET);
    let response = send("globex", token).await.expect("send");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "plugin_unavailable", "{body}");
    assert!(!message(&body).contains("callback-secret"), "the partner learns nothing of the set-up: {body}");
    let logs = globex.get("/globex/plugins/prime-cargo-auth/logs").await;
    assert!(logs.to_string().contains("no secret named `callback-secret`"), "{logs}");

    // An auth plugin that fails (out of fuel): 500, nothing stored and no
    // dead letter, since nobody has been authenticated.
    let initech = Tenant::new(&server, "initech");
    initech.secret("callback-secret", prime_cargo::SECRET).await;
    let starved = format!("{}[limits]\nfuel = 2000\n", prime_cargo::AUTH_MANIFEST);
    initech.install("prime-cargo-auth", "prime-cargo-auth", &starved).await;
    initech.install("prime-cargo", "prime-cargo", push_manifest).await;
    let token = prime_cargo::token(prime_cargo::PACKED, "evt_pc_000187", 300, prime_cargo::SECRET);
    let response = send("initech", token).await.expect("send");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = response.json().await.expect("json");
    assert!(message(&body).contains("the auth plugin `prime-cargo-auth` failed"), "{body}");
    let kept: Vec<String> = files_under(&data.path().join("initech"))
        .into_iter()
        .filter(|f| f.starts_with("deadletter/") || (f.starts_with("events/") && !f.starts_with("events/audit/")))
        .collect();
    assert!(kept.is_empty(), "an unauthenticated request was kept: {kept:?}");
}

/// Dead letters are listed newest first, a page at a time, and read whole one by one.
#[tokio::test]
async fn dead_letters_are_listed_newest_first_and_read_one_by_one() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    tenant.install("panics", "test-panic", "kind = \"push-source\"\nwebhook = { scheme = \"none\" }\n").await;
    for n in 1..=3 {
        let response = Portitor::client()
            .post(format!("{}/acme/test/panic", server.url))
            .body(format!("{{\"delivery\": {n}}}"))
            .send()
            .await
            .expect("send");
        assert!(response.status().is_server_error());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let first: Value = tenant.get("/acme/deadletters?limit=2").await;
    assert_eq!(first["total"], 3, "{first}");
    let page = first["deadLetters"].as_array().expect("letters");
    assert_eq!(page.len(), 2);
    let rest: Value = tenant.get("/acme/deadletters?limit=2&offset=2").await;
    let rest = rest["deadLetters"].as_array().expect("letters").clone();
    assert_eq!(rest.len(), 1);
    let times: Vec<chrono::DateTime<chrono::Utc>> = page
        .iter()
        .chain(&rest)
        .map(|l| l["receivedAt"].as_str().expect("receivedAt").parse().expect("a time"))
        .collect();
    let mut newest_first = times.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, newest_first, "newest first across pages");
    // The oldest is the first request, with its body, and without it in the list.
    assert!(rest[0].get("bodyBase64").is_none(), "the list carries no bodies");
    let oldest: Value = tenant.get(&format!("/acme/deadletters/panics/{}", rest[0]["id"].as_str().expect("id"))).await;
    assert_eq!(STANDARD.decode(oldest["bodyBase64"].as_str().expect("body")).expect("base64"), b"{\"delivery\": 1}");
}

/// Posts `SHOPIFY_ORDER` to the tenant's `path` without signature (the
/// manifest asks for none); the status.
async fn post_unsigned(server: &Portitor, path: &str) -> StatusCode {
    let response =
        Portitor::client().post(format!("{}/acme{path}", server.url)).body(SHOPIFY_ORDER).send().await.expect("send");
    response.status()
}

/// A plugin that failed on real requests is fixed; its dead letters are
/// replayed through the fixed version, one by one and all at once: each
/// order is stored once however often it is replayed, a failed replay
/// keeps the letter with its error, and every replay is audited.
#[tokio::test]
async fn dead_letters_replayed_through_the_fixed_version_store_each_order_once() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let admin = Portitor::token("acme", &["tenant-admin"]);
    let post = |path: String| {
        let admin = admin.clone();
        async move {
            let response = Portitor::client().post(&path).bearer_auth(admin).send().await.expect("replay");
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // Version 1 panics on every request: two deliveries of one order become two letters.
    let unsigned = "kind = \"push-source\"\nwebhook = { scheme = \"none\" }\n";
    tenant.install("orders", "test-panic", unsigned).await;
    for _ in 0..2 {
        assert_eq!(post_unsigned(&server, "/test/panic").await, StatusCode::INTERNAL_SERVER_ERROR);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let listed = tenant.get("/acme/deadletters").await;
    let mut letters: Vec<String> = listed["deadLetters"]
        .as_array()
        .expect("letters")
        .iter()
        .map(|l| l["id"].as_str().expect("id").into())
        .collect();
    letters.sort();
    assert_eq!(letters.len(), 2, "{listed}");
    let one = format!("{}/acme/deadletters/orders/{}/replay", server.url, letters[0]);

    // Replayed through the same broken version: it fails again, the letter stays with the error.
    let (status, answer) = post(one.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    let letter = tenant.get(&format!("/acme/deadletters/orders/{}", letters[0])).await;
    assert!(letter["lastReplay"]["error"].as_str().is_some_and(|e| e.contains("trapped")), "{letter}");
    assert!(letter["replayedAt"].is_null(), "{letter}");

    // Version 2 handles Shopify's orders; the letters go through it.
    tenant.install("orders", "shopify-orders", unsigned).await;
    let (status, first) = post(one.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["handled"], true, "{first}");
    assert_eq!(first["created"], true, "{first}");
    let (status, again) = post(one).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["created"], false, "a second replay stores nothing: {again}");
    assert_eq!(again["events"][0]["duplicate"], true, "{again}");

    // All at once: only the letter not yet replayed runs, and its order is the same one.
    let (status, all) = post(format!("{}/acme/deadletters/orders/replay", server.url)).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["replayed"], 1, "{all}");
    assert_eq!(all["handled"], 1, "{all}");
    assert_eq!(all["results"][0]["id"], letters[1].as_str(), "{all}");
    assert_eq!(all["results"][0]["created"], false, "{all}");

    let id = portitor::orders::order_id("acme", "orders", "5813370225002");
    let order = tenant.get(&format!("/acme/order/{id}")).await;
    let received = order["events"].as_array().expect("events").iter().filter(|e| e["type"] == "OrderReceived").count();
    assert_eq!(received, 1, "the order is stored once: {order}");
    let audit = tenant.get("/acme/audit").await.to_string();
    assert_eq!(audit.matches("DeadLetterReplayed").count(), 3, "{audit}");
    assert!(audit.contains("DeadLettersReplayed"), "{audit}");

    // Someone else's token replays nothing.
    let stranger = Portitor::token("initech", &["tenant-admin"]);
    let response = Portitor::client()
        .post(format!("{}/acme/deadletters/orders/replay", server.url))
        .bearer_auth(stranger)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
