//! Partner HTTP servers for the tests: small axum apps on loopback that
//! record what they were asked.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;

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
