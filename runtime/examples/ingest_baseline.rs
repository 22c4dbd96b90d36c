//! The baseline for the ingest benchmark: a minimal axum handler that
//! writes each request's bytes with the same durability as Portitor's
//! ingest's per-file way (the `fs` store's create-once with
//! `fs_sync = "each"`: temp file, fsync, link, fsync of the directory) and
//! answers 201 — no auth, no parsing, no event log. It stays per-file
//! whatever the store's default is: it is the per-file-fsync baseline the
//! benchmarks compare against.
//!
//! `cargo run --release -p portitor --example ingest_baseline -- DATA_DIR ADDR`

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use portitor::store::ObjectStore;
use portitor::store::fs::{FsStore, FsSync};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "./baseline-data".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let store: Arc<dyn ObjectStore> = Arc::new(FsStore::open_with(dir, FsSync::Each)?);
    let app = Router::new().route("/{company}/order", post(write)).with_state(store);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn write(State(store): State<Arc<dyn ObjectStore>>, body: Bytes) -> StatusCode {
    let key = format!("acme/events/orders/{}/0000000001/OrderReceived", uuid::Uuid::new_v4());
    match store.create_once(&key, body).await {
        Ok(_) => StatusCode::CREATED,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
