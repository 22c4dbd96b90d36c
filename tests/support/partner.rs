//! Partner HTTP servers for the tests: small axum apps on loopback that
//! record what they were asked.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, Request};
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde_json::{Value, json};

/// A request a partner server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

/// A running partner server; stops when dropped.
pub struct Partner {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Partner {
    /// Serves `app`, recording every request first.
    pub async fn start(app: Router) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        let app = app.layer(axum::middleware::from_fn(move |request: Request, next: axum::middleware::Next| {
            let record = record.clone();
            async move {
                record.lock().expect("lock").push(Seen {
                    method: request.method().to_string(),
                    path: request.uri().path().to_string(),
                    query: request.uri().query().unwrap_or_default().to_string(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect(),
                });
                next.run(request).await.into_response()
            }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, seen, task }
    }

    /// A server that answers 200 to everything.
    pub async fn anything() -> Self {
        Self::start(Router::new().fallback(|| async { "ok" })).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Partner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A PostNord Track & Trace simulator: every item id answers the partner
/// document's fixture (four scans) under that id, for the API key `key`.
pub async fn postnord(key: &'static str) -> Partner {
    postnord_answering_after(key, std::time::Duration::ZERO).await
}

/// [`postnord`], answering each request only after `delay`.
pub async fn postnord_answering_after(key: &'static str, delay: std::time::Duration) -> Partner {
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/postnord-trackandtrace.json")).expect("fixture");
    let app = Router::new().route(
        "/rest/shipment/v7/trackandtrace/id/{id}/public",
        get(move |Path(id): Path<String>, Query(query): Query<std::collections::HashMap<String, String>>| {
            let mut response = fixture.clone();
            async move {
                tokio::time::sleep(delay).await;
                if query.get("apikey").map(String::as_str) != Some(key) {
                    return Json(json!({"compositeFault": {"faults": [{"faultCode": "UNAUTHORIZED"}]}}));
                }
                response["TrackingInformationResponse"]["shipments"][0]["items"][0]["itemId"] = json!(id);
                Json(response)
            }
        }),
    );
    Partner::start(app).await
}

/// A `postnord-tracking` manifest polling the simulator at `partner_url` on
/// `schedule` for `item_ids` (comma-separated), with the API key granted as
/// secret `postnord-api-key`.
pub fn postnord_manifest(partner_url: &str, schedule: &str, item_ids: &str, page_size: u32) -> String {
    format!(
        r#"
kind = "pull-source"
schedule = "{schedule}"
[network]
private_hosts = ["127.0.0.1"]
[http.connections.postnord]
base_url = "{partner_url}/rest/shipment"
auth = {{ type = "query", param = "apikey", secret = "postnord-api-key" }}
[config]
item-ids = "{item_ids}"
page-size = "{page_size}"
"#
    )
}
