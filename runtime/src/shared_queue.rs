//! The pointer queue shared by several nodes (DESIGN §10): NATS JetStream.
//!
//! Ingest still puts pointers on this node's in-process queue; a task moves
//! them to a JetStream stream with work-queue retention, and every node with
//! pipeline workers takes them from one durable consumer, so an order
//! ingested on one node may be worked on any (an ingest-only node hands all
//! of its orders on). A pointer is acknowledged once it is in this node's
//! pipeline; from there the pipeline's own retries and sweeps apply, as on
//! one node. If NATS cannot take a pointer, this node works the order
//! itself: nothing waits on NATS.
//!
//! Projections follow across nodes the same way: each node announces the
//! orders it changed on a plain NATS subject, and the other nodes read
//! those orders again from the log.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use async_nats::jetstream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::events::EventLog;
use crate::orders;
use crate::projections::Projections;
use crate::queue::Pointer;

const STREAM: &str = "PORTITOR_POINTERS";
const POINTERS: &str = "portitor.pointers";
const CONSUMER: &str = "pipeline";
const CHANGES: &str = "portitor.changes";

/// An order a node changed.
#[derive(Debug, Serialize, Deserialize)]
struct Change {
    node: String,
    company: String,
    order: String,
}

/// This node's end of the shared queue.
#[derive(Debug)]
pub struct SharedQueue {
    pub url: String,
    /// This node's id (as in the schedule leases).
    pub node: String,
    /// Whether this node works orders (pipeline workers > 0).
    pub works_orders: bool,
}

impl SharedQueue {
    /// Connects, makes sure the stream and its consumer exist, and starts
    /// moving pointers: from `local` (this node's ingest) to the stream, and
    /// from the stream to `pipeline`; and order changes between the nodes'
    /// projections. Fails if NATS cannot be reached now.
    pub async fn start(
        self,
        local: mpsc::Receiver<Pointer>,
        pipeline: mpsc::Sender<Pointer>,
        projections: Arc<Projections>,
        log: EventLog,
    ) -> anyhow::Result<()> {
        let url = &self.url;
        let client = async_nats::connect(url).await.with_context(|| format!("connecting to NATS at {url}"))?;
        let js = jetstream::new(client.clone());
        let stream = js
            .get_or_create_stream(jetstream::stream::Config {
                name: STREAM.into(),
                subjects: vec![POINTERS.into()],
                retention: jetstream::stream::RetentionPolicy::WorkQueue,
                storage: jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow!("creating the JetStream stream {STREAM} at {url} (is JetStream enabled?): {e}"))?;
        let consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                CONSUMER,
                jetstream::consumer::pull::Config {
                    durable_name: Some(CONSUMER.into()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| anyhow!("creating the JetStream consumer {CONSUMER}: {e}"))?;
        let followed = client.subscribe(CHANGES).await.map_err(|e| anyhow!("subscribing to {CHANGES}: {e}"))?;
        let (changes_tx, changes_rx) = mpsc::unbounded_channel();
        projections.announce_changes(changes_tx);

        tokio::spawn(forward(js, local, pipeline.clone()));
        if self.works_orders {
            tokio::spawn(consume(consumer, pipeline));
        }
        tokio::spawn(announce(client, self.node.clone(), changes_rx));
        tokio::spawn(follow(followed, self.node, projections, log));
        tracing::info!(%url, works_orders = self.works_orders, "the pointer queue is shared through NATS JetStream");
        Ok(())
    }
}

/// This node's pointers to the stream; one NATS does not take is worked here.
async fn forward(js: jetstream::Context, mut local: mpsc::Receiver<Pointer>, pipeline: mpsc::Sender<Pointer>) {
    while let Some(pointer) = local.recv().await {
        let published = match serde_json::to_vec(&pointer) {
            Ok(body) => match js.publish(POINTERS, body.into()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = published {
            tracing::warn!(key = %pointer.key, %error, "NATS did not take a pointer; this node works the order itself");
            if pipeline.send(pointer).await.is_err() {
                return;
            }
        }
    }
}

/// Pointers from the stream to this node's pipeline, acknowledged once there.
async fn consume(consumer: jetstream::consumer::PullConsumer, pipeline: mpsc::Sender<Pointer>) {
    loop {
        match consumer.messages().await {
            Ok(mut messages) => {
                while let Some(message) = messages.next().await {
                    let message = match message {
                        Ok(message) => message,
                        Err(error) => {
                            tracing::warn!(%error, "reading the shared pointer queue failed; reconnecting");
                            break;
                        }
                    };
                    match serde_json::from_slice::<Pointer>(&message.payload) {
                        Ok(pointer) => {
                            if pipeline.send(pointer).await.is_err() {
                                return;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "a message on the pointer queue is not a pointer; dropped")
                        }
                    }
                    if let Err(error) = message.ack().await {
                        tracing::warn!(%error, "a pointer could not be acknowledged; it may be worked twice (harmless)");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "the shared pointer queue cannot be read; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The orders this node changed, to the other nodes.
async fn announce(client: async_nats::Client, node: String, mut changes: mpsc::UnboundedReceiver<(String, String)>) {
    while let Some((company, order)) = changes.recv().await {
        let change = Change { node: node.clone(), company, order };
        if let Ok(body) = serde_json::to_vec(&change)
            && let Err(error) = client.publish(CHANGES, body.into()).await
        {
            tracing::debug!(%error, "an order change was not announced; other nodes see it after their restart");
        }
    }
}

/// The orders other nodes changed, read again into this node's projections.
async fn follow(mut followed: async_nats::Subscriber, node: String, projections: Arc<Projections>, log: EventLog) {
    while let Some(message) = followed.next().await {
        let Ok(change) = serde_json::from_slice::<Change>(&message.payload) else { continue };
        if change.node == node {
            continue;
        }
        match log.read(&change.company, orders::AGGREGATE, &change.order).await {
            Ok(events) => projections.apply_from_peer(&change.company, &events),
            Err(error) => {
                tracing::warn!(company = %change.company, order = %change.order, %error, "could not read an order another node changed")
            }
        }
    }
}
