//! End to end: the real `portitor` binary, the order API and the store.
//! An order is either durably stored and acknowledged, or not acknowledged.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::s3::S3Server;
use support::server::{Options, Portitor, files_under};
use support::tenant::Tenant;

fn order(external_id: &str) -> Value {
    json!({
        "source": "woo-no",
        "externalId": external_id,
        "order": { "orderNumber": external_id, "currency": "NOK", "lineItems": [{ "sku": "NV-1", "quantity": 1 }] }
    })
}

async fn post(url: &str, company: &str, token: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    Portitor::client()
        .post(format!("{url}/{company}/order"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request")
}

async fn error_message(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("json error body");
    (status, body["error"]["message"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn an_order_is_stored_at_its_key_and_a_duplicate_writes_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let token = Portitor::token("acme", &["source-adapter"]);

    let response = post(&server.url, "acme", &token, order("10042").to_string()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().expect("location").to_string();
    let body: Value = response.json().await.expect("json");
    let id = body["id"].as_str().expect("id").to_string();
    assert_eq!(location, format!("/acme/order/{id}"));

    let key = format!("acme/events/orders/{id}/0000000001/OrderReceived");
    let stored: Value =
        serde_json::from_slice(&std::fs::read(data.path().join(&key)).expect("OrderReceived at its key"))
            .expect("json");
    assert_eq!(stored["type"], "OrderReceived");
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["data"]["externalId"], "10042");
    assert_eq!(stored["data"]["order"]["currency"], "NOK");
    assert_eq!(stored["data"]["receivedVia"], "api");

    // Let the pipeline finish with it (this order is incomplete, so it fails
    // validation), then send it again: nothing new may be written.
    // The order read by id is current at once; its derived state (summary,
    // list entries) follows within moments, so wait for that too.
    let acme = Tenant::new(&server, "acme");
    let settled = || async {
        let files = files_under(&data.path().join("acme"));
        acme.get(&format!("/acme/order/{id}")).await["state"] == "failed"
            && files.iter().any(|f| f.starts_with("derived/lists/failed/") && f.ends_with(&id))
            && !files.iter().any(|f| f.starts_with("derived/open/"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !settled().await {
        assert!(std::time::Instant::now() < deadline, "the pipeline did not settle the order");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Projection markers (`derived/open/`) come and go within a second:
    // everything else must stay as it was, and no marker may stay.
    let lasting = || -> Vec<String> {
        files_under(&data.path().join("acme")).into_iter().filter(|f| !f.starts_with("derived/open/")).collect()
    };
    let before = lasting();
    let again = post(&server.url, "acme", &token, order("10042").to_string()).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], id.as_str(), "the same order gets the same id");
    assert_eq!(again["duplicate"], true);
    assert_eq!(lasting(), before, "a duplicate writes nothing");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while files_under(&data.path().join("acme")).iter().any(|f| f.starts_with("derived/open/")) {
        assert!(std::time::Instant::now() < deadline, "a projection marker stayed open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let view = acme.get(&format!("/acme/order/{id}?payload=true")).await;
    assert_eq!(view["state"], "failed");
    assert_eq!(view["externalId"], "10042");
    assert_eq!(view["events"][0]["type"], "OrderReceived");
    assert_eq!(view["events"][1]["type"], "OrderValidationFailed");
    assert_eq!(view["order"]["orderNumber"], "10042");

    let other_tenant = Portitor::token("globex", &["tenant-admin"]);
    let response = Portitor::client()
        .get(format!("{}/acme/order/{id}", server.url))
        .bearer_auth(&other_tenant)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let missing = Portitor::client()
        .get(format!("{}/acme/order/{}", server.url, uuid::Uuid::new_v4()))
        .bearer_auth(&acme.admin)
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_are_refused_with_their_reason_and_store_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start_with(Options {
        data_dir: Some(data.path().to_path_buf()),
        env: vec![("PORTITOR_HTTP__MAX_BODY_BYTES".into(), "4096".into())],
        ..Options::default()
    });
    let token = Portitor::token("acme", &["source-adapter"]);
    let url = &server.url;

    let (status, message) = error_message(post(url, "acme", &token, "{\"source\": ").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("malformed JSON"), "{message}");

    for field in ["source", "externalId", "order"] {
        let mut body = order("1");
        body.as_object_mut().expect("object").remove(field);
        let (status, message) = error_message(post(url, "acme", &token, body.to_string()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(message, format!("missing envelope field `{field}`"));
    }

    let response =
        Portitor::client().post(format!("{url}/acme/order")).body(order("1").to_string()).send().await.expect("post");
    let (status, message) = error_message(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(message, "missing bearer token");

    let (status, message) = error_message(post(url, "acme", "not-a-jwt", order("1").to_string()).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.starts_with("invalid token"), "{message}");

    let globex = Portitor::token("globex", &["source-adapter"]);
    let (status, message) = error_message(post(url, "acme", &globex, order("1").to_string()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("not `acme`"), "{message}");

    let admin = Portitor::token("acme", &["tenant-admin"]);
    let (status, message) = error_message(post(url, "acme", &admin, order("1").to_string()).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("source-adapter"), "{message}");

    let mut big = order("1");
    big["order"]["notes"] = json!("x".repeat(8192));
    let (status, message) = error_message(post(url, "acme", &token, big.to_string()).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message.contains("over the limit of 4096 bytes"), "{message}");

    assert!(files_under(&data.path().join("acme")).is_empty(), "a refused request stored something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_store_answers_503_and_the_retry_succeeds() {
    let mut s3 = S3Server::moto().await;
    let port = s3.port;
    let config = s3.config();
    let data = tempfile::tempdir().expect("tempdir");
    let env = [
        ("PORTITOR_STORE__BACKEND", "s3".to_string()),
        ("PORTITOR_STORE__S3__BUCKET", config.bucket.clone()),
        ("PORTITOR_STORE__S3__ENDPOINT", s3.endpoint()),
        ("PORTITOR_STORE__S3__ACCESS_KEY_ID", s3.access_key.clone()),
        ("PORTITOR_STORE__S3__SECRET_ACCESS_KEY", s3.secret_key.clone()),
        ("PORTITOR_STORE__S3__TIMEOUT_MS", "2000".to_string()),
    ];
    let server = Portitor::start_with(Options {
        data_dir: Some(data.path().to_path_buf()),
        env: env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        ..Options::default()
    });
    let token = Portitor::token("acme", &["source-adapter"]);
    assert_eq!(post(&server.url, "acme", &token, order("1").to_string()).await.status(), StatusCode::CREATED);

    s3.stop();
    let response = post(&server.url, "acme", &token, order("2").to_string()).await;
    assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default()), Some("1"));
    let (status, message) = error_message(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(message.contains("nothing was stored"), "{message}");
    let ready = Portitor::client().get(format!("{}/readyz", server.url)).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    let _back = S3Server::moto_on(port).await;
    let retried = post(&server.url, "acme", &token, order("2").to_string()).await;
    assert_eq!(retried.status(), StatusCode::CREATED, "the retried request succeeds once the store is back");
}

/// What `load` hands back: the acknowledged ids, the stop flag, the client tasks.
type Load = (Arc<Mutex<BTreeSet<String>>>, Arc<std::sync::atomic::AtomicBool>, Vec<tokio::task::JoinHandle<()>>);

/// Posts unique orders from `clients` tasks until told to stop; returns
/// the ids acknowledged with 201.
fn load(url: String, token: String, clients: usize) -> Load {
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks = (0..clients)
        .map(|client| {
            let (url, token, acknowledged, stop) = (url.clone(), token.clone(), acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                let http = Portitor::client();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let body = order(&format!("c{client}-{n}")).to_string();
                    let sent = http
                        .post(format!("{url}/acme/order"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == StatusCode::CREATED => {
                            if let Ok(body) = response.json::<Value>().await {
                                acknowledged
                                    .lock()
                                    .expect("lock")
                                    .insert(body["id"].as_str().unwrap_or_default().to_string());
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect();
    (acknowledged, stop, tasks)
}

async fn assert_all_stored(url: &str, ids: &BTreeSet<String>) {
    let admin = Portitor::token("acme", &["tenant-admin"]);
    let http = Portitor::client();
    for id in ids {
        let response = http.get(format!("{url}/acme/order/{id}")).bearer_auth(&admin).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK, "acknowledged order {id} is missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_loses_no_acknowledged_order() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = Portitor::start(data.path());
    let token = Portitor::token("acme", &["source-adapter"]);
    let (acknowledged, stop, tasks) = load(server.url.clone(), token, 16);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill_9();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        task.await.expect("client");
    }
    let ids = acknowledged.lock().expect("lock").clone();
    assert!(ids.len() > 20, "the load was too light to mean anything: {} orders", ids.len());

    let restarted = Portitor::start(data.path());
    assert_all_stored(&restarted.url, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_under_load_finishes_requests_in_flight() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = Portitor::start(data.path());
    let token = Portitor::token("acme", &["source-adapter"]);
    let (acknowledged, stop, tasks) = load(server.url.clone(), token, 16);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(server.terminate(), "portitor exits cleanly on SIGTERM");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        task.await.expect("client");
    }
    let ids = acknowledged.lock().expect("lock").clone();
    assert!(ids.len() > 20, "the load was too light to mean anything: {} orders", ids.len());
    let restarted = Portitor::start(data.path());
    assert_all_stored(&restarted.url, &ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_under_load_ends_every_background_task() {
    let data = tempfile::tempdir().expect("tempdir");
    let log = data.path().join("server.log");
    let mut server = Portitor::start_with(Options {
        data_dir: Some(data.path().join("data")),
        env: vec![("RUST_LOG".into(), "info".into())],
        stderr: Some(log.clone()),
        ..Options::default()
    });
    let token = Portitor::token("acme", &["source-adapter"]);
    // Orders keep the pipeline's workers, retries and sweeper busy while the server stops.
    let (acknowledged, stop, tasks) = load(server.url.clone(), token, 16);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = std::time::Instant::now();
    assert!(server.terminate(), "portitor exits cleanly on SIGTERM");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in tasks {
        task.await.expect("client");
    }
    assert!(acknowledged.lock().expect("lock").len() > 20, "the load was too light to mean anything");
    let printed = std::fs::read_to_string(&log).expect("server log");
    assert!(
        printed.contains("every background task ended"),
        "a task outlived the server ({} bytes of log):\n{printed}",
        printed.len()
    );
    assert!(!printed.contains("background tasks still running"), "{printed}");
    assert!(started.elapsed() < Duration::from_secs(30), "stopping took {:?}", started.elapsed());
}
