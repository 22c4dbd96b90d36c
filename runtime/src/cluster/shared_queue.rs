//! The pointer queue shared by several nodes (docs/DESIGN.md §11): NATS JetStream.
//!
//! Ingest still puts pointers on this node's in-process queue; a task moves
//! them to a JetStream stream with work-queue retention, and every node with
//! pipeline workers takes them from one durable consumer, a few at a time,
//! so an order ingested on one node may be worked on any (an ingest-only
//! node hands all of its orders on). A pointer is acknowledged once it is in
//! this node's pipeline (a short hand-off queue); from there the pipeline's
//! own retries and sweeps apply, as on one node.
//!
//! When NATS does not take a pointer, a node with workers works the order
//! itself and sends the next pointers straight to its pipeline for a while
//! (nothing waits on NATS for long); an ingest-only node keeps the pointer
//! and tries again until NATS is back.
//!
//! Projections need nothing from NATS: they are kept in the store, which
//! every node reads.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::errors::with_causes;
use crate::queue::Pointer;
use crate::tasks::Tasks;

const STREAM: &str = "PORTITOR_POINTERS";
const POINTERS: &str = "portitor.pointers";
const CONSUMER: &str = "pipeline";

/// How long a publish may take before NATS counts as down.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// After NATS failed to take a pointer, how long a node with workers sends
/// its pointers straight to its own pipeline before trying NATS again.
const LOCAL_FOR: Duration = Duration::from_secs(10);
/// How long the server waits for a pointer's acknowledgement before giving
/// it to another node.
const ACK_WAIT: Duration = Duration::from_secs(120);

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
    /// from the stream to `pipeline`. Fails if NATS cannot be reached now.
    pub async fn start(
        self,
        local: mpsc::Receiver<Pointer>,
        pipeline: mpsc::Sender<Pointer>,
        tasks: &Tasks,
    ) -> anyhow::Result<()> {
        let url = &self.url;
        let client = async_nats::connect(url).await.with_context(|| format!("connecting to NATS at {url}"))?;
        let js = jetstream::new(client);
        let consumer = pipeline_consumer(&js).await.with_context(|| format!("NATS at {url}"))?;

        tasks.spawn("shared queue: forward", forward(js.clone(), local, self.works_orders.then(|| pipeline.clone())));
        if self.works_orders {
            let batch = pipeline.max_capacity();
            tasks.spawn("shared queue: consume", consume(js, consumer, pipeline, batch));
        }
        tracing::info!(%url, works_orders = self.works_orders, "the pointer queue is shared through NATS JetStream");
        Ok(())
    }
}

/// Why the shared queue could not be set up or could not take a pointer.
/// Each is logged (with its causes) and tried again: NATS comes back.
#[derive(Debug, thiserror::Error)]
enum QueueError {
    #[error("creating the JetStream stream {STREAM} (is JetStream enabled?)")]
    CreateStream(#[source] jetstream::context::CreateStreamError),
    #[error("creating the JetStream consumer {CONSUMER}")]
    CreateConsumer(#[source] jetstream::stream::ConsumerError),
    #[error("encoding a pointer")]
    Encode(#[source] serde_json::Error),
    #[error("publishing a pointer")]
    Publish(#[source] jetstream::context::PublishError),
    #[error("NATS did not answer in time")]
    Timeout,
}

/// The stream and its durable consumer, created if missing (at start, and
/// again if NATS lost them, say after a restart without its storage).
async fn pipeline_consumer(js: &jetstream::Context) -> Result<jetstream::consumer::PullConsumer, QueueError> {
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: STREAM.into(),
            subjects: vec![POINTERS.into()],
            retention: jetstream::stream::RetentionPolicy::WorkQueue,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(QueueError::CreateStream)?;
    stream
        .get_or_create_consumer(
            CONSUMER,
            jetstream::consumer::pull::Config {
                durable_name: Some(CONSUMER.into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                ..Default::default()
            },
        )
        .await
        .map_err(QueueError::CreateConsumer)
}

/// Publishes a pointer and waits for the stream to have it.
async fn publish(js: &jetstream::Context, pointer: &Pointer) -> Result<(), QueueError> {
    let body = serde_json::to_vec(pointer).map_err(QueueError::Encode)?;
    let published = tokio::time::timeout(PUBLISH_TIMEOUT, async {
        js.publish(POINTERS, body.into()).await.map_err(QueueError::Publish)?.await.map_err(QueueError::Publish)
    });
    match published.await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(QueueError::Timeout),
    }
}

/// This node's pointers to the stream. With `pipeline` (a node with
/// workers), one NATS does not take is worked here, and so are the next
/// for a while; without (an ingest-only node), it is kept and tried again.
async fn forward(js: jetstream::Context, mut local: mpsc::Receiver<Pointer>, pipeline: Option<mpsc::Sender<Pointer>>) {
    let mut local_until: Option<tokio::time::Instant> = None;
    while let Some(pointer) = local.recv().await {
        let Some(pipeline) = &pipeline else {
            let mut wait = Duration::from_millis(500);
            while let Err(error) = publish(&js, &pointer).await {
                tracing::warn!(key = %pointer.key, error = %with_causes(&error), "NATS did not take a pointer; this ingest-only node keeps it and tries again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
                // NATS may be back without the stream (restarted without its storage).
                let _ = pipeline_consumer(&js).await;
            }
            continue;
        };
        let local_now = local_until.is_some_and(|until| tokio::time::Instant::now() < until);
        if !local_now {
            match publish(&js, &pointer).await {
                Ok(()) => continue,
                Err(error) => {
                    tracing::warn!(key = %pointer.key, error = %with_causes(&error), "NATS did not take a pointer; this node works its orders itself for a while");
                    local_until = Some(tokio::time::Instant::now() + LOCAL_FOR);
                    let _ = pipeline_consumer(&js).await;
                }
            }
        }
        if pipeline.send(pointer).await.is_err() {
            return;
        }
    }
}

/// Pointers from the stream to this node's pipeline, acknowledged once there.
async fn consume(
    js: jetstream::Context,
    mut consumer: jetstream::consumer::PullConsumer,
    pipeline: mpsc::Sender<Pointer>,
    batch: usize,
) {
    loop {
        // A few at a time: what this node has pulled and not yet handed on,
        // the other nodes cannot take.
        // Heartbeats, so that a consumer NATS lost ends the stream here.
        let pulled = consumer.stream().max_messages_per_batch(batch.max(1)).heartbeat(Duration::from_secs(5));
        match pulled.messages().await {
            Ok(mut messages) => {
                while let Some(message) = messages.next().await {
                    let message = match message {
                        Ok(message) => message,
                        Err(error) => {
                            tracing::warn!(%error, "reading the shared pointer queue failed; reconnecting");
                            if let Ok(again) = pipeline_consumer(&js).await {
                                consumer = again;
                            }
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
            Err(error) => {
                tracing::warn!(%error, "the shared pointer queue cannot be read; retrying");
                // NATS may have lost the stream or the consumer: make them again.
                match pipeline_consumer(&js).await {
                    Ok(again) => consumer = again,
                    Err(error) => {
                        tracing::debug!(error = %with_causes(&error), "the shared pointer queue is not back yet")
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
